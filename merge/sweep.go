package merge

import (
	"fmt"
	"slices"

	"github.com/carelens/carelens/provenance"
)

// item is one source entry during a merge: its order key and what the
// sweep reads to place it. It is 64 bytes, one cache line (an interval as a
// span after its time, not a second time): that took a heavy merge from
// 367k to 352k simulated L2 misses (cachegrind, 1 MiB L2).
type item struct {
	key
	e          *Entry
	mask       uint64 // sources numbered below 64 of its lineage
	r          ref    // where the entry is in the input streams
	span       int32  // the entry may mean any time from sec to sec+span (see interval)
	concept    int32
	next       int32 // the next member of its cluster, -1 at the end
	cat        uint8
	timed      bool // the entry has a time, and so an interval
	wide       bool // its lineage has a source numbered 64 or more
	conflicted bool // the entry carries an earlier merge's conflict id
}

// end is the last second of the interval the item may mean.
func (it *item) end() int64 { return it.sec + int64(it.span) }

// cluster is one entry of the timeline being built: the items merged into it.
type cluster struct {
	first, last, rep int32  // first and last member, and the representative
	group            int32  // its conflict group (see groupConflicts), or -1
	mask             uint64 // union of the members' masks
	// The output order: the representative's time, and the smallest lead
	// tag of the members with its source's priority.
	key
	// fresh: the entry is built anew (it merges several source entries or
	// its one carries a conflict id); moved: its key has changed from its
	// first member's (see inOrder). Kept here so that build reads neither
	// items nor entries to learn them: re-reading them, long evicted, took
	// a heavy merge from 391k to 445k simulated L1 misses (cachegrind).
	fresh, moved bool
}

// pending is a disagreement between two clusters found by the sweep.
type pending struct {
	a, b   int32
	reason Reason
}

// sweep is the memory of one merge, pooled by the Engine.
type sweep struct {
	eng      *Engine
	items    []item
	clusters []cluster
	open     [][]int32 // concept → its clusters that an entry may still join
	pend     []pending // place's scratch
	pairs    []pending // conflicting cluster pairs
	srcIDs   map[string]int32
	lastSrc  string // the source looked up last, and its number
	lastID   int32
	srcNames []string
	held     [][]int32        // stream → the sources of its entries by number
	srcRank  []int32          // source number → its priority
	tokens   map[string]int32 // concept tokens of unmapped codes, folded texts and resource identities
	parent   []int32          // union-find over the tokens
	moved    []int32          // clusters whose key is no longer their first member's
	nFresh   int              // clusters built anew (see cluster.fresh)
	buf      []byte
}

func (e *Engine) getSweep() *sweep {
	s, _ := e.scratch.Get().(*sweep)
	if s == nil {
		s = &sweep{eng: e, srcIDs: map[string]int32{}, tokens: map[string]int32{}}
	}
	s.items, s.clusters, s.pairs, s.parent, s.srcNames = s.items[:0], s.clusters[:0], s.pairs[:0], s.parent[:0], s.srcNames[:0]
	s.srcRank, s.moved, s.held, s.lastID, s.nFresh = s.srcRank[:0], s.moved[:0], s.held[:0], -1, 0
	clear(s.srcIDs)
	clear(s.tokens)
	return s
}

// run reads the streams into items, then places each item in timeline order
// (the k-way merge of the streams) into a cluster.
func (s *sweep) run(srcs [][]Entry) error {
	base := make([]int32, len(srcs)+1)
	s.held = append(s.held, make([][]int32, len(srcs))...)
	for si, src := range srcs {
		s.lastID = -1 // held is per stream
		for i := range src {
			if err := s.read(&src[i], ref{int32(si), int32(i)}); err != nil {
				return err
			}
		}
		base[si+1] = int32(len(s.items))
	}
	n := len(s.eng.rules.molar) + len(s.parent) // concepts: the rules', then the tokens'
	for i := range s.open {
		s.open[i] = s.open[i][:0]
	}
	for len(s.open) < n {
		s.open = append(s.open, nil)
	}
	next := make([]func() (int32, bool), len(srcs))
	for si := range srcs {
		i, end := base[si], base[si+1]
		next[si] = func() (int32, bool) {
			if i == end {
				return 0, false
			}
			i++
			return i - 1, true
		}
	}
	return kmergeSeq(next, func(x, y int32) int { return order(&s.items[x].key, &s.items[y].key) },
		func(i int32) bool { s.place(i); return true })
}

