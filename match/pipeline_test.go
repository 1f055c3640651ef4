package match_test

import (
	"cmp"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/match"
)

// batchRun is a linkage run made of Batch's steps, as a distributed runner
// makes it, each step done by plain loops.
type batchRun struct {
	candidates int
	guarded    int
	unique     int
	pairs      []match.ScoredPair
	cluster    []int
	splits     match.Splits
	oversized  int
}

func linkByBatch(t *testing.T, recs []match.Record, o *match.LinkOptions) batchRun {
	t.Helper()
	b, err := match.NewBatch(recs, o)
	require.NoError(t, err)
	var run batchRun
	// Blocking: group by (rule, key); a pair found by several rules is one
	// candidate.
	seen := map[[2]uint32]bool{}
	for r := range b.Rules() {
		blocks := map[uint64][]uint32{}
		for i := range b.Len() {
			if k := b.BlockKey(r, i); k != 0 {
				blocks[k] = append(blocks[k], uint32(i))
			}
		}
		for _, members := range blocks {
			if len(members) < 2 {
				continue
			}
			// Any order in: the runner's grouping promises none.
			slices.Reverse(members)
			if b.BlockPairs(members, func(i, j uint32) {
				require.Less(t, i, j)
				seen[[2]uint32{i, j}] = true
			}) {
				run.oversized++
			}
		}
	}
	run.candidates = len(seen)
	for p := range seen {
		w, out := b.Score(p[0], p[1])
		switch out {
		case match.Guarded:
			run.guarded++
		case match.LinkedUnique:
			run.unique++
			fallthrough
		case match.Linked:
			run.pairs = append(run.pairs, match.ScoredPair{A: int(p[0]), B: int(p[1]), Weight: w})
		}
	}
	slices.SortFunc(run.pairs, func(a, b match.ScoredPair) int { return cmp.Or(cmp.Compare(a.A, b.A), cmp.Compare(a.B, b.B)) })
	// Connected components, then each clustered on its own.
	parent := make([]int, b.Len())
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(x int) int {
		if parent[x] != x {
			parent[x] = find(parent[x])
		}
		return parent[x]
	}
	for _, p := range run.pairs {
		parent[find(p.A)] = find(p.B)
	}
	comps := map[int][]match.ScoredPair{}
	for _, p := range run.pairs {
		comps[find(p.A)] = append(comps[find(p.A)], p)
	}
	rep := make([]int, b.Len())
	for i := range rep {
		rep[i] = i
	}
	for _, c := range comps {
		records, cluster, s := b.Cluster(c)
		for k, i := range records {
			rep[i] = cluster[k]
		}
		run.splits.Constraint += s.Constraint
		run.splits.ChainGuard += s.ChainGuard
		run.splits.Apart += s.Apart
	}
	number := map[int]int{}
	run.cluster = make([]int, b.Len())
	for i, r := range rep {
		n, ok := number[r]
		if !ok {
			n = len(number)
			number[r] = n
		}
		run.cluster[i] = n
	}
	return run
}

