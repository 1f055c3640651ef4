package fhirutil

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/provenance"
)

// TestTimelineConflictRoundTrip: a merged timeline's conflict is written as
// a DetectedIssue implicating both sides, and reading the Bundle back gives
// each side its conflict id and the conflict its reason.
func TestTimelineConflictRoundTrip(t *testing.T) {
	at := time.Date(2024, 3, 4, 10, 30, 0, 0, time.UTC)
	hb := func(src, id string, v float64, at time.Time) merge.Entry {
		return merge.Entry{Category: merge.CategoryResult, Time: at, Precision: merge.PrecisionMinute, Status: "final",
			Codes: []merge.Code{{System: LOINCSystem, Code: "718-7", Display: "Haemoglobin"}}, Display: "Haemoglobin",
			Value:   &merge.Quantity{Value: v, Unit: "g/L"},
			Lineage: provenance.Of(provenance.Tag{Source: src, ResourceType: "Observation", ResourceID: id})}
	}
	eng, err := merge.Compile(nil)
	require.NoError(t, err)
	tl, err := eng.MergeSlices([][]merge.Entry{
		{hb("hospital", "h1", 135, at), hb("hospital", "h2", 140, at.AddDate(0, 0, 9))},
		{hb("gp", "g1", 128, at.Add(time.Hour))},
	})
	require.NoError(t, err)
	require.Len(t, tl.Conflicts, 1)

	out, err := TimelineBundle(tl.Entries(), &TimelineOptions{Conflicts: tl.Conflicts, Recorded: testNow})
	require.NoError(t, err)
	assert.Contains(t, string(out), `"CONFLICT #1 (value)"`)
	assert.Equal(t, 1, strings.Count(string(out), `"resourceType":"DetectedIssue"`))

	b, err := Decode(out, &Options{Source: provenance.Source{ID: "carelens"}, Validate: true})
	require.NoError(t, err)
	require.NoError(t, b.Err())
	back := b.Entries()
	var marked []merge.ConflictID
	for _, e := range back {
		if e.Display == "Haemoglobin" {
			marked = append(marked, e.Conflict)
		}
	}
	assert.Equal(t, []merge.ConflictID{1, 1, 0}, marked, "both sides of the conflict, not the later result")
	cs := b.Conflicts()
	require.Len(t, cs, 1)
	assert.Equal(t, merge.ConflictID(1), cs[0].ID)
	assert.Equal(t, merge.ReasonValue, cs[0].Reason)
	require.Len(t, cs[0].Entries, 2)
	for _, i := range cs[0].Entries {
		assert.Equal(t, merge.ConflictID(1), back[i].Conflict)
	}

	// Without the timeline's conflicts the issue is still written.
	out, err = TimelineBundle(tl.Entries(), &TimelineOptions{Recorded: testNow})
	require.NoError(t, err)
	assert.Contains(t, string(out), `"CONFLICT #1 (disagree)"`)
}
