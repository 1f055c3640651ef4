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
	return func(yield func(Entry, error) bool) {
		next := make([]func() (Entry, bool), len(srcs))
		for s, seq := range srcs {
			nx, stop := iter.Pull(seq)
			defer stop()
			next[s] = nx
		}
		cmp := func(a, b Entry) int { return e.Compare(&a, &b) }
		if err := kmergeSeq(next, cmp, func(x Entry) bool { return yield(x, nil) }); err != nil {
			yield(Entry{}, err)
		}
	}
}
