package kmerge

import (
	"cmp"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKMergeNoAllocsPerItem(t *testing.T) {
	// The k-way merge allocates its heap once per merge, nothing per item.
	streams := make([][]int, 8)
	for s := range streams {
		for i := range 500 {
			streams[s] = append(streams[s], i*8+s%3)
		}
	}
	next := make([]func() (int, bool), len(streams))
	allocs := testing.AllocsPerRun(20, func() {
		for s := range streams {
			i := 0
			next[s] = func() (int, bool) {
				if i == len(streams[s]) {
					return 0, false
				}
				i++
				return streams[s][i-1], true
			}
		}
		n := 0
		require.NoError(t, Merge(next, cmp.Compare[int], func(int) bool { n++; return true }))
		require.Equal(t, 4000, n)
	})
	assert.LessOrEqual(t, allocs, 20.0, "the heap and the streams' closures, nothing per item")
}

func TestMergeOrderAndErrors(t *testing.T) {
	pull := func(s []int) func() (int, bool) {
		return func() (int, bool) {
			if len(s) == 0 {
				return 0, false
			}
			v := s[0]
			s = s[1:]
			return v, true
		}
	}
	var got []int
	err := Merge([]func() (int, bool){pull([]int{1, 4, 4}), pull(nil), pull([]int{0, 4, 9})}, cmp.Compare[int], func(v int) bool {
		got = append(got, v)
		return true
	})
	require.NoError(t, err)
	assert.Equal(t, []int{0, 1, 4, 4, 4, 9}, got)

	got = got[:0]
	err = Merge([]func() (int, bool){pull([]int{1, 2}), pull([]int{3, 1})}, cmp.Compare[int], func(v int) bool {
		got = append(got, v)
		return true
	})
	ue, ok := errors.AsType[*UnsortedError](err)
	require.True(t, ok)
	assert.Equal(t, UnsortedError{Stream: 1, Position: 1}, *ue)
	assert.Equal(t, []int{1, 2, 3}, got, "everything before the out-of-order item")
}

// TestMergeAgreesWithStableSort: on random streams (0 to 10 of them, empty
// ones, many ties) Merge yields what a stable sort of (value, stream) does,
// and stopping early yields a prefix of it.
func TestMergeAgreesWithStableSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 1))
	type item struct{ v, s int }
	for range 500 {
		k := rng.IntN(11)
		streams := make([][]int, k)
		var want []item
		for s := range streams {
			n := rng.IntN(12)
			v := 0
			for range n {
				v += rng.IntN(3) // steps of 0 make ties within and across streams
				streams[s] = append(streams[s], v)
				want = append(want, item{v, s})
			}
		}
		slices.SortStableFunc(want, func(a, b item) int { return cmp.Or(cmp.Compare(a.v, b.v), cmp.Compare(a.s, b.s)) })
		next := make([]func() (item, bool), k)
		for s := range streams {
			i := 0
			next[s] = func() (item, bool) {
				if i == len(streams[s]) {
					return item{}, false
				}
				i++
				return item{streams[s][i-1], s}, true
			}
		}
		stop := rng.IntN(len(want) + 2)
		var got []item
		err := Merge(next, func(a, b item) int { return cmp.Compare(a.v, b.v) }, func(x item) bool {
			got = append(got, x)
			return len(got) != stop
		})
		require.NoError(t, err)
		if stop >= 1 && stop <= len(want) {
			want = want[:stop]
		}
		require.Equal(t, want, got, "streams %v, stop %d", streams, stop)
	}
}
