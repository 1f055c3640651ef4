package merge

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/provenance"
)

func TestMergeDedup(t *testing.T) {
	h := time.Hour
	tests := []struct {
		name      string
		srcs      [][]Entry
		rules     *Rules
		want      [][]string // sources of each merged entry, in order
		conflicts []Reason   // reasons of the conflicts, in order
		reason    string
	}{
		{
			name: "same result, other code system, other unit, a day later to the day",
			srcs: [][]Entry{
				{ent("hosp", "1", CategoryResult, t0, PrecisionMinute, hb(loinc), val(135, "g/L"))},
				{ent("gp", "9", CategoryResult, t0.Truncate(24*h).Add(24*h), PrecisionDay, hb(local), val(13.5, "g/dL"))},
			},
			want: [][]string{{"gp", "hosp"}},
		},
		{
			name: "same test and time, different value: a conflict",
			srcs: [][]Entry{
				{ent("hosp", "1", CategoryResult, t0, PrecisionMinute, hb(loinc), val(135, "g/L"))},
				{ent("gp", "9", CategoryResult, t0.Add(h), PrecisionMinute, hb(local), val(128, "g/L"))},
			},
			want:      [][]string{{"hosp"}, {"gp"}},
			conflicts: []Reason{ReasonValue},
		},
		{
			name: "values agree within the precision they are written with",
			srcs: [][]Entry{
				{ent("hosp", "1", CategoryResult, t0, PrecisionMinute, glucoseLOINC, val(5.5, "mmol/L"))},
				{ent("gp", "9", CategoryResult, t0, PrecisionMinute, glucoseLocal, val(99, "mg/dL"))},
			},
			want: [][]string{{"gp", "hosp"}},
		},
		{
			name: "mass and substance concentration do not convert without a molar mass",
			srcs: [][]Entry{
				{ent("hosp", "1", CategoryResult, t0, PrecisionMinute, glucoseLOINC, val(5.5, "mmol/L"))},
				{ent("gp", "9", CategoryResult, t0, PrecisionMinute, glucoseLocal, val(99, "mg/dL"))},
			},
			rules:     &Rules{Concepts: []Concept{{ID: "glucose", Codes: []Code{glucoseLOINC, glucoseLocal}}}},
			want:      [][]string{{"gp"}, {"hosp"}},
			conflicts: []Reason{ReasonUnit},
			reason:    "without data saying how, the values cannot be shown to agree",
		},
		{
			name: "outside the window: two results, no conflict",
			srcs: [][]Entry{
				{ent("hosp", "1", CategoryResult, t0, PrecisionMinute, hb(loinc), val(135, "g/L"))},
				{ent("gp", "9", CategoryResult, t0.Add(72*h), PrecisionMinute, hb(local), val(128, "g/L"))},
			},
			want: [][]string{{"hosp"}, {"gp"}},
		},
		{
			name: "the same source twice is two results",
			srcs: [][]Entry{
				{ent("hosp", "1", CategoryResult, t0, PrecisionMinute, hb(loinc), val(135, "g/L")),
					ent("hosp", "2", CategoryResult, t0.Add(h), PrecisionMinute, hb(loinc), val(135, "g/L"))},
			},
			want:   [][]string{{"hosp"}, {"hosp"}},
			reason: "a source repeating a test is not a duplicate",
		},
		{
			name: "an identical resend by the same source is merged",
			srcs: [][]Entry{
				{ent("hosp", "1", CategoryResult, t0, PrecisionMinute, hb(loinc), val(135, "g/L")),
					ent("hosp", "2", CategoryResult, t0, PrecisionMinute, hb(loinc), val(135, "g/L"))},
			},
			want: [][]string{{"hosp"}},
		},
		{
			name: "same drug, dose in other units: one entry",
			srcs: [][]Entry{
				{ent("gp", "1", CategoryMedication, t0.Truncate(24*h), PrecisionDay, drugA, dose(500, "mg"), text("one daily"))},
				{ent("pharm", "7", CategoryMedication, t0.Truncate(24*h).Add(72*h), PrecisionDay, drugALocal, dose(0.5, "g"), text("1 tab od"))},
			},
			want: [][]string{{"gp", "pharm"}},
		},
		{
			name: "same drug, different dose: a conflict",
			srcs: [][]Entry{
				{ent("gp", "1", CategoryMedication, t0.Truncate(24*h), PrecisionDay, drugA, dose(5, "mg"))},
				{ent("pharm", "7", CategoryMedication, t0.Truncate(24*h), PrecisionDay, drugALocal, dose(10, "mg"))},
			},
			want:      [][]string{{"gp"}, {"pharm"}},
			conflicts: []Reason{ReasonDose},
		},
		{
			name: "three sources: two agree, one disagrees",
			srcs: [][]Entry{
				{ent("a", "1", CategoryResult, t0, PrecisionMinute, hb(loinc), val(135, "g/L"))},
				{ent("b", "1", CategoryResult, t0.Add(h), PrecisionMinute, hb(local), val(13.5, "g/dL"))},
				{ent("c", "1", CategoryResult, t0.Add(2*h), PrecisionMinute, hb(snomed), val(150, "g/L"))},
			},
			want:      [][]string{{"a", "b"}, {"c"}},
			conflicts: []Reason{ReasonValue},
		},
		{
			name: "uncoded notes with the same text, spaced differently",
			srcs: [][]Entry{
				{{Category: CategoryNote, Time: t0, Precision: PrecisionMinute, Display: "Note", Text: "Seen today. Plan: review.",
					Lineage: provenance.Of(provenance.Tag{Source: "gp", ResourceID: "n1"})}},
				{{Category: CategoryNote, Time: t0.Add(10 * time.Minute), Precision: PrecisionMinute, Display: "NOTE", Text: "Seen today.  Plan:  review",
					Lineage: provenance.Of(provenance.Tag{Source: "ooh", ResourceID: "n1"})}},
			},
			want: [][]string{{"gp", "ooh"}},
		},
		{
			name: "unknown categories are told apart",
			srcs: [][]Entry{
				{ent("a", "1", Category("x-flowsheet"), t0, PrecisionMinute, hb(loinc), val(135, "g/L"))},
				{ent("b", "1", Category("x-registry"), t0, PrecisionMinute, hb(loinc), val(135, "g/L"))},
			},
			want: [][]string{{"a"}, {"b"}},
		},
		{
			name: "a coded value against a number is a conflict",
			srcs: [][]Entry{
				{ent("a", "1", CategoryResult, t0, PrecisionMinute, hb(loinc), val(135, "g/L"))},
				{ent("b", "1", CategoryResult, t0, PrecisionMinute, hb(local), text("see report"))},
			},
			want:      [][]string{{"a"}, {"b"}},
			conflicts: []Reason{ReasonValue},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := tc.rules
			if rs == nil {
				rs = testRules()
			}
			tl, err := mergeSlices(tc.srcs, &Options{Rules: rs})
			require.NoError(t, err)
			assert.Equal(t, tc.want, sourcesOf(tl.Entries()), tc.reason)
			var reasons []Reason
			for _, c := range tl.Conflicts {
				reasons = append(reasons, c.Reason)
				require.GreaterOrEqual(t, len(c.Entries), 2)
				for _, i := range c.Entries {
					assert.Equal(t, c.ID, tl.At(i).Conflict)
				}
			}
			assert.Equal(t, tc.conflicts, reasons)
			n := 0
			for _, s := range tc.srcs {
				n += len(s)
			}
			members := 0
			for i := range tl.Entries() {
				for range tl.Members(i) {
					members++
				}
			}
			assert.Equal(t, n, members, "every input entry is a member of exactly one merged entry")
		})
	}
}

