package match_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/match"
)

// TestRegisterComparator: a site's comparator, registered, is one a model
// may name and the scorer uses; an unregistered name is refused by
// Validate, and a taken name cannot be registered again.
func TestRegisterComparator(t *testing.T) {
	// Family names equal once "Mac" and "Mc" are read alike.
	mac := match.ComparatorFunc(func(a, b string) float64 {
		fold := func(s string) string {
			s = strings.ToLower(s)
			if rest, ok := strings.CutPrefix(s, "mac"); ok {
				return "mc" + rest
			}
			return s
		}
		if fold(a) == fold(b) {
			return 1
		}
		return 0
	})
	m := match.DefaultModel(nil)
	for i := range m.Comparisons {
		if m.Comparisons[i].Field != "family" {
			continue
		}
		lv := m.Comparisons[i].Levels
		site := match.Level{Label: "mac-mc", Kind: match.LevelSimilarity, Comparator: "test-mac-mc", Threshold: 1, M: 0.05, U: 0.0005}
		m.Comparisons[i].Levels = append(lv[:2:2], append([]match.Level{site}, lv[2:]...)...)
	}
	require.ErrorContains(t, m.Validate(), "test-mac-mc", "an unregistered comparator is refused")

	require.NoError(t, match.RegisterComparator("test-mac-mc", mac))
	assert.Error(t, match.RegisterComparator("test-mac-mc", mac), "a name is registered once")
	assert.Error(t, match.RegisterComparator("jaro-winkler", mac), "a built-in cannot be replaced")
	assert.Error(t, match.RegisterComparator("", mac))
	assert.Contains(t, match.ComparatorNames(), "test-mac-mc")
	require.NoError(t, m.Validate())

	mt, err := match.NewMatcher(m, nil)
	require.NoError(t, err)
	a := mt.Prepare(&match.Record{Given: []string{"Ewan"}, Family: "MacDonald", BirthDate: "1970-02-03"})
	b := mt.Prepare(&match.Record{Given: []string{"Ewan"}, Family: "McDonald", BirthDate: "1970-02-03"})
	for _, c := range mt.Explain(a, b).Comparisons {
		if c.Name == "family name" {
			assert.Equal(t, "mac-mc", c.Level, "the registered comparator decides the level")
		}
	}
}
