package merge

import (
	"fmt"
	"iter"
	"math/bits"
	"slices"
	"sync"

	"github.com/carelens/carelens/provenance"
)

// head is the current entry of one stream inside the merge. The time is
// packed into one integer (Unix nanoseconds, saturated outside 1678-2262),
// so the common case, different instants, is one comparison.
type head struct {
	key  int64
	rank int32 // priority of the lead source; -1 until a tie needs it
	s    int32 // stream index
	i    int32 // position in the stream
	done bool  // the stream is exhausted
	e    *Entry
}

// cursor is the k-way merge of sorted streams, in the Next/At/Err shape of
// the hot internal loops. It is a tournament (loser) tree over the streams'
// heads: advancing the winner replays one leaf-to-root path, log2(k)
// comparisons, about half of what a binary heap's sift-down needs. Streams
// are slices (the fast path) or pull functions. It is not safe for
// concurrent use.
type cursor struct {
	o     *Options
	srcs  [][]Entry
	pulls []func() (Entry, bool)
	bufs  []Entry // current entry of each pulled stream
	h     []head  // current head of each stream
	tree  []node  // tree[0] is the winning stream, tree[1:] the losers
	keys  []int64 // few streams: each stream's head key, scanned instead of a tree
	scan  bool
	top   head  // the current entry's head
	cur   Entry // copy of the current entry of a pulled stream
	err   error
	begun bool
}

// node is a stream in the tournament tree with a copy of its head's key, so
// that most matches are decided without touching the heads.
type node struct {
	key int64
	s   int32
}

// reset prepares c to merge srcs, reusing its buffers.
func (c *cursor) reset(o *Options, srcs [][]Entry) {
	c.o, c.srcs, c.pulls, c.err, c.begun = o, srcs, nil, nil, false
	c.h = c.h[:0]
}

const (
	minNano = -1 << 63
	maxNano = 1<<63 - 1
)

func timeKey(e *Entry) int64 { return packTime(e.Time.Unix(), int32(e.Time.Nanosecond())) }

// packTime is the time key of Unix seconds s and nanoseconds ns.
func packTime(s int64, ns int32) int64 {
	switch {
	case s < -9223372036:
		return minNano
	case s > 9223372035:
		return maxNano
	}
	return s*1e9 + int64(ns)
}

// advance loads the head of stream s at position i, or marks it done.
func (c *cursor) advance(s, i int32) {
	h := &c.h[s]
	if c.pulls != nil {
		e, ok := c.pulls[s]()
		if !ok {
			h.done = true
			return
		}
		c.bufs[s] = e
		*h = head{key: timeKey(&c.bufs[s]), rank: -1, s: s, i: i, e: &c.bufs[s]}
		return
	}
	if int(i) >= len(c.srcs[s]) {
		h.done = true
		return
	}
	e := &c.srcs[s][i]
	*h = head{key: timeKey(e), rank: -1, s: s, i: i, e: e}
}

// less is the total order of heads: Options.Compare, then stream index;
// exhausted streams (key maxNano, done) last.
func (c *cursor) less(x, y node) bool {
	if x.key != y.key {
		return x.key < y.key
	}
	a, b := &c.h[x.s], &c.h[y.s]
	if a.done || b.done {
		return !a.done
	}
	return c.tie(a, b) < 0
}

func (c *cursor) nodeOf(s int32) node {
	h := &c.h[s]
	if h.done {
		return node{key: maxNano, s: s}
	}
	return node{key: h.key, s: s}
}

