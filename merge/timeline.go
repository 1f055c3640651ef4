package merge

import (
	"fmt"
	"hash/maphash"
	"iter"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"github.com/carelens/carelens/provenance"
)

// ConflictID identifies a [Conflict] within one [Timeline]; zero means none.
type ConflictID uint32

// Reason says how the entries of a [Conflict] disagree.
type Reason string

// The reasons for a conflict.
const (
	// ReasonValue: the same test or observation at the same time with
	// different values (numeric after unit conversion, or coded/text).
	ReasonValue Reason = "value"
	// ReasonDose: the same drug at the same time with different doses.
	ReasonDose Reason = "dose"
	// ReasonUnit: values in units that the rules cannot convert, so they
	// cannot be shown to agree.
	ReasonUnit Reason = "unit"
)

// Conflict is a set of entries of one [Timeline], from different sources,
// that report the same item at the same time but disagree. They stay separate
// entries; each carries the conflict's id and its own lineage, which names
// the sources on its side.
type Conflict struct {
	ID     ConflictID
	Reason Reason
	// Entries are positions in the timeline ([Timeline.At]), ascending.
	Entries []int
}

// ref locates an entry in the merger's input streams.
type ref struct{ s, i int32 }

// Timeline is the merged, de-duplicated record of one person: every fact
// once, in [Options.Compare] order, each carrying the tags of every source
// entry behind it. It keeps the source streams it was built from (by
// reference, unmodified), so that [Timeline.Filter] and [Combine] give exactly
// the result of merging the remaining or combined sources afresh.
//
// The timeline does not copy the entries it shows unchanged: an entry that
// only one source entry is behind, in no conflict, is that source entry
// itself. Only merged entries (and entries marked with a conflict) are built
// anew, so that merging a heavy patient does not copy hundreds of thousands
// of entries the viewer will mostly never show. [Timeline.At] and
// [Timeline.All] give the entries in place, [Timeline.Entries] a copy.
//
// A Timeline is immutable once returned and safe for concurrent reads, except
// that passing it as the dst of a [Merger] method reuses its memory.
type Timeline struct {
	// Conflicts are the groups of disagreeing entries; Conflicts[i].ID is i+1.
	Conflicts []Conflict

	items []*Entry // the entries in timeline order: source entries or own's
	own   []Entry  // the entries built by the merge, merged or in conflict

	srcs    [][]Entry // the streams merged, retained
	o       *Options
	rules   *compiled
	mstart  []int32 // Entries[i]'s members are mrefs[mstart[i]:mstart[i+1]]
	mrefs   []ref
	sources []string

	tagArena  []provenance.Tag // backing of merged entries' lineages
	codeArena []Code           // backing of merged entries' code lists
	confBlock []int            // backing of the conflicts' entry lists
}

// Len returns the number of merged entries.
func (t *Timeline) Len() int { return len(t.items) }

// At returns the entry at position i of the timeline, 0 <= i < Len. It may
// be a source stream's entry itself, so it must not be modified.
func (t *Timeline) At(i int) *Entry { return t.items[i] }

// All returns the positions and entries of the timeline in order. The
// entries must not be modified (see [Timeline.At]).
func (t *Timeline) All() iter.Seq2[int, *Entry] {
	return func(yield func(int, *Entry) bool) {
		for i, e := range t.items {
			if !yield(i, e) {
				return
			}
		}
	}
}

// Entries returns a copy of the timeline's entries, in order. The copies
// share their lineages, codes and values with the timeline.
func (t *Timeline) Entries() []Entry {
	out := make([]Entry, len(t.items))
	for i, e := range t.items {
		out[i] = *e
	}
	return out
}

// Members returns the source entries that were merged into Entries[i], in
// timeline order. They are the entries as the sources supplied them.
func (t *Timeline) Members(i int) iter.Seq[Entry] {
	return func(yield func(Entry) bool) {
		for _, r := range t.mrefs[t.mstart[i]:t.mstart[i+1]] {
			if !yield(t.srcs[r.s][r.i]) {
				return
			}
		}
	}
}

// Sources returns the ids of the sources behind the timeline, sorted.
func (t *Timeline) Sources() []string { return slices.Clone(t.sources) }

// Conflict returns the conflict with the given id.
func (t *Timeline) Conflict(id ConflictID) (Conflict, bool) {
	if id == 0 || int(id) > len(t.Conflicts) {
		return Conflict{}, false
	}
	return t.Conflicts[id-1], true
}

// Filter returns the timeline without the tags of sources that keep rejects,
// as the viewer's source checkboxes need: entries only those sources reported
// vanish, entries shared with a kept source stay with the kept sources' tags
// (and wording), and a conflict whose other side vanished is no longer a
// conflict. The result equals merging the kept sources' entries afresh.
func (t *Timeline) Filter(keep func(source string) bool) (*Timeline, error) {
	var srcs [][]Entry
	for _, s := range t.srcs {
		changed, any := false, false
		for i := range s {
			for _, tg := range s[i].Lineage.Tags() {
				if keep(tg.Source) {
					any = true
				} else {
					changed = true
				}
			}
		}
		switch {
		case !changed:
			srcs = append(srcs, s)
		case any:
			out := make([]Entry, 0, len(s))
			for _, e := range s {
				if l := e.Lineage.Filter(keep); l.Len() > 0 {
					e.Lineage = l
					out = append(out, e)
				}
			}
			// The lead tag may have changed, and with it the order.
			Sort(out, t.o)
			srcs = append(srcs, out)
		}
	}
	m := getMerger(t.o, t.rules)
	defer mergers.Put(m)
	return m.MergeSlices(nil, srcs)
}

// mergers keeps the scratch memory of the package-level functions and of
// Filter between calls (the viewer filters the same patient repeatedly).
var mergers sync.Pool

func getMerger(o *Options, rules *compiled) *Merger {
	if m, ok := mergers.Get().(*Merger); ok {
		m.o, m.rules = o, rules
		return m
	}
	return &Merger{o: o, rules: rules}
}

// pooled returns a pooled merger for o, compiling its rules.
func pooled(o *Options) (*Merger, error) {
	n, err := NewMerger(o)
	if err != nil {
		return nil, err
	}
	return getMerger(n.o, n.rules), nil
}

// Without returns the timeline without the given sources; see [Timeline.Filter].
func (t *Timeline) Without(sources ...string) (*Timeline, error) {
	return t.Filter(func(s string) bool { return !slices.Contains(sources, s) })
}

// MergeSlices merges and de-duplicates per-source streams, each sorted by
// [Options.Compare]. o may be nil. See [Merger.MergeSlices].
func MergeSlices(srcs [][]Entry, o *Options) (*Timeline, error) {
	m, err := pooled(o)
	if err != nil {
		return nil, err
	}
	defer mergers.Put(m)
	return m.MergeSlices(nil, srcs)
}

// Merge collects and merges per-source streams; see [Merger.Merge].
func Merge(srcs []iter.Seq[Entry], o *Options) (*Timeline, error) {
	m, err := pooled(o)
	if err != nil {
		return nil, err
	}
	defer mergers.Put(m)
	return m.Merge(nil, srcs)
}

