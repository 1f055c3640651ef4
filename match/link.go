package match

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// LinkOptions configure [Link]. The zero value works: train on the input,
// link at the model's threshold.
type LinkOptions struct {
	// Model is used as is when set; when nil, a [DefaultModel] is trained
	// on the input.
	Model *Model
	// Threshold is the match probability at or above which a pair links;
	// zero means the model's threshold.
	Threshold float64
	// Train configures training when Model is nil.
	Train TrainOptions
	// Prepare configures the preparation of the records (the plausible
	// birth-date range, date orders per source); nil means the defaults.
	// [LinkResult.Data] reports what preparation set aside.
	Prepare *PrepareOptions
	// MaxBlockSize is the largest block compared all-pairs; larger blocks
	// are compared by sorted neighbourhood. Zero means DefaultMaxBlockSize.
	MaxBlockSize int
	// Window is the sorted-neighbourhood window for oversized blocks. Zero
	// means DefaultWindow.
	Window int
	// Workers is the number of goroutines; zero means GOMAXPROCS. Results
	// do not depend on it.
	Workers int
	// KeepPairs asks for the linked pairs (at or above the threshold) in
	// [LinkResult.Pairs].
	KeepPairs bool
	// NoChainGuard turns off the protection against chaining two clusters
	// through one weak link.
	NoChainGuard bool
	// UniqueNameDOB lets a pair that agrees exactly on given name, family
	// name and full birth date link although nothing else can be compared
	// ([ConstraintNameDOBOnly]), when no source holds that name and birth
	// date twice and chance agreement is unlikely at the file's size (see
	// uniqueNameDOB for the safety argument). It is off by default: for
	// files that hold only names and birth dates, asked for explicitly and
	// counted in [LinkStats.UniqueNameDOBLinks]. Pairs with any other field
	// on both records keep the constraint. Where namesakes are more common
	// than chance (a community where a few names dominate, planted
	// namesakes in the robustness sweep) it merges different people
	// beyond the 0.1% limit: TestRobustness measures 0.09-0.39% of true
	// pairs on the names-dob-only profile.
	UniqueNameDOB bool
	// Truth, when set, holds each record's true entity label ("" for
	// unknown), so that [LinkStats.PairCompleteness] can be reported. It
	// is never used to link.
	Truth []string
	// Progress, if set, is called at the start of each stage.
	Progress func(stage string)

	uniqueNameDOB []bool             // per record, when UniqueNameDOB: its name+DOB key may link alone
	household     *householdEvidence // what the whole file shows behind each household key
}

// ScoredPair is a linked pair of records by index into the input.
type ScoredPair struct {
	A, B   int     // record indexes, A < B
	Weight float64 // match weight (log2 odds)
}

// LinkResult is the outcome of [Link].
type LinkResult struct {
	// Model is the model used (trained, when none was given).
	Model *Model
	// Cluster holds each input record's cluster number, 0-based, numbered
	// in order of each cluster's first record.
	Cluster []int
	// Clusters is the number of clusters, singletons included.
	Clusters int
	// Pairs are the linked pairs when [LinkOptions.KeepPairs] is set,
	// sorted by (A, B).
	Pairs []ScoredPair
	// Stats describe the run.
	Stats LinkStats
	// Data reports the values preparation set aside (placeholders,
	// invalid and out-of-range values) and each source's date order.
	Data *DataReport
	// Prepared are the prepared records, in input order, for
	// [Scorer.Explain]; Scorer is bound to them.
	Prepared []Prepared
	Scorer   *Scorer
}

// LinkStats describe a linkage run. They hold no PHI.
type LinkStats struct {
	Records        int         `json:"records"`
	CandidatePairs int64       `json:"candidatePairs"`
	ReductionRatio float64     `json:"reductionRatio"`
	Rules          []RuleStats `json:"rules"`
	LinkedPairs    int         `json:"linkedPairs"`
	// ConstraintSplits counts merges refused because the two clusters
	// held different valid NHS numbers.
	ConstraintSplits int `json:"constraintSplits"`
	// ChainGuardSplits counts merges refused because the clusters were
	// joined only by a weak link.
	ChainGuardSplits int `json:"chainGuardSplits"`
	// ApartSplits counts merges refused because a record of one cluster
	// and a record of the other are evidently different people (twins:
	// same birth date, given names disagreeing outright; different
	// generational suffixes), whatever linked the clusters.
	ApartSplits int `json:"apartSplits"`
	// TruePairs and PairCompleteness are reported when
	// [LinkOptions.Truth] is given: the number of true pairs, and the share
	// of them that blocking made candidates.
	TruePairs        int64   `json:"truePairs,omitempty"`
	PairCompleteness float64 `json:"pairCompleteness,omitempty"`
	// GuardedPairs counts pairs above the threshold not linked because of
	// a twins or name-and-birth-date-only constraint (see [Constraint]).
	GuardedPairs int `json:"guardedPairs"`
	// UniqueNameDOBLinks counts pairs linked on a unique name and birth
	// date alone ([LinkOptions.UniqueNameDOB]).
	UniqueNameDOBLinks int `json:"uniqueNameDOBLinks,omitempty"`
	// Weights counts every scored candidate pair by match weight, before
	// constraints and clustering.
	Weights *WeightHistogram         `json:"weights,omitempty"`
	Timings map[string]time.Duration `json:"timings"`
}

