package merge

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/provenance"
)

// randomStreams returns k sorted per-source streams drawn from few concepts,
// times and values, so that duplicates, conflicts, same-source repeats and
// time ties are all common.
func randomStreams(rng *rand.Rand, k, n int) [][]Entry {
	codes := []Code{hb(loinc), hb(local), glucoseLOINC, glucoseLocal, drugA, drugALocal, {System: local, Code: "X"}}
	units := map[string][]string{"718-7": {"g/L"}, "HB": {"g/dL"}, "2345-7": {"mmol/L"}, "GLU": {"mg/dL"}, "X": {"1"}}
	srcs := make([][]Entry, k)
	for s := range k {
		src := fmt.Sprintf("s%d", s)
		for i := range rng.IntN(n + 1) {
			cd := codes[rng.IntN(len(codes))]
			at := t0.Add(time.Duration(rng.IntN(96)) * 30 * time.Minute)
			prec := PrecisionMinute
			switch rng.IntN(20) {
			case 0, 1, 2, 3, 4:
				at, prec = at.Truncate(24*time.Hour), PrecisionDay
			case 5:
				at = at.AddDate(-60, 0, 0) // before 1970
			case 6:
				at, prec = time.Time{}, PrecisionUnknown
			case 7:
				at, prec = time.Date(at.Year(), 1, 1, 0, 0, 0, 0, time.UTC), PrecisionYear
			}
			e := Entry{Category: CategoryResult, Time: at, Precision: prec, Codes: []Code{cd}, Display: cd.Display,
				Lineage: provenance.Of(provenance.Tag{Source: src, ResourceType: "Observation", ResourceID: fmt.Sprint(i)})}
			switch cd.Code {
			case "D1", "DRUGA":
				e.Category = CategoryMedication
				e.Dose = &Quantity{Value: float64(5 * (1 + rng.IntN(2))), Unit: "mg"}
			case "718-7":
				e.Value = &Quantity{Value: float64(130 + 5*rng.IntN(2)), Unit: units[cd.Code][0]}
			case "HB":
				e.Value = &Quantity{Value: 13 + 0.5*float64(rng.IntN(2)), Unit: units[cd.Code][0]}
			case "2345-7":
				e.Value = &Quantity{Value: 5.5, Unit: "mmol/L"}
			case "GLU":
				e.Value = &Quantity{Value: float64(99 + 20*rng.IntN(2)), Unit: "mg/dL"}
			default:
				e.ValueText = []string{"positive", "negative"}[rng.IntN(2)]
			}
			srcs[s] = append(srcs[s], e)
		}
		sortEntries(srcs[s], nil)
	}
	return srcs
}

func allTags(srcs [][]Entry) []provenance.Tag {
	var l provenance.Lineage
	for _, s := range srcs {
		for _, e := range s {
			l = l.Union(e.Lineage)
		}
	}
	return l.Tags()
}

func TestMergeProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	opts := &Options{Rules: testRules(), Priority: []string{"s2"}}
	for iter := range 300 {
		srcs := randomStreams(rng, 2+rng.IntN(3), 12)
		tl, err := mergeSlices(srcs, opts)
		require.NoError(t, err)

		// Sorted.
		assert.True(t, slices.IsSortedFunc(tl.Entries(), compareBy(opts)), "iteration %d: output sorted", iter)

		// No tag lost, none invented, every entry a member once.
		var out provenance.Lineage
		members := 0
		for i, e := range tl.Entries() {
			out = out.Union(e.Lineage)
			var ml provenance.Lineage
			for m := range tl.Members(i) {
				ml = ml.Union(m.Lineage)
				members++
			}
			assert.True(t, ml.Equal(e.Lineage), "iteration %d: lineage is the union of the members'", iter)
		}
		assert.Equal(t, allTags(srcs), out.Tags(), "iteration %d: tags kept", iter)
		n := 0
		for _, s := range srcs {
			n += len(s)
		}
		assert.Equal(t, n, members)

		// Entries of one source merge only when identical.
		for i := range tl.Entries() {
			var ms []Entry
			for m := range tl.Members(i) {
				ms = append(ms, m)
			}
			for a := range ms {
				for b := a + 1; b < len(ms); b++ {
					if ms[a].Lineage.Tags()[0].Source == ms[b].Lineage.Tags()[0].Source {
						assert.True(t, identical(&ms[a], &ms[b]), "iteration %d: same-source members identical", iter)
					}
				}
			}
		}

		// Associative in outcome, and the same whatever the stream order.
		if len(srcs) >= 3 {
			a, b, c := srcs[:1], srcs[1:2], srcs[2:]
			ta, _ := mergeSlices(a, opts)
			tb, _ := mergeSlices(b, opts)
			tc, _ := mergeSlices(c, opts)
			ab, err := combine(opts, ta, tb)
			require.NoError(t, err)
			left, err := combine(opts, ab, tc)
			require.NoError(t, err)
			bc, err := combine(opts, tb, tc)
			require.NoError(t, err)
			right, err := combine(opts, ta, bc)
			require.NoError(t, err)
			assert.Equal(t, tl.Entries(), left.Entries(), "iteration %d: (A+B)+C = A+B+C", iter)
			assert.Equal(t, tl.Entries(), right.Entries(), "iteration %d: A+(B+C) = A+B+C", iter)
			assert.Equal(t, tl.Conflicts, left.Conflicts)
			assert.Equal(t, tl.Conflicts, right.Conflicts)
		}
		rev := slices.Clone(srcs)
		slices.Reverse(rev)
		tr, err := mergeSlices(rev, opts)
		require.NoError(t, err)
		assert.Equal(t, tl.Entries(), tr.Entries(), "iteration %d: stream order does not matter", iter)

		// Removing a source equals merging without it.
		drop := fmt.Sprintf("s%d", rng.IntN(len(srcs)))
		f, err := tl.Without(drop)
		require.NoError(t, err)
		var rest [][]Entry
		for _, s := range srcs {
			if len(s) > 0 && s[0].Lineage.Has(drop) {
				continue
			}
			rest = append(rest, s)
		}
		fresh, err := mergeSlices(rest, opts)
		require.NoError(t, err)
		assert.Equal(t, fresh.Entries(), f.Entries(), "iteration %d: without %s", iter, drop)
		assert.Equal(t, fresh.Conflicts, f.Conflicts)
		for _, e := range f.Entries() {
			assert.False(t, e.Lineage.Has(drop))
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}

// FuzzMerge builds per-source streams from arbitrary bytes and checks that
// the merge keeps every tag, sorts its output and never merges two
// disagreeing values.
func FuzzMerge(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2})
	f.Add([]byte("the same haemoglobin twice"))
	f.Fuzz(func(t *testing.T, data []byte) {
		codes := []Code{hb(loinc), hb(local), glucoseLOINC, glucoseLocal, drugA}
		units := []string{"g/L", "g/dL", "mmol/L", "mg/dL", "kg", "?"}
		srcs := make([][]Entry, 3)
		for i := 0; i+3 < len(data); i += 4 {
			s := int(data[i]) % 3
			e := Entry{Category: []Category{CategoryResult, CategoryMedication, CategoryNote}[data[i+1]%3],
				Time: t0.Add(time.Duration(data[i+1]) * 7 * time.Minute), Precision: Precision(data[i+2] % 7),
				Codes:   []Code{codes[int(data[i+2])%len(codes)]},
				Lineage: provenance.Of(provenance.Tag{Source: fmt.Sprint("s", s), ResourceID: fmt.Sprint(i)})}
			if data[i+3]%3 != 0 {
				e.Value = &Quantity{Value: float64(data[i+3]) / 4, Unit: units[int(data[i+3])%len(units)]}
			}
			srcs[s] = append(srcs[s], e)
		}
		for _, s := range srcs {
			sortEntries(s, nil)
		}
		tl, err := mergeSlices(srcs, &Options{Rules: testRules()})
		require.NoError(t, err)
		require.True(t, slices.IsSortedFunc(tl.Entries(), Compare))
		var out provenance.Lineage
		for i, e := range tl.Entries() {
			out = out.Union(e.Lineage)
			var ms []Entry
			for m := range tl.Members(i) {
				ms = append(ms, m)
			}
			m := engine(t, &Options{Rules: testRules()})
			for a := range ms {
				for b := a + 1; b < len(ms); b++ {
					if ms[a].Value != nil && ms[b].Value != nil && ms[a].Category != CategoryMedication {
						c, _ := m.rules.lookup(ms[a].Codes[0].System, ms[a].Codes[0].Code)
						ok, _ := m.rules.sameQty(ms[a].Value, ms[b].Value, c)
						require.True(t, ok || identical(&ms[a], &ms[b]), "members with disagreeing values")
					}
				}
			}
		}
		require.Equal(t, allTags(srcs), out.Tags())
	})
}