// Combine merges timelines: the result equals merging all of their source
// streams at once, so combining is associative and a source that arrives
// late can be added without re-fetching the others.
func Combine(o *Options, ts ...*Timeline) (*Timeline, error) {
	m, err := pooled(o)
	if err != nil {
		return nil, err
	}
	defer mergers.Put(m)
	return m.Combine(nil, ts...)
}

// Merger merges timelines, reusing its scratch memory between calls. It is
// not safe for concurrent use; use one per goroutine.
type Merger struct {
	forceParallel bool // tests: share out even small inputs
	o             *Options
	rules         *compiled
	cur           cursor

	keys      []atom // in stream order, before placement
	clusters  []cluster
	next      []int32 // atom → next member of its cluster, -1 at the end
	pend      []pending
	pairs     []pending
	dynCodes  map[codeKey]int32
	dynText   map[uint64]int32
	srcIDs    map[string]int32
	srcNames  []string
	srcRank   []int32
	perm      []int32
	pos       []int32
	uf        []int32
	lastSrc   []string // per stream: last source id seen, and its number
	lastID    []int32
	base      []int32              // stream → index of its first atom
	sorted    []string             // source ids, sorted
	vals      []atomVal            // per key: the values sameValue compares
	placers   []placer             // the sweep's, one per goroutine
	reason    map[int32]Reason     // buildConflicts: group → reason
	confIDs   map[int32]ConflictID // buildConflicts: group → id
	confN     []int32              // buildConflicts: entries per conflict
	srcOrder  []int32              // source number → position in sorted
	textBuf   []byte               // hashText's scratch
	thash     []uint64             // keysParallel: text hash of entries without codes
	locals    []keyLocal           // keysParallel's per-goroutine state
	multi     []int32              // clusters with more than one member
	codes     *codeCache           // concepts of codings seen in this merge
	inConf    []bool               // cluster → in a conflict group
	sink      byte                 // keeps touch's loads alive
	nConcepts int32
}

// NewMerger returns a merger for the options, which it keeps; o may be nil.
// It fails with [ErrInvalidRules] when the rules do not compile.
func NewMerger(o *Options) (*Merger, error) {
	if o == nil {
		o = &Options{}
	}
	rs := o.Rules
	if rs == nil {
		rs = &Rules{}
	}
	c, err := compileRules(rs)
	if err != nil {
		return nil, err
	}
	return &Merger{o: o, rules: c}, nil
}

// Merge collects each stream into memory and merges them as
// [Merger.MergeSlices] does. It reads every stream to its end.
func (m *Merger) Merge(dst *Timeline, srcs []iter.Seq[Entry]) (*Timeline, error) {
	ss := make([][]Entry, len(srcs))
	for i, s := range srcs {
		ss[i] = slices.Collect(s)
	}
	return m.MergeSlices(dst, ss)
}

// Combine merges the source streams of the given timelines; see [Combine].
func (m *Merger) Combine(dst *Timeline, ts ...*Timeline) (*Timeline, error) {
	var srcs [][]Entry
	for _, t := range ts {
		srcs = append(srcs, t.srcs...)
	}
	return m.MergeSlices(dst, srcs)
}

// atom is one source entry during de-duplication.
type atom struct {
	// First what the timeline walk reads of every atom (key, concept,
	// source), with what placing it reads, so that both share a cache line.
	tkey       int64 // timeKey of the entry, the merge's primary key
	concept    int32
	src        int32  // number of the lead tag's source
	start, end int64  // the time interval the entry may mean, in Unix seconds
	mask       uint64 // sources 0..63 of its lineage
	cat        uint8
	wide       bool // has a source numbered 64 or more
	// Read from the entry while it is in cache, for the merge and build.
	prec          Precision
	hasVal        bool
	ntags, ncodes uint16
	e             *Entry
	lead          *provenance.Tag
	r             ref
	sec           int64 // the entry's time: Unix seconds and nanoseconds
	nsec          int32
	ki            int32 // index in Merger.keys and Merger.vals
	conf          bool  // the entry carries a conflict id (from an earlier merge)
}

// atomVal holds copies of what sameValue compares of an entry, so that
// comparing values reads a compact array, not the entries and their
// separately allocated quantities. It is apart from the atom, which the
// sweep reads for every entry, because few atoms are ever compared.
type atomVal struct {
	qty    Quantity // copy of the dose of a medication, else of the value
	vtext  string   // ValueText, except for medications
	hasQty bool     // qty is set
}

// cluster is one merged entry during de-duplication.
type cluster struct {
	anchor, last int32  // first and last member atom
	apos         int32  // the anchor's position in timeline order
	rep          int32  // representative atom
	repE         *Entry // its entry and where it is, for build, which
	repR         ref    // then need not read the atom
	n            int32
	mask         uint64
	wide         bool
	cat          uint8
	// The sort key (the representative's time, the rank of the lead's
	// source), kept up to date as members join.
	sec     int64
	nsec    int32
	rank    int32
	lead    *provenance.Tag // smallest first tag of the members
	leadSrc int32           // the number of its source
	// What [Merger.better] reads of the representative.
	repRank int32
	repPrec Precision
	repVal  bool
	conf    bool // the anchor's entry carries a conflict id (see built)
	// The members' tags and codes, for sizing the arenas.
	ntags, ncodes int32
}

// pending is a cross-source disagreement found during the sweep.
type pending struct {
	a, b   int32 // clusters
	at     int32 // timeline position of the atom whose placement found it
	reason Reason
}

// placer is the sweep's state for the concepts that one goroutine places:
// its clusters (numbered in the order it opened them), conflicts, and the
// scratch of its own walk of the timeline order.
type placer struct {
	clusters []cluster
	pend     []pending
	pairs    []pending
	multi    []int32
	heads    []keyHead // mergeKeys' scratch
	cur      cursor    // its walk over more than scanMax streams
	remap    []int32   // its cluster numbers → the merger's
	open     [][]int32 // concept → its clusters still within their window
}

func (p *placer) reset(concepts int) {
	p.clusters, p.pend, p.pairs = p.clusters[:0], p.pend[:0], p.pairs[:0]
	p.multi = p.multi[:0]
	for i := range p.open {
		p.open[i] = p.open[i][:0]
	}
	for len(p.open) < concepts {
		p.open = append(p.open, nil)
	}
}

const (
	timeMin = -1 << 62
	timeMax = 1 << 62
)

// MergeSlices merges and de-duplicates per-source streams, each sorted by
// [Options.Compare] (a stream out of order fails with [ErrUnsorted]; an
// entry without tags with [ErrUntagged]). The streams are retained by the
// result and must not be modified afterwards.
//
// Entries that are the same fact by the rules become one entry: the
// representative is the entry from the most trusted source (then the most
// precise time, then one with a value), its lineage is the union of all
// members' lineages and its codes the union of their codes. Entries from
// the same source are merged only when identical. Entries that report the same item at the
// same time from different sources with different values stay separate and
// share a [Conflict].
//
// When dst is not nil its memory is reused and the result is dst: every
// entry, lineage and code list obtained from dst before is overwritten, so
// pass only a timeline nothing else still reads.
func (m *Merger) MergeSlices(dst *Timeline, srcs [][]Entry) (*Timeline, error) {
	if dst == nil {
		dst = &Timeline{}
	}
	dst.o, dst.rules = m.o, m.rules
	dst.srcs = srcs
	if err := m.sweep(srcs); err != nil {
		return nil, err
	}
	m.build(dst)
	return dst, nil
}

