package match

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
)

// TrainOptions configure [Train]. The zero value works.
type TrainOptions struct {
	// Seed makes random-pair sampling reproducible; training is
	// deterministic for a given seed, data and model.
	Seed uint64
	// RandomPairs is how many random pairs estimate u. Zero means four per
	// record, at least 100,000 and at most DefaultRandomPairs (and never
	// more than the data has).
	RandomPairs int
	// MaxIterations bounds expectation–maximisation. Zero means 100.
	MaxIterations int
	// Workers is the number of goroutines; zero means GOMAXPROCS.
	Workers int
	// Sessions name the blocking rules whose blocks EM is run on, one
	// session each, estimating m only for comparisons of fields the rule
	// does not block on (so the blocking does not bias them); m is then
	// averaged over the sessions that estimated it. Nil means
	// DefaultTrainingSessions. Comparisons no session estimates keep the
	// m of EM over all candidate pairs.
	Sessions []string
	// NoTwinGuard turns off [ConstraintTwins] in the trained model. The
	// guard is on unless asked: where the data shows identifier-confirmed
	// matches with different given names, training warns instead of
	// switching it off.
	NoTwinGuard bool
	// Prepare configures the preparation of the records for [Train] (the
	// plausible birth-date range, date orders per source); nil means the
	// defaults. [Link] uses [LinkOptions.Prepare] instead.
	Prepare *PrepareOptions
}

// DefaultTrainingSessions are the default [TrainOptions.Sessions].
var DefaultTrainingSessions = []string{"dob+family", "dob+given", "names"}

// DefaultRandomPairs is the default [TrainOptions.RandomPairs].
const DefaultRandomPairs = 400_000

// deterministicRecall is the share of true matches the deterministic rules
// are assumed to find when estimating the prior.
const deterministicRecall = 0.7

// Train estimates a model's parameters from unlabelled records: the
// records are prepared, blocked with the model's rules, u is estimated from
// random pairs and m and the prior by expectation–maximisation over the
// candidate pairs (with u fixed), starting from a prior found by
// deterministic rules. base may be nil for [DefaultModel]; it is not
// modified.
func Train(ctx context.Context, recs []Record, base *Model, o *TrainOptions) (*Model, error) {
	if len(recs) < 2 {
		return nil, ErrNoRecords
	}
	var po *PrepareOptions
	if o != nil {
		po = o.Prepare
	}
	p := newPreparer(po)
	prepared := p.PrepareAll(recs)
	if base == nil {
		base = DefaultModel(p.IdentifierSystems())
	}
	var to TrainOptions
	if o != nil {
		to = *o
	}
	workers := defaultWorkers(to.Workers)
	cands, err := findCandidates(ctx, p, prepared, base, &LinkOptions{}, workers)
	if err != nil {
		return nil, err
	}
	m, err := cands.train(ctx, p, prepared, &to)
	if err != nil {
		return nil, err
	}
	// Link counts the weights as it scores; Train alone scores the
	// candidates once more for the report's histogram.
	m.Training.Weights = weightHistogram(cands.sc, prepared, cands.pairs, workers)
	return m, nil
}

