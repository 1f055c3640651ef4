package merge

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/provenance"
)

// withNotes adds entries without codes (concepts numbered by their text) to
// each stream, keeping it sorted.
func withNotes(srcs [][]Entry, seed uint64) [][]Entry {
	rng := newRand(seed)
	texts := []string{"Seen in clinic.", "seen in clinic", "Reviewed; no change.", "Reviewed - no change"}
	for s := range srcs {
		for i := range rng.IntN(6) {
			e := Entry{Category: CategoryNote, Time: t0.Add(time.Duration(rng.IntN(48)) * time.Hour), Precision: PrecisionMinute,
				Display: "Note", Text: texts[rng.IntN(len(texts))],
				Lineage: provenance.Of(provenance.Tag{Source: fmt.Sprintf("s%d", s), ResourceType: "Note", ResourceID: fmt.Sprint("n", i)})}
			srcs[s] = append(srcs[s], e)
		}
		Sort(srcs[s], nil)
	}
	return srcs
}

// TestMergeWorkersDeterministic checks that the merge does not depend on how
// many goroutines compute the keys: every worker count gives the result of
// one.
func TestMergeWorkersDeterministic(t *testing.T) {
	for seed := range uint64(40) {
		k := 1 + int(seed%7)
		if seed >= 30 {
			k = scanMax + 1 + int(seed%4) // the tournament tree's path
		}
		srcs := withNotes(randomStreams(newRand(100+seed), k, 30), seed)
		merge := func(workers int) *Timeline {
			t.Helper()
			m, err := NewMerger(&Options{Rules: testRules(), Workers: workers, Priority: []string{"s2"}})
			require.NoError(t, err)
			m.forceParallel = true
			tl, err := m.MergeSlices(nil, srcs)
			require.NoError(t, err)
			return tl
		}
		want := merge(1)
		for _, w := range []int{2, 3, 5} {
			got := merge(w)
			require.Equal(t, want.Entries(), got.Entries(), "seed %d, workers %d", seed, w)
			require.Equal(t, want.Conflicts, got.Conflicts, "seed %d, workers %d", seed, w)
			require.Equal(t, want.mstart, got.mstart, "seed %d, workers %d", seed, w)
			require.Equal(t, want.mrefs, got.mrefs, "seed %d, workers %d", seed, w)
		}
	}
}

// TestMergeWorkersErrors checks that the error of a bad input does not
// depend on the worker count either.
func TestMergeWorkersErrors(t *testing.T) {
	a := ent("a", "1", CategoryResult, t0, PrecisionMinute, hb(loinc))
	b := ent("b", "2", CategoryResult, t0.Add(time.Hour), PrecisionMinute, hb(loinc))
	untagged := a
	untagged.Lineage = provenance.Lineage{}
	cases := []struct {
		name string
		srcs [][]Entry
		want error
	}{
		{name: "unsorted", srcs: [][]Entry{{a, b}, {b, a}, {a}}, want: ErrUnsorted},
		{name: "untagged after unsorted", srcs: [][]Entry{{b, a}, {a, untagged}}, want: ErrUntagged},
		{name: "two untagged", srcs: [][]Entry{{a, untagged}, {untagged}}, want: ErrUntagged},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var msgs []string
			for _, w := range []int{1, 2, 3} {
				m, err := NewMerger(&Options{Workers: w})
				require.NoError(t, err)
				m.forceParallel = true
				_, err = m.MergeSlices(nil, tc.srcs)
				require.ErrorIs(t, err, tc.want)
				msgs = append(msgs, err.Error())
			}
			assert.Equal(t, msgs[0], msgs[1])
			assert.Equal(t, msgs[0], msgs[2])
		})
	}
}

func TestHashText(t *testing.T) {
	cases := []struct {
		name   string
		a1, b1 string
		a2, b2 string
		same   bool
	}{
		{name: "case and punctuation", a1: "Note", b1: "Seen in clinic.", a2: "NOTE", b2: "seen-in clinic", same: true},
		{name: "different words", a1: "Note", b1: "Seen in clinic", a2: "Note", b2: "Seen in ward"},
		{name: "display and text kept apart", a1: "ab", b1: "c", a2: "a", b2: "bc"},
		{name: "non-ASCII kept", a1: "", b1: "café", a2: "", b2: "cafe"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h1, buf := hashText(nil, tc.a1, tc.b1)
			h2, _ := hashText(buf, tc.a2, tc.b2)
			assert.Equal(t, tc.same, h1 == h2)
		})
	}
	assert.Equal(t, medicationIndex, categoryIndex(CategoryMedication))
}

// TestMergeSourcesReused checks Sources for few and many streams, merging
// into a reused timeline (whose source list is reused too).
func TestMergeSourcesReused(t *testing.T) {
	m, err := NewMerger(&Options{Rules: testRules()})
	require.NoError(t, err)
	var tl *Timeline
	for _, k := range []int{12, 3, 9, 2} {
		var srcs [][]Entry
		var want []string
		for s := range k {
			id := fmt.Sprintf("src-%02d", k-s)
			at := t0.AddDate(0, 0, 30*(s%4)) // apart: four entries, some tied across streams
			srcs = append(srcs, []Entry{ent(id, "1", CategoryResult, at, PrecisionMinute, hb(loinc), val(float64(100+s), "g/L"))})
			want = append(want, id)
		}
		tl, err = m.MergeSlices(tl, srcs)
		require.NoError(t, err)
		assert.ElementsMatch(t, want, tl.Sources())
		assert.IsNonDecreasing(t, tl.Sources())
		for i := 1; i < tl.Len(); i++ {
			assert.LessOrEqual(t, Compare(*tl.At(i - 1), *tl.At(i)), 0)
		}
	}
}

// FuzzMergeWorkers checks on random streams that two or three workers give
// exactly the result of one.
func FuzzMergeWorkers(f *testing.F) {
	f.Add(uint64(1), uint8(3), uint8(20))
	f.Add(uint64(7), uint8(8), uint8(40))
	f.Fuzz(func(t *testing.T, seed uint64, k, n uint8) {
		srcs := withNotes(randomStreams(newRand(seed), 1+int(k%9), int(n%64)), seed)
		var want *Timeline
		for _, w := range []int{1, 2, 3} {
			m, err := NewMerger(&Options{Rules: testRules(), Workers: w, Priority: []string{"s1"}})
			require.NoError(t, err)
			m.forceParallel = true
			tl, err := m.MergeSlices(nil, srcs)
			require.NoError(t, err)
			if want == nil {
				want = tl
				continue
			}
			require.Equal(t, want.Entries(), tl.Entries(), "workers %d", w)
			require.Equal(t, want.Conflicts, tl.Conflicts, "workers %d", w)
			require.Equal(t, want.mrefs, tl.mrefs, "workers %d", w)
		}
	})
}
