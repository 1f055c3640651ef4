package match

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// The constants below decide how far training trusts the data; each says
// what it guards against and what justifies its value.
const (
	// priorStrength is the weight, in pseudo-pairs, of the base model's m
	// in every estimate of m (a Dirichlet prior). With thousands of
	// matching pairs it moves an estimate by well under 1%; with a few
	// dozen it keeps a level the data never shows (a name swap, a
	// transposed date) near its default instead of at zero, which is
	// what made "swapped" and "initial" weigh -7.3 on a 1,000-record file
	// (issue 13). TestTrainSmallFileKeepsPriors pins it.
	priorStrength = 20
	// uPriorStrength is the weight, in pseudo-pairs, of the base model's u
	// in the estimate of u from random pairs: under 1% of the default
	// sample of 100,000 or more pairs, but enough that a file of a few
	// records keeps the defaults (ExampleLink trains on three).
	uPriorStrength = 1000
	// minEvidence is the fewest expected matching pairs with the field
	// present below which m is not estimated at all and the prior is
	// kept (and reported).
	minEvidence = 30
	// minAnchorPairs is the fewest identifier-confirmed pairs with the
	// field present from which m is counted directly instead of by EM.
	// An agreeing valid identifier is evidence independent of the other
	// fields, so these counts cannot drift to a "same name" class the way
	// EM did on a steep name vocabulary (issue 13); 100 pairs give each
	// level with m ≥ 0.05 a relative error under 45%.
	minAnchorPairs = 100
	// strongElseWeight is the highest weight allowed for the else level of
	// a strong field (birth date, NHS number, other identifiers, e-mail,
	// phone): values that clearly differ must count against a match by at
	// least a factor of four, whatever EM makes of the data.
	strongElseWeight = -2
	// condSample bounds the pairs drawn to estimate a dependent
	// comparison's u given agreement on the field it depends on.
	condSample = 200_000
	// minCondPairs is the fewest such pairs (clearly different people,
	// field present) needed to estimate UGiven.
	minCondPairs = 200
)

// isStrongField reports whether f identifies a person on its own when it
// agrees, so that disagreement must weigh against a match.
func isStrongField(f Field) bool {
	return f == FieldBirthDate || f == FieldNHSNumber || f == FieldEmail || f == FieldPhone || f >= FieldIdentifier
}

// priorM returns a comparison's m normalised over its non-null levels:
// the centre of the Dirichlet prior.
func priorM(c *Comparison) []float64 {
	p := make([]float64, len(c.Levels))
	var s float64
	for l := 1; l < len(c.Levels); l++ {
		p[l] = max(c.Levels[l].M, 1e-4)
		s += p[l]
	}
	for l := 1; l < len(p); l++ {
		p[l] /= s
	}
	return p
}

// uTables are the u estimates training uses: u per level, and for a
// dependent comparison u given agreement on the field it depends on
// (nil when not estimated).
type uTables struct {
	u, given [][]float64
}

// at returns comparison c's u at level l within pattern pat.
func (t uTables) at(sc *Scorer, c, l int, pat uint64) float64 {
	if g := t.given[c]; g != nil && sc.condHolds(&sc.comps[c], pat) {
		return g[l]
	}
	return t.u[c][l]
}

// condKey returns the value of field f that two records must share for
// f's comparison to be at its exact level, or 0 when missing.
func condKey(a *Prepared, f Field) uint64 {
	switch f {
	case FieldBirthDate:
		return uint64(a.dob)
	case FieldNHSNumber:
		return a.nhs
	case FieldSex:
		return uint64(a.sex)
	}
	return uint64(a.v[f])
}