// randomU estimates u per comparison level from random pairs.
//
// A comparison whose field is never present in the sample is unobserved:
// its u stays the model's, and observed[c] is false.
func randomU(ctx context.Context, sc *Scorer, recs []Prepared, o *TrainOptions) (u [][]float64, observed []bool, R int) {
	n := len(recs)
	total := float64(n) * float64(n-1) / 2
	R = o.RandomPairs
	if R <= 0 {
		R = min(max(4*n, 100_000), DefaultRandomPairs)
	}
	R = int(min(float64(R), total))
	workers := defaultWorkers(o.Workers)
	counts := make([][][]int64, workers)
	// Pairs are drawn in fixed-size chunks, each from its own stream
	// seeded by (seed, chunk), so the sample does not depend on the number
	// of workers.
	const chunk = 8192
	nChunks := (R + chunk - 1) / chunk
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		counts[w] = make([][]int64, len(sc.comps))
		for c := range sc.comps {
			counts[w][c] = make([]int64, len(sc.comps[c].levels))
		}
		wg.Go(func() {
			cnt := counts[w]
			for {
				k := int(next.Add(1) - 1)
				if k >= nChunks || ctx.Err() != nil {
					return
				}
				rng := rand.New(rand.NewPCG(o.Seed, uint64(k)+1))
				for range min(chunk, R-k*chunk) {
					i := rng.IntN(n)
					j := rng.IntN(n - 1)
					if j >= i {
						j++
					}
					for c := range sc.comps {
						cnt[c][sc.level(&sc.comps[c], &recs[i], &recs[j])]++
					}
				}
			}
		})
	}
	wg.Wait()
	u = make([][]float64, len(sc.comps))
	observed = make([]bool, len(sc.comps))
	for c := range sc.comps {
		nl := len(sc.comps[c].levels)
		u[c] = make([]float64, nl)
		var nonNull int64
		for w := range workers {
			for l := 1; l < nl; l++ {
				nonNull += counts[w][c][l]
			}
		}
		if nonNull == 0 {
			for l, lv := range sc.model.Comparisons[sc.comps[c].mi].Levels {
				u[c][l] = lv.U
			}
			continue
		}
		observed[c] = true
		prior := make([]float64, nl)
		var ps float64
		for l := 1; l < nl; l++ {
			prior[l] = sc.model.Comparisons[sc.comps[c].mi].Levels[l].U
			ps += prior[l]
		}
		for l := 1; l < nl; l++ {
			var k int64
			for w := range workers {
				k += counts[w][c][l]
			}
			// A Dirichlet prior centred on the base model's u, worth
			// uPriorStrength pairs: no level has u = 0, and a tiny sample
			// (a handful of records) cannot make agreement look common.
			u[c][l] = (float64(k) + uPriorStrength*prior[l]/ps) / (float64(nonNull) + uPriorStrength)
		}
	}
	return u, observed, R
}

// emResult is what expectation–maximisation found.
type emResult struct {
	m          [][]float64
	n          []float64 // expected matching pairs with a non-null level, per comparison
	lambda     float64   // share of candidate pairs that match
	iterations int
	converged  bool
}

// emPattern is one distinct comparison pattern with its count.
type emPattern struct {
	lv       [maxComparisons]uint8
	count    float64
	logU     float64 // Σ log u over the comparisons, u conditional where it applies
	nonMatch bool    // a hard constraint says these pairs never match
}