func TestMergeRepresentative(t *testing.T) {
	hosp := ent("hosp", "1", CategoryResult, t0, PrecisionMinute, hb(loinc), val(135, "g/L"))
	gp := ent("gp", "9", CategoryResult, t0.Truncate(24*time.Hour), PrecisionDay, hb(local), val(13.5, "g/dL"))
	tests := []struct {
		name     string
		priority []string
		wantUnit string
	}{
		{name: "finer time wins when no source is preferred", wantUnit: "g/L"},
		{name: "the trusted source wins", priority: []string{"gp"}, wantUnit: "g/dL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl, err := mergeSlices([][]Entry{{hosp}, {gp}}, &Options{Rules: testRules(), Priority: tc.priority})
			require.NoError(t, err)
			require.Len(t, tl.Entries(), 1)
			e := tl.At(0)
			assert.Equal(t, tc.wantUnit, e.Value.Unit)
			assert.ElementsMatch(t, []Code{hb(loinc), hb(local)}, e.Codes, "codes of every member")
			assert.True(t, e.Lineage.Equal(hosp.Lineage.Union(gp.Lineage)))
		})
	}
}

func TestMergeErrors(t *testing.T) {
	a := ent("a", "1", CategoryResult, t0, PrecisionMinute, hb(loinc))
	b := ent("a", "2", CategoryResult, t0.Add(time.Hour), PrecisionMinute, hb(loinc))
	untagged := a
	untagged.Lineage = provenance.Lineage{}
	tests := []struct {
		name string
		srcs [][]Entry
		want error
	}{
		{name: "unsorted stream", srcs: [][]Entry{{b, a}, {a}}, want: ErrUnsorted},
		{name: "unsorted single stream", srcs: [][]Entry{{b, a}}, want: ErrUnsorted},
		{name: "untagged entry", srcs: [][]Entry{{untagged}}, want: ErrUntagged},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mergeSlices(tc.srcs, nil)
			require.ErrorIs(t, err, tc.want)
			assert.NotContains(t, err.Error(), "718-7", "errors carry positions, not clinical content")
		})
	}
}

