package match

import (
	"cmp"
	"fmt"
	"slices"
)

// This file is the extension point for distributed runners (the Beam
// module in beam/): [Batch] exposes, one step at a time, the decisions
// [Link] makes, so that a runner that spreads blocking, scoring and
// clustering over many workers makes exactly the same ones. Link and
// Batch share every decision: blockPairs, orderBlock, judgePair and
// sortEdges below are what Link's own loops call, and Batch.Cluster runs
// clusterEdges itself.

// Batch is the whole-file state of one linkage run, for a runner that
// distributes [Link]'s steps: the records prepared together (their
// vocabularies and term frequencies), the scorer bound to them, and the
// whole-file evidence the constraints read (household keys, unique name
// and birth date keys). Every worker builds the same Batch from the same
// records in the same order; then a record is named by its index in that
// order, and the steps are:
//
//  1. [Batch.BlockKey] for every record and rule: records with equal
//     non-zero keys of one rule form a block.
//  2. [Batch.BlockPairs] for every block: the candidate pairs the rule
//     compares. A pair several rules find is one candidate, which Link
//     counts for the first of them ([RuleStats.Pairs]).
//  3. [Batch.Score] for every candidate: its weight and whether it links.
//  4. The connected components of the linked pairs, each given whole to
//     [Batch.Cluster]; records in no linked pair are clusters of their own.
//
// A Batch is safe for concurrent use.
type Batch struct {
	prepared []Prepared
	sc       *Scorer
	uniq     []bool
	ev       *householdEvidence
	thrW     float64
	maxBlock int
	window   int
	guard    bool
}

// NewBatch prepares recs as [Link] does with o and binds o.Model, which is
// required: a distributed run takes a model trained beforehand (by Link or
// [Train]). Threshold, Prepare, MaxBlockSize, Window, NoChainGuard and
// UniqueNameDOB mean what they mean to Link; Workers, KeepPairs, Truth
// and Progress are not used.
func NewBatch(recs []Record, o *LinkOptions) (*Batch, error) {
	if len(recs) == 0 {
		return nil, ErrNoRecords
	}
	if o == nil || o.Model == nil {
		return nil, fmt.Errorf("match: batch: no model given: %w", ErrInvalidModel)
	}
	p := newPreparer(o.Prepare)
	prepared := p.PrepareAll(recs)
	b := &Batch{prepared: prepared, ev: newHouseholdEvidence(recs, prepared),
		maxBlock: o.MaxBlockSize, window: o.Window, guard: !o.NoChainGuard}
	if o.UniqueNameDOB {
		b.uniq = uniqueNameDOB(p, recs, prepared)
	}
	if b.maxBlock <= 0 {
		b.maxBlock = DefaultMaxBlockSize
	}
	if b.window <= 0 {
		b.window = DefaultWindow
	}
	var err error
	if b.sc, err = o.Model.scorer(p); err != nil {
		return nil, err
	}
	thr := o.Threshold
	if thr <= 0 {
		thr = o.Model.EffectiveThreshold()
	}
	b.thrW = Weight(thr)
	return b, nil
}

// Len returns the number of records.
func (b *Batch) Len() int { return len(b.prepared) }

// Rules returns the number of blocking rules.
func (b *Batch) Rules() int { return b.sc.blockingRuleCount() }

// BlockKey returns record i's key under blocking rule r, or 0 when the
// record has none (it is then in no block of that rule).
func (b *Batch) BlockKey(r, i int) uint64 { return b.sc.blockKey(r, &b.prepared[i]) }

// BlockPairs calls pair for each candidate pair (i < j) of one block: the
// records sharing one rule's key, given in any order. A block of at most
// [LinkOptions.MaxBlockSize] records is compared all-pairs; a larger one
// is sorted as Link sorts it and each record is compared with the next
// [LinkOptions.Window]. It reorders members, and reports whether the
// block was oversized.
func (b *Batch) BlockPairs(members []uint32, pair func(i, j uint32)) (oversized bool) {
	slices.Sort(members) // Link's blocks hold their records by index
	big := orderBlock(b.sc, b.prepared, members, b.maxBlock)
	blockPairs(members, big, b.window, pair)
	return big
}

// Outcome is what scoring decides for a candidate pair.
type Outcome uint8

// Outcomes.
const (
	// Below means the pair scores below the threshold.
	Below Outcome = iota
	// Guarded means the pair scores at or above the threshold but a
	// constraint forbids linking it ([LinkStats.GuardedPairs]).
	Guarded
	// Linked means the pair links.
	Linked
	// LinkedUnique means the pair links on a unique name and birth date
	// alone ([LinkOptions.UniqueNameDOB], [LinkStats.UniqueNameDOBLinks]).
	LinkedUnique
)