// runEM estimates m and the candidate-set match share with u fixed. Each
// m is a posterior mode under a Dirichlet prior centred on prior[c] with
// priorStrength pseudo-pairs, so that a level the data rarely shows keeps
// a sane value instead of collapsing to zero.
func runEM(sc *Scorer, hist map[uint64]int64, levels []int, m0, prior [][]float64, u uTables, lambda0 float64, maxIter int, fixM bool, nonMatch func(uint64) bool) emResult {
	nComps := len(levels)
	keys := make([]uint64, 0, len(hist))
	for k := range hist {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic summation order
	pats := make([]emPattern, 0, len(keys))
	for _, k := range keys {
		p := emPattern{count: float64(hist[k]), nonMatch: nonMatch != nil && nonMatch(k)}
		for c := range nComps {
			p.lv[c] = uint8(k >> (4 * c) & 15)
			if p.lv[c] != 0 {
				p.logU += math.Log(u.at(sc, c, int(p.lv[c]), k))
			}
		}
		pats = append(pats, p)
	}
	m := make([][]float64, nComps)
	for c := range m {
		m[c] = slices.Clone(m0[c])
	}
	lambda := min(max(lambda0, 1e-6), 0.999)
	res := emResult{n: make([]float64, nComps)}
	acc := make([][]float64, nComps)
	for c := range acc {
		acc[c] = make([]float64, levels[c])
	}
	logM := make([][]float64, nComps)
	for c := range logM {
		logM[c] = make([]float64, levels[c])
	}
	for it := 1; it <= maxIter; it++ {
		for c := range acc {
			clear(acc[c])
			for l := 1; l < levels[c]; l++ {
				logM[c][l] = math.Log(m[c][l])
			}
		}
		var sumG, sumN float64
		lm0, lu0 := math.Log(lambda), math.Log(1-lambda)
		for i := range pats {
			p := &pats[i]
			lm := lm0
			for c := range nComps {
				if l := p.lv[c]; l != 0 {
					lm += logM[c][l]
				}
			}
			g := 1 / (1 + math.Exp(lu0+p.logU-lm))
			if p.nonMatch {
				g = 0
			}
			sumG += g * p.count
			sumN += p.count
			for c := range nComps {
				acc[c][p.lv[c]] += g * p.count
			}
		}
		delta := 0.0
		newLambda := sumG / sumN
		delta = max(delta, math.Abs(newLambda-lambda))
		lambda = min(max(newLambda, 1e-9), 1-1e-9)
		for c := range nComps {
			var tot float64
			for l := 1; l < levels[c]; l++ {
				tot += acc[c][l]
			}
			res.n[c] = tot
			if fixM || tot <= 0 {
				continue
			}
			for l := 1; l < levels[c]; l++ {
				v := (acc[c][l] + priorStrength*prior[c][l]) / (tot + priorStrength)
				delta = max(delta, math.Abs(v-m[c][l]))
				m[c][l] = v
			}
		}
		res.iterations = it
		if delta < 1e-6 {
			res.converged = true
			break
		}
	}
	res.m, res.lambda = m, lambda
	return res
}

// deterministicMatch reports whether a pattern satisfies one of the
// deterministic rules used to estimate the prior: an exact identifier (NHS
// number or other) with an agreeing name, or exact given name, family name
// and date of birth.
func deterministicMatch(sc *Scorer, pattern uint64) bool {
	exact := func(c int) bool {
		l := int(pattern >> (4 * c) & 15)
		return l > 0 && sc.comps[c].levels[l].kind == LevelExact
	}
	var given, family, dob, ident = -1, -1, -1, []int{}
	for c := range sc.comps {
		switch f := sc.comps[c].field; {
		case f == FieldGiven:
			given = c
		case f == FieldFamily:
			family = c
		case f == FieldBirthDate:
			dob = c
		case f == FieldNHSNumber || f >= FieldIdentifier:
			ident = append(ident, c)
		}
	}
	nameOK := given >= 0 && exact(given) || family >= 0 && exact(family)
	for _, c := range ident {
		if exact(c) && nameOK {
			return true
		}
	}
	return given >= 0 && family >= 0 && dob >= 0 && exact(given) && exact(family) && exact(dob)
}

// trainModel returns a copy of the scorer's model with u from random
// pairs, and m and the prior from EM over the candidate pairs.
//
// m is estimated, for each comparison, from the most independent evidence
// the data offers: first the pairs an agreeing valid identifier confirms
// (when there are at least minAnchorPairs), then EM sessions on blocking
// rules that do not block on the comparison's field, then EM over all
// candidate pairs; every estimate is shrunk towards the default model's
// m, and kept at the prior when fewer than minEvidence matching pairs
// speak for it. The estimates are then made safe (see safeLevels) and the
// training report records how each came about.
func trainModel(ctx context.Context, sc *Scorer, recs []Prepared, pairs pairList, bs *blockSet, o *TrainOptions) (*Model, error) {
	base := sc.model
	u, observed, R := randomU(ctx, sc, recs, o)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var warnings []string
	ut := uTables{u: u}
	ut.given, warnings = conditionalU(sc, recs, o.Seed)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	hist := make(map[uint64]int64)
	for _, ch := range pairs.chunks {
		for _, cp := range ch {
			hist[cp.pat]++
		}
	}
	var nCand, nDet int64
	for k, v := range hist {
		nCand += v
		if deterministicMatch(sc, k) {
			nDet += v
		}
	}
	n := float64(len(recs))
	totalPairs := n * (n - 1) / 2
	detPrior := max(float64(nDet)/deterministicRecall/totalPairs, 1/totalPairs)
	nc := len(sc.comps)
	m0 := make([][]float64, nc)
	prior := make([][]float64, nc)
	levels := make([]int, nc)
	for c := range sc.comps {
		mc := &base.Comparisons[sc.comps[c].mi]
		levels[c] = len(mc.Levels)
		m0[c] = make([]float64, levels[c])
		for l := range mc.Levels {
			m0[c][l] = mc.Levels[l].M
		}
		prior[c] = priorM(mc)
	}
	maxIter := o.MaxIterations
	if maxIter <= 0 {
		maxIter = 100
	}
	lambda0 := 0.5
	if nCand > 0 {
		lambda0 = min(0.9, detPrior*totalPairs/float64(nCand))
	}
	// Pairs with two different valid NHS numbers are never matches (the
	// clustering constraint); telling EM so keeps twins and household
	// members from inflating m for disagreeing names and numbers.
	nonMatch := func(pat uint64) bool {
		for c := range sc.comps {
			if sc.comps[c].field == FieldNHSNumber {
				l := int(pat >> (4 * c) & 15)
				if l > 0 && sc.comps[c].levels[l].kind == LevelElse {
					return true
				}
			}
		}
		return false
	}
	pooled := runEM(sc, hist, levels, m0, prior, ut, lambda0, maxIter, false, nonMatch)

	// Sessions: EM on one rule's blocks, m for the comparisons of other
	// fields only.
	sessions := o.Sessions
	if sessions == nil {
		sessions = DefaultTrainingSessions
	}
	sum := make([][]float64, nc)
	sessN := make([]float64, nc)
	cnt := make([]int, nc)
	for c := range sum {
		sum[c] = make([]float64, levels[c])
	}
	iterations := pooled.iterations
	converged := pooled.converged
	for _, name := range sessions {
		r := -1
		for i := range sc.blocks {
			if sc.blocks[i].name == name {
				r = i
			}
		}
		if r < 0 || bs == nil {
			continue
		}
		excluded := sc.ruleFields(r)
		var mask uint64
		for c := range sc.comps {
			if excluded[sc.comps[c].field] {
				mask |= 15 << (4 * c)
			}
		}
		sh := make(map[uint64]int64)
		var total int64
		keys := bs.keys[r]
		for _, ch := range pairs.chunks {
			for _, cp := range ch {
				if k := keys[cp.i]; k != 0 && k == keys[cp.j] {
					sh[cp.pat&^mask]++
					total++
				}
			}
		}
		if total < 10 {
			continue
		}
		em := runEM(sc, sh, levels, pooled.m, prior, ut, 0.5, maxIter, false, nonMatch)
		iterations += em.iterations
		converged = converged && em.converged
		for c := range sc.comps {
			if excluded[sc.comps[c].field] {
				continue
			}
			cnt[c]++
			sessN[c] += em.n[c]
			for l := 1; l < levels[c]; l++ {
				sum[c][l] += em.m[c][l]
			}
		}
	}
	anchor := anchoredM(sc, hist, levels, prior)
	contact := contactAnchoredM(sc, hist, levels, prior)
	m := pooled.m
	mFrom := make([]Estimate, nc)
	evidence := make([]float64, nc)
	// mCond[c][st] is comparison c's m given the state st of the
	// comparisons it depends on, where the confirmed pairs it was counted
	// on show enough of that state.
	mCond := make([][3][]float64, nc)
	for c := range sc.comps {
		uExact := ut.given[c]
		if uExact == nil {
			uExact = u[c]
		}
		mFrom[c], evidence[c] = EstimateEM, pooled.n[c]
		switch {
		case anchor.n[c] >= minAnchorPairs:
			m[c], mFrom[c], evidence[c] = anchor.m[c], EstimateAnchored, anchor.n[c]
			mCond[c][condExact] = anchor.conditionalM(c, condExact, uExact)
			mCond[c][condDiffers] = anchor.conditionalM(c, condDiffers, u[c])
		case contact.n[c] >= minAnchorPairs:
			m[c], mFrom[c], evidence[c] = contact.m[c], EstimateContact, contact.n[c]
			mCond[c][condExact] = contact.conditionalM(c, condExact, uExact)
			mCond[c][condDiffers] = contact.conditionalM(c, condDiffers, u[c])
		case cnt[c] > 0:
			for l := 1; l < levels[c]; l++ {
				m[c][l] = sum[c][l] / float64(cnt[c])
			}
			evidence[c] = sessN[c] / float64(cnt[c])
		}
	}
	// The share of candidate pairs that match, with m and u now fixed.
	final := runEM(sc, hist, levels, m, prior, ut, pooled.lambda, maxIter, true, nonMatch)

	out := base.Clone()
	replaced, confirmed := givenReplaced(sc, hist)
	rate := (float64(replaced) + 0.5) / (float64(confirmed) + 1)
	out.NoTwinGuard = o.NoTwinGuard
	switch {
	case o.NoTwinGuard:
		warnings = append(warnings, "the twins guard is off (asked for): a shared birth date with different given names can link")
	case confirmed >= minConfirmed && rate >= twinGuardRate:
		warnings = append(warnings, fmt.Sprintf("%.1f%% of %d identifier-confirmed pairs have different given names; "+
			"the twins guard stays on (turn it off with TrainOptions.NoTwinGuard if the data records given names unreliably)", 100*rate, confirmed))
	}
	report := make([]ComparisonReport, len(out.Comparisons))
	for i, c := range out.Comparisons {
		report[i] = ComparisonReport{Name: c.Name, Given: c.Given, Group: c.Group}
	}
	for c := range sc.comps {
		mi := sc.comps[c].mi
		mc := &out.Comparisons[mi]
		rep := &report[mi]
		rep.Pairs = evidence[c]
		from := mFrom[c]
		mc.Levels[0].UGiven = 0
		if !observed[c] {
			rep.Warnings = append(rep.Warnings, "no records have this field: default parameters kept")
			from = EstimatePrior
			for l := 1; l < levels[c]; l++ {
				u[c][l] = mc.Levels[l].U
			}
			m[c], mCond[c] = prior[c], [3][]float64{}
		} else if evidence[c] < minEvidence {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("only %.0f matching pairs: m kept at the default", evidence[c]))
			from = EstimatePrior
			m[c], mCond[c] = prior[c], [3][]float64{}
		}
		mFromL := make([]Estimate, levels[c])
		uFromL := make([]Estimate, levels[c])
		for l := 1; l < levels[c]; l++ {
			mc.Levels[l].M = m[c][l]
			mc.Levels[l].U = u[c][l]
			mc.Levels[l].UGiven, mc.Levels[l].MGiven, mc.Levels[l].MNot = 0, 0, 0
			if ut.given[c] != nil {
				mc.Levels[l].UGiven = ut.given[c][l]
			}
			if mg := mCond[c][condExact]; mg != nil {
				mc.Levels[l].MGiven = mg[l]
			}
			if mn := mCond[c][condDiffers]; mn != nil {
				mc.Levels[l].MNot = mn[l]
			}
			mFromL[l], uFromL[l] = from, EstimateRandom
			if !observed[c] {
				uFromL[l] = EstimatePrior
			}
		}
		if ut.given[c] == nil && mc.Given != "" && observed[c] {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("too few pairs agreeing on %s to estimate its dependence on it: counted as independent", mc.Given))
		}
		rep.Warnings = append(rep.Warnings, safeLevels(mc, sc.comps[c].field, mFromL)...)
		for l := 1; l < levels[c]; l++ {
			lv := mc.Levels[l]
			lr := LevelReport{Label: lv.Label, M: lv.M, U: lv.U, Weight: math.Log2(lv.M / lv.U), MFrom: mFromL[l], UFrom: uFromL[l]}
			if lv.UGiven > 0 || lv.MGiven > 0 {
				lr.MGiven, lr.UGiven = cmp.Or(lv.MGiven, lv.M), cmp.Or(lv.UGiven, lv.U)
				lr.WeightGiven = math.Log2(lr.MGiven / lr.UGiven)
			}
			if lv.MNot > 0 {
				lr.MNot, lr.WeightNot = lv.MNot, math.Log2(lv.MNot/lv.U)
			}
			rep.Levels = append(rep.Levels, lr)
		}
	}
	corroborable := false
	for c := range sc.comps {
		f := sc.comps[c].field
		corroborable = corroborable || observed[c] && !isDemographic(f) && !isArea(f)
	}
	if !corroborable {
		warnings = append(warnings, nameDOBOnlyWarning)
	}
	prior0 := detPrior
	if nCand > 0 {
		prior0 = final.lambda * float64(nCand) / totalPairs
	}
	out.Prior = min(max(prior0, 1/(totalPairs*10)), 0.5)
	out.Training = &TrainingSummary{Records: len(recs), RandomPairs: R, CandidatePairs: int(nCand),
		EMIterations: iterations, Converged: converged, DeterministicPrior: detPrior, Seed: o.Seed,
		GivenReplacedRate: rate, Comparisons: report, Warnings: warnings}
	if !converged {
		out.Training.Warnings = append(out.Training.Warnings, fmt.Sprintf("EM did not converge in %d iterations", maxIter))
	}
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("match: trained model: %w", err)
	}
	return out, nil
}

