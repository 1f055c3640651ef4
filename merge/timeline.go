package merge

import (
	"cmp"
	"iter"
	"slices"

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

// ref locates an entry in a timeline's input streams.
type ref struct{ s, i int32 }

// Timeline is the merged, de-duplicated record of one person: every fact
// once, in [Engine.Compare] order, each carrying the tags of every source
// entry behind it. It keeps the source streams (by reference, unmodified)
// for [Timeline.Filter] and [Engine.Combine]. An entry that only one source
// entry is behind, in no conflict, is that source entry itself: only merged
// entries and entries in a conflict are built anew. A Timeline is immutable
// and safe for concurrent reads.
type Timeline struct {
	// Conflicts are the groups of disagreeing entries; Conflicts[i].ID is i+1.
	Conflicts []Conflict

	items  []*Entry  // the entries in timeline order: source entries or built ones
	srcs   [][]Entry // the streams merged, retained
	eng    *Engine
	mstart []int32 // entry i's members are mrefs[mstart[i]:mstart[i+1]]
	mrefs  []ref
	names  []string  // source number → id
	held   [][]int32 // stream → its sources by number
}

// Len returns the number of merged entries.
func (t *Timeline) Len() int { return len(t.items) }

// At returns the entry at position i of the timeline, 0 <= i < Len. It may
// be a source stream's entry itself, so it must not be modified.
func (t *Timeline) At(i int) *Entry { return t.items[i] }

// All returns the positions and entries of the timeline in order. The
// entries must not be modified (see [Timeline.At]).
func (t *Timeline) All() iter.Seq2[int, *Entry] { return slices.All(t.items) }

// Entries returns a copy of the timeline's entries, in order. The copies
// share their lineages, codes and values with the timeline.
func (t *Timeline) Entries() []Entry {
	out := make([]Entry, len(t.items))
	for i, e := range t.items {
		out[i] = *e
	}
	return out
}

// Members returns the source entries that were merged into entry i, in
// timeline order, as the sources supplied them.
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
func (t *Timeline) Sources() []string { return slices.Sorted(slices.Values(t.names)) }

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
// conflict. The result equals merging the kept sources' entries afresh, with
// the engine the timeline was merged with.
func (t *Timeline) Filter(keep func(source string) bool) (*Timeline, error) {
	kept := make([]bool, len(t.names)) // source number → kept
	for id, src := range t.names {
		kept[id] = keep(src)
	}
	var srcs [][]Entry
	for si, s := range t.srcs {
		// A stream's sources are known by number, so its entries are read
		// only when it has sources on both sides.
		some, all := false, true
		for _, id := range t.held[si] {
			some, all = some || kept[id], all && kept[id]
		}
		switch {
		case all:
			srcs = append(srcs, s)
		case some:
			out := make([]Entry, 0, len(s))
			for _, e := range s {
				if l := e.Lineage.Filter(keep); l.Len() > 0 {
					e.Lineage = l
					out = append(out, e)
				}
			}
			t.eng.Sort(out) // the lead tags, and with them the order, may change
			srcs = append(srcs, out)
		}
	}
	return t.eng.MergeSlices(srcs)
}

// Without returns the timeline without the given sources; see [Timeline.Filter].
func (t *Timeline) Without(sources ...string) (*Timeline, error) {
	return t.Filter(func(s string) bool { return !slices.Contains(sources, s) })
}

// Combine merges the source streams of the given timelines: the result
// equals merging all of their streams at once, so combining is associative
// and a source that arrives late can be added without re-fetching the
// others.
func (e *Engine) Combine(ts ...*Timeline) (*Timeline, error) {
	var srcs [][]Entry
	for _, t := range ts {
		srcs = append(srcs, t.srcs...)
	}
	return e.MergeSlices(srcs)
}

// MergeSlices merges and de-duplicates per-source streams, each sorted by
// [Engine.Compare] (a stream out of order fails with [ErrUnsorted]; an
// entry without tags with [ErrUntagged]). The streams are retained by the
// result and must not be modified afterwards.
//
// Entries that are the same fact (see the package documentation) become one
// entry; entries from different sources that report the same item at the
// same time with different values stay separate and share a [Conflict].
func (e *Engine) MergeSlices(srcs [][]Entry) (*Timeline, error) {
	s := e.getSweep()
	defer e.scratch.Put(s)
	if err := s.run(srcs); err != nil {
		return nil, err
	}
	t := &Timeline{srcs: srcs, eng: e}
	s.build(t)
	return t, nil
}

// build turns the clusters into the timeline's entries and conflicts.
func (s *sweep) build(t *Timeline) {
	reasons := s.groupConflicts()
	// The entries built anew, and their lineages and codes, in three blocks:
	// an entry is built anew when it merges several source entries or is in
	// a conflict (or its source entry carries an earlier merge's conflict
	// id); otherwise it is the source entry itself. At most two clusters
	// per conflicting pair are in a conflict without being fresh.
	own := make([]Entry, 0, s.nFresh+2*len(s.pairs))
	// A merged entry of m members (of one tag and code each, as a rule)
	// has m tags and at most m codes: m-1 joined it, and it is fresh.
	n := len(s.items) - len(s.clusters) + s.nFresh
	tagArena, codeArena := make([]provenance.Tag, 0, n), make([]Code, 0, n)
	t.items = make([]*Entry, 0, len(s.clusters))
	t.mstart = make([]int32, 0, len(s.clusters)+1)
	t.mrefs = make([]ref, 0, len(s.items))
	ids := map[int32]ConflictID{}
	for ci := range s.inOrder {
		cl := &s.clusters[ci]
		i := len(t.items)
		t.mstart = append(t.mstart, int32(len(t.mrefs)))
		for j := cl.first; j >= 0; j = s.items[j].next {
			t.mrefs = append(t.mrefs, s.items[j].r)
		}
		rep := s.items[cl.rep].e
		if !cl.fresh && cl.group < 0 {
			t.items = append(t.items, rep) // unchanged: the source's own entry
			continue
		}
		own = append(own, *rep)
		out := &own[len(own)-1]
		t.items = append(t.items, out)
		out.Conflict = 0
		if g := cl.group; g >= 0 {
			// Conflicts are numbered in timeline order of their first entry.
			id, ok := ids[g]
			if !ok {
				id = ConflictID(len(t.Conflicts) + 1)
				ids[g] = id
				t.Conflicts = append(t.Conflicts, Conflict{ID: id, Reason: reasons[g]})
			}
			out.Conflict = id
			t.Conflicts[id-1].Entries = append(t.Conflicts[id-1].Entries, i)
		}
		if cl.first == cl.last {
			continue
		}
		// The union of the members' lineages and codes, the
		// representative's codes first.
		t0, c0 := len(tagArena), len(codeArena)
		codeArena = append(codeArena, rep.Codes...)
		for j := cl.first; j >= 0; j = s.items[j].next {
			m := s.items[j].e
			tagArena = append(tagArena, m.Lineage.Tags()...)
			for _, cd := range m.Codes {
				if !slices.ContainsFunc(codeArena[c0:], func(x Code) bool { return x.System == cd.System && x.Code == cd.Code }) {
					codeArena = append(codeArena, cd)
				}
			}
		}
		if n := len(codeArena); n > c0 {
			out.Codes = codeArena[c0:n:n]
		}
		tags := tagArena[t0:]
		slices.SortFunc(tags, provenance.CompareTag)
		tags = slices.CompactFunc(tags, func(a, b provenance.Tag) bool { return provenance.CompareTag(a, b) == 0 })
		tagArena = tagArena[:t0+len(tags)]
		out.Lineage = provenance.OfSorted(slices.Clip(tags))
	}
	t.mstart = append(t.mstart, int32(len(t.mrefs)))
	t.names, t.held = slices.Clone(s.srcNames), slices.Clone(s.held)
}

// inOrder yields the clusters in output order: by key, then in the order
// they were opened in. They were opened in timeline order of their first
// member, so those that still have that member's key (most of them) are in
// order already; only the others (s.moved) are sorted, and merged in as
// the rest are read in one pass. On the heavy patient of
// BenchmarkMergeSizes 1,767 of 16,157 clusters are sorted, and ordering
// them takes 1.5M instructions per merge where sorting all of them took
// 7.5M (cachegrind).
func (s *sweep) inOrder(yield func(int32) bool) {
	cls, moved := s.clusters, s.moved
	before := func(a, b int32) int { return cmp.Or(order(&cls[a].key, &cls[b].key), cmp.Compare(a, b)) }
	slices.SortFunc(moved, before)
	for ci := range int32(len(cls)) {
		if cls[ci].moved {
			continue
		}
		for ; len(moved) > 0 && before(moved[0], ci) < 0; moved = moved[1:] {
			if !yield(moved[0]) {
				return
			}
		}
		if !yield(ci) {
			return
		}
	}
	for _, ci := range moved {
		if !yield(ci) {
			return
		}
	}
}

// groupConflicts groups the clusters of disagreeing pairs (union-find over
// s.pairs): it sets each paired cluster's group to the smallest cluster in
// its group, and returns each group's reason, that of its first pair.
func (s *sweep) groupConflicts() map[int32]Reason {
	if len(s.pairs) == 0 {
		return nil
	}
	reasons := map[int32]Reason{}
	s.parent = s.parent[:0]
	for range s.clusters {
		s.newToken()
	}
	for _, p := range s.pairs {
		if a, b := s.find(p.a), s.find(p.b); a != b {
			s.parent[max(a, b)] = min(a, b)
		}
	}
	for _, p := range s.pairs {
		g := s.find(p.a)
		s.clusters[p.a].group, s.clusters[p.b].group = g, g
		if _, ok := reasons[g]; !ok {
			reasons[g] = p.reason
		}
	}
	return reasons
}
