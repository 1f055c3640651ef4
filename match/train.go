package match

import (
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
	p := NewPreparer(nil)
	prepared := p.PrepareAll(recs)
	if base == nil {
		base = DefaultModel(p.IdentifierSystems())
	}
	lo := LinkOptions{Model: base}
	if o != nil {
		lo.Train = *o
	}
	res, err := linkPrepared(ctx, p, prepared, &lo, true)
	if err != nil {
		return nil, err
	}
	return res.Model, nil
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
		for l := 1; l < nl; l++ {
			var k int64
			for w := range workers {
				k += counts[w][c][l]
			}
			// Half a count for levels never seen, so no level has u = 0.
			u[c][l] = (float64(k) + 0.5) / (float64(nonNull) + 0.5*float64(nl-1))
		}
	}
	return u, observed, R
}

// emResult is what expectation–maximisation found.
type emResult struct {
	m          [][]float64
	lambda     float64 // share of candidate pairs that match
	iterations int
	converged  bool
}

// runEM estimates m and the candidate-set match share with u fixed.
func runEM(hist map[uint64]int64, nComps int, levels []int, m0, u [][]float64, lambda0 float64, maxIter int, fixM bool, nonMatch func(uint64) bool) emResult {
	type pat struct {
		lv       [maxComparisons]uint8
		count    float64
		nonMatch bool // a hard constraint says these pairs never match
	}
	pats := make([]pat, 0, len(hist))
	keys := make([]uint64, 0, len(hist))
	for k := range hist {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic summation order
	for _, k := range keys {
		var p pat
		for c := range nComps {
			p.lv[c] = uint8(k >> (4 * c) & 15)
		}
		p.count = float64(hist[k])
		p.nonMatch = nonMatch != nil && nonMatch(k)
		pats = append(pats, p)
	}
	m := make([][]float64, nComps)
	for c := range m {
		m[c] = slices.Clone(m0[c])
	}
	lambda := min(max(lambda0, 1e-6), 0.999)
	res := emResult{}
	acc := make([][]float64, nComps)
	for c := range acc {
		acc[c] = make([]float64, levels[c])
	}
	for it := 1; it <= maxIter; it++ {
		for c := range acc {
			clear(acc[c])
		}
		var sumG, sumN float64
		for _, p := range pats {
			lm, lu := math.Log(lambda), math.Log(1-lambda)
			for c := range nComps {
				l := p.lv[c]
				if l == 0 {
					continue
				}
				lm += math.Log(m[c][l])
				lu += math.Log(u[c][l])
			}
			g := 1 / (1 + math.Exp(lu-lm))
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
			if fixM {
				break
			}
			var tot float64
			for l := 1; l < levels[c]; l++ {
				tot += acc[c][l]
			}
			if tot <= 0 {
				continue
			}
			for l := 1; l < levels[c]; l++ {
				v := (acc[c][l] + 1e-3) / (tot + 1e-3*float64(levels[c]-1))
				v = min(max(v, 1e-6), 1)
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
func trainModel(ctx context.Context, sc *Scorer, recs []Prepared, pairs pairList, bs *blockSet, o *TrainOptions) (*Model, error) {
	base := sc.model
	u, observed, R := randomU(ctx, sc, recs, o)
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
	levels := make([]int, nc)
	for c := range sc.comps {
		mc := &base.Comparisons[sc.comps[c].mi]
		levels[c] = len(mc.Levels)
		m0[c] = make([]float64, levels[c])
		for l := range mc.Levels {
			m0[c][l] = mc.Levels[l].M
		}
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
	pooled := runEM(hist, nc, levels, m0, u, lambda0, maxIter, false, nonMatch)

	// Sessions: EM on one rule's blocks, m for the comparisons of other
	// fields only.
	sessions := o.Sessions
	if sessions == nil {
		sessions = DefaultTrainingSessions
	}
	sum := make([][]float64, nc)
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
		em := runEM(sh, nc, levels, pooled.m, u, 0.5, maxIter, false, nonMatch)
		iterations += em.iterations
		converged = converged && em.converged
		for c := range sc.comps {
			if excluded[sc.comps[c].field] {
				continue
			}
			cnt[c]++
			for l := 1; l < levels[c]; l++ {
				sum[c][l] += em.m[c][l]
			}
		}
	}
	m := pooled.m
	for c := range sc.comps {
		if cnt[c] == 0 {
			continue
		}
		for l := 1; l < levels[c]; l++ {
			m[c][l] = sum[c][l] / float64(cnt[c])
		}
	}
	// The share of candidate pairs that match, with m and u now fixed.
	final := runEM(hist, nc, levels, m, u, pooled.lambda, maxIter, true, nonMatch)

	out := base.Clone()
	replaced, confirmed := givenReplaced(sc, hist)
	rate := (float64(replaced) + 0.5) / (float64(confirmed) + 1)
	out.NoTwinGuard = confirmed >= minConfirmed && rate >= twinGuardRate
	for c := range sc.comps {
		if !observed[c] {
			continue // no data for this field: keep the model's values
		}
		mc := &out.Comparisons[sc.comps[c].mi]
		for l := 1; l < levels[c]; l++ {
			mc.Levels[l].M = m[c][l]
			mc.Levels[l].U = u[c][l]
		}
	}
	prior := detPrior
	if nCand > 0 {
		prior = final.lambda * float64(nCand) / totalPairs
	}
	out.Prior = min(max(prior, 1/(totalPairs*10)), 0.5)
	out.Training = &TrainingSummary{Records: len(recs), RandomPairs: R, CandidatePairs: int(nCand),
		EMIterations: iterations, Converged: converged, DeterministicPrior: detPrior, Seed: o.Seed,
		GivenReplacedRate: rate}
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("match: trained model: %w", err)
	}
	return out, nil
}

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