// conditionalU estimates, for each comparison that depends on another
// (Comparison.Given), u given that the other agrees exactly: from random
// pairs of records sharing that value, leaving out pairs that look like
// the same person (an agreeing identifier, or an agreeing birth date with
// an agreeing or missing given name). What remains are household members,
// namesakes and neighbours: the non-matches whose agreement on the
// dependent field the plain u underestimates.
func conditionalU(sc *Scorer, recs []Prepared, seed uint64) ([][]float64, []string) {
	given := make([][]float64, len(sc.comps))
	var warnings []string
	groups := map[[2]int]map[uint64][]uint32{} // cond comparisons -> values -> records
	for c := range sc.comps {
		k := sc.comps[c].cond
		if k[0] < 0 || groups[k] != nil {
			continue
		}
		g := map[uint64][]uint32{}
		for i := range recs {
			v := condKey(&recs[i], sc.comps[k[0]].field)
			if k[1] >= 0 && v != 0 {
				if v2 := condKey(&recs[i], sc.comps[k[1]].field); v2 != 0 {
					v = mix(v, v2)
				} else {
					v = 0
				}
			}
			if v != 0 {
				g[v] = append(g[v], uint32(i))
			}
		}
		groups[k] = g
	}
	for k, g := range groups {
		keys := make([]uint64, 0, len(g))
		for v, m := range g {
			if len(m) > 1 {
				keys = append(keys, v)
			}
		}
		slices.Sort(keys)
		cum := make([]float64, len(keys))
		t := 0.0
		for i, v := range keys {
			n := float64(len(g[v]))
			t += n * (n - 1) / 2
			cum[i] = t
		}
		if len(keys) == 0 {
			continue
		}
		draws := int(min(t, condSample))
		deps := []int{}
		for c := range sc.comps {
			if sc.comps[c].cond == k {
				deps = append(deps, c)
			}
		}
		counts := make([][]float64, len(sc.comps))
		nonNull := make([]float64, len(sc.comps))
		for _, c := range deps {
			counts[c] = make([]float64, len(sc.comps[c].levels))
		}
		rng := rand.New(rand.NewPCG(seed, 0xc0d1+uint64(k[0])<<8+uint64(k[1]+1)))
		for range draws {
			x := rng.Float64() * t
			gi, _ := slices.BinarySearch(cum, x)
			gi = min(gi, len(keys)-1)
			m := g[keys[gi]]
			i := rng.IntN(len(m))
			j := rng.IntN(len(m) - 1)
			if j >= i {
				j++
			}
			a, b := &recs[m[i]], &recs[m[j]]
			pat := sc.pattern(a, b)
			if sc.likelySame(pat) {
				continue
			}
			for _, c := range deps {
				if l := int(pat >> (4 * c) & 15); l > 0 {
					counts[c][l]++
					nonNull[c]++
				}
			}
		}
		for _, c := range deps {
			nl := len(sc.comps[c].levels)
			if nonNull[c] < minCondPairs {
				continue
			}
			given[c] = make([]float64, nl)
			for l := 1; l < nl; l++ {
				given[c][l] = (counts[c][l] + 0.5) / (nonNull[c] + 0.5*float64(nl-1))
			}
		}
	}
	return given, warnings
}

// likelySame reports whether a pattern looks like one person for the
// purpose of leaving it out of a non-match sample: an identifier agrees,
// or the birth date agrees (exactly or within one digit) and the given
// name agrees or is missing.
func (s *Scorer) likelySame(pat uint64) bool {
	dob, given := false, true
	for c := range s.comps {
		cc := &s.comps[c]
		l := int(pat >> (4 * c) & 15)
		if l == 0 {
			continue
		}
		k := cc.levels[l].kind
		switch {
		case cc.field == FieldNHSNumber || cc.field >= FieldIdentifier:
			if k == LevelExact {
				return true
			}
		case cc.field == FieldBirthDate:
			dob = cc.weight[l] > 0
		case cc.field == FieldGiven:
			given = cc.weight[l] > 0
		}
	}
	return dob && given
}

// anchoredM counts m for every comparison on the candidate pairs that an
// identifier confirms: some identifier (NHS number or other) agrees
// exactly and none disagrees. A comparison is not anchored on its own
// field.
func anchoredM(sc *Scorer, hist map[uint64]int64, levels []int, prior [][]float64) *anchorCounts {
	nc := len(levels)
	return countConfirmed(sc, hist, levels, prior, func(pat uint64) func(c int) bool {
		exact, conflict := -1, false
		for c := range sc.comps {
			cc := &sc.comps[c]
			if cc.field != FieldNHSNumber && cc.field < FieldIdentifier {
				continue
			}
			l := int(pat >> (4 * c) & 15)
			switch {
			case l == 0:
			case cc.levels[l].kind == LevelExact:
				if exact < 0 {
					exact = c
				} else {
					exact = nc // two identifiers agree: anchors every comparison
				}
			default:
				conflict = true
			}
		}
		if exact < 0 || conflict {
			return nil
		}
		return func(c int) bool { return c == exact }
	})
}

// countConfirmed counts, over the pattern histogram, the levels of the
// pairs that confirm accepts, and shrinks the counts towards prior (worth
// priorStrength pairs). confirm returns nil for a pattern that is not
// confirmed, else which comparisons confirmed it (and so are not counted
// on it).
func countConfirmed(sc *Scorer, hist map[uint64]int64, levels []int, prior [][]float64,
	confirm func(pat uint64) (confirming func(c int) bool)) *anchorCounts {
	a := newAnchorCounts(levels)
	for pat, k := range hist {
		confirming := confirm(pat)
		if confirming == nil {
			continue
		}
		for c := range sc.comps {
			if !confirming(c) {
				a.add(sc, c, pat, k)
			}
		}
	}
	a.shrink(prior)
	return a
}