func (m *Merger) resetScratch(n, k int) {
	m.keys = slices.Grow(m.keys[:0], n)
	m.clusters = m.clusters[:0]
	m.next = slices.Grow(m.next[:0], n)[:n]
	m.pend, m.pairs = m.pend[:0], m.pairs[:0]
	if m.dynCodes == nil {
		m.dynCodes = make(map[codeKey]int32)
		m.dynText = make(map[uint64]int32)
		m.srcIDs = make(map[string]int32)
	} else {
		clear(m.dynCodes)
		clear(m.dynText)
		clear(m.srcIDs)
	}
	m.srcNames = m.srcNames[:0]
	m.srcRank = m.srcRank[:0]
	if m.codes == nil {
		m.codes = new(codeCache)
	}
	m.codes.reset()
	m.multi = m.multi[:0]
	m.nConcepts = int32(len(m.rules.molar))
	m.lastSrc = slices.Grow(m.lastSrc[:0], k)[:k]
	m.lastID = slices.Grow(m.lastID[:0], k)[:k]
	for i := range k {
		m.lastSrc[i], m.lastID[i] = "", -1
	}
}

// sweep merges the streams in order and assigns every entry to a cluster.
func (m *Merger) sweep(srcs [][]Entry) error {
	n := 0
	for _, s := range srcs {
		n += len(s)
	}
	m.resetScratch(n, len(srcs))
	// Phase 1, stream by stream (sequential memory): the keys of every
	// entry, which needs its tags and codes, wherever they live.
	m.base = slices.Grow(m.base[:0], len(srcs))[:len(srcs)]
	m.keys = m.keys[:n]
	m.vals = slices.Grow(m.vals[:0], n)[:n]
	ai := 0
	for s, src := range srcs {
		m.base[s] = int32(ai)
		ai += len(src)
	}
	var sorted bool
	var err error
	if w := m.keyWorkers(n); w > 1 {
		sorted, err = m.keysParallel(srcs, w)
	} else {
		sorted, err = m.keysSerial(srcs)
	}
	if err != nil {
		return err
	}
	if !sorted {
		// Report the violation the timeline merge meets first, as
		// Interleave does.
		c := &m.cur
		c.reset(m.o, srcs)
		for c.Next() {
		}
		return c.Err()
	}
	// Phase 2, in timeline order: place each entry in a cluster. The merge
	// reads only the flat keys.
	// Sources in id order, for ties between streams without their tags.
	m.sorted = append(m.sorted[:0], m.srcNames...)
	slices.Sort(m.sorted)
	m.srcOrder = slices.Grow(m.srcOrder[:0], len(m.sorted))[:len(m.sorted)]
	for i, name := range m.sorted {
		m.srcOrder[m.srcIDs[name]] = int32(i)
	}
	if len(m.placers) < 2 {
		m.placers = make([]placer, 2)
	}
	ps := m.placers[:1]
	if m.keyWorkers(n) > 1 {
		// Two goroutines place the atoms, one the even concepts and one
		// the odd: clusters never span concepts.
		ps = m.placers[:2]
	}
	for k := range ps {
		ps[k].reset(int(m.nConcepts))
	}
	// Every atom's member link starts at the end of its cluster's list.
	for i := range m.next {
		m.next[i] = -1
	}
	// The atoms stay where the key pass wrote them, in stream order: in
	// timeline order they are read as k forward streams, which the
	// hardware prefetches, rather than copied into timeline order first.
	// Each placer walks the timeline order itself, from the keys alone (up
	// to scanMax streams) or through its own cursor, and places the atoms
	// of its concepts: walking twice costs less than handing the atoms over
	// from one walk. The streams are known to be sorted.
	walk := func(p *placer, parity int32, all bool) {
		pos := int32(0)
		visit := func(ki int32) {
			if all || m.keys[ki].concept&1 == parity {
				m.place(p, ki, pos)
			}
			pos++
		}
		if len(srcs) <= scanMax {
			m.mergeKeys(len(srcs), &p.heads, visit)
			return
		}
		c := &p.cur
		c.reset(m.o, srcs)
		for c.Next() {
			s, i := c.Pos()
			visit(m.base[s] + i)
		}
	}
	if len(ps) == 1 {
		walk(&ps[0], 0, true)
	} else {
		var wg sync.WaitGroup
		wg.Go(func() { walk(&ps[1], 1, false) })
		walk(&ps[0], 0, false)
		wg.Wait()
	}
	m.gather(ps)
	return nil
}

// gather numbers the placers' clusters as one sweep would have: in the
// order of their anchors (the order a single sweep opens them), and lists
// their multi-member clusters and conflicting pairs in the merger, the pairs
// in the order of the atoms that found them.
func (m *Merger) gather(ps []placer) {
	if len(ps) == 1 {
		p := &ps[0]
		m.clusters, p.clusters = p.clusters, m.clusters
		m.multi, p.multi = p.multi, m.multi
		m.pairs, p.pairs = p.pairs, m.pairs
		return
	}
	p0, p1 := &ps[0], &ps[1]
	p0.remap = slices.Grow(p0.remap[:0], len(p0.clusters))[:len(p0.clusters)]
	p1.remap = slices.Grow(p1.remap[:0], len(p1.clusters))[:len(p1.clusters)]
	m.clusters = slices.Grow(m.clusters[:0], len(p0.clusters)+len(p1.clusters))
	i, j := 0, 0
	for i < len(p0.clusters) || j < len(p1.clusters) {
		if j == len(p1.clusters) || i < len(p0.clusters) && p0.clusters[i].apos < p1.clusters[j].apos {
			p0.remap[i] = int32(len(m.clusters))
			m.clusters = append(m.clusters, p0.clusters[i])
			i++
		} else {
			p1.remap[j] = int32(len(m.clusters))
			m.clusters = append(m.clusters, p1.clusters[j])
			j++
		}
	}
	m.multi = m.multi[:0]
	for k := range ps {
		for _, ci := range ps[k].multi {
			m.multi = append(m.multi, ps[k].remap[ci])
		}
	}
	m.pairs = m.pairs[:0]
	i, j = 0, 0
	for i < len(p0.pairs) || j < len(p1.pairs) {
		var pd pending
		var p *placer
		if j == len(p1.pairs) || i < len(p0.pairs) && p0.pairs[i].at < p1.pairs[j].at {
			pd, p = p0.pairs[i], p0
			i++
		} else {
			pd, p = p1.pairs[j], p1
			j++
		}
		pd.a, pd.b = p.remap[pd.a], p.remap[pd.b]
		m.pairs = append(m.pairs, pd)
	}
}

