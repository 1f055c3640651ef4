// Package kmerge merges sorted streams: the k-way merge behind the timeline
// merge of package merge, one binary heap of the streams' heads.
package kmerge

import "fmt"

// UnsortedError is returned when a stream's item sorts before the one it
// follows: Stream is the stream's index, Position the item's.
type UnsortedError struct{ Stream, Position int }

func (e *UnsortedError) Error() string {
	return fmt.Sprintf("stream %d, position %d", e.Stream, e.Position)
}

// Merge merges sorted streams into one sequence in cmp order, ties going
// to the lower stream, O(n log k) for n items in k streams: a binary heap
// of the streams' heads. Each stream is a pull function (iter.Pull of an
// iter.Seq, or an index into a slice). A stream whose next item sorts
// before its previous one ends the merge with an [UnsortedError]; a yield
// returning false ends it without error. Merge holds at most two items of
// a stream at once: its head and, while checking the order, the item
// before it.
func Merge[T any](next []func() (T, bool), cmp func(a, b T) int, yield func(T) bool) error {
	type head struct {
		v    T
		s, i int
	}
	less := func(a, b *head) bool {
		c := cmp(a.v, b.v)
		return c < 0 || c == 0 && a.s < b.s
	}
	h := make([]head, 0, len(next))
	down := func(i int) {
		for {
			m := i
			if l := 2*i + 1; l < len(h) && less(&h[l], &h[m]) {
				m = l
			}
			if r := 2*i + 2; r < len(h) && less(&h[r], &h[m]) {
				m = r
			}
			if m == i {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for s, nx := range next {
		if v, ok := nx(); ok {
			h = append(h, head{v: v, s: s})
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(i)
	}
	for len(h) > 0 {
		top := h[0]
		if !yield(top.v) {
			return nil
		}
		if v, ok := next[top.s](); ok {
			if cmp(v, top.v) < 0 {
				return &UnsortedError{Stream: top.s, Position: top.i + 1}
			}
			h[0] = head{v: v, s: top.s, i: top.i + 1}
		} else {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		down(0)
	}
	return nil
}