// anchorCounts are the level counts of comparisons over pairs that
// independent evidence confirms as matches, and the m they give.
type anchorCounts struct {
	// m is each comparison's m, shrunk towards the prior; n the pairs
	// with the comparison non-null.
	m [][]float64
	n []float64
	// byCond split the counts and pairs by the state of the comparisons
	// each depends on (condNone, condExact, condDiffers), for conditionalM.
	byCond [3][][]float64
	nCond  [3][]float64
}

func newAnchorCounts(levels []int) *anchorCounts {
	a := &anchorCounts{n: make([]float64, len(levels))}
	for st := range a.byCond {
		a.byCond[st] = make([][]float64, len(levels))
		a.nCond[st] = make([]float64, len(levels))
		for c := range levels {
			a.byCond[st][c] = make([]float64, levels[c])
		}
	}
	return a
}

// add counts k confirmed pairs with pattern pat for comparison c.
func (a *anchorCounts) add(sc *Scorer, c int, pat uint64, k int64) {
	l := int(pat >> (4 * c) & 15)
	if l == 0 {
		return
	}
	st := sc.condState(&sc.comps[c], pat)
	a.byCond[st][c][l] += float64(k)
	a.nCond[st][c] += float64(k)
	a.n[c] += float64(k)
}

// shrink sets m from the counts under a Dirichlet prior centred on prior
// with priorStrength pseudo-pairs.
func (a *anchorCounts) shrink(prior [][]float64) {
	a.m = make([][]float64, len(a.n))
	for c := range a.m {
		a.m[c] = make([]float64, len(prior[c]))
		for l := 1; l < len(prior[c]); l++ {
			var k float64
			for st := range a.byCond {
				k += a.byCond[st][c][l]
			}
			a.m[c][l] = (k + priorStrength*prior[c][l]) / (a.n[c] + priorStrength)
		}
	}
}

// conditionalM returns comparison c's m given that the comparisons it
// depends on agree exactly (st = condExact) or are compared and differ
// (condDiffers), counted on the confirmed pairs in that state; nil when
// fewer than minAnchorPairs pairs are in that state (the same minimum as
// for counting m at all: with 100 pairs a level with m ≥ 0.05 is known
// within 45%, and below that the overall m is the better guess).
//
// The counts are shrunk towards u in that state (centre), that is towards
// weight 0: the state's own pairs, not the overall m, must show that a
// level tells matches from non-matches there. Shrinking towards the
// overall m instead credited a house number shared under a different
// postcode with +1.35 bits at 20,000 people of the nhs-0 robustness
// profile, which the pairs of people who had moved did not show (they
// share the number by chance, weight ≈ 0), and linked a namesake.
func (a *anchorCounts) conditionalM(c, st int, centre []float64) []float64 {
	if a.nCond[st][c] < minAnchorPairs {
		return nil
	}
	m := make([]float64, len(centre))
	for l := 1; l < len(m); l++ {
		m[l] = (a.byCond[st][c][l] + priorStrength*centre[l]) / (a.nCond[st][c] + priorStrength)
	}
	return m
}

// contactAnchoredM counts m, like anchoredM, on the candidate pairs that
// several rare fields confirm when no identifier does: given and family
// names exact and a personal contact (phone or e-mail) exact, with no
// identifier disagreeing. Twins and other household members share the
// phone but not the given name; namesakes share the names but not the
// phone or e-mail; so these pairs are the same person, and a field not
// among the confirming ones (the birth date above all) agrees or
// disagrees on them as it does for matches. This is what keeps EM's
// "same name" class out of m(date of birth) on data without identifiers
// (issue 13: at 20,000 people without NHS numbers, EM over name blocks
// put the birth date's else weight at the -2 bound and namesakes linked).
// A comparison is not anchored on a field that confirmed the pair.
func contactAnchoredM(sc *Scorer, hist map[uint64]int64, levels []int, prior [][]float64) *anchorCounts {
	return countConfirmed(sc, hist, levels, prior, func(pat uint64) func(c int) bool {
		names, conflict := 0, false
		var contacts []int
		for c := range sc.comps {
			cc := &sc.comps[c]
			l := int(pat >> (4 * c) & 15)
			exact := l > 0 && cc.levels[l].kind == LevelExact
			switch {
			case cc.field == FieldGiven || cc.field == FieldFamily:
				if exact {
					names++
				}
			case cc.field == FieldPhone || cc.field == FieldEmail:
				if exact {
					contacts = append(contacts, c)
				}
			case cc.field == FieldNHSNumber || cc.field >= FieldIdentifier:
				conflict = conflict || l > 0 && !exact
			}
		}
		if names < 2 || len(contacts) == 0 || conflict {
			return nil
		}
		return func(c int) bool {
			f := sc.comps[c].field
			// two agreeing contacts confirm each other
			return f == FieldGiven || f == FieldFamily || len(contacts) == 1 && c == contacts[0]
		}
	})
}