// TestBatchEqualsLink runs the linkage as a distributed runner would, one
// Batch step at a time with components clustered apart, and asks for
// Link's candidates, linked pairs, weights (bit for bit), splits and
// clusters.
func TestBatchEqualsLink(t *testing.T) {
	tests := []struct {
		name   string
		files  [][]string
		opts   match.LinkOptions
		reason string
		// windowed asks for oversized blocks, unique for pairs linked on a
		// unique name and birth date, so that those paths are compared.
		windowed, unique bool
		// namesDOB keeps only names and birth dates.
		namesDOB bool
	}{
		{name: "febrl1", files: [][]string{{"linkage", "febrl", "dataset1.csv"}}},
		{name: "febrl1 oversized blocks", files: [][]string{{"linkage", "febrl", "dataset1.csv"}},
			opts:   match.LinkOptions{MaxBlockSize: 3, Window: 2},
			reason: "most blocks are windowed, so pairs are de-duplicated across windows of several rules", windowed: true},
		{name: "febrl4 unique name and birth date", files: [][]string{{"linkage", "febrl", "dataset4a.csv"}, {"linkage", "febrl", "dataset4b.csv"}},
			opts: match.LinkOptions{UniqueNameDOB: true}, unique: true, namesDOB: true},
		{name: "uganda no chain guard", files: [][]string{{"linkage", "opencr_uganda", "uganda_data_v21_20201501.csv"}},
			opts: match.LinkOptions{NoChainGuard: true}},
		{name: "uganda", files: [][]string{{"linkage", "opencr_uganda", "uganda_data_v21_20201501.csv"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, _ := readLinkage(t, tc.files...)
			if tc.namesDOB {
				for i, r := range recs {
					recs[i] = match.Record{Source: r.Source, ID: r.ID, Given: r.Given, Family: r.Family, BirthDate: r.BirthDate}
				}
			}
			trained, err := match.Link(t.Context(), recs, nil)
			require.NoError(t, err)
			o := tc.opts
			o.Model, o.KeepPairs = trained.Model, true
			want, err := match.Link(t.Context(), recs, &o)
			require.NoError(t, err)
			require.NotEmpty(t, want.Pairs)
			got := linkByBatch(t, recs, &o)
			assert.Equal(t, int(want.Stats.CandidatePairs), got.candidates, "candidate pairs")
			assert.Equal(t, want.Stats.GuardedPairs, got.guarded, "guarded pairs")
			assert.Equal(t, want.Stats.UniqueNameDOBLinks, got.unique, "unique name+dob links")
			assert.Equal(t, want.Pairs, got.pairs, "linked pairs and weights")
			assert.Equal(t, match.Splits{Constraint: want.Stats.ConstraintSplits, ChainGuard: want.Stats.ChainGuardSplits,
				Apart: want.Stats.ApartSplits}, got.splits, "refused merges")
			assert.Equal(t, want.Cluster, got.cluster, "clusters")
			oversized := 0
			for _, r := range want.Stats.Rules {
				oversized += r.Oversized
			}
			assert.Equal(t, oversized, got.oversized, "oversized blocks")
			assert.Equal(t, tc.windowed, oversized > 0, "oversized blocks")
			assert.Equal(t, tc.unique, got.unique > 0, "unique name+dob links")
		})
	}
}

// TestBatchClusterRefuses checks that Cluster applies the constraints
// across a component: records of two different valid NHS numbers linked
// through a third record stay apart.
func TestBatchClusterRefuses(t *testing.T) {
	recs := []match.Record{
		{Source: "a", ID: "1", Given: []string{"Ann"}, Family: "Smith", BirthDate: "1980-01-02", Postcode: "AB1 2CD", NHSNumber: "9434765919"},
		{Source: "b", ID: "2", Given: []string{"Ann"}, Family: "Smith", BirthDate: "1980-01-02", Postcode: "AB1 2CD"},
		{Source: "c", ID: "3", Given: []string{"Ann"}, Family: "Smith", BirthDate: "1980-01-02", Postcode: "AB1 2CD", NHSNumber: "9434765870"},
	}
	b, err := match.NewBatch(recs, &match.LinkOptions{Model: match.DefaultModel(nil)})
	require.NoError(t, err)
	records, cluster, splits := b.Cluster([]match.ScoredPair{{A: 1, B: 2, Weight: 20}, {A: 0, B: 1, Weight: 30}})
	assert.Equal(t, []int{0, 1, 2}, records)
	assert.Equal(t, []int{0, 0, 2}, cluster, "the stronger link joins 0 and 1; 2's NHS number differs from theirs")
	assert.Equal(t, match.Splits{Constraint: 1}, splits)
}

func TestNewBatchErrors(t *testing.T) {
	_, err := match.NewBatch(nil, &match.LinkOptions{Model: match.DefaultModel(nil)})
	require.ErrorIs(t, err, match.ErrNoRecords)
	_, err = match.NewBatch([]match.Record{{Source: "a", ID: "1"}}, nil)
	require.ErrorIs(t, err, match.ErrInvalidModel)
}