// Score returns the match weight of candidate pair (i, j) and what Link
// decides for it.
func (b *Batch) Score(i, j uint32) (float64, Outcome) {
	cp := candPair{i: i, j: j, pat: b.sc.pattern(&b.prepared[i], &b.prepared[j])}
	return judgePair(b.sc, b.prepared, &cp, b.thrW, b.uniq, b.ev)
}

// Splits count the merges clustering refused (see [LinkStats]).
type Splits struct {
	Constraint, ChainGuard, Apart int
}

// Cluster clusters linked pairs (A < B, weights from [Batch.Score]) as
// Link does, and returns the records they name in ascending order with
// each one's cluster, named by its smallest record index.
//
// pairs must hold whole connected components of the graph of all linked
// pairs: then the result equals Link's for these records. Link joins
// clusters edge by edge, strongest first, and every decision (the NHS
// number constraint, the apart check, the chain guard) reads only the two
// clusters the edge would join, which lie inside the edge's component;
// edges of other components never touch them. So the decisions within a
// component, taken in the same order, are the same whether or not the
// other components' edges are interleaved. The records are renumbered
// here in ascending order, which keeps every tie Link breaks by record
// index (edge order, which root survives a union, where the member lists
// start) broken the same way.
func (b *Batch) Cluster(pairs []ScoredPair) (records, cluster []int, splits Splits) {
	for _, p := range pairs {
		records = append(records, p.A, p.B)
	}
	slices.Sort(records)
	records = slices.Compact(records)
	local := make([]Prepared, len(records))
	for k, i := range records {
		local[k] = b.prepared[i]
	}
	at := func(i int) uint32 {
		k, _ := slices.BinarySearch(records, i)
		return uint32(k)
	}
	edges := make([]edge, len(pairs))
	for k, p := range pairs {
		edges[k] = edge{i: at(p.A), j: at(p.B), w: p.Weight}
	}
	sortEdges(edges)
	cl := clusterEdges(b.sc, local, edges, b.thrW, b.guard)
	// Clusters are numbered in order of their first record, which is
	// their smallest index.
	first := make([]int, 0, cl.count)
	cluster = make([]int, len(records))
	for k, c := range cl.cluster {
		if c == len(first) {
			first = append(first, records[k])
		}
		cluster[k] = first[c]
	}
	return records, cluster, Splits{Constraint: cl.constraint, ChainGuard: cl.guard, Apart: cl.apart}
}

// blockPairs calls pair for each pair of a block that its rule compares:
// every pair, or, for an oversized block (big, ordered by orderBlock),
// each record with the next window records.
func blockPairs(blk []uint32, big bool, window int, pair func(i, j uint32)) {
	for x := range blk {
		hiY := len(blk)
		if big {
			hiY = min(len(blk), x+window+1)
		}
		for y := x + 1; y < hiY; y++ {
			i, j := blk[x], blk[y]
			if i > j {
				i, j = j, i
			}
			pair(i, j)
		}
	}
}

// orderBlock reports whether a block (its records by index) is oversized,
// larger than maxBlock, and then sorts it so that similar records sit
// near each other (see Scorer.windowCompare).
func orderBlock(sc *Scorer, recs []Prepared, blk []uint32, maxBlock int) bool {
	if len(blk) <= maxBlock {
		return false
	}
	slices.SortFunc(blk, func(a, b uint32) int { return sc.windowCompare(&recs[a], &recs[b], a, b) })
	return true
}

// judgePair weighs a candidate pair and decides whether it links: at or
// above thrW with no constraint but different NHS numbers (which
// clustering checks), or with only the name-and-birth-date constraint
// when uniq marks both records' keys as unique.
func judgePair(sc *Scorer, recs []Prepared, cp *candPair, thrW float64, uniq []bool, ev *householdEvidence) (float64, Outcome) {
	wt := sc.weightOf(cp, recs)
	if wt < thrW {
		return wt, Below
	}
	a, b := &recs[cp.i], &recs[cp.j]
	c := sc.constraintKnown(cp.pat, a, b, ev.sole(cp.i, cp.j, a, b))
	if c == ConstraintNameDOBOnly && uniq != nil && uniq[cp.i] && uniq[cp.j] && sc.onlyNameDOB(cp.pat) {
		return wt, LinkedUnique
	}
	if c != ConstraintNone && c != ConstraintNHS {
		return wt, Guarded
	}
	return wt, Linked
}

// sortEdges orders linked pairs strongest first, ties by record index, so
// that clustering does not depend on how the pairs were found.
func sortEdges(edges []edge) {
	slices.SortFunc(edges, func(a, b edge) int {
		return cmp.Or(cmp.Compare(b.w, a.w), cmp.Compare(a.i, b.i), cmp.Compare(a.j, b.j))
	})
}
