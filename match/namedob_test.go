package match

import (
	"fmt"
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

// TestTrainWarnsNameDOBOnly: training says when no pair can link by
// default because the file holds nothing beyond names and birth dates, and
// only then.
func TestTrainWarnsNameDOBOnly(t *testing.T) {
	only, err := Train(t.Context(), syntheticNameDOB(), nil, nil)
	require.NoError(t, err)
	assert.Contains(t, only.Training.Warnings, nameDOBOnlyWarning)

	withTown := syntheticNameDOB()
	for i := range withTown {
		withTown[i].Town = "Leeds"
	}
	area, err := Train(t.Context(), withTown, nil, nil)
	require.NoError(t, err)
	assert.Contains(t, area.Training.Warnings, nameDOBOnlyWarning, "a town corroborates no one")

	full, err := Train(t.Context(), syntheticRecords(300, 3), nil, nil)
	require.NoError(t, err)
	assert.NotContains(t, full.Training.Warnings, nameDOBOnlyWarning, "phones and addresses can corroborate")
}

// syntheticNameDOB returns distinct people with only names and birth dates.
func syntheticNameDOB() []Record {
	var out []Record
	for i, r := range syntheticRecords(300, 3) {
		out = append(out, Record{Source: "bg", ID: r.ID + "-" + string(rune('a'+i%26)), Given: r.Given, Family: r.Family, BirthDate: r.BirthDate})
	}
	return out
}

// BenchmarkHouseholdEvidence measures the per-file pass behind the
// household lifts on 200,000 records of 50,000 households.
func BenchmarkHouseholdEvidence(b *testing.B) {
	const n = 200_000
	recs := make([]Record, n)
	for i := range recs {
		h := i / 4
		recs[i] = Record{Source: fmt.Sprint("s", i%4), Given: []string{fmt.Sprint("G", i%97)}, Family: fmt.Sprint("F", h%5003),
			BirthDate: fmt.Sprintf("%d-%02d-%02d", 1930+i%90, 1+i%12, 1+i%28), Postcode: fmt.Sprintf("LS%d %dAB", h%90, h%10)}
	}
	p := newPreparer(nil)
	prepared := p.PrepareAll(recs)
	for b.Loop() {
		newHouseholdEvidence(recs, prepared)
	}
}