// nameDOBOnlyWarning is training's warning for data in which no record
// holds anything beyond names, birth date, sex and area: no pair can be
// corroborated ([ConstraintNameDOBOnly]), so by default none links. The
// default stays so on such files, for two reasons. The safety checklist
// (M11) forbids linking on name and birth date alone. And what
// [LinkOptions.UniqueNameDOB] merges there cannot be avoided by any rule:
// on the robustness sweep's names-dob-only profile its false merges join
// records identical on every field present (5 of 5 pairs at 5,000
// people: 0.094% of true pairs; 0.148% at 20,000, and 0.147% at 5,000
// with the cohort seed 7, above the 0.1% limit).
const nameDOBOnlyWarning = "no record holds an identifier, phone, e-mail or address: no pair links on name and birth date alone; " +
	"LinkOptions.UniqueNameDOB (carelens link --link-unique-name-dob) links a name and birth date that no source holds twice, " +
	"at the cost of merging namesakes the file cannot tell apart"

// twinGuardRate is the share of identifier-confirmed matches with wholly
// different given names at or above which different given names are
// treated as a data error rather than a sign of twins.
const twinGuardRate = 0.02

// minConfirmed is the fewest identifier-confirmed pairs needed to decide.
const minConfirmed = 100

// givenReplaced counts candidate pairs confirmed by an exact identifier
// (NHS number or other) and an exact birth date, and how many of them have
// given names at the else level.
func givenReplaced(sc *Scorer, hist map[uint64]int64) (replaced, confirmed int64) {
	for pat, n := range hist {
		var id, dob, given, givenElse bool
		for c := range sc.comps {
			cc := &sc.comps[c]
			l := int(pat >> (4 * c) & 15)
			if l == 0 {
				continue
			}
			k := cc.levels[l].kind
			switch {
			case cc.field == FieldNHSNumber || cc.field >= FieldIdentifier:
				id = id || k == LevelExact
			case cc.field == FieldBirthDate:
				dob = k == LevelExact
			case cc.field == FieldGiven:
				given, givenElse = true, k == LevelElse
			}
		}
		if id && dob && given {
			confirmed += n
			if givenElse {
				replaced += n
			}
		}
	}
	return replaced, confirmed
}

// ruleFields returns the fields blocking rule r agrees on.
func (s *Scorer) ruleFields(r int) map[Field]bool {
	out := map[Field]bool{}
	cr := &s.blocks[r]
	for k, part := range cr.parts {
		out[cr.field[k]] = true
		if part == bpNamePair {
			out[FieldFamily] = true
		}
	}
	return out
}