// safeLevels makes a comparison's estimated levels safe to score with and
// returns what it changed, in words:
//
//   - a name swap is evidence about both names at once: the given-name
//     comparison weighs it, and the family-name comparison's swap level is
//     fixed at weight 0 so the same fact is not counted (or penalised)
//     twice;
//   - the else level of a strong field weighs at most strongElseWeight;
//   - no agreement level weighs less than the else level (agreeing
//     partly is never worse evidence than disagreeing), raising m where
//     needed; m is renormalised afterwards, which lowers every weight by
//     the same amount and keeps both properties.
//
// A dependent comparison has up to three sets of m and u, one for each
// state of the comparisons it depends on (not compared: M and U; agreeing:
// MGiven and UGiven; differing: MNot and U), and the rules hold in each
// set on its own. Where u given agreement was estimated but m was not,
// MGiven starts as M, so that what makes the agreeing state safe changes
// that state only. Before, the rule was applied to M against UGiven and M
// renormalised: for the town, whose UGiven is near 1 at the exact level,
// that raised m(exact) far above 1 and crushed m(else) to 0.001 for every
// pair, so a person who had moved lost about 21 bits over the address
// fields (issue 13).
func safeLevels(c *Comparison, f Field, mFrom []Estimate) []string {
	L := len(c.Levels)
	lvs := c.Levels[1:]
	if f == FieldFamily {
		for l := range lvs {
			if lv := &lvs[l]; lv.Kind == LevelSwap {
				lv.M = lv.U
				if lv.MGiven > 0 || lv.UGiven > 0 {
					lv.MGiven = cmp.Or(lv.UGiven, lv.U)
				}
				if lv.MNot > 0 {
					lv.MNot = lv.U
				}
				mFrom[l+1] = EstimateFixed
			}
		}
	}
	given := slices.ContainsFunc(lvs, func(l Level) bool { return l.UGiven > 0 || l.MGiven > 0 })
	differs := slices.ContainsFunc(lvs, func(l Level) bool { return l.MNot > 0 })
	for l := range lvs {
		lv := &lvs[l]
		if given {
			lv.MGiven, lv.UGiven = cmp.Or(lv.MGiven, lv.M), cmp.Or(lv.UGiven, lv.U)
		}
		if differs {
			lv.MNot = cmp.Or(lv.MNot, lv.M)
		}
	}
	notes := safeState(c, "", isStrongField(f), L,
		func(l int) (*float64, float64) { return &c.Levels[l].M, c.Levels[l].U })
	if given {
		notes = append(notes, safeState(c, " when "+c.Given+" agrees", isStrongField(f), L,
			func(l int) (*float64, float64) { return &c.Levels[l].MGiven, c.Levels[l].UGiven })...)
	}
	if differs {
		notes = append(notes, safeState(c, " when "+c.Given+" differs", isStrongField(f), L,
			func(l int) (*float64, float64) { return &c.Levels[l].MNot, c.Levels[l].U })...)
	}
	return notes
}

// safeState applies safeLevels' bounds to one set of m and u of a
// comparison c with L levels: at(l) returns level l's m, to change, and u.
func safeState(c *Comparison, state string, strong bool, L int, at func(l int) (*float64, float64)) []string {
	var notes []string
	name := c.Name
	em, eu := at(L - 1)
	if strong && math.Log2(*em/eu) > strongElseWeight {
		notes = append(notes, fmt.Sprintf("%s: else weight%s %.2f bounded to %d", name, state, math.Log2(*em/eu), strongElseWeight))
		*em = eu * math.Exp2(strongElseWeight)
	}
	for l := 1; l < L-1; l++ {
		m, u := at(l)
		if math.Log2(*m/u) < math.Log2(*em/eu) {
			notes = append(notes, fmt.Sprintf("%s: level %q weighed less than else%s; raised to else", name, c.Levels[l].Label, state))
			*m = u * *em / eu
		}
	}
	var sum float64
	for l := 1; l < L; l++ {
		m, _ := at(l)
		sum += *m
	}
	if sum > 1 {
		for l := 1; l < L; l++ {
			m, _ := at(l)
			*m /= sum
		}
	}
	return notes
}
