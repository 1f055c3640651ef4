package merge

import (
	"fmt"
	"iter"
)

// head is the current entry of one stream inside the merge heap. The time
// key is unpacked so that the common case (different instants) is decided by
// two integer comparisons.
type head struct {
	sec  int64
	nsec int32
	rank int32 // priority of the lead source; -1 until a tie needs it
	s    int32 // stream index
	i    int32 // position in the stream
	e    *Entry
}

// cursor is the k-way heap merge of sorted streams, in the Next/At/Err shape
// of the hot internal loops. Streams are slices (the fast path) or pull
// functions. It is not safe for concurrent use.
type cursor struct {
	o     *Options
	srcs  [][]Entry
	pulls []func() (Entry, bool)
	bufs  []Entry // current entry of each pulled stream
	h     []head
	top   head  // the current entry's head
	cur   Entry // copy of the current entry of a pulled stream
	err   error
	begun bool
}

// reset prepares c to merge srcs, reusing its buffers.
func (c *cursor) reset(o *Options, srcs [][]Entry) {
	c.o, c.srcs, c.pulls, c.err, c.begun = o, srcs, nil, nil, false
	c.h = c.h[:0]
}

func keyOf(e *Entry, s, i int32) head {
	return head{sec: e.Time.Unix(), nsec: int32(e.Time.Nanosecond()), rank: -1, s: s, i: i, e: e}
}

// advance returns the head after h in its stream, or false at its end.
func (c *cursor) advance(s, i int32) (head, bool) {
	if c.pulls != nil {
		e, ok := c.pulls[s]()
		if !ok {
			return head{}, false
		}
		c.bufs[s] = e
		return keyOf(&c.bufs[s], s, i), true
	}
	if int(i) >= len(c.srcs[s]) {
		return head{}, false
	}
	return keyOf(&c.srcs[s][i], s, i), true
}

// cmpHead is the total order of heads: Options.Compare, then stream index.
func (c *cursor) cmpHead(a, b *head) int {
	if a.sec != b.sec {
		if a.sec < b.sec {
			return -1
		}
		return 1
	}
	if a.nsec != b.nsec {
		if a.nsec < b.nsec {
			return -1
		}
		return 1
	}
	la, lb := lead(a.e), lead(b.e)
	if la.Source != lb.Source {
		if a.rank < 0 {
			a.rank = c.o.rank(la.Source)
		}
		if b.rank < 0 {
			b.rank = c.o.rank(lb.Source)
		}
		if a.rank != b.rank {
			if a.rank < b.rank {
				return -1
			}
			return 1
		}
	}
	if r := compareLead(la, lb); r != 0 {
		return r
	}
	switch {
	case a.s < b.s:
		return -1
	case a.s > b.s:
		return 1
	}
	return 0
}

func (c *cursor) down(i int) {
	h := c.h
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && c.cmpHead(&h[r], &h[l]) < 0 {
			m = r
		}
		if c.cmpHead(&h[m], &h[i]) >= 0 {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// Next moves to the next entry in merged order. It returns false at the end
// or on error; Err tells which.
func (c *cursor) Next() bool {
	if c.err != nil {
		return false
	}
	if !c.begun {
		c.begun = true
		n := len(c.srcs)
		if c.pulls != nil {
			n = len(c.pulls)
		}
		for s := range n {
			if hd, ok := c.advance(int32(s), 0); ok {
				c.h = append(c.h, hd)
			}
		}
		for i := len(c.h)/2 - 1; i >= 0; i-- {
			c.down(i)
		}
	} else if len(c.h) > 0 {
		old := c.h[0]
		prevE := old.e
		if c.pulls != nil {
			prevE = &c.cur
		}
		if nx, ok := c.advance(old.s, old.i+1); ok {
			// The stream's next entry must not sort before the one just
			// returned; compare without the stream index (same stream).
			if nx.sec < old.sec || nx.sec == old.sec && (nx.nsec < old.nsec ||
				nx.nsec == old.nsec && c.o.compare(nx.e, prevE) < 0) {
				c.err = fmt.Errorf("%w: stream %d, position %d", ErrUnsorted, nx.s, nx.i)
				return false
			}
			c.h[0] = nx
			c.down(0)
		} else {
			last := len(c.h) - 1
			c.h[0] = c.h[last]
			c.h = c.h[:last]
			c.down(0)
		}
	}
	if len(c.h) == 0 {
		return false
	}
	c.top = c.h[0]
	if c.pulls != nil {
		// The pulled buffer is overwritten by the stream's next entry, so
		// keep a copy of the one returned for the order check and for At.
		c.cur = *c.top.e
	}
	return true
}

// At returns the current entry. For slice streams it points into the
// caller's slice; for pulled streams it is valid until the next call to Next.
func (c *cursor) At() *Entry {
	if c.pulls != nil {
		return &c.cur
	}
	return c.top.e
}

// Pos returns the stream index and position of the current entry.
func (c *cursor) Pos() (int32, int32) { return c.top.s, c.top.i }

// Err returns the error that stopped the merge, if any.
func (c *cursor) Err() error { return c.err }

// Interleave merges per-source streams, each sorted by [Options.Compare],
// into one stream in that order (ties between streams go to the lower stream
// index), without de-duplication. It is a heap merge, O(n log k) for n
// entries in k streams; zero or one stream is passed through without a heap.
//
// A stream out of order ends the sequence with an error wrapping
// [ErrUnsorted] as its last element; entries yielded before it are correct.
// The sequence is single-use when the streams are.
func Interleave(srcs []iter.Seq[Entry], o *Options) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		switch len(srcs) {
		case 0:
			return
		case 1:
			var prev Entry
			i := 0
			for e := range srcs[0] {
				if i > 0 && o.compare(&e, &prev) < 0 {
					yield(Entry{}, fmt.Errorf("%w: stream 0, position %d", ErrUnsorted, i))
					return
				}
				if !yield(e, nil) {
					return
				}
				prev = e
				i++
			}
			return
		}
		c := &cursor{o: o}
		c.pulls = make([]func() (Entry, bool), len(srcs))
		c.bufs = make([]Entry, len(srcs))
		for i, s := range srcs {
			next, stop := iter.Pull(s)
			defer stop()
			c.pulls[i] = next
		}
		for c.Next() {
			if !yield(*c.At(), nil) {
				return
			}
		}
		if err := c.Err(); err != nil {
			yield(Entry{}, err)
		}
	}
}

// InterleaveSlices is [Interleave] for streams already in memory, the fast
// path: the heap holds pointers into the slices and copies an entry only to
// yield it. The slices are not modified.
func InterleaveSlices(srcs [][]Entry, o *Options) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		if len(srcs) == 1 {
			// Zero or one stream needs no heap, only the order check.
			src := srcs[0]
			for i := range src {
				if i > 0 && o.compare(&src[i], &src[i-1]) < 0 {
					yield(Entry{}, fmt.Errorf("%w: stream 0, position %d", ErrUnsorted, i))
					return
				}
				if !yield(src[i], nil) {
					return
				}
			}
			return
		}
		var c cursor
		c.reset(o, srcs)
		for c.Next() {
			if !yield(*c.At(), nil) {
				return
			}
		}
		if err := c.Err(); err != nil {
			yield(Entry{}, err)
		}
	}
}
