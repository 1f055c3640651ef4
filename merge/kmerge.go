package merge

import (
	"fmt"
	"iter"
)

// kmerge merges sorted streams into one sequence in cmp order, ties going
// to the lower stream, O(n log k) for n items in k streams: a binary heap
// of the streams' heads. Each stream is a pull function (iter.Pull of an
// iter.Seq, or an index into a slice). A stream whose next item sorts
// before its previous one ends the merge with an error wrapping
// [ErrUnsorted] that names the stream and position; a yield returning
// false ends it without error.
func kmerge[T any](next []func() (T, bool), cmp func(a, b T) int, yield func(T) bool) error {
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
				return fmt.Errorf("%w: stream %d, position %d", ErrUnsorted, top.s, top.i+1)
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

// Interleave merges per-source streams, each sorted by [Engine.Compare],
// into one stream in that order (ties between streams go to the lower
// stream index), without de-duplication: O(n log k) for n entries in k
// streams.
//
// Each stream is read through [iter.Pull]. Stopping the loop early, an
// error or a panic stops every stream not yet exhausted (its yield returns
// false) before the sequence returns; a panic inside a stream is raised
// again on the caller's goroutine when the merge asks the stream for its
// next entry.
//
// A stream out of order ends the sequence with an error wrapping
// [ErrUnsorted] as its last element; entries yielded before it are correct.
// The sequence is single-use when the streams are.
func (e *Engine) Interleave(srcs []iter.Seq[Entry]) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		next := make([]func() (Entry, bool), len(srcs))
		for s, seq := range srcs {
			nx, stop := iter.Pull(seq)
			defer stop()
			next[s] = nx
		}
		cmp := func(a, b Entry) int { return e.Compare(&a, &b) }
		if err := kmerge(next, cmp, func(x Entry) bool { return yield(x, nil) }); err != nil {
			yield(Entry{}, err)
		}
	}
}