// tie compares heads with equal time keys.
func (c *cursor) tie(a, b *head) int {
	if a.key == minNano || a.key == maxNano {
		if r := a.e.Time.Compare(b.e.Time); r != 0 {
			return r
		}
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

// scanMax is the most streams merged by scanning their keys: for a few
// streams a linear scan of adjacent keys, whose comparisons are predictable,
// beats the tree's unpredictable ones.
const scanMax = 8

// pick returns the winning stream by scanning the head keys.
func (c *cursor) pick() node {
	keys := c.keys
	best, bk := int32(0), keys[0]
	for i := 1; i < len(keys); i++ {
		if k := keys[i]; k < bk {
			best, bk = int32(i), k
		} else if k == bk && c.less(node{k, int32(i)}, node{bk, best}) {
			best = int32(i)
		}
	}
	return node{bk, best}
}

// build plays the initial tournament: winners climb, losers stay.
func (c *cursor) build() {
	k := len(c.h)
	c.tree = slices.Grow(c.tree[:0], k)[:k]
	c.scan = k <= scanMax
	if c.scan {
		c.keys = slices.Grow(c.keys[:0], k)[:k]
		for s := range k {
			c.keys[s] = c.nodeOf(int32(s)).key
		}
		c.tree[0] = c.pick()
		return
	}
	if k == 1 {
		c.tree[0] = c.nodeOf(0)
		return
	}
	// win[p] for p in [1, 2k): the winner of the subtree at p.
	win := make([]node, 2*k)
	for s := range k {
		win[k+s] = c.nodeOf(int32(s))
	}
	for p := k - 1; p >= 1; p-- {
		l, r := win[2*p], win[2*p+1]
		if c.less(r, l) {
			win[p], c.tree[p] = r, l
		} else {
			win[p], c.tree[p] = l, r
		}
	}
	c.tree[0] = win[1]
}

// replay restores the tree after stream s's head changed.
func (c *cursor) replay(s int32) {
	if c.scan {
		c.keys[s] = c.nodeOf(s).key
		c.tree[0] = c.pick()
		return
	}
	k := int32(len(c.h))
	w := c.nodeOf(s)
	t := c.tree
	for p := (s + k) >> 1; p >= 1; p >>= 1 {
		if n := t[p]; n.key < w.key || n.key == w.key && c.less(n, w) {
			t[p], w = w, n
		}
	}
	t[0] = w
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
		if n == 0 {
			return false
		}
		c.h = slices.Grow(c.h[:0], n)[:n]
		for s := range n {
			c.h[s] = head{}
			c.advance(int32(s), 0)
		}
		c.build()
	} else {
		s := c.tree[0].s
		old := c.h[s]
		prevE := old.e
		if c.pulls != nil {
			prevE = &c.cur
		}
		c.advance(s, old.i+1)
		// The stream's next entry must not sort before the one just
		// returned (same stream, so compare without the stream index).
		if nx := &c.h[s]; !nx.done && (nx.key < old.key || nx.key == old.key && c.o.compare(nx.e, prevE) < 0) {
			c.err = fmt.Errorf("%w: stream %d, position %d", ErrUnsorted, s, nx.i)
			return false
		}
		c.replay(s)
	}
	w := &c.h[c.tree[0].s]
	if w.done {
		return false
	}
	c.top = *w
	if c.pulls != nil {
		// The pulled buffer is overwritten by the stream's next entry, so
		// keep a copy of the one returned for the order check and for At.
		c.cur = *w.e
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
// index), without de-duplication. It is the merge of [InterleaveSlices],
// O(n log k) for n entries in k streams; zero or one stream is passed through
// without one.
//
// With two or more streams, each stream is read ahead in batches, through a
// coroutine of its own ([iter.Pull]): it runs on another goroutine, but never
// at the same time as the caller or the other streams, and up to a batch
// ahead of the merge. Stopping the loop early, an error or a panic stops
// every stream not yet exhausted (its yield returns false) and waits for it
// to return, before the sequence returns. A panic inside a stream is raised
// again on the caller's goroutine, with the same value, when the merge needs
// the entry the stream was producing.
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
		r := readAhead(srcs)
		defer r.stop()
		if len(srcs) <= scanMax {
			cur := make([][]Entry, len(srcs))
			for s := range cur {
				cur[s] = r.next(s)
			}
			interleaveScan(cur, o, r, yield)
			return
		}
		c := &cursor{o: o}
		c.pulls = make([]func() (Entry, bool), len(srcs))
		c.bufs = make([]Entry, len(srcs))
		for s := range srcs {
			c.pulls[s] = r.pull(s)
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

// Batches: a stream's first batch holds firstBatch entries, each new one
// twice as many up to maxBatch.
const (
	firstBatch = 32
	maxBatch   = 512
)

// reader reads streams in batches, each through a coroutine (iter.Pull) that
// fills a batch per switch instead of one entry.
type reader struct {
	nexts []func() ([]Entry, bool)
	stops []func()
}

// readAhead prepares to read srcs in batches; the caller must call stop.
func readAhead(srcs []iter.Seq[Entry]) *reader {
	r := &reader{nexts: make([]func() ([]Entry, bool), len(srcs)), stops: make([]func(), len(srcs))}
	for s, seq := range srcs {
		r.nexts[s], r.stops[s] = iter.Pull(batched(seq))
	}
	return r
}

// stop stops the streams not yet exhausted (their yield returns false) and
// waits for them to return.
func (r *reader) stop() {
	for s := range r.stops {
		defer r.stops[s]() // a stream panicking does not keep the others running
	}
}

// next returns stream s's next batch, or nil at its end. The batch is valid
// until the call after next for the same stream, so that the merge can check
// the order of a batch's first entry against the previous batch's last.
// If the stream panics, next panics with the same value, after the batches
// holding the entries before the panic.
func (r *reader) next(s int) []Entry {
	b, _ := r.nexts[s]()
	return b
}

// batched is seq in batches, alternating between two buffers.
func batched(seq iter.Seq[Entry]) iter.Seq[[]Entry] {
	return func(yield func([]Entry) bool) {
		size := firstBatch
		b, spare := getBatch(size), []Entry(nil)
		stopped := false
		defer func() {
			if v := recover(); v != nil {
				// The entries before a panic are delivered before it, and
				// a merge that stops before it needs the entry the stream
				// was producing does not see it. A stream panicking as it
				// is stopped panics in stop, as it would directly.
				if stopped || len(b) == 0 || yield(b) {
					panic(v)
				}
				return
			}
			// The merge is done with both: it asked for the batch after b,
			// or stopped.
			putBatch(b)
			putBatch(spare)
		}()
		for e := range seq {
			b = append(b, e)
			if len(b) == size { // not cap(b): a batch from the pool is larger
				if !yield(b) {
					stopped = true
					return
				}
				// The merge is done with the batch before b, not with b.
				b, spare = spare[:0], b
				size = min(2*size, maxBatch)
				if cap(b) < size {
					b = getBatch(size)
				}
			}
		}
		if len(b) > 0 {
			yield(b)
		}
	}
}

// batchPool holds cleared batches of maxBatch entries, so that merging
// streams again allocates no batches.
var batchPool sync.Pool // *[maxBatch]Entry

// getBatch returns an empty batch with room for size entries: one of
// maxBatch from the pool, or a new one of size.
func getBatch(size int) []Entry {
	if p, ok := batchPool.Get().(*[maxBatch]Entry); ok {
		return p[:0]
	}
	return make([]Entry, 0, size)
}

// putBatch gives b to the pool if it holds maxBatch entries, cleared so that
// the pool keeps nothing of them alive.
func putBatch(b []Entry) {
	if cap(b) != maxBatch {
		return
	}
	p := (*[maxBatch]Entry)(b[:maxBatch])
	clear(p[:])
	batchPool.Put(p)
}

// pull returns stream s as a pull function over its batches, for the
// cursor. Entries are copied out.
func (r *reader) pull(s int) func() (Entry, bool) {
	var cur []Entry
	i := 0
	return func() (Entry, bool) {
		if i == len(cur) {
			if cur, i = r.next(s), 0; len(cur) == 0 {
				return Entry{}, false
			}
		}
		i++
		return cur[i-1], true
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
		if len(srcs) <= scanMax {
			interleaveScan(srcs, o, nil, yield)
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

// interleaveScan is InterleaveSlices for 2 to scanMax streams: the cursor's
// order, with the heads and their keys in two small arrays on the stack and
// nothing between the scan and the yield.
//
// With a reader r (Interleave), srcs holds each stream's current batch and is
// overwritten with the next one as a batch runs out; without one, srcs is
// the whole streams and is not modified.
func interleaveScan(srcs [][]Entry, o *Options, r *reader, yield func(Entry, error) bool) {
	// Slots past the last stream are exhausted heads, so that the scans run
	// over all scanMax keys with constant bounds.
	var hs [scanMax]scanHead
	var keys [scanMax]int64
	live := 0
	for s := range hs {
		hs[s], keys[s] = scanHead{key: maxNano, rank: -1, done: true}, maxNano
		if s < len(srcs) && len(srcs[s]) > 0 {
			src := srcs[s]
			hs[s] = scanHead{key: timeKey(&src[0]), rank: -1, e: &src[0], tag: lead(&src[0])}
			if len(src) > 1 {
				hs[s].next = timeKey(&src[1])
			}
			keys[s] = hs[s].key
			live++
		}
	}
	for live > 0 {
		// The smallest key and the set of streams holding it, without a
		// branch: which stream holds it is unpredictable, so branches on
		// the comparisons would be mispredicted, and a tree of min
		// (conditional moves) is a shorter chain from one step's keys to
		// the next step's choice than a scan. Written out for scanMax = 8.
		bk := min(min(min(keys[0], keys[1]), min(keys[2], keys[3])), min(min(keys[4], keys[5]), min(keys[6], keys[7])))
		at := (b2u(keys[0] == bk) | b2u(keys[1] == bk)<<1 | b2u(keys[2] == bk)<<2 | b2u(keys[3] == bk)<<3) |
			(b2u(keys[4] == bk)<<4 | b2u(keys[5] == bk)<<5 | b2u(keys[6] == bk)<<6 | b2u(keys[7] == bk)<<7)
		b := bits.TrailingZeros(at)
		if at&(at-1) != 0 { // rare: ties are left to predictable branches
			// Another stream has the same key: the lower stream wins
			// unless a higher one sorts first (exhausted streams last).
			for at &= at - 1; at != 0; at &= at - 1 {
				if j := bits.TrailingZeros(at); !hs[j].done && (hs[b].done || scanTie(o, &hs[j], &hs[b]) < 0) {
					b = j
				}
			}
		}
		h := &hs[b]
		if !yield(*h.e, nil) {
			return
		}
		src := srcs[b]
		i := h.i + 1
		if int(i) == len(src) {
			if r != nil {
				if nb := r.next(b); len(nb) > 0 {
					// The order check across batches: h.e is in the
					// previous batch, valid until the next call of next.
					e, key := &nb[0], timeKey(&nb[0])
					h.base += i
					if key <= h.key && (key < h.key || o.compare(e, h.e) < 0) {
						yield(Entry{}, fmt.Errorf("%w: stream %d, position %d", ErrUnsorted, b, h.base))
						return
					}
					srcs[b] = nb
					h.key, h.e, h.tag, h.i, h.known = key, e, lead(e), 0, false
					keys[b] = key
					if len(nb) > 1 {
						h.next = timeKey(&nb[1])
					}
					continue
				}
			}
			h.key, h.done, keys[b] = maxNano, true, maxNano
			live--
			continue
		}
		// The stream's next entry must not sort before the one just
		// yielded, which h still holds. Equal keys need the full order;
		// within a stream the lead sources are almost always equal, and
		// then compare reads no rank. The key was read one entry ahead, so
		// that reading it is not on the path from this step to the next.
		prev, e, key := h.e, &src[i], h.next
		if key <= h.key && (key < h.key || o.compare(e, prev) < 0) {
			yield(Entry{}, fmt.Errorf("%w: stream %d, position %d", ErrUnsorted, b, h.base+i))
			return
		}
		h.key, h.e, h.tag, h.i, h.known = key, e, lead(e), i, false
		keys[b] = key
		if int(i)+1 < len(src) {
			h.next = timeKey(&src[i+1])
		}
	}
}

// The scan in interleaveScan is written out for eight streams.
var _ = [1]struct{}{}[scanMax-8]

// b2u is 1 for true, 0 for false, without a branch.
func b2u(b bool) uint {
	if b {
		return 1
	}
	return 0
}

// scanHead is a stream's current entry in interleaveScan. A head's lead
// source is read at its first tie: on a day whose day-precision entries
// share one key a head ties again and again, and its tags are far from the
// entry (the pointer to the lead tag is taken as the head is loaded, so a
// tie waits on one memory access, not two in a row). The source and its
// rank stay with the stream when it advances, so that a new head with the
// same lead source (a stream is mostly one source's) skips the search of
// Options.Priority.
type scanHead struct {
	key   int64
	next  int64 // the key of the stream's next entry, if any
	e     *Entry
	tag   *provenance.Tag // e's lead tag
	src   string          // the lead tag's source of this or an earlier head of the stream
	rank  int32           // priority of src; -1 before the stream's first tie
	i     int32           // position in the stream's slice (batch)
	base  int32           // position in the stream of the slice's first entry
	known bool            // src is e's lead source
	done  bool            // the stream is exhausted
}

// load sets h.src and h.rank to the current entry's.
func (h *scanHead) load(o *Options) {
	h.known = true
	// String comparison is cheap when the data pointers match, as they do
	// for a source id shared by a stream's tags.
	if s := h.tag.Source; s != h.src || h.rank < 0 {
		h.src, h.rank = s, o.rank(s)
	}
}

// scanTie is Options.Compare of two heads with equal keys (the stream
// index is the caller's).
func scanTie(o *Options, a, b *scanHead) int {
	if a.key == minNano || a.key == maxNano {
		if r := a.e.Time.Compare(b.e.Time); r != 0 {
			return r
		}
	}
	if !a.known {
		a.load(o)
	}
	if !b.known {
		b.load(o)
	}
	if a.src != b.src {
		if a.rank != b.rank {
			if a.rank < b.rank {
				return -1
			}
			return 1
		}
		if a.src < b.src {
			return -1
		}
		return 1
	}
	return compareLead(a.tag, b.tag)
}