// candPair is a candidate pair with its comparison pattern.
type candPair struct {
	i, j uint32
	pat  uint64
}

// pairList holds candidate pairs in fixed-size chunks, so that growing it
// never copies what is already there.
type pairList struct {
	chunks [][]candPair
	n      int
}

const pairChunk = 1 << 15

func (l *pairList) add(p candPair) {
	if k := len(l.chunks); k == 0 || len(l.chunks[k-1]) == pairChunk {
		l.chunks = append(l.chunks, make([]candPair, 0, pairChunk))
	}
	c := &l.chunks[len(l.chunks)-1]
	*c = append(*c, p)
	l.n++
}

type patternSink struct {
	sc    *Scorer
	recs  []Prepared
	pairs pairList
}

func (s *patternSink) pair(i, j uint32) {
	s.pairs.add(candPair{i, j, s.sc.pattern(&s.recs[i], &s.recs[j])})
}

// Link resolves which records are the same person: it prepares them,
// trains a model unless one is given, blocks, scores every candidate pair
// once on every core and clusters the links.
func Link(ctx context.Context, recs []Record, o *LinkOptions) (*LinkResult, error) {
	if len(recs) == 0 {
		return nil, ErrNoRecords
	}
	var opts LinkOptions
	if o != nil {
		opts = *o
	}
	p := newPreparer(opts.Prepare)
	t0 := time.Now()
	if opts.Progress != nil {
		opts.Progress("prepare")
	}
	prepared := p.PrepareAll(recs)
	if opts.UniqueNameDOB {
		opts.uniqueNameDOB = uniqueNameDOB(p, recs, prepared)
	}
	opts.household = newHouseholdEvidence(recs, prepared)
	res, err := linkPrepared(ctx, p, prepared, &opts)
	if err != nil {
		return nil, err
	}
	res.Data = new(p.Report())
	res.Stats.Timings["prepare"] = time.Since(t0) - res.Stats.Timings["total"]
	res.Stats.Timings["total"] = time.Since(t0)
	return res, nil
}

// candidates is what blocking found: the scorer bound to the prepared
// records, the candidate pairs and the blocks they came from.
type candidates struct {
	sc    *Scorer
	pairs pairList
	bs    *blockSet
}

// findCandidates binds model to the prepared records and blocks them.
func findCandidates(ctx context.Context, p *preparer, prepared []Prepared, model *Model, o *LinkOptions, workers int) (*candidates, error) {
	sc, err := model.scorer(p)
	if err != nil {
		return nil, err
	}
	maxBlock := o.MaxBlockSize
	if maxBlock <= 0 {
		maxBlock = DefaultMaxBlockSize
	}
	window := o.Window
	if window <= 0 {
		window = DefaultWindow
	}
	bs := buildBlocks(ctx, sc, prepared, maxBlock, window, workers)
	sinks := forEachCandidate(ctx, bs, workers, func() *patternSink { return &patternSink{sc: sc, recs: prepared} })
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &candidates{sc: sc, bs: bs}
	for _, s := range sinks {
		c.pairs.chunks = append(c.pairs.chunks, s.pairs.chunks...)
		c.pairs.n += s.pairs.n
	}
	return c, nil
}

// train estimates a model on the candidates (see [Train]) and rebinds
// their scorer to it; the comparisons and levels are the same, so the
// candidates' patterns stay valid.
func (c *candidates) train(ctx context.Context, p *preparer, prepared []Prepared, o *TrainOptions) (*Model, error) {
	model, err := trainModel(ctx, c.sc, prepared, c.pairs, c.bs, o)
	if err != nil {
		return nil, err
	}
	model.Training.Data = new(p.Report())
	if c.sc, err = model.scorer(p); err != nil {
		return nil, err
	}
	return model, nil
}

