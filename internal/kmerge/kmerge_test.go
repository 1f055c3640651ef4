package kmerge

import (
	"cmp"
	"errors"
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