// read appends the item of entry e. The lead tag's source is ranked by
// priority once per source, not once per entry (a search of the priority
// list per entry was 0.8M of a heavy patient's 48M instructions).
func (s *sweep) read(e *Entry, r ref) error {
	tags := e.Lineage.Tags()
	if len(tags) == 0 {
		return fmt.Errorf("%w: stream %d, position %d", ErrUntagged, r.s, r.i)
	}
	it := item{key: key{sec: e.Time.Unix(), nsec: int32(e.Time.Nanosecond()), lead: &tags[0]},
		e: e, r: r, cat: uint8(categoryIndex(e.Category)), conflicted: e.Conflict != 0, next: -1}
	it.span, it.timed = interval(e)
	for i := range tags {
		src := tags[i].Source
		id := s.lastID
		if src != s.lastSrc || id < 0 {
			var ok bool
			if id, ok = s.srcIDs[src]; !ok {
				id = int32(len(s.srcNames))
				s.srcIDs[src] = id
				s.srcNames = append(s.srcNames, src)
				s.srcRank = append(s.srcRank, rank(s.eng.o.Priority, src))
			}
			s.lastSrc, s.lastID = src, id
			if !slices.Contains(s.held[r.s], id) {
				s.held[r.s] = append(s.held[r.s], id)
			}
		}
		if i == 0 {
			it.rank = s.srcRank[id]
		}
		if id < 64 {
			it.mask |= 1 << id
		} else {
			it.wide = true
		}
	}
	it.concept = s.concept(e, it.timed)
	s.items = append(s.items, it)
	return nil
}

// concept returns the concept of e: the rules' concept of its first mapped
// code; else, encoded as -1-token, a token of the union-find whose classes
// are the concepts of unmapped codes (entries sharing a code), of folded
// texts (entries without codes) and of resource identities (entries
// without a time or without codes and text, which merge only with a copy
// of the same resource).
func (s *sweep) concept(e *Entry, timed bool) int32 {
	if !timed || len(e.Codes) == 0 && e.Text == "" {
		tg := lead(e)
		s.buf = append(append(append(append(append(s.buf[:0], 1), tg.Source...), 0), tg.ResourceType...), 0)
		return -1 - s.token(append(s.buf, tg.ResourceID...))
	}
	if len(e.Codes) == 0 {
		return -1 - s.token(foldText(s.buf[:0], e.Display, e.Text))
	}
	for i := range e.Codes {
		if id, ok := s.eng.rules.lookup(e.Codes[i].System, e.Codes[i].Code); ok {
			return id
		}
	}
	first := int32(-1)
	for _, cd := range e.Codes {
		s.buf = append(append(append(s.buf[:0], 2), cd.System...), 0)
		t := s.token(append(s.buf, cd.Code...))
		if first < 0 {
			first = t
		} else if a, b := s.find(first), s.find(t); a != b {
			s.parent[max(a, b)] = min(a, b)
		}
	}
	return -1 - first
}

func (s *sweep) token(k []byte) int32 {
	t, ok := s.tokens[string(k)]
	if !ok {
		t = s.newToken()
		s.tokens[string(k)] = t
	}
	s.buf = k
	return t
}

func (s *sweep) newToken() int32 {
	s.parent = append(s.parent, int32(len(s.parent)))
	return int32(len(s.parent) - 1)
}

func (s *sweep) find(x int32) int32 {
	for s.parent[x] != x {
		s.parent[x] = s.parent[s.parent[x]]
		x = s.parent[x]
	}
	return x
}

// foldText appends the letters and digits of a and b, lower-cased, with a
// separator between them, so that case, spacing and punctuation do not
// matter. A table lookup per byte rather than a chain of range tests
// takes two fifths off its instructions on the heavy patient's notes
// (3.2M to 1.9M per merge, cachegrind).
func foldText(buf []byte, a, b string) []byte {
	buf = slices.Grow(buf, len(a)+len(b)+1)
	for i, s := range [2]string{a, b} {
		if i == 1 {
			buf = append(buf, 0xff)
		}
		for j := 0; j < len(s); j++ {
			if c := folded[s[j]]; c != 0 {
				buf = append(buf, c)
			}
		}
	}
	return buf
}

// folded maps a byte to itself lower-cased when foldText keeps it (ASCII
// letters and digits, and every byte of a multi-byte UTF-8 character),
// else to 0.
var folded = func() (t [256]byte) {
	for c := range 256 {
		switch {
		case c >= 'A' && c <= 'Z':
			t[c] = byte(c) + 'a' - 'A'
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c >= 0x80:
			t[c] = byte(c)
		}
	}
	return t
}()