// keysSerial fills m.keys stream by stream (sequential memory): the keys of
// every entry, which needs its tags and codes, wherever they live. It
// reports whether every stream is sorted.
func (m *Merger) keysSerial(srcs [][]Entry) (sorted bool, err error) {
	ai := 0
	sorted = true
	for s, src := range srcs {
		for lo := 0; lo < len(src); lo += touchBlock {
			hi := min(lo+touchBlock, len(src))
			m.sink ^= touch(src[lo:hi])
			for i := lo; i < hi; i++ {
				a := &m.keys[ai]
				if err := m.key(a, &src[i], ref{int32(s), int32(i)}); err != nil {
					return false, err
				}
				// The stream order is checked here, on the keys, so that
				// the merge below needs no entry.
				if sorted && i > 0 && m.atomCompare(a, &m.keys[ai-1]) < 0 {
					sorted = false
				}
				ai++
			}
		}
	}
	return sorted, nil
}

// parallelMin is the fewest entries whose keys are computed by several
// goroutines; Options.Workers caps how many.
const parallelMin = 1 << 14

// keyWorkers returns how many goroutines compute the keys of n entries.
func (m *Merger) keyWorkers(n int) int {
	w := m.o.Workers
	if w == 0 {
		w = min(runtime.GOMAXPROCS(0), 2)
	}
	if w < 2 || n < parallelMin && !m.forceParallel {
		return 1
	}
	return min(w, 8)
}

// Concept numbers that keyLocal leaves for keysParallel's ordered pass: an
// entry without codes (its text hash is in Merger.thash) and one whose codes
// the rules do not map.
const (
	conceptText = -2
	conceptDyn  = -3
)

// keyLocal is one goroutine's share of keysParallel: its own numbering of
// the sources it meets, in order of first appearance.
type keyLocal struct {
	ids     map[string]int32
	names   []string
	lastSrc string
	lastID  int32
	buf     []byte
	ranks   []int32 // names' ranks in Options.Priority
	codes   codeCache
	err     error // the first error in the share
	sorted  bool  // the share's entries are in stream order
	sink    byte  // keeps touch's loads alive
}

// compare is atomCompare for two atoms of one share, numbered by l.
func (l *keyLocal) compare(a, b *atom) int { return compareAtoms(a, b, l.ranks) }

// keysParallel fills m.keys as keysSerial does, with w goroutines, each
// over a contiguous share of the entries. What depends on the entries before
// (source and dynamic concept numbers, stream order) is settled afterwards
// in one pass in entry order, so the keys are exactly those of keysSerial,
// whatever w is.
func (m *Merger) keysParallel(srcs [][]Entry, w int) (sorted bool, err error) {
	n := len(m.keys)
	m.thash = slices.Grow(m.thash[:0], n)[:n]
	if len(m.locals) < w {
		m.locals = append(m.locals, make([]keyLocal, w-len(m.locals))...)
	}
	locals := m.locals[:w]
	var wg sync.WaitGroup
	for k := range w {
		l := &locals[k]
		if l.ids == nil {
			l.ids = make(map[string]int32)
		} else {
			clear(l.ids)
		}
		l.names, l.ranks, l.lastSrc, l.lastID, l.err, l.sorted = l.names[:0], l.ranks[:0], "", -1, nil, true
		l.codes.reset()
		lo, hi := n*k/w, n*(k+1)/w
		wg.Go(func() { m.keyShare(l, srcs, lo, hi) })
	}
	wg.Wait()
	sorted = true
	for k := range locals {
		if err := locals[k].err; err != nil {
			return false, err
		}
		sorted = sorted && locals[k].sorted
		if len(locals[k].names) > 64 {
			return m.keysSerial(srcs) // numbering beyond the mask: keep it simple
		}
	}
	// Number the sources globally, in order of first appearance.
	var remap [64]int32
	for k := range locals {
		l := &locals[k]
		ident := true
		for j, name := range l.names {
			id := m.number(name)
			remap[j] = id
			ident = ident && id == int32(j)
		}
		if len(m.srcNames) > 64 {
			return m.keysSerial(srcs)
		}
		lo, hi := n*k/w, n*(k+1)/w
		for i := lo; i < hi; i++ {
			a := &m.keys[i]
			if !ident {
				var mask uint64
				for b := a.mask; b != 0; b &= b - 1 {
					mask |= 1 << remap[bits.TrailingZeros64(b)]
				}
				a.mask, a.src = mask, remap[a.src]
			}
			switch a.concept {
			case conceptText:
				a.concept = m.textConcept(m.thash[i])
			case conceptDyn:
				a.concept = m.concept(a.e)
			}
			m.nConcepts = max(m.nConcepts, a.concept+1)
			// The workers checked the order within their shares; the
			// first entry of a share is checked here, against the last of
			// the share before.
			if sorted && i == lo && a.r.i > 0 && m.atomCompare(a, &m.keys[i-1]) < 0 {
				sorted = false
			}
		}
	}
	return sorted, nil
}

// keyShare fills m.keys[lo:hi] for keysParallel: everything but what
// depends on earlier entries.
func (m *Merger) keyShare(l *keyLocal, srcs [][]Entry, lo, hi int) {
	s := 0
	for s+1 < len(srcs) && int(m.base[s+1]) <= lo {
		s++
	}
	for ai := lo; ai < hi; {
		for int(m.base[s])+len(srcs[s]) <= ai {
			s++
		}
		src := srcs[s]
		i0 := ai - int(m.base[s])
		i1 := min(len(src), i0+touchBlock, i0+hi-ai)
		l.sink ^= touch(src[i0:i1])
		for i := i0; i < i1; i++ {
			a := &m.keys[ai]
			if err := m.keyLocal(l, a, &src[i], ref{int32(s), int32(i)}, ai); err != nil {
				l.err = err
				return
			}
			// The stream order, while the tags are in cache.
			if l.sorted && i > 0 && ai > lo && l.compare(a, &m.keys[ai-1]) < 0 {
				l.sorted = false
			}
			ai++
		}
	}
}

// keyLocal is key for keyShare: sources numbered in l, and the concept left
// to the ordered pass unless the rules map it.
func (m *Merger) keyLocal(l *keyLocal, a *atom, e *Entry, r ref, ai int) error {
	tags := e.Lineage.Tags()
	if len(tags) == 0 {
		return fmt.Errorf("%w: stream %d, position %d", ErrUntagged, r.s, r.i)
	}
	m.keyCommon(a, e, r, tags)
	for ti := range tags {
		src := tags[ti].Source
		id := l.lastID
		if id < 0 || l.lastSrc != src {
			var ok bool
			if id, ok = l.ids[src]; !ok {
				id = int32(len(l.names))
				l.ids[src] = id
				l.names = append(l.names, src)
				l.ranks = append(l.ranks, m.o.rank(src))
			}
			l.lastSrc, l.lastID = src, id
		}
		a.addSource(id, ti == 0)
	}
	a.concept = conceptDyn
	if len(e.Codes) == 0 {
		a.concept = conceptText
		m.thash[ai], l.buf = hashText(l.buf, e.Display, e.Text)
	} else {
		for i := range e.Codes {
			if id, ok := l.codes.lookup(m.rules, e.Codes[i].System, e.Codes[i].Code); ok {
				a.concept = id
				break
			}
		}
	}
	return nil
}

