package merge

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/provenance"
)

// oracle is a naive O(n^2) de-duplicator written from the package
// documentation's definition of "same fact", independent of the engine's
// item keys, open lists, heap and union-find: every entry in timeline order
// is compared with every merged entry so far. Only the leaf comparison of
// two values (sameValue, with its own table test) is shared.
type oracle struct {
	o      *Options
	rules  *compiled
	all    []oEntry
	groups [][]int // oracle entries per merged entry, in creation order
	pairs  []pending
}

type oEntry struct {
	e    *Entry
	r    ref
	conc string // the concept, as a string naming it
}

func runOracle(t testing.TB, srcs [][]Entry, o *Options) *oracle {
	t.Helper()
	rs := o.Rules
	if rs == nil {
		rs = &Rules{}
	}
	c, err := compileRules(rs)
	require.NoError(t, err)
	or := &oracle{o: o, rules: c}
	for s, src := range srcs {
		for i := range src {
			or.all = append(or.all, oEntry{e: &src[i], r: ref{int32(s), int32(i)}})
		}
	}
	or.concepts(rs)
	// Timeline order; ties keep the lower stream first (a stable sort of
	// the streams laid end to end).
	compare := compareBy(o)
	slices.SortStableFunc(or.all, func(a, b oEntry) int { return compare(*a.e, *b.e) })
	for i := range or.all {
		or.place(i)
	}
	return or
}

// concepts names each entry's concept: "rules:ID" for the first code the
// rules map; for entries whose codes the rules do not map, the smallest
// code of the class of entries joined by shared codes; for entries without
// codes, their folded display and text; for entries without a time or
// without codes and text, their resource identity.
func (or *oracle) concepts(rs *Rules) {
	mapped := func(cd Code) (string, bool) {
		for _, con := range rs.Concepts {
			for _, x := range con.Codes {
				if x.System == cd.System && x.Code == cd.Code {
					return "rules:" + con.ID, true
				}
			}
		}
		return "", false
	}
	name := func(cd Code) string { return cd.System + "|" + cd.Code }
	class := map[string]string{} // code → smallest code of its class
	for changed := true; changed; {
		changed = false
		for _, x := range or.all {
			if !x.content() || slices.ContainsFunc(x.e.Codes, func(cd Code) bool { _, ok := mapped(cd); return ok }) {
				continue
			}
			least := ""
			for _, cd := range x.e.Codes {
				if c := cmp.Or(class[name(cd)], name(cd)); least == "" || c < least {
					least = c
				}
			}
			for _, cd := range x.e.Codes {
				if class[name(cd)] != least {
					class[name(cd)], changed = least, true
				}
			}
		}
	}
	for i := range or.all {
		x := &or.all[i]
		switch {
		case !x.content():
			tg := x.e.Lineage.Tags()[0]
			x.conc = "identity:" + tg.Source + "/" + tg.ResourceType + "/" + tg.ResourceID
		case len(x.e.Codes) == 0:
			x.conc = "text:" + string(foldText(nil, x.e.Display, x.e.Text))
		default:
			x.conc = "codes:" + class[name(x.e.Codes[0])]
			for _, cd := range x.e.Codes {
				if id, ok := mapped(cd); ok {
					x.conc = id
					break
				}
			}
		}
	}
}

func (x oEntry) timed() bool   { return x.e.Precision != PrecisionUnknown }
func (x oEntry) content() bool { return x.timed() && (len(x.e.Codes) > 0 || x.e.Text != "") }

// span is the interval an entry stands for, by its precision.
func (x oEntry) span() (time.Time, time.Time) {
	t := x.e.Time
	switch x.e.Precision {
	case PrecisionYear:
		return t, t.AddDate(1, 0, 0).Add(-time.Second)
	case PrecisionMonth:
		return t, t.AddDate(0, 1, 0).Add(-time.Second)
	case PrecisionDay:
		return t, t.Add(24*time.Hour - time.Second)
	case PrecisionMinute:
		return t, t.Add(time.Minute - time.Second)
	}
	return t, t
}

func (or *oracle) window(c Category) time.Duration {
	w := time.Duration(0)
	for _, x := range DefaultWindows() {
		if x.Category == c || x.Category == CategoryOther && w == 0 {
			w = time.Duration(x.Tolerance)
		}
	}
	for _, x := range or.o.Rules.Windows {
		if x.Category == c {
			w = time.Duration(x.Tolerance)
		}
	}
	return w
}

func sourcesShared(a, b *Entry) bool {
	return slices.ContainsFunc(a.Lineage.Sources(), b.Lineage.Has)
}