func TestTimelineFilter(t *testing.T) {
	h := time.Hour
	srcs := [][]Entry{
		{ent("hosp", "1", CategoryResult, t0, PrecisionMinute, hb(loinc), val(135, "g/L")),
			ent("hosp", "2", CategoryResult, t0.Add(200*h), PrecisionMinute, hb(loinc), val(140, "g/L"))},
		{ent("gp", "1", CategoryResult, t0.Add(h), PrecisionMinute, hb(local), val(13.5, "g/dL")),
			ent("gp", "2", CategoryResult, t0.Add(201*h), PrecisionMinute, hb(local), val(120, "g/L"))},
		{ent("ooh", "1", CategoryResult, t0.Add(400*h), PrecisionMinute, hb(snomed), val(100, "g/L"))},
	}
	tl, err := mergeSlices(srcs, &Options{Rules: testRules()})
	require.NoError(t, err)
	require.Equal(t, [][]string{{"gp", "hosp"}, {"hosp"}, {"gp"}, {"ooh"}}, sourcesOf(tl.Entries()))
	require.Len(t, tl.Conflicts, 1)

	f, err := tl.Without("hosp")
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"gp"}, {"gp"}, {"ooh"}}, sourcesOf(f.Entries()),
		"the shared entry keeps the GP, hospital-only entries vanish")
	assert.Empty(t, f.Conflicts, "the conflict's other side vanished")
	assert.Equal(t, "g/dL", f.At(0).Value.Unit, "the wording of a dropped source does not survive")
	for _, e := range f.Entries() {
		assert.Zero(t, e.Conflict)
	}
	assert.Equal(t, []string{"gp", "ooh"}, f.Sources())

	fresh, err := mergeSlices([][]Entry{srcs[1], srcs[2]}, &Options{Rules: testRules()})
	require.NoError(t, err)
	assert.Equal(t, fresh.Entries(), f.Entries(), "filtering equals merging without the source")
}

func TestEngineReuse(t *testing.T) {
	srcs := [][]Entry{
		{ent("a", "1", CategoryResult, t0, PrecisionMinute, hb(loinc), val(135, "g/L"))},
		{ent("b", "1", CategoryResult, t0, PrecisionMinute, hb(local), val(135, "g/L"))},
	}
	m := engine(t, &Options{Rules: testRules()})
	first, err := m.MergeSlices(srcs)
	require.NoError(t, err)
	want := first.At(0).Lineage
	again, err := m.MergeSlices(srcs[:1])
	require.NoError(t, err)
	assert.Len(t, again.Entries(), 1)
	assert.True(t, first.At(0).Lineage.Equal(want), "a fresh result does not disturb an earlier one")
	// One engine merges on many goroutines at once.
	done := make(chan *Timeline)
	for range 4 {
		go func() {
			tl, err := m.MergeSlices(srcs)
			assert.NoError(t, err)
			done <- tl
		}()
	}
	for range 4 {
		assert.Equal(t, first.Entries(), (<-done).Entries())
	}
}