// atomCompare is [Options.Compare] of the entries of two atoms, from their
// keys: the lead tags are read only when the times tie.
func (m *Merger) atomCompare(a, b *atom) int { return compareAtoms(a, b, m.srcRank) }

// compareAtoms orders two atoms by time key, then by the priority rank of
// their sources (ranks indexed by source number), then by lead tag.
func compareAtoms(a, b *atom, ranks []int32) int {
	if a.tkey != b.tkey {
		if a.tkey < b.tkey {
			return -1
		}
		return 1
	}
	if a.tkey == minNano || a.tkey == maxNano {
		if c := a.e.Time.Compare(b.e.Time); c != 0 {
			return c
		}
	}
	if a.src != b.src {
		if ra, rb := ranks[a.src], ranks[b.src]; ra != rb {
			if ra < rb {
				return -1
			}
			return 1
		}
	}
	return compareLead(a.lead, b.lead)
}

// addSource records that source number id is in the atom's lineage; lead
// marks the lead tag's source.
func (a *atom) addSource(id int32, lead bool) {
	if lead {
		a.src = id
	}
	if id < 64 {
		a.mask |= 1 << id
	} else {
		a.wide = true
	}
}

// keyHead is a stream's next atom in mergeKeys.
type keyHead struct {
	key      int64 // its tkey; maxNano and done at the end of the stream
	i, end   int32 // index in m.keys, end of the stream's atoms
	done     bool
	_        [3]byte
	streamID int32
}

// mergeKeys visits the atoms of m.keys in timeline order (the order of the
// cursor: Options.Compare, then stream index), for at most scanMax sorted
// streams, with heads as its scratch. It only reads the merger.
func (m *Merger) mergeKeys(k int, heads *[]keyHead, visit func(ki int32)) {
	hs := slices.Grow((*heads)[:0], k)[:k]
	*heads = hs
	live := 0
	for s := range k {
		end := int32(len(m.keys))
		if s+1 < k {
			end = m.base[s+1]
		}
		h := keyHead{i: m.base[s], end: end, streamID: int32(s), key: maxNano, done: true}
		if h.i < h.end {
			h.key, h.done = m.keys[h.i].tkey, false
			live++
		}
		hs[s] = h
	}
	// less orders heads x and y (x of the lower stream when tied).
	less := func(x, y *keyHead) bool {
		if x.key != y.key {
			return x.key < y.key
		}
		if x.done || y.done {
			return !x.done
		}
		a, b := &m.keys[x.i], &m.keys[y.i]
		if a.src != b.src && a.tkey != minNano && a.tkey != maxNano {
			// Different lead sources: rank, then source id, from the
			// numbering alone.
			if ra, rb := m.srcRank[a.src], m.srcRank[b.src]; ra != rb {
				return ra < rb
			}
			return m.srcOrder[a.src] < m.srcOrder[b.src]
		}
		c := m.atomCompare(a, b)
		return c < 0 || c == 0 && x.streamID < y.streamID
	}
	for live > 0 {
		// A scan of the few heads: their keys are adjacent, and for the
		// usual handful of sources a scan beats a tree.
		b := &hs[0]
		for j := 1; j < len(hs); j++ {
			if h := &hs[j]; h.key < b.key || h.key == b.key && less(h, b) {
				b = h
			}
		}
		visit(b.i)
		b.i++
		if b.i < b.end {
			b.key = m.keys[b.i].tkey
		} else {
			b.key, b.done = maxNano, true
			live--
		}
	}
}

// touchBlock is how many entries touch loads ahead of their keys.
const touchBlock = 64

// touch reads one byte of each entry's first tag, first code and code
// string, and of its value or dose. The entries' tags and codes live wherever their parser allocated
// them, so each is a likely cache miss; in this short loop the misses of
// many entries overlap, instead of being taken one at a time inside the
// long key computation that follows.
func touch(es []Entry) byte {
	if packed(es) {
		return 0 // read in order anyway, which the hardware prefetches
	}
	var x byte
	for i := range es {
		if ts := es[i].Lineage.Tags(); len(ts) > 0 && len(ts[0].Source) > 0 {
			x ^= ts[0].Source[0]
		}
		if q := es[i].Value; q != nil {
			x ^= byte(len(q.Unit))
		} else if q := es[i].Dose; q != nil {
			x ^= byte(len(q.Unit))
		}
		if cs := es[i].Codes; len(cs) > 0 {
			if c := cs[0].Code; len(c) > 0 {
				x ^= c[0]
			}
			if sys := cs[0].System; len(sys) > 0 {
				x ^= sys[len(sys)-1]
			}
		}
	}
	return x
}

// packed reports whether the tags of a block of entries lie in one short
// run of memory, as [Pack] leaves them: from its first entry's to its last
// entry's, no further than a few tags per entry. It reads the entries only.
func packed(es []Entry) bool {
	if len(es) < 2 {
		return false
	}
	a, b := es[0].Lineage.Tags(), es[len(es)-1].Lineage.Tags()
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	// Unsigned: a run going backwards wraps to a large distance.
	d := uintptr(unsafe.Pointer(&b[0])) - uintptr(unsafe.Pointer(&a[0]))
	return d <= uintptr(len(es))*4*unsafe.Sizeof(a[0])
}

// key fills the atom of entry e.
func (m *Merger) key(a *atom, e *Entry, r ref) error {
	tags := e.Lineage.Tags()
	if len(tags) == 0 {
		return fmt.Errorf("%w: stream %d, position %d", ErrUntagged, r.s, r.i)
	}
	m.keyCommon(a, e, r, tags)
	for ti := range tags {
		id := m.sourceID(r.s, tags[ti].Source)
		a.addSource(id, ti == 0)
	}
	a.concept = m.concept(e)
	m.nConcepts = max(m.nConcepts, a.concept+1)
	return nil
}

// keyCommon fills what the atom of e needs from e alone, tags excepted.
func (m *Merger) keyCommon(a *atom, e *Entry, r ref, tags []provenance.Tag) {
	*a = atom{e: e, r: r, cat: uint8(categoryIndex(e.Category)), lead: &tags[0],
		prec: e.Precision, hasVal: e.Value != nil || e.Dose != nil, conf: e.Conflict != 0,
		ntags: uint16(min(len(tags), 1<<16-1)), ncodes: uint16(min(len(e.Codes), 1<<16-1))}
	a.ki = m.base[r.s] + r.i
	v := &m.vals[a.ki]
	*v = atomVal{}
	q := e.Value
	if a.cat == medicationIndex {
		q = e.Dose
	} else {
		v.vtext = e.ValueText
	}
	if q != nil {
		v.hasQty, v.qty = true, *q
	}
	a.sec, a.nsec = e.Time.Unix(), int32(e.Time.Nanosecond())
	a.tkey = packTime(a.sec, a.nsec)
	a.start, a.end = interval(e)
}

// sourceID numbers a source id for this merge.
func (m *Merger) sourceID(stream int32, src string) int32 {
	if m.lastID[stream] >= 0 && m.lastSrc[stream] == src {
		return m.lastID[stream]
	}
	id := m.number(src)
	m.lastSrc[stream], m.lastID[stream] = src, id
	return id
}