func linkPrepared(ctx context.Context, p *preparer, prepared []Prepared, o *LinkOptions) (*LinkResult, error) {
	start := time.Now()
	timings := map[string]time.Duration{}
	stage := func(name string, since time.Time) {
		timings[name] = time.Since(since)
	}
	progress := func(s string) {
		if o.Progress != nil {
			o.Progress(s)
		}
	}
	model := o.Model
	train := model == nil
	if model == nil {
		model = DefaultModel(p.IdentifierSystems())
	}
	workers := defaultWorkers(o.Workers)
	progress("block")
	t := time.Now()
	cands, err := findCandidates(ctx, p, prepared, model, o, workers)
	if err != nil {
		return nil, err
	}
	pairs, bs := cands.pairs, cands.bs
	stage("block", t)
	res := &LinkResult{Prepared: prepared}
	n := float64(len(prepared))
	res.Stats.Records = len(prepared)
	res.Stats.CandidatePairs = int64(pairs.n)
	if n > 1 {
		res.Stats.ReductionRatio = 1 - float64(pairs.n)/(n*(n-1)/2)
	}
	res.Stats.Rules = bs.stats
	if len(o.Truth) == len(prepared) {
		res.Stats.TruePairs, res.Stats.PairCompleteness = pairCompleteness(o.Truth, pairs)
	}
	if train {
		progress("train")
		t = time.Now()
		if model, err = cands.train(ctx, p, prepared, &o.Train); err != nil {
			return nil, err
		}
		stage("train", t)
	}
	sc := cands.sc
	cands = nil // pairs below is the only reference, dropped after scoring
	res.Model, res.Scorer = model, sc
	progress("score")
	t = time.Now()
	thr := o.Threshold
	if thr <= 0 {
		thr = model.EffectiveThreshold()
	}
	thrW := Weight(thr)
	edges, hist, guarded, unique := scoreEdges(sc, prepared, pairs, thrW, workers, o.uniqueNameDOB, o.household)
	res.Stats.GuardedPairs, res.Stats.UniqueNameDOBLinks, res.Stats.Weights = guarded, unique, hist
	if train {
		model.Training.Weights = hist
	}
	stage("score", t)
	pairs = pairList{}
	progress("cluster")
	t = time.Now()
	cl := clusterEdges(sc, prepared, edges, thrW, !o.NoChainGuard)
	stage("cluster", t)
	res.Cluster, res.Clusters = cl.cluster, cl.count
	res.Stats.LinkedPairs = len(edges)
	res.Stats.ConstraintSplits, res.Stats.ChainGuardSplits, res.Stats.ApartSplits = cl.constraint, cl.guard, cl.apart
	if o.KeepPairs {
		res.Pairs = make([]ScoredPair, len(edges))
		for k, e := range edges {
			res.Pairs[k] = ScoredPair{A: int(e.i), B: int(e.j), Weight: e.w}
		}
		slices.SortFunc(res.Pairs, func(a, b ScoredPair) int {
			return cmp.Or(cmp.Compare(a.A, b.A), cmp.Compare(a.B, b.B))
		})
	}
	timings["total"] = time.Since(start)
	res.Stats.Timings = timings
	return res, nil
}

type edge struct {
	i, j uint32
	w    float64
}

// weightOf returns the match weight of a candidate from its pattern.
func (s *Scorer) weightOf(cp *candPair, recs []Prepared) float64 {
	return s.patternWeight(cp.pat, &recs[cp.i])
}

func scoreEdges(sc *Scorer, recs []Prepared, pairs pairList, thrW float64, workers int, uniq []bool, ev *householdEvidence) ([]edge, *WeightHistogram, int, int) {
	parts := make([][]edge, workers)
	bins := make([]weightBins, workers)
	guarded := make([]int, workers)
	unique := make([]int, workers)
	done := make(chan struct{}, workers)
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for ci := w; ci < len(pairs.chunks); ci += workers {
				ch := pairs.chunks[ci]
				for k := range ch {
					cp := &ch[k]
					wt, out := judgePair(sc, recs, cp, thrW, uniq, ev)
					bins[w].add(wt)
					switch out {
					case Guarded:
						guarded[w]++
					case LinkedUnique:
						unique[w]++
						parts[w] = append(parts[w], edge{cp.i, cp.j, wt})
					case Linked:
						parts[w] = append(parts[w], edge{cp.i, cp.j, wt})
					}
				}
			}
		}()
	}
	for range workers {
		<-done
	}
	var edges []edge
	nGuarded, nUnique := 0, 0
	for w, p := range parts {
		edges = append(edges, p...)
		nGuarded += guarded[w]
		nUnique += unique[w]
	}
	// Strongest first; ties by record index, so the order and everything
	// after it are independent of the number of workers.
	sortEdges(edges)
	return edges, histogram(bins), nGuarded, nUnique
}

// clusters is the outcome of clustering.
type clusters struct {
	cluster    []int
	count      int
	constraint int
	guard      int
	apart      int
}