func TestMergeManySources(t *testing.T) {
	// More sources than the 64-bit source mask holds: the slow path must
	// keep the same rules.
	var srcs [][]Entry
	for s := range 70 {
		id := fmt.Sprintf("src%02d", s)
		e := ent(id, "1", CategoryResult, t0, PrecisionMinute, hb(loinc), val(135, "g/L"))
		e2 := ent(id, "2", CategoryResult, t0.Add(time.Minute), PrecisionMinute, hb(loinc), val(135, "g/L"))
		srcs = append(srcs, []Entry{e, e2})
	}
	tl, err := mergeSlices(srcs, &Options{Rules: testRules()})
	require.NoError(t, err)
	require.Len(t, tl.Entries(), 2, "each source's two results are two facts, each reported by all 70")
	for _, e := range tl.Entries() {
		assert.Len(t, e.Lineage.Sources(), 70)
		assert.Equal(t, 70, e.Lineage.Len())
	}
}

func TestFilterManySources(t *testing.T) {
	// More sources than a 64-bit mask holds: filtering by source number
	// still equals merging the kept streams afresh.
	var srcs [][]Entry
	for s := range 70 {
		id := fmt.Sprintf("src%02d", s)
		srcs = append(srcs, []Entry{ent(id, "1", CategoryResult, t0.Add(time.Duration(s%3)*time.Hour), PrecisionMinute, hb(loinc), val(135, "g/L"))})
	}
	tl, err := mergeSlices(srcs, &Options{Rules: testRules()})
	require.NoError(t, err)
	for _, drop := range []string{"src03", "src66", "src99"} {
		got, err := tl.Without(drop)
		require.NoError(t, err)
		var kept [][]Entry
		for _, s := range srcs {
			if s[0].Lineage.Tags()[0].Source != drop {
				kept = append(kept, s)
			}
		}
		want, err := mergeSlices(kept, &Options{Rules: testRules()})
		require.NoError(t, err)
		assert.Equal(t, want.Entries(), got.Entries(), "without %s", drop)
		assert.Equal(t, want.Sources(), got.Sources(), "without %s", drop)
	}
}

func TestFilterMultiSourceInput(t *testing.T) {
	// An input entry may already carry several sources (a re-fed merged
	// entry); dropping one of them keeps the entry under the others and
	// re-sorts the stream, whose lead tags changed.
	both := ent("a", "1", CategoryResult, t0, PrecisionMinute, hb(loinc), val(135, "g/L"))
	both.Lineage = both.Lineage.Union(provenance.Of(provenance.Tag{Source: "z", ResourceType: "Observation", ResourceID: "9"}))
	other := ent("c", "1", CategoryResult, t0, PrecisionMinute, Code{System: local, Code: "OTHER"})
	tl, err := mergeSlices([][]Entry{{both, other}}, nil)
	require.NoError(t, err)
	require.Equal(t, [][]string{{"a", "z"}, {"c"}}, sourcesOf(tl.Entries()))
	f, err := tl.Without("a")
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"c"}, {"z"}}, sourcesOf(f.Entries()), "z now leads its entry, after c at the same time")
	assert.True(t, slices.IsSortedFunc(f.Entries(), Compare))
}