// number returns the number of source src in this merge, numbering it
// next (with its priority rank) when it is new.
func (m *Merger) number(src string) int32 {
	id, ok := m.srcIDs[src]
	if !ok {
		id = int32(len(m.srcNames))
		m.srcIDs[src] = id
		m.srcNames = append(m.srcNames, src)
		m.srcRank = append(m.srcRank, m.o.rank(src))
	}
	return id
}

// concept returns the concept number of e: the rules' concept of its first
// mapped code, else a number shared by entries with any of the same codes,
// else (no codes) one shared by entries with the same display and text.
func (m *Merger) concept(e *Entry) int32 {
	for i := range e.Codes {
		if id, ok := m.codes.lookup(m.rules, e.Codes[i].System, e.Codes[i].Code); ok {
			return id
		}
	}
	base := int32(len(m.rules.molar))
	if len(e.Codes) == 0 {
		var h uint64
		h, m.textBuf = hashText(m.textBuf, e.Display, e.Text)
		return m.textConcept(h)
	}
	id := int32(-1)
	for i := range e.Codes {
		if v, ok := m.dynCodes[codeKey{e.Codes[i].System, e.Codes[i].Code}]; ok {
			id = v
			break
		}
	}
	if id < 0 {
		id = base + int32(len(m.dynCodes)+len(m.dynText))
	}
	for i := range e.Codes {
		k := codeKey{e.Codes[i].System, e.Codes[i].Code}
		if _, ok := m.dynCodes[k]; !ok {
			m.dynCodes[k] = id
		}
	}
	return id
}

// textConcept returns the concept number of entries without codes whose
// text hashes to h.
func (m *Merger) textConcept(h uint64) int32 {
	id, ok := m.dynText[h]
	if !ok {
		id = int32(len(m.rules.molar)) + int32(len(m.dynCodes)+len(m.dynText))
		m.dynText[h] = id
	}
	return id
}

// hashText hashes the letters and digits of a and b, folded to lower case,
// so that spacing and punctuation differences do not matter: the folded
// bytes are gathered into buf (a table lookup per byte, no branches on the
// text) and hashed at once. Entries with the same folded text get the same
// hash; the hash is only compared within one merge.
func hashText(buf []byte, a, b string) (uint64, []byte) {
	buf = slices.Grow(buf[:0], len(a)+len(b)+1)[:len(a)+len(b)+1]
	n := 0
	for i := 0; i < len(a); i++ {
		c := foldText[a[i]]
		buf[n] = c
		n += int(keepText[c])
	}
	buf[n] = 0xff // the separator (hashed like the byte 0xff)
	n++
	for i := 0; i < len(b); i++ {
		c := foldText[b[i]]
		buf[n] = c
		n += int(keepText[c])
	}
	return maphash.Bytes(textSeed, buf[:n]), buf
}

// textSeed seeds hashText: hashes are compared within one process only.
var textSeed = maphash.MakeSeed()

// foldText maps a byte to its folded form for hashText, or to zero when it
// is not hashed; keepText is one for the bytes kept.
var foldText, keepText = func() (f, k [256]byte) {
	for i := range 256 {
		c := byte(i)
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c >= 0x80:
		default:
			continue
		}
		f[i], k[c] = c, 1
	}
	return f, k
}()

// interval returns the span of time an entry may mean, in Unix seconds.
func interval(e *Entry) (int64, int64) {
	t := e.Time
	switch e.Precision {
	case PrecisionUnknown:
		if t.IsZero() {
			return timeMin, timeMax
		}
		return t.Unix(), t.Unix()
	case PrecisionYear:
		s := t.Unix()
		return s, t.AddDate(1, 0, 0).Unix() - 1
	case PrecisionMonth:
		s := t.Unix()
		return s, t.AddDate(0, 1, 0).Unix() - 1
	case PrecisionDay:
		s := t.Unix()
		return s, s + 86399
	case PrecisionMinute:
		s := t.Unix()
		return s, s + 59
	}
	s := t.Unix()
	return s, s
}

// place puts atom ai, in timeline order, into a cluster of placer p, which
// owns the atom's concept.
func (m *Merger) place(p *placer, ai, pos int32) {
	// Two placers run at once over interleaved atoms, so place writes
	// nothing shared but the member link of a cluster it owns (m.next,
	// which starts all -1): its open lists and cluster numbers are its own.
	a := &m.keys[ai]
	e := a.e

	win := m.rules.window[a.cat]
	list := p.open[a.concept]
	best, bestGap, bestDist := int32(-1), int64(0), int64(0)
	p.pend = p.pend[:0]
	w := 0
	for _, ci := range list {
		cl := &p.clusters[ci]
		anc := &m.keys[cl.anchor]
		if anc.end < timeMax && anc.end+m.rules.window[cl.cat] < a.start {
			continue // out of every later entry's reach: drop from the list
		}
		list[w] = ci
		w++
		if cl.cat != a.cat || a.cat == otherIndex && anc.e.Category != e.Category {
			continue // unknown categories share an index; tell them apart
		}
		gap := max(a.start-anc.end, anc.start-a.end, 0)
		if gap > win {
			continue
		}
		dist := a.start - anc.start
		if dist < 0 {
			dist = -dist
		}
		if m.overlaps(cl, a) {
			if !m.identicalMember(cl, a) {
				continue // the same source again: a separate entry
			}
		} else if ok, why := m.agrees(cl, a); !ok {
			p.pend = append(p.pend, pending{b: ci, reason: why})
			continue
		}
		if best < 0 || gap < bestGap || gap == bestGap && dist < bestDist {
			best, bestGap, bestDist = ci, gap, dist
		}
	}
	list = list[:w]
	var mine int32 // the atom's cluster
	if best >= 0 {
		cl := &p.clusters[best]
		if cl.n == 1 {
			p.multi = append(p.multi, best)
		}
		m.next[cl.last] = ai
		cl.last = ai
		cl.n++
		cl.mask |= a.mask
		cl.wide = cl.wide || a.wide
		mine = best
		// The representative and the lead, while the atom is in cache
		// (members join in timeline order, as build used to visit them).
		cl.ntags += int32(a.ntags)
		cl.ncodes += int32(a.ncodes)
		if m.better(a, cl) {
			cl.rep, cl.repRank, cl.repPrec, cl.repVal = ai, m.srcRank[a.src], a.prec, a.hasVal
			cl.repE, cl.repR = a.e, a.r
			cl.sec, cl.nsec = a.sec, a.nsec
		}
		if m.leadLess(a, cl) {
			cl.lead, cl.leadSrc, cl.rank = a.lead, a.src, m.srcRank[a.src]
		}
	} else {
		mine = int32(len(p.clusters))
		// The sort key of a cluster is its representative's, known now
		// while the entry is in cache.
		rank := m.srcRank[a.src]
		p.clusters = append(p.clusters, cluster{anchor: ai, last: ai, apos: pos, rep: ai, repE: a.e, repR: a.r, n: 1, mask: a.mask, wide: a.wide, cat: a.cat,
			sec: a.sec, nsec: a.nsec, rank: rank, lead: a.lead, leadSrc: a.src,
			repRank: rank, repPrec: a.prec, repVal: a.hasVal, conf: a.conf, ntags: int32(a.ntags), ncodes: int32(a.ncodes)})
		list = append(list, mine)
	}
	p.open[a.concept] = list
	own := p.clusters[mine].mask
	for _, pd := range p.pend {
		// When a source on our side also holds the other value, the other
		// value is that source measuring again, not two sources disagreeing.
		if own&p.clusters[pd.b].mask != 0 {
			continue
		}
		p.pairs = append(p.pairs, pending{a: mine, b: pd.b, at: pos, reason: pd.reason})
	}
}