// place joins entry i to the closest merged entry (by the gap between
// intervals, then the distance between starts, then the earliest) of its
// concept and category, within the window from that merged entry's first
// member, whose every member it is the same fact as; else it starts a new
// merged entry. Every such merged entry of another source that disagrees
// with it is a conflict, unless a source on its side holds that one too.
func (or *oracle) place(i int) {
	a := or.all[i]
	best, bestGap, bestDist := -1, time.Duration(0), time.Duration(0)
	var conflicts []pending
	for g, members := range or.groups {
		first := or.all[members[0]]
		if first.conc != a.conc || first.e.Category != a.e.Category {
			continue
		}
		var gap, dist time.Duration
		if first.timed() && a.timed() {
			as, ae := a.span()
			fs, fe := first.span()
			gap = max(as.Sub(fe), fs.Sub(ae), 0)
			if gap > or.window(a.e.Category) {
				continue
			}
			dist = max(as.Sub(fs), fs.Sub(as))
		}
		v := Verdict{Same: true}
		for _, m := range members {
			var mv Verdict
			if sourcesShared(or.all[m].e, a.e) {
				mv.Same = identical(or.all[m].e, a.e)
			} else {
				mv = or.rules.sameValue(or.all[m].e, a.e, or.ruleConcept(a))
			}
			if !mv.Same && mv.Conflict == "" {
				v = Verdict{}
				break
			}
			if !mv.Same && v.Same {
				v = mv
			}
		}
		if v.Conflict != "" {
			conflicts = append(conflicts, pending{b: int32(g), reason: v.Conflict})
		}
		if v.Same && (best < 0 || gap < bestGap || gap == bestGap && dist < bestDist) {
			best, bestGap, bestDist = g, gap, dist
		}
	}
	if best < 0 {
		best = len(or.groups)
		or.groups = append(or.groups, nil)
	}
	or.groups[best] = append(or.groups[best], i)
	for _, c := range conflicts {
		shared := false
		for _, m := range or.groups[best] {
			for _, n := range or.groups[c.b] {
				shared = shared || sourcesShared(or.all[m].e, or.all[n].e)
			}
		}
		if !shared {
			or.pairs = append(or.pairs, pending{a: int32(best), b: c.b, reason: c.reason})
		}
	}
}

// ruleConcept is the index of a's rules concept, or -1.
func (or *oracle) ruleConcept(a oEntry) int32 {
	for _, cd := range a.e.Codes {
		if id, ok := or.rules.lookup(cd.System, cd.Code); ok {
			return id
		}
	}
	return -1
}

// timeline returns the merged entries' members (as stream positions) in
// output order, and the conflicts as groups of output positions with their
// reasons, numbered in output order.
func (or *oracle) timeline() (members [][]ref, conflicts []Conflict) {
	type out struct {
		g        int
		rep      *Entry
		lead     provenance.Tag
		leadRank int32
	}
	var outs []out
	for g, ms := range or.groups {
		rep := or.all[ms[0]].e
		lead := rep.Lineage.Tags()[0]
		for _, m := range ms[1:] {
			e := or.all[m].e
			switch re, rr := rank(or.o.Priority, e.Lineage.Tags()[0].Source), rank(or.o.Priority, rep.Lineage.Tags()[0].Source); {
			case re < rr, re == rr && e.Precision > rep.Precision, re == rr && e.Precision == rep.Precision && hasValue(e) && !hasValue(rep):
				rep = e
			}
			if provenance.CompareTag(e.Lineage.Tags()[0], lead) < 0 {
				lead = e.Lineage.Tags()[0]
			}
		}
		outs = append(outs, out{g: g, rep: rep, lead: lead, leadRank: rank(or.o.Priority, lead.Source)})
	}
	slices.SortStableFunc(outs, func(a, b out) int {
		if c := a.rep.Time.Compare(b.rep.Time); c != 0 {
			return c
		}
		if c := cmp.Compare(a.leadRank, b.leadRank); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.lead.Source, b.lead.Source), cmp.Compare(a.lead.ResourceType, b.lead.ResourceType),
			cmp.Compare(a.lead.ResourceID, b.lead.ResourceID), cmp.Compare(a.lead.Version, b.lead.Version))
	})
	pos := make([]int, len(or.groups))
	for i, o := range outs {
		pos[o.g] = i
		var rs []ref
		for _, m := range or.groups[o.g] {
			rs = append(rs, or.all[m].r)
		}
		members = append(members, rs)
	}
	// Conflict groups: merged entries joined by disagreeing pairs.
	comp := make([]int, len(or.groups))
	for i := range comp {
		comp[i] = i
	}
	for changed := true; changed; {
		changed = false
		for _, p := range or.pairs {
			if m := min(comp[p.a], comp[p.b]); comp[p.a] != m || comp[p.b] != m {
				comp[p.a], comp[p.b], changed = m, m, true
			}
		}
	}
	reason := map[int]Reason{}
	for _, p := range or.pairs {
		if _, ok := reason[comp[p.a]]; !ok {
			reason[comp[p.a]] = p.reason
		}
	}
	ids := map[int]int{}
	for i, o := range outs {
		r, ok := reason[comp[o.g]]
		if !ok {
			continue
		}
		id, ok := ids[comp[o.g]]
		if !ok {
			id = len(conflicts)
			ids[comp[o.g]] = id
			conflicts = append(conflicts, Conflict{ID: ConflictID(id + 1), Reason: r})
		}
		conflicts[id].Entries = append(conflicts[id].Entries, i)
	}
	return members, conflicts
}