// chainGuardSlack is how far (in bits) below the threshold a cross pair
// may score and still count as supporting a merge.
const chainGuardSlack = 10

// chainGuardSample bounds the cross pairs examined per merge for support.
const chainGuardSample = 64

// apartBudget bounds the cross pairs examined per merge for evidence that
// the two clusters hold different people (see Scorer.apart). Person-level
// clusters are small: a merge of two clusters of 64 records each is the
// first to be checked only in part.
const apartBudget = 4096

// clusterEdges builds connected components from the edges, strongest
// first, refusing a merge that would put two different valid NHS numbers
// in one cluster or two records that are evidently different people (see
// Scorer.apart) and, with guard, a merge of two multi-record clusters
// that most cross pairs do not support.
func clusterEdges(sc *Scorer, recs []Prepared, edges []edge, thrW float64, guard bool) clusters {
	n := len(recs)
	parent := make([]int32, n)
	size := make([]int32, n)
	next := make([]int32, n) // circular member lists
	nhs := make([]uint64, n)
	for i := range n {
		parent[i], size[i], next[i], nhs[i] = int32(i), 1, int32(i), recs[i].nhs
	}
	find := func(x int32) int32 {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	var out clusters
	for _, e := range edges {
		ri, rj := find(int32(e.i)), find(int32(e.j))
		if ri == rj {
			continue
		}
		if nhs[ri] != 0 && nhs[rj] != 0 && nhs[ri] != nhs[rj] {
			out.constraint++
			continue
		}
		if size[ri]+size[rj] > 2 {
			// The edge itself passed the pair constraints; with more
			// records, every cross pair must be compatible.
			apart, support := crossPairs(sc, recs, next, ri, rj, thrW)
			if apart {
				out.apart++
				continue
			}
			if guard && !support {
				out.guard++
				continue
			}
		}
		if size[ri] < size[rj] || size[ri] == size[rj] && ri > rj {
			ri, rj = rj, ri
		}
		parent[rj] = ri
		size[ri] += size[rj]
		if nhs[ri] == 0 {
			nhs[ri] = nhs[rj]
		}
		next[ri], next[rj] = next[rj], next[ri]
	}
	out.cluster = make([]int, n)
	id := make(map[int32]int)
	for i := range n {
		r := find(int32(i))
		c, ok := id[r]
		if !ok {
			c = len(id)
			id[r] = c
		}
		out.cluster[i] = c
	}
	out.count = len(id)
	return out
}

// crossPairs examines the cross pairs between the clusters rooted at a
// and b: apart is true when any of the first apartBudget is evidently two
// different people; support is true when at least half of the first
// chainGuardSample score within chainGuardSlack bits of the threshold.
func crossPairs(sc *Scorer, recs []Prepared, next []int32, a, b int32, thrW float64) (apart, support bool) {
	total, ok, seen := 0, 0, 0
	x := a
	for {
		y := b
		for {
			pat := sc.pattern(&recs[x], &recs[y])
			if sc.apart(pat, &recs[x], &recs[y]) {
				return true, false
			}
			if total < chainGuardSample {
				total++
				if sc.patternWeight(pat, &recs[x]) >= thrW-chainGuardSlack {
					ok++
				}
			}
			seen++
			y = next[y]
			if y == b || seen >= apartBudget {
				break
			}
		}
		x = next[x]
		if x == a || seen >= apartBudget {
			break
		}
	}
	return false, 2*ok >= total
}

// String summarises the stats on one line.
func (s LinkStats) String() string {
	return fmt.Sprintf("records=%d candidate_pairs=%d reduction_ratio=%.6f linked_pairs=%d constraint_splits=%d chain_guard_splits=%d apart_splits=%d guarded_pairs=%d unique_name_dob_links=%d",
		s.Records, s.CandidatePairs, s.ReductionRatio, s.LinkedPairs, s.ConstraintSplits, s.ChainGuardSplits, s.ApartSplits, s.GuardedPairs, s.UniqueNameDOBLinks)
}

// pairCompleteness counts the true pairs given entity labels, and the
// share of them among the candidate pairs.
func pairCompleteness(truth []string, pairs pairList) (int64, float64) {
	size := map[string]int64{}
	for _, e := range truth {
		if e != "" {
			size[e]++
		}
	}
	var total, found int64
	for _, n := range size {
		total += n * (n - 1) / 2
	}
	for _, ch := range pairs.chunks {
		for _, p := range ch {
			if e := truth[p.i]; e != "" && e == truth[p.j] {
				found++
			}
		}
	}
	if total == 0 {
		return 0, 1
	}
	return total, float64(found) / float64(total)
}