// overlaps reports whether atom a shares a source with cluster cl.
func (m *Merger) overlaps(cl *cluster, a *atom) bool {
	if cl.mask&a.mask != 0 {
		return true
	}
	if !cl.wide || !a.wide {
		return false
	}
	for j := cl.anchor; j >= 0; j = m.next[j] {
		for _, tg := range a.e.Lineage.Tags() {
			if m.keys[j].e.Lineage.Has(tg.Source) {
				return true
			}
		}
	}
	return false
}

// agrees reports whether atom a, which shares no source with cl, agrees on
// its value with every member of cl (agreement within rounding is not
// transitive, so the anchor alone is not enough); if not, why.
func (m *Merger) agrees(cl *cluster, a *atom) (bool, Reason) {
	for j := cl.anchor; j >= 0; j = m.next[j] {
		if ok, why := m.sameValue(&m.keys[j], a, a.concept); !ok {
			return false, why
		}
	}
	return true, ""
}

// identicalMember reports whether a is identical, apart from lineage, to
// every member of cl that shares a source with it: the only way entries of
// one source are merged.
func (m *Merger) identicalMember(cl *cluster, a *atom) bool {
	for j := cl.anchor; j >= 0; j = m.next[j] {
		b := &m.keys[j]
		shares := b.mask&a.mask != 0
		if !shares && b.wide && a.wide {
			for _, tg := range a.e.Lineage.Tags() {
				shares = shares || b.e.Lineage.Has(tg.Source)
			}
		}
		if shares && !identical(b.e, a.e) {
			return false
		}
	}
	return true
}

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

// build turns the clusters into the timeline's entries and conflicts.
func (m *Merger) build(t *Timeline) {
	cls := m.clusters
	nTags, nCodes := 0, 0
	for _, ci := range m.multi {
		nTags += int(cls[ci].ntags)
		nCodes += int(cls[ci].ncodes)
	}

	// Clusters were opened in the order of their first member, and a
	// merged entry takes its representative's time, which is close: the
	// permutation is nearly sorted, so insertion sort costs little.
	m.perm = slices.Grow(m.perm[:0], len(cls))[:len(cls)]
	for i := range m.perm {
		m.perm[i] = int32(i)
	}
	perm := m.perm
	for i := 1; i < len(perm); i++ {
		x := perm[i]
		j := i
		for j > 0 && m.clusterLess(x, perm[j-1]) {
			perm[j] = perm[j-1]
			j--
		}
		perm[j] = x
	}
	m.pos = slices.Grow(m.pos[:0], len(cls))[:len(cls)]
	for i, ci := range perm {
		m.pos[ci] = int32(i)
	}
	// Which clusters are in a conflict decides which entries are built.
	m.groupConflicts()

	// The merged lineages and code lists live in two arenas. A reused dst
	// hands its arenas back: its old entries are invalid by contract.
	tagArena := t.tagArena[:0]
	if cap(tagArena) < nTags {
		tagArena = make([]provenance.Tag, 0, nTags)
	}
	codeArena := t.codeArena[:0]
	if cap(codeArena) < nCodes {
		codeArena = make([]Code, 0, nCodes)
	}
	tagArena, codeArena = tagArena[:nTags], codeArena[:nCodes]
	t.items = slices.Grow(t.items[:0], len(cls))[:len(cls)]
	t.mstart = slices.Grow(t.mstart[:0], len(cls)+1)[:len(cls)+1]
	t.mrefs = slices.Grow(t.mrefs[:0], len(m.keys))[:len(m.keys)]
	// With two workers, the second half of the timeline is filled by
	// another goroutine, in its own parts of the arenas, member list and
	// block of built entries, sized beforehand.
	split := len(perm)
	if m.keyWorkers(len(m.keys)) > 1 && len(perm) >= 2 {
		split = len(perm) / 2
	}
	refs, tags, codes, nOwn, own := 0, 0, 0, 0, 0
	for i, ci := range perm {
		if m.built(ci) {
			nOwn++
			if i < split {
				own++
			}
		}
		if i < split {
			refs += int(cls[ci].n)
		}
	}
	for _, ci := range m.multi {
		if int(m.pos[ci]) < split {
			tags += int(cls[ci].ntags)
			codes += int(cls[ci].ncodes)
		}
	}
	if cap(t.own) < nOwn {
		t.own = make([]Entry, nOwn)
	}
	t.own = t.own[:nOwn]
	if split < len(perm) {
		var wg sync.WaitGroup
		var sink byte
		wg.Go(func() {
			sink = m.fill(t, split, len(perm), tagArena[tags:tags:nTags], codeArena[codes:codes:nCodes], refs, own)
		})
		m.sink ^= m.fill(t, 0, split, tagArena[:0:tags], codeArena[:0:codes], 0, 0)
		wg.Wait()
		m.sink ^= sink
	} else {
		m.sink ^= m.fill(t, 0, len(perm), tagArena[:0], codeArena[:0], 0, 0)
	}
	t.mstart[len(cls)] = int32(len(m.keys))
	t.tagArena, t.codeArena = tagArena, codeArena

	t.sources = append(t.sources[:0], m.sorted...)
	m.numberConflicts(t)
}

// built reports whether the entry of cluster ci is built anew rather than
// shown as its source entry: it merges several, or is in a conflict (and so
// carries the conflict's id), or its source entry carries an id of its own.
func (m *Merger) built(ci int32) bool {
	cl := &m.clusters[ci]
	return cl.n > 1 || m.inConf[ci] || cl.conf // a lone member is its anchor
}