// oracleStreams returns k sorted streams for the oracle test: few concepts
// under several codes and units, many ties in time, year, day and minute
// precision, entries without a time, conflicts, re-sent records, uncoded
// notes and unmapped codes shared between entries.
func oracleStreams(rng *rand.Rand, k, n int) [][]Entry {
	srcs := randomStreams(rng, k, n)
	notes := []string{"Seen in clinic.", "seen in clinic", "Reviewed; no change."}
	unmapped := [][]Code{{{System: local, Code: "U1"}}, {{System: local, Code: "U2"}}, {{System: local, Code: "U1"}, {System: local, Code: "U2"}}, {{System: local, Code: "U3"}}}
	for s := range srcs {
		src := fmt.Sprintf("s%d", s)
		for i := range rng.IntN(n/2 + 1) {
			at := t0.Add(time.Duration(rng.IntN(24)) * time.Hour)
			e := Entry{Category: CategoryNote, Time: at, Precision: PrecisionMinute, Display: "Note", Text: notes[rng.IntN(len(notes))],
				Lineage: provenance.Of(provenance.Tag{Source: src, ResourceType: "Note", ResourceID: fmt.Sprint("n", i)})}
			switch rng.IntN(4) {
			case 0:
				e.Category, e.Text, e.Codes = CategoryProblem, "", unmapped[rng.IntN(len(unmapped))]
			case 1:
				e.Category, e.Text, e.Display = CategoryOther, "", "CarePlan" // no code: its own item
				if rng.IntN(2) == 0 {
					e.Time, e.Precision = time.Time{}, PrecisionUnknown
				}
			}
			srcs[s] = append(srcs[s], e)
		}
		// Re-sent records: an identical copy under another id.
		for _, i := range rng.Perm(len(srcs[s]))[:len(srcs[s])/5] {
			e := srcs[s][i]
			tg := e.Lineage.Tags()[0]
			tg.ResourceID += "-again"
			e.Lineage = provenance.Of(tg)
			srcs[s] = append(srcs[s], e)
		}
		sortEntries(srcs[s], nil)
	}
	return srcs
}

// checkOracle merges srcs with the engine and the oracle and requires the
// same merged entries (their members), conflicts and lineages.
func checkOracle(t *testing.T, srcs [][]Entry, o *Options) {
	t.Helper()
	tl, err := mergeSlices(srcs, o)
	require.NoError(t, err)
	members, conflicts := runOracle(t, srcs, o).timeline()
	require.Len(t, members, tl.Len())
	for i := range members {
		require.Equal(t, members[i], tl.mrefs[tl.mstart[i]:tl.mstart[i+1]], "entry %d's members", i)
		var l provenance.Lineage
		for _, r := range members[i] {
			l = l.Union(srcs[r.s][r.i].Lineage)
		}
		require.True(t, l.Equal(tl.At(i).Lineage), "entry %d's lineage", i)
	}
	if len(conflicts) == 0 {
		conflicts = nil
	}
	require.Equal(t, conflicts, tl.Conflicts)
}

func TestEngineAgreesWithOracle(t *testing.T) {
	rng := newRand(17)
	for it := range 300 {
		o := &Options{Rules: testRules()}
		if it%3 == 0 {
			o.Priority = []string{"s2", "s0"}
		}
		srcs := oracleStreams(rng, 1+rng.IntN(4), 16)
		checkOracle(t, srcs, o)
		if t.Failed() {
			t.Fatalf("iteration %d", it)
		}
	}
}

// FuzzEngineAgreesWithOracle: the engine and the oracle agree on random
// streams drawn from the fuzzer's seed.
func FuzzEngineAgreesWithOracle(f *testing.F) {
	f.Add(uint64(1), uint8(3), uint8(12), false)
	f.Add(uint64(9), uint8(5), uint8(30), true)
	f.Fuzz(func(t *testing.T, seed uint64, k, n uint8, priority bool) {
		o := &Options{Rules: testRules()}
		if priority {
			o.Priority = []string{"s1"}
		}
		checkOracle(t, oracleStreams(newRand(seed), 1+int(k%6), int(n%40)), o)
	})
}
