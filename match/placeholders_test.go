package match

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPlaceholderData: the shipped list parses, every kind has entries,
// every entry carries its evidence, and real surnames are not on it.
func TestPlaceholderData(t *testing.T) {
	m, err := readPlaceholders(placeholderData)
	require.NoError(t, err)
	for _, k := range placeholderKinds {
		assert.NotEmpty(t, m[k], k)
		for v, why := range m[k] {
			assert.NotEmpty(t, why, "%s %q has no evidence", k, v)
		}
	}
	for _, surname := range []string{"na", "doe", "lee", "king"} {
		assert.NotContains(t, m["family"], surname)
	}
	for _, bad := range []string{"given\tbaby\n", "given\tbaby\t\n", "nickname\tbob\tan alias\n", "given\tx\ta\ngiven\tx\tb\n"} {
		_, err := readPlaceholders(bad)
		assert.Error(t, err, "%q", bad)
	}
}

// TestPlaceholdersApplied: each kind of entry is what the normalisers set
// aside.
func TestPlaceholdersApplied(t *testing.T) {
	assert.Equal(t, "", NormaliseEmail("noreply@example.org"))
	assert.Equal(t, "ann@example.org", NormaliseEmail("Ann@Example.org"))
	assert.Equal(t, "", normIdentifier("123-456-789"))
	assert.Equal(t, "AB123456", normIdentifier("ab 123 456"))
	_, st := ParseDate("1899-12-31")
	assert.Equal(t, DatePlaceholder, st)
	_, st = ParseDate("1899-12-30")
	assert.Equal(t, DateOK, st, "the day before a sentinel is a date")
	_, st = ParseDate("1950-01-01")
	assert.Equal(t, DateOK, st)
	assert.True(t, parseName([]string{"Trauma 4411"}, "Smith").placeholder)
	assert.True(t, parseName([]string{"Jane"}, "Doe").placeholder)
	assert.False(t, parseName([]string{"Jane"}, "Dough").placeholder)
}