// fill sets the entries at timeline positions [lo, hi) and their member
// lists, from member list position refs on, with tagArena and codeArena as
// the backing of merged lineages and code lists (appended to within their
// capacity) and the entries built anew in t.own from position own on.
func (m *Merger) fill(t *Timeline, lo, hi int, tagArena []provenance.Tag, codeArena []Code, refs, own int) (sink byte) {
	cls, items, mrefs := m.clusters, t.items, t.mrefs
	for i := lo; i < hi; i++ {
		if (i-lo)%touchBlock == 0 {
			sink ^= m.touchMembers(m.perm[i:min(i+touchBlock, hi)])
		}
		ci := m.perm[i]
		cl := &cls[ci]
		t.mstart[i] = int32(refs)
		if cl.n == 1 {
			mrefs[refs] = cl.repR
			refs++
			if !m.built(ci) {
				items[i] = cl.repE
				continue
			}
			e := &t.own[own]
			own++
			*e = *cl.repE
			e.Conflict = 0
			items[i] = e
			continue
		}
		e := &t.own[own]
		own++
		*e = *cl.repE
		e.Conflict = 0
		items[i] = e
		ts := len(tagArena)
		cs := len(codeArena)
		codeArena = append(codeArena, e.Codes...)
		for j := cl.anchor; j >= 0; j = m.next[j] {
			mb := m.keys[j].e
			mrefs[refs] = m.keys[j].r
			refs++
			tagArena = append(tagArena, mb.Lineage.Tags()...)
			if j == cl.rep {
				continue
			}
			for _, cd := range mb.Codes {
				if !hasCode(codeArena[cs:], cd) {
					codeArena = append(codeArena, cd)
				}
			}
		}
		tags := tagArena[ts:]
		insertionSortTags(tags)
		tags = compactTags(tags)
		tagArena = tagArena[:ts+len(tags)]
		e.Lineage = provenance.OfSorted(tagArena[ts:len(tagArena):len(tagArena)])
		if len(codeArena)-cs > len(e.Codes) {
			e.Codes = codeArena[cs:len(codeArena):len(codeArena)]
		} else {
			codeArena = codeArena[:cs]
		}
	}
	return sink
}

// touchMembers loads the first tag and code of each member of the
// multi-member clusters among cls, as touch does for the keys: the members
// of a merged entry are spread over the streams, and fill copies their
// tags and codes, so their cache misses are started together here rather
// than met one at a time.
func (m *Merger) touchMembers(cls []int32) byte {
	var x byte
	for _, ci := range cls {
		cl := &m.clusters[ci]
		if cl.n == 1 {
			continue
		}
		for j := cl.anchor; j >= 0; j = m.next[j] {
			e := m.keys[j].e
			if ts := e.Lineage.Tags(); len(ts) > 0 {
				x ^= byte(len(ts[0].ResourceID))
			}
			if cs := e.Codes; len(cs) > 0 {
				x ^= byte(len(cs[0].Code))
			}
		}
	}
	return x
}

// leadLess reports whether atom a's lead tag sorts before cluster cl's by
// [provenance.CompareTag]. Tags of different sources are ordered by source
// id, which the source numbering knows without reading the tags.
func (m *Merger) leadLess(a *atom, cl *cluster) bool {
	if a.src != cl.leadSrc {
		return m.srcOrder[a.src] < m.srcOrder[cl.leadSrc]
	}
	return compareTag(a.lead, cl.lead) < 0
}

// better reports whether atom a should represent cluster cl rather than its
// representative: more trusted source, then finer time precision, then
// having a value, then earlier in timeline order (members join in it).
func (m *Merger) better(a *atom, cl *cluster) bool {
	ra, rb := m.srcRank[a.src], cl.repRank
	if ra != rb {
		return ra < rb
	}
	if a.prec != cl.repPrec {
		return a.prec > cl.repPrec
	}
	if a.hasVal != cl.repVal {
		return a.hasVal
	}
	return false
}

func (m *Merger) clusterLess(x, y int32) bool {
	a, b := &m.clusters[x], &m.clusters[y]
	if a.sec != b.sec {
		return a.sec < b.sec
	}
	if a.nsec != b.nsec {
		return a.nsec < b.nsec
	}
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	if c := compareLead(a.lead, b.lead); c != 0 {
		return c < 0
	}
	return x < y
}

func hasCode(cs []Code, c Code) bool {
	for _, x := range cs {
		if x.System == c.System && x.Code == c.Code {
			return true
		}
	}
	return false
}

func insertionSortTags(s []provenance.Tag) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && compareTag(&s[j], &s[j-1]) < 0; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// groupConflicts groups the disagreeing cluster pairs (union-find): each
// group's root gets the reason of its first pair, and inConf marks the
// clusters in a group.
func (m *Merger) groupConflicts() {
	m.inConf = slices.Grow(m.inConf[:0], len(m.clusters))[:len(m.clusters)]
	clear(m.inConf)
	if len(m.pairs) == 0 {
		return
	}
	uf := slices.Grow(m.uf[:0], len(m.clusters))[:len(m.clusters)]
	for i := range uf {
		uf[i] = int32(i)
	}
	m.uf = uf
	for _, p := range m.pairs {
		a, b := m.find(p.a), m.find(p.b)
		if a != b {
			uf[max(a, b)] = min(a, b)
		}
	}
	if m.reason == nil {
		m.reason = make(map[int32]Reason)
		m.confIDs = make(map[int32]ConflictID)
	}
	clear(m.reason)
	for _, p := range m.pairs {
		r := m.find(p.a)
		if _, ok := m.reason[r]; !ok {
			m.reason[r] = p.reason
		}
	}
	for ci := range m.clusters {
		_, m.inConf[ci] = m.reason[m.find(int32(ci))]
	}
}

// find returns the root of cluster x's conflict group, halving the path.
func (m *Merger) find(x int32) int32 {
	uf := m.uf
	for uf[x] != x {
		uf[x] = uf[uf[x]]
		x = uf[x]
	}
	return x
}

// numberConflicts numbers the conflict groups in timeline order, marks
// their entries (all built anew, see built) and lists them in one block.
func (m *Merger) numberConflicts(t *Timeline) {
	t.Conflicts = t.Conflicts[:0]
	if len(m.pairs) == 0 {
		return
	}
	ids := m.confIDs
	clear(ids)
	m.confN = m.confN[:0]
	n := 0
	for i, ci := range m.perm {
		if !m.inConf[ci] {
			continue
		}
		r := m.find(ci)
		id, ok := ids[r]
		if !ok {
			id = ConflictID(len(t.Conflicts) + 1)
			ids[r] = id
			t.Conflicts = append(t.Conflicts, Conflict{ID: id, Reason: m.reason[r]})
			m.confN = append(m.confN, 0)
		}
		m.confN[id-1]++
		n++
		t.items[i].Conflict = id
	}
	// One block holds every conflict's entries. A reused dst's block is
	// reused: its old conflicts are invalid by contract.
	block := t.confBlock[:0]
	if cap(block) < n {
		block = make([]int, 0, n)
	}
	off := 0
	for k := range t.Conflicts {
		c := int(m.confN[k])
		t.Conflicts[k].Entries = block[off : off : off+c]
		off += c
	}
	for i, e := range t.items {
		if id := e.Conflict; id != 0 {
			t.Conflicts[id-1].Entries = append(t.Conflicts[id-1].Entries, i)
		}
	}
	t.confBlock = block
}

// compareTag is provenance.CompareTag without copying the tags.
func compareTag(a, b *provenance.Tag) int {
	if c := compareLead(a, b); c != 0 {
		return c
	}
	if c := a.Asserted.Compare(b.Asserted); c != 0 {
		return c
	}
	return a.Retrieved.Compare(b.Retrieved)
}

// compactTags removes adjacent equal tags of a sorted slice in place.
func compactTags(s []provenance.Tag) []provenance.Tag {
	if len(s) < 2 {
		return s
	}
	w := 1
	for i := 1; i < len(s); i++ {
		if compareTag(&s[i], &s[w-1]) != 0 {
			s[w] = s[i]
			w++
		}
	}
	clear(s[w:])
	return s[:w]
}
