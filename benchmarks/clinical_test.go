package benchmarks

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/merge"
)

// dedupScore is the pairwise accuracy of a merged timeline against the
// generator's truth.
type dedupScore struct {
	truePairs, predPairs, tp int
	silentConflicts          int // merged entries holding a fact and its disagreeing copy
	conflictCopies           int // disagreeing copies in the set
	flagged                  int // disagreeing copies that sit in a flagged conflict
}

func (s dedupScore) precision() float64 { return float64(s.tp) / float64(max(s.predPairs, 1)) }
func (s dedupScore) recall() float64    { return float64(s.tp) / float64(max(s.truePairs, 1)) }

// scoreDedup compares the clusters of tl (its entries' members) with the
// facts of set.
func scoreDedup(t testing.TB, set *ClinicalSet, tl *merge.Timeline) dedupScore {
	t.Helper()
	fact := map[string]int32{}
	perFact := map[int32]int{}
	for s, src := range set.Sources {
		for i, e := range src {
			fact[e.Lineage.Tags()[0].ResourceID] = set.Facts[s][i]
			perFact[set.Facts[s][i]]++
		}
	}
	var sc dedupScore
	for _, n := range perFact {
		sc.truePairs += n * (n - 1) / 2
	}
	inConflict := map[int32]bool{}
	for i, e := range tl.Entries() {
		var fs []int32
		for m := range tl.Members(i) {
			fs = append(fs, fact[m.Lineage.Tags()[0].ResourceID])
		}
		for a := range fs {
			for b := a + 1; b < len(fs); b++ {
				sc.predPairs++
				if fs[a] == fs[b] {
					sc.tp++
				}
				if disagree(set, fs[a], fs[b]) || disagree(set, fs[b], fs[a]) {
					sc.silentConflicts++
				}
			}
		}
		if e.Conflict != 0 {
			for _, f := range fs {
				inConflict[f] = true
			}
		}
	}
	for cf := range set.ConflictOf {
		sc.conflictCopies++
		if inConflict[cf] {
			sc.flagged++
		}
	}
	return sc
}

func TestClinicalDedupAccuracy(t *testing.T) {
	tests := []struct {
		name    string
		opts    ClinicalOptions
		priorit []string
	}{
		{name: "default", opts: ClinicalOptions{Seed: 1, Entries: 40000}},
		{name: "more conflicts, priority", opts: ClinicalOptions{Seed: 2, Entries: 40000, ConflictRate: 0.1}, priorit: []string{"src-3", "src-0"}},
		{name: "few sources, heavy duplication", opts: ClinicalOptions{Seed: 3, Entries: 30000, Sources: 3, DupRate: 0.4}},
		{name: "the extreme patient of BenchmarkMergeSizes (200,000 entries)", opts: ClinicalOptions{Seed: 42, Entries: 200_000}, priorit: []string{"src-0", "src-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.Entries > 100_000 && testing.Short() {
				t.Skip("large set skipped in -short")
			}
			set, err := GenerateClinical(tc.opts)
			require.NoError(t, err)
			eng, err := merge.Compile(&merge.Options{Rules: set.Rules, Priority: tc.priorit})
			require.NoError(t, err)
			tl, err := eng.MergeSlices(set.Sources)
			require.NoError(t, err)
			sc := scoreDedup(t, set, tl)
			t.Logf("entries=%d merged=%d truePairs=%d predicted=%d tp=%d precision=%.4f recall=%.4f conflicts=%d flagged=%d/%d",
				countEntries(set), tl.Len(), sc.truePairs, sc.predPairs, sc.tp, sc.precision(), sc.recall(),
				len(tl.Conflicts), sc.flagged, sc.conflictCopies)
			require.Positive(t, sc.truePairs)
			require.Positive(t, sc.conflictCopies)
			assert.GreaterOrEqual(t, sc.precision(), 0.995)
			assert.GreaterOrEqual(t, sc.recall(), 0.98)
			assert.Zero(t, sc.silentConflicts, "a disagreeing copy was merged with the fact it disagrees with")
			assert.GreaterOrEqual(t, float64(sc.flagged)/float64(sc.conflictCopies), 0.95, "disagreeing copies should be flagged")
		})
	}
}

func countEntries(set *ClinicalSet) int {
	n := 0
	for _, s := range set.Sources {
		n += len(s)
	}
	return n
}

func TestGenerateClinical(t *testing.T) {
	a, err := GenerateClinical(ClinicalOptions{Seed: 7, Entries: 20000})
	require.NoError(t, err)
	b, err := GenerateClinical(ClinicalOptions{Seed: 7, Entries: 20000})
	require.NoError(t, err)
	require.Len(t, a.Sources, 8)
	n := countEntries(a)
	assert.InDelta(t, 20000, n, 1000, "entry count near the target")
	assert.InDelta(t, 0.2, float64(a.Copies)/float64(n), 0.02, "copy share near DupRate")
	for s := range a.Sources {
		assert.Len(t, a.Facts[s], len(a.Sources[s]))
		assert.True(t, sortedBy(a.Sources[s]), "source %d sorted", s)
		require.Len(t, b.Sources[s], len(a.Sources[s]), "deterministic for a seed")
		for i := range a.Sources[s] {
			require.True(t, a.Sources[s][i].Lineage.Equal(b.Sources[s][i].Lineage))
		}
	}
	_, err = GenerateClinical(ClinicalOptions{Sources: 1})
	assert.ErrorIs(t, err, ErrBadOptions)
}

func sortedBy(es []merge.Entry) bool {
	for i := 1; i < len(es); i++ {
		if merge.Compare(es[i-1], es[i]) > 0 {
			return false
		}
	}
	return true
}

// disagree reports whether fact a is a disagreeing copy of fact b.
func disagree(set *ClinicalSet, a, b int32) bool {
	f, ok := set.ConflictOf[a]
	return ok && f == b
}
