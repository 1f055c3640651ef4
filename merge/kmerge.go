package merge

import (
	"errors"
	"fmt"
	"iter"

	"github.com/carelens/carelens/internal/kmerge"
)

// kmergeSeq is [kmerge.Merge] with its out-of-order error as [ErrUnsorted].
func kmergeSeq[T any](next []func() (T, bool), cmp func(a, b T) int, yield func(T) bool) error {
	err := kmerge.Merge(next, cmp, yield)
	if ue, ok := errors.AsType[*kmerge.UnsortedError](err); ok {
		return fmt.Errorf("%w: %v", ErrUnsorted, ue)
	}
	return err
}

// Interleave merges per-source streams, each sorted by [Engine.Compare],
// into one in that order (ties go to the lower stream), without
// de-duplication: the sweep's k-way merge, each stream read through
// [iter.Pull]. Stopping early, an error or a panic stops every stream
// (its yield returns false) before the sequence returns; a stream's panic
// is raised on the caller's goroutine. A stream out of order ends the
// sequence with an error wrapping [ErrUnsorted]. The sequence is single-use
// when the streams are.
func (e *Engine) Interleave(srcs []iter.Seq[Entry]) iter.Seq2[Entry, error] {
	// keyed is a pulled entry with its order key, computed once per entry
	// rather than per comparison.
	type keyed struct {
		key
		e *Entry
	}
	return func(yield func(Entry, error) bool) {
		next := make([]func() (keyed, bool), len(srcs))
		for s, seq := range srcs {
			nx, stop := iter.Pull(seq)
			defer stop()
			// kmerge.Merge holds two items of a stream at most (its head
			// and the one before it), so two slots keep every pulled entry
			// in place while the merge reads it.
			var slots [2]Entry
			k := 0
			next[s] = func() (keyed, bool) {
				x, ok := nx()
				if !ok {
					return keyed{}, false
				}
				k ^= 1
				slots[k] = x
				p := &slots[k]
				return keyed{keyOf(p, e.o.Priority), p}, true
			}
		}
		cmp := func(a, b keyed) int { return order(&a.key, &b.key) }
		if err := kmergeSeq(next, cmp, func(x keyed) bool { return yield(*x.e, nil) }); err != nil {
			yield(Entry{}, err)
		}
	}
}
