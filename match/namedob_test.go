package match

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUniqueNameDOB checks the explicit option for files with only names
// and birth dates: a rare name and birth date in two sources links; one a
// source holds twice (two people, or a duplicate), does not; a pair with
// a disagreeing phone keeps the constraint; and nothing links without the
// option.
func TestUniqueNameDOB(t *testing.T) {
	recs := append(syntheticNameDOB(), // background, so frequencies mean something
		Record{Source: "a", ID: "x1", Given: []string{"Ottoline"}, Family: "Quennell", BirthDate: "1961-04-19"},
		Record{Source: "b", ID: "x2", Given: []string{"Ottoline"}, Family: "Quennell", BirthDate: "1961-04-19"},
		Record{Source: "a", ID: "y1", Given: []string{"Peregrine"}, Family: "Vowles", BirthDate: "1975-08-02"},
		Record{Source: "a", ID: "y2", Given: []string{"Peregrine"}, Family: "Vowles", BirthDate: "1975-08-02"},
		Record{Source: "b", ID: "y3", Given: []string{"Peregrine"}, Family: "Vowles", BirthDate: "1975-08-02"},
		Record{Source: "a", ID: "z1", Given: []string{"Araminta"}, Family: "Scrope", BirthDate: "1950-01-30", Phone: "07700 900111"},
		Record{Source: "b", ID: "z2", Given: []string{"Araminta"}, Family: "Scrope", BirthDate: "1950-01-30", Phone: "07700 900999"},
	)
	n := len(recs)
	x1, x2, y1, y2, y3, z1, z2 := n-7, n-6, n-5, n-4, n-3, n-2, n-1
	off, err := Link(t.Context(), recs, nil)
	require.NoError(t, err)
	assert.NotEqual(t, off.Cluster[x1], off.Cluster[x2], "default: never on name and birth date alone")
	assert.Zero(t, off.Stats.UniqueNameDOBLinks)

	on, err := Link(t.Context(), recs, &LinkOptions{UniqueNameDOB: true})
	require.NoError(t, err)
	assert.Equal(t, on.Cluster[x1], on.Cluster[x2], "rare, and each source holds it once")
	assert.NotEqual(t, on.Cluster[y1], on.Cluster[y3], "source a holds it twice: namesakes are in this file")
	assert.NotEqual(t, on.Cluster[y2], on.Cluster[y3])
	assert.NotEqual(t, on.Cluster[z1], on.Cluster[z2], "the phones disagree: the default constraint holds")
	assert.Positive(t, on.Stats.UniqueNameDOBLinks)
}

// syntheticNameDOB returns distinct people with only names and birth dates.
func syntheticNameDOB() []Record {
	var out []Record
	for i, r := range syntheticRecords(300, 3) {
		out = append(out, Record{Source: "bg", ID: r.ID + "-" + string(rune('a'+i%26)), Given: r.Given, Family: r.Family, BirthDate: r.BirthDate})
	}
	return out
}