func TestTimelineShowsUnchangedEntriesInPlace(t *testing.T) {
	gp := []Entry{
		ent("gp", "1", CategoryResult, t0, PrecisionMinute, hb(loinc), val(135, "g/L")),
		ent("gp", "2", CategoryResult, t0.Add(time.Hour), PrecisionMinute, glucoseLOINC, val(5.5, "mmol/L")),
		ent("gp", "3", CategoryResult, t0.Add(48*time.Hour), PrecisionMinute, glucoseLOINC, val(6, "mmol/L")),
	}
	hosp := []Entry{
		ent("hosp", "1", CategoryResult, t0, PrecisionMinute, hb(local), val(135, "g/L")),
		ent("hosp", "2", CategoryResult, t0.Add(time.Hour), PrecisionMinute, glucoseLocal, val(180, "mg/dL")), // 9.99 mmol/L
	}
	// An entry taken from an earlier timeline may carry that timeline's
	// conflict id; a new merge must not show it.
	hosp = append(hosp, ent("hosp", "3", CategoryNote, t0.Add(72*time.Hour), PrecisionMinute, Code{System: local, Code: "N"}))
	hosp[2].Conflict = 7
	tl, err := mergeSlices([][]Entry{gp, hosp}, &Options{Rules: testRules()})
	require.NoError(t, err)
	require.Equal(t, 5, tl.Len())

	assert.Equal(t, [][]string{{"gp", "hosp"}, {"gp"}, {"hosp"}, {"gp"}, {"hosp"}}, sourcesOf(tl.Entries()))
	assert.NotSame(t, &gp[0], tl.At(0), "a merged entry is built")
	assert.NotSame(t, &gp[1], tl.At(1), "an entry in a conflict is built, to carry its id")
	assert.NotSame(t, &hosp[1], tl.At(2))
	assert.NotZero(t, tl.At(1).Conflict)
	assert.Equal(t, tl.At(1).Conflict, tl.At(2).Conflict)
	assert.Same(t, &gp[2], tl.At(3), "an unchanged entry is the source's own")
	assert.NotSame(t, &hosp[2], tl.At(4))
	assert.Zero(t, tl.At(4).Conflict, "an old conflict id is not carried over")
	assert.Equal(t, ConflictID(7), hosp[2].Conflict, "the source entry is not modified")
	assert.Zero(t, gp[1].Conflict, "the source entry is not modified")

	var pos []int
	for i, e := range tl.All() {
		assert.Same(t, tl.At(i), e)
		pos = append(pos, i)
		if i == 2 {
			break
		}
	}
	assert.Equal(t, []int{0, 1, 2}, pos, "All stops when asked")
}

// TestResolver: a site's rule, injected as a Resolver, decides beside the
// rules without forking the package.
func TestResolver(t *testing.T) {
	hosp := ent("hosp", "1", CategoryResult, t0, PrecisionMinute, hb(loinc), val(135, "g/L"))
	gp := ent("gp", "9", CategoryResult, t0.Add(time.Hour), PrecisionMinute, hb(local), val(131, "g/L"))
	srcs := [][]Entry{{hosp}, {gp}}
	byRules, err := mergeSlices(srcs, &Options{Rules: testRules()})
	require.NoError(t, err)
	require.Len(t, byRules.Conflicts, 1, "the rules see two values")

	// A site that accepts haemoglobin within 5% as one result.
	var seen []Verdict
	site := func(a, b *Entry, v Verdict) Verdict {
		seen = append(seen, v)
		if v.Conflict == ReasonValue && a.Value != nil && b.Value != nil && math.Abs(a.Value.Value-b.Value.Value) <= 0.05*a.Value.Value {
			return Verdict{Same: true}
		}
		return v
	}
	tl, err := mergeSlices(srcs, &Options{Rules: testRules(), Resolve: site})
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"gp", "hosp"}}, sourcesOf(tl.Entries()))
	assert.Empty(t, tl.Conflicts)
	assert.Equal(t, []Verdict{{Conflict: ReasonValue}}, seen, "the resolver sees the rules' verdict")

	// A site rule that keeps entries apart that the rules would merge.
	apart := func(a, b *Entry, v Verdict) Verdict {
		if a.Status == "entered-in-error" || b.Status == "entered-in-error" {
			return Verdict{}
		}
		return v
	}
	gp.Value.Value, gp.Status = 135, "entered-in-error"
	tl, err = mergeSlices([][]Entry{{hosp}, {gp}}, &Options{Rules: testRules(), Resolve: apart})
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"hosp"}, {"gp"}}, sourcesOf(tl.Entries()))
	assert.Empty(t, tl.Conflicts)
}