// place puts item ii, in timeline order, into the closest open cluster of
// its concept and category within the window whose every member it is the
// same fact as, or into a new cluster; it records a conflict with each
// cluster of another source that disagrees.
func (s *sweep) place(ii int32) {
	a := &s.items[ii]
	if a.concept < 0 { // a token: its class is the concept
		a.concept = int32(len(s.eng.rules.molar)) + s.find(-1-a.concept)
	}
	win := s.eng.rules.window[a.cat]
	list := s.open[a.concept]
	best, bestGap, bestDist := int32(-1), int64(0), int64(0)
	s.pend = s.pend[:0]
	w := 0
	for _, ci := range list {
		cl := &s.clusters[ci]
		anc := &s.items[cl.first]
		if anc.timed && a.timed && anc.end()+s.eng.rules.window[anc.cat] < a.sec {
			continue // out of every later entry's reach: drop from the list
		}
		list[w] = ci
		w++
		if anc.cat != a.cat || int(a.cat) == numCategories-1 && anc.e.Category != a.e.Category {
			continue // unknown categories share CategoryOther's index
		}
		var gap, dist int64
		if anc.timed && a.timed {
			// Items are placed in timeline order: a starts no earlier than anc.
			if gap = max(a.sec-anc.end(), 0); gap > win {
				continue
			}
			dist = a.sec - anc.sec
		}
		if v := s.verdict(cl, a); !v.Same {
			if v.Conflict != "" {
				s.pend = append(s.pend, pending{b: ci, reason: v.Conflict})
			}
			continue
		}
		if best < 0 || gap < bestGap || gap == bestGap && dist < bestDist {
			best, bestGap, bestDist = ci, gap, dist
		}
	}
	list = list[:w]
	mine := best
	if best >= 0 {
		cl := &s.clusters[best]
		s.items[cl.last].next = ii
		cl.last = ii
		cl.mask |= a.mask
		if s.better(a, &s.items[cl.rep]) {
			cl.rep, cl.sec, cl.nsec = ii, a.sec, a.nsec
		}
		if provenance.CompareTag(*a.lead, *cl.lead) < 0 {
			cl.lead, cl.rank = a.lead, a.rank
		}
		if !cl.fresh {
			cl.fresh, s.nFresh = true, s.nFresh+1
		}
		if !cl.moved && cl.key != s.items[cl.first].key {
			cl.moved, s.moved = true, append(s.moved, best)
		}
	} else {
		if a.conflicted {
			s.nFresh++
		}
		mine = int32(len(s.clusters))
		s.clusters = append(s.clusters, cluster{first: ii, last: ii, rep: ii, group: -1, mask: a.mask, key: a.key, fresh: a.conflicted})
		list = append(list, mine)
	}
	s.open[a.concept] = list
	for _, pd := range s.pend {
		// When a source on this side also holds the other value, that is
		// the source measuring again, not two sources disagreeing.
		if s.clusters[mine].mask&s.clusters[pd.b].mask == 0 {
			s.pairs = append(s.pairs, pending{a: mine, b: pd.b, reason: pd.reason})
		}
	}
}

// verdict is what item a is to cluster cl: Same when it is the same fact as
// every member (agreement within rounding is not transitive), two items
// when it is a separate item from any member, else the first conflict.
func (s *sweep) verdict(cl *cluster, a *item) Verdict {
	out := Verdict{Same: true}
	for j := cl.first; j >= 0; j = s.items[j].next {
		m := &s.items[j]
		var v Verdict
		if s.shares(m, a) {
			// Entries of one source are one fact only when identical apart
			// from lineage (a re-sent record), never as near duplicates.
			v.Same = identical(m.e, a.e)
		} else {
			v = s.eng.rules.sameValue(m.e, a.e, a.concept)
		}
		if s.eng.o.Resolve != nil {
			v = s.eng.o.Resolve(m.e, a.e, v)
		}
		switch {
		case v.Same:
		case v.Conflict == "":
			return Verdict{}
		case out.Same:
			out = v
		}
	}
	return out
}

// shares reports whether two items' lineages share a source.
func (s *sweep) shares(a, b *item) bool {
	if a.mask&b.mask != 0 {
		return true
	}
	if a.wide && b.wide {
		for _, tg := range a.e.Lineage.Tags() {
			if b.e.Lineage.Has(tg.Source) {
				return true
			}
		}
	}
	return false
}

// better reports whether item a should represent its cluster rather than
// rep: a more trusted source, then a finer time, then having a value; else
// the earlier member stays.
func (s *sweep) better(a, rep *item) bool {
	if a.rank != rep.rank {
		return a.rank < rep.rank
	}
	if a.e.Precision != rep.e.Precision {
		return a.e.Precision > rep.e.Precision
	}
	return hasValue(a.e) && !hasValue(rep.e)
}

func hasValue(e *Entry) bool { return e.Value != nil || e.Dose != nil }

func identical(a, b *Entry) bool {
	return a.Category == b.Category && a.Time.Equal(b.Time) && a.Precision == b.Precision &&
		slices.Equal(a.Codes, b.Codes) && a.Display == b.Display && eqQty(a.Value, b.Value) &&
		eqQty(a.Dose, b.Dose) && a.ValueText == b.ValueText && a.Status == b.Status && a.Text == b.Text
}

func eqQty(a, b *Quantity) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
