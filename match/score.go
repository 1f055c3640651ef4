package match

import (
	"fmt"
	"math"
	"strings"
	"sync/atomic"

	"github.com/carelens/carelens/match/strdist"

	"github.com/carelens/carelens/internal/invariants"
)

// compiledLevel is a level ready for the pair loop.
type compiledLevel struct {
	kind    LevelKind
	thr     float64
	cmp     Comparator
	cmpName string
}

// compiledComparison is a comparison bound to a preparer's field slots.
type compiledComparison struct {
	field  Field
	levels []compiledLevel
	weight []float64 // log2(m/u) per level; 0 for null
	// cond are the indexes of the comparisons this one depends on (-1
	// for none); when they are all at an exact level, weightGiven
	// (log2(mGiven/uGiven)) replaces weight, and when they are all
	// compared but not all exact, weightNot (log2(mNot/u)) does.
	cond        [2]int
	weightGiven []float64
	weightNot   []float64
	tf          bool
	uExact      float64
	shared      bool    // values shared by too many records count as null
	mi          int     // index of the comparison in the model
	group       int     // index of its Group among the scorer's groups; -1 for none
	maxDist     int     // largest distance threshold among the levels
	minSim      float64 // smallest similarity threshold among the levels
}

// Scorer scores pairs of records prepared by one preparer under one
// [Model]. It reads a snapshot of the preparer's vocabularies taken when
// it was made: records prepared later need a new Scorer (Model.scorer is
// cheap). A Scorer is safe for concurrent use and allocates nothing per
// pair.
type Scorer struct {
	model  *Model
	p      *preparer
	comps  []compiledComparison
	views  [numFields]vocabView
	out    vocabView
	prior  float64 // log2 prior odds
	groups int     // distinct Comparison.Group names
	limit  uint32
	blocks []compiledRule
}

// Scorer binds the model to p's vocabularies. It fails when the model is
// invalid.
func (m *Model) scorer(p *preparer) (*Scorer, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	s := &Scorer{model: m, p: p, limit: uint32(p.opts.SharedValueLimit)}
	s.prior = math.Log2(m.Prior / (1 - m.Prior))
	for f := range Field(numFields) {
		if v := p.vocabs[f]; v != nil {
			s.views[f] = v.view()
		}
	}
	s.out = p.out.view()
	groups := map[string]int{}
	for mi, c := range m.Comparisons {
		f, sys, err := parseField(c.Field)
		if err != nil {
			return nil, err
		}
		if f == FieldIdentifier {
			slot := p.identifierSlot(sys)
			if slot < 0 {
				continue // more systems than slots: this one is never compared
			}
			f += Field(slot)
			if v := p.vocabs[f]; v != nil {
				s.views[f] = v.view()
			}
		}
		cc := compiledComparison{field: f, tf: c.TermFrequency, mi: mi, cond: [2]int{-1, -1}, group: -1,
			shared: f == FieldPhone || f == FieldEmail || f >= FieldIdentifier}
		if c.Group != "" {
			g, ok := groups[c.Group]
			if !ok {
				g = len(groups)
				groups[c.Group] = g
			}
			cc.group = g
		}
		for li, l := range c.Levels {
			wg, wn := 0.0, 0.0
			if li > 0 {
				mg, ug, mn := l.MGiven, l.UGiven, l.MNot
				if mg <= 0 {
					mg = l.M
				}
				if ug <= 0 {
					ug = l.U
				}
				if mn <= 0 {
					mn = l.M
				}
				wg, wn = math.Log2(mg/ug), math.Log2(mn/l.U)
			}
			cc.weightGiven = append(cc.weightGiven, wg)
			cc.weightNot = append(cc.weightNot, wn)
			cl := compiledLevel{kind: l.Kind, thr: l.Threshold}
			if l.Kind == LevelSimilarity {
				cl.cmp, _ = LookupComparator(l.Comparator)
				cl.cmpName = l.Comparator
			}
			cc.levels = append(cc.levels, cl)
			w := 0.0
			if li > 0 {
				w = math.Log2(l.M / l.U)
			}
			cc.weight = append(cc.weight, w)
			if l.Kind == LevelExact {
				cc.uExact = l.U
			}
			if l.Kind == LevelSimilarity && (cc.minSim == 0 || l.Threshold < cc.minSim) {
				cc.minSim = l.Threshold
			}
			if l.Kind == LevelDistance {
				cc.maxDist = max(cc.maxDist, int(l.Threshold))
			}
		}
		s.comps = append(s.comps, cc)
	}
	s.groups = len(groups)
	for i := range s.comps {
		k := 0
		for given := range strings.SplitSeq(m.Comparisons[s.comps[i].mi].Given, "+") {
			for j := range s.comps {
				if j != i && k < 2 && given != "" && m.Comparisons[s.comps[j].mi].Field == given {
					s.comps[i].cond[k] = j
					k++
					break
				}
			}
		}
	}
	for _, r := range m.Blocking {
		cr, err := compileRule(r, p)
		if err != nil {
			return nil, err
		}
		s.blocks = append(s.blocks, cr)
	}
	return s, nil
}

// Model returns the scorer's model.
func (s *Scorer) Model() *Model { return s.model }

// Prior returns the log2 prior odds, the weight every pair starts from.
func (s *Scorer) Prior() float64 { return s.prior }

// Probability converts a match weight (log2 odds) to a probability.
func Probability(weight float64) float64 { return 1 / (1 + math.Exp2(-weight)) }

// Weight converts a match probability to a match weight (log2 odds).
func Weight(probability float64) float64 {
	return math.Log2(probability / (1 - probability))
}

// Score returns the match weight of a pair: log2 of the posterior odds
// that a and b are the same person. It allocates nothing. It panics when a
// or b was prepared after s was made (see [Scorer]).
func (s *Scorer) Score(a, b *Prepared) float64 {
	s.mustCover(a, b)
	if invariants.Enabled {
		if pa, pb := s.pattern(a, b), s.pattern(b, a); pa != pb {
			panic(fmt.Sprintf("match: asymmetric comparison levels %x vs %x", pa, pb))
		}
	}
	return s.patternWeight(s.pattern(a, b), a)
}

// levelWeight returns comparison c's weight at level l within pattern
// pat: log2(m/u); log2(mGiven/uGiven) when the comparisons c depends on
// are at an exact level; log2(mNot/u) when they are compared and not all
// exact.
func (s *Scorer) levelWeight(c int, l int, pat uint64) float64 {
	cc := &s.comps[c]
	switch s.condState(cc, pat) {
	case condExact:
		return cc.weightGiven[l]
	case condDiffers:
		return cc.weightNot[l]
	}
	return cc.weight[l]
}

// States of the comparisons a dependent comparison depends on.
const (
	condNone    = iota // no dependence, one of them is null, or one is near
	condExact          // all at their exact level
	condDiffers        // all compared, at least one at its else level
)

// condState returns the state in pat of the comparisons cc depends on.
//
// One edit apart (a mistyped postcode) counts as exact: the household
// evidence that comes with it must count once. Any other level between
// exact and else (the same district) is neither state, and such pairs are
// scored with the comparison's overall m and u: counting a move nearby as
// "differs" taught training that a street resembling the other record's
// is evidence of one person (+2.66 bits for Jaro-Winkler >= 0.75 on the
// 1,000,000-record cohort: 98 false-merge pairs instead of 84).
func (s *Scorer) condState(cc *compiledComparison, pat uint64) int {
	if cc.cond[0] < 0 {
		return condNone
	}
	st := condExact
	for _, k := range cc.cond {
		if k < 0 {
			break
		}
		lk := int(pat >> (4 * k) & 15)
		levels := s.comps[k].levels
		switch {
		case lk == 0:
			return condNone
		case levels[lk].kind == LevelExact, levels[lk].kind == LevelDistance && levels[lk].thr <= 1:
		case lk == len(levels)-1:
			st = condDiffers
		default:
			return condNone
		}
	}
	return st
}

// condHolds reports whether every comparison cc depends on is at an exact
// level in pat (false when cc depends on none).
func (s *Scorer) condHolds(cc *compiledComparison, pat uint64) bool {
	return s.condState(cc, pat) == condExact
}

// patternWeight returns the match weight of a pair with comparison
// pattern pat; a is the first record, for term frequencies. The members
// of a [Comparison.Group] that has moved (see groupState) count their
// disagreement once, at the strongest.
func (s *Scorer) patternWeight(pat uint64, a *Prepared) float64 {
	w := s.prior
	var g groupState
	for c := range s.comps {
		cc := &s.comps[c]
		l := int(pat >> (4 * c) & 15)
		lw := s.levelWeight(c, l, pat)
		if cc.group >= 0 {
			g.add(s, c, l, lw)
		} else {
			w += lw
		}
		if cc.tf && cc.levels[l].kind == LevelExact {
			w += s.tfAdjust(cc, a)
		}
	}
	for k := range s.groups {
		w += g.weight(k)
	}
	return w
}

// groupState accumulates the weights of each [Comparison.Group]'s members
// in one pair.
//
// A group has moved when some member weighs against the pair and no
// member corroborates it (see corroborates: an area such as the town, a
// loose likeness of two streets, or a weight under minCorroboration does
// not): a move changes house number, street and postcode at once, and is
// counted once, at the strongest member's negative weight. A pattern in
// which a member corroborates while others differ is not taken for a
// move (a postcode mistyped beyond one edit under the same street, or
// one house number in two places by chance), and its members add up as
// independent evidence, as they did before groups: a shared house number
// under another postcode weighs +5.4 bits untrained and lifts
// [ConstraintNameDOBOnly], and folding the other members' disagreement
// under it would let namesakes link on it.
type groupState struct {
	sum, worst [maxGroups]float64 // the members' negative weights: total and strongest
	pos        [maxGroups]float64 // the members' positive weights
	at         [maxGroups]int8    // comparison index of worst, plus one
	pinned     [maxGroups]bool    // a member corroborates the pair
}

// add counts comparison c, a group member, at level l with weight lw.
func (g *groupState) add(s *Scorer, c, l int, lw float64) {
	cc := &s.comps[c]
	k := cc.group
	switch {
	case lw < 0:
		g.sum[k] += lw
		if lw < g.worst[k] {
			g.worst[k], g.at[k] = lw, int8(c+1)
		}
	case lw > 0:
		g.pos[k] += lw
		g.pinned[k] = g.pinned[k] || corroborates(cc, &cc.levels[l], lw)
	}
}

// moved reports whether group k has moved (see groupState).
func (g *groupState) moved(k int) bool { return g.at[k] != 0 && !g.pinned[k] }

// weight returns group k's part of the match weight.
func (g *groupState) weight(k int) float64 {
	if g.moved(k) {
		return g.pos[k] + g.worst[k]
	}
	return g.pos[k] + g.sum[k]
}

// pattern returns the level index of every comparison for the pair,
// packed 4 bits per comparison in model order.
func (s *Scorer) pattern(a, b *Prepared) uint64 {
	var p uint64
	for i := range s.comps {
		p |= uint64(s.level(&s.comps[i], a, b)) << (4 * i)
	}
	return p
}

// minTFValues is the fewest values of a field from which a value's
// frequency is read for the term-frequency adjustment. In fewer, every
// value is "common": the viewer resolves one patient from the 2-8 records
// the sources return, where each name is a quarter or more of the names
// seen, and exact agreement on given and family name lost 6 bits each,
// so that one person's records with the same NHS number, name and birth
// date but a new address scored probable (p = 0.987), not certain.
const minTFValues = 100

// tfAdjust is the term-frequency adjustment for an exact agreement on a's
// value: log2(u_exact / frequency of the value), bounded to ±6 bits, once
// the field holds minTFValues values.
func (s *Scorer) tfAdjust(c *compiledComparison, a *Prepared) float64 {
	v := &s.views[c.field]
	id := a.v[c.field]
	if c.field == FieldBirthDate || c.field == FieldSex || c.field == FieldNHSNumber || int(id) >= len(v.count) {
		return 0
	}
	var n, total uint64
	if c.field == FieldFamily {
		n, total = uint64(atomic.LoadUint32(&v.count2[id])), v.v.total2.Load()
	} else {
		n, total = uint64(atomic.LoadUint32(&v.count[id])), v.v.total.Load()
	}
	if total < minTFValues || n == 0 || c.uExact <= 0 {
		return 0
	}
	tf := float64(n) / float64(total)
	adj := math.Log2(c.uExact / tf)
	return max(-6, min(6, adj))
}

func (s *Scorer) isShared(f Field, id uint32) bool {
	v := &s.views[f]
	return int(id) < len(v.count) && atomic.LoadUint32(&v.count[id]) > s.limit
}

// level returns the index of the first level of c that holds for a, b.
func (s *Scorer) level(c *compiledComparison, a, b *Prepared) int {
	f := c.field
	switch f {
	case FieldBirthDate:
		x, y := a.dob, b.dob
		if x == 0 || y == 0 {
			return 0
		}
		for li := 1; li < len(c.levels); li++ {
			if dateLevel(&c.levels[li], x, y) {
				return li
			}
		}
		return len(c.levels) - 1
	case FieldSex:
		if a.sex == 0 || b.sex == 0 {
			return 0
		}
		for li := 1; li < len(c.levels); li++ {
			k := c.levels[li].kind
			if k == LevelElse || k == LevelExact && a.sex == b.sex {
				return li
			}
		}
		return len(c.levels) - 1
	case FieldNHSNumber:
		if a.nhs == 0 || b.nhs == 0 {
			return 0
		}
		for li := 1; li < len(c.levels); li++ {
			k := c.levels[li].kind
			if k == LevelElse || k == LevelExact && a.nhs == b.nhs {
				return li
			}
		}
		return len(c.levels) - 1
	}
	x, y := a.v[f], b.v[f]
	if x == 0 || y == 0 || c.shared && (s.isShared(f, x) || s.isShared(f, y)) {
		return 0
	}
	if f == FieldEmail && nameOnlyEmails(a, b) {
		return 0
	}
	v := &s.views[f]
	if int(x) >= len(v.strs) || int(y) >= len(v.strs) {
		return 0 // prepared after this scorer was made
	}
	var (
		simCmp string
		sim    float64
		dist   = -1
	)
	for li := 1; li < len(c.levels); li++ {
		l := &c.levels[li]
		switch l.kind {
		case LevelElse:
			return li
		case LevelExact:
			// An e-mail address made only of the names is not exact
			// evidence of its own: it agrees whenever the names do (see
			// emailNameOnly); such pairs fall to the similarity level,
			// whose u given the family name is estimated from namesakes.
			if x == y && (f != FieldEmail || a.flags&flagEmailNameOnly == 0) {
				return li
			}
		case LevelAlias:
			if v.canon != nil && v.canon[x].intersects(&v.canon[y]) {
				return li
			}
		case LevelSwap:
			if (f == FieldGiven || f == FieldFamily) && swapped(v, a, b) {
				return li
			}
		case LevelPart:
			if f == FieldFamily && partMatch(a, b) {
				return li
			}
		case LevelInitial:
			sx, sy := v.strs[x], v.strs[y]
			if (len(sx) == 1 || len(sy) == 1) && sx[0] == sy[0] {
				return li
			}
		case LevelPhonetic:
			if v.phon != nil && v.phon[x] != 0 && v.phon[x] == v.phon[y] {
				return li
			}
		case LevelSimilarity:
			if x == y {
				return li
			}
			if simCmp != l.cmpName {
				simCmp = l.cmpName
				if l.cmpName == "jaro-winkler" && strdist.JaroWinklerUpper(v.strs[x], v.strs[y]) < c.minSim {
					sim = 0 // no similarity level can hold
				} else {
					sim = l.cmp.Similarity(v.strs[x], v.strs[y])
				}
			}
			if sim >= l.thr {
				return li
			}
		case LevelDistance:
			if x == y {
				return li
			}
			if dist < 0 {
				// Distances beyond the comparison's largest bound are
				// never needed: compute once, capped.
				dist = c.maxDist + 1
				if strdist.Within(v.strs[x], v.strs[y], c.maxDist) {
					dist = strdist.DamerauLevenshtein(v.strs[x], v.strs[y])
				}
			}
			if dist <= int(l.thr) {
				return li
			}
		case LevelDistrict:
			if f == FieldPostcode && samePostcodeDistrict(s, x, y) {
				return li
			}
		}
	}
	return len(c.levels) - 1
}

// nameOnlyEmails reports whether two records' e-mail addresses are both
// made only of their own names and birth years (see emailNameOnly) while
// the names differ: each address is then a function of its record's
// names, so whether the two agree, resemble each other or differ repeats
// what the name comparisons already counted (Isla and Ian Elliott both
// writing ielliott@, a typo in the family name carried into the
// address), and the e-mail is not compared. Between records with the
// same names, such addresses still differ by format and domain, as two
// namesakes' do, and are compared; so are they when a name is missing
// (the address is then what is left to tell twins apart).
func nameOnlyEmails(a, b *Prepared) bool {
	ag, af, bg, bf := a.v[FieldGiven], a.v[FieldFamily], b.v[FieldGiven], b.v[FieldFamily]
	return a.flags&b.flags&flagEmailNameOnly != 0 && ag != 0 && af != 0 && bg != 0 && bf != 0 && (ag != bg || af != bf)
}

// swapThreshold is the Jaro-Winkler similarity each crossed name must
// reach for given and family names to count as swapped.
const swapThreshold = 0.9

// swapped reports whether a's given name matches b's family name and a's
// family name matches b's given name (exactly or with a small typo).
func swapped(v *vocabView, a, b *Prepared) bool {
	ag, af, bg, bf := a.v[FieldGiven], a.v[FieldFamily], b.v[FieldGiven], b.v[FieldFamily]
	if ag == 0 || af == 0 || bg == 0 || bf == 0 || int(max(ag, af, bg, bf)) >= len(v.strs) {
		return false
	}
	if ag == bf && af == bg {
		return true
	}
	sim := func(x, y uint32) bool {
		if x == y {
			return true
		}
		sx, sy := v.strs[x], v.strs[y]
		return strdist.JaroWinklerUpper(sx, sy) >= swapThreshold && strdist.JaroWinkler(sx, sy) >= swapThreshold
	}
	return sim(ag, bf) && sim(af, bg)
}

func samePostcodeDistrict(s *Scorer, x, y uint32) bool {
	v := &s.views[FieldPostcode]
	a, b := v.strs[x], v.strs[y]
	oa, ob := postcodeDistrict(a), postcodeDistrict(b)
	return oa != "" && oa == ob
}

// postcodeDistrict returns the outward part of a canonical postcode
// without allocating: the part before the space for a UK postcode, all but
// the last character otherwise.
func postcodeDistrict(canonical string) string {
	if i := strings.IndexByte(canonical, ' '); i > 0 {
		return canonical[:i]
	}
	if len(canonical) < 2 {
		return ""
	}
	return canonical[:len(canonical)-1]
}

func partMatch(a, b *Prepared) bool {
	xs := [5]uint32{a.v[FieldFamily], a.fam1, a.fam2, a.famAlt[0], a.famAlt[1]}
	ys := [5]uint32{b.v[FieldFamily], b.fam1, b.fam2, b.famAlt[0], b.famAlt[1]}
	for _, x := range xs {
		if x == 0 {
			continue
		}
		for _, y := range ys {
			if x == y {
				return true
			}
		}
	}
	return false
}

func dateLevel(l *compiledLevel, x, y uint32) bool {
	switch l.kind {
	case LevelElse:
		return true
	case LevelExact:
		return x == y
	case LevelDistance:
		if x == y {
			return true
		}
		var bx, by [8]byte
		putDate(&bx, x)
		putDate(&by, y)
		// Each edit changes the digit multiset by at most two: a cheap
		// lower bound that rejects most pairs of unrelated dates.
		var cnt [10]int8
		for i := range 8 {
			cnt[bx[i]-'0']++
			cnt[by[i]-'0']--
		}
		diff := 0
		for _, c := range cnt {
			diff += int(max(c, -c))
		}
		if diff > 2*int(l.thr) {
			return false
		}
		return dlBytes8(&bx, &by) <= int(l.thr)
	case LevelTransposed:
		ya, ma, da := x/10000, x/100%100, x%100
		yb, mb, db := y/10000, y/100%100, y%100
		return ya == yb && ma == db && da == mb && ma != da && ma != 0 && mb != 0
	case LevelWithinYears:
		ya, yb := int(x/10000), int(y/10000)
		d := ya - yb
		if d < 0 {
			d = -d
		}
		return float64(d) <= l.thr
	}
	return false
}

func putDate(b *[8]byte, d uint32) {
	for i := 7; i >= 0; i-- {
		b[i] = byte('0' + d%10)
		d /= 10
	}
}

// dlBytes8 is Damerau–Levenshtein (optimal string alignment) for two
// eight-digit dates.
func dlBytes8(a, b *[8]byte) int {
	var d [9][9]uint8
	for i := range 9 {
		d[i][0] = uint8(i)
		d[0][i] = uint8(i)
	}
	for i := 1; i <= 8; i++ {
		for j := 1; j <= 8; j++ {
			cost := uint8(1)
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, d[i-2][j-2]+1)
			}
			d[i][j] = v
		}
	}
	return int(d[8][8])
}

// ComparisonExplanation is one comparison's part in an [Explanation].
type ComparisonExplanation struct {
	// Name is the comparison's name.
	Name string `json:"name"`
	// Level is the label of the level the pair fell at.
	Level string `json:"level"`
	// LevelIndex is that level's position.
	LevelIndex int `json:"levelIndex"`
	// Weight is log2(m/u) for that level.
	Weight float64 `json:"weight"`
	// TermFrequency is the term-frequency adjustment added (exact levels).
	TermFrequency float64 `json:"termFrequency"`
	// Group is the comparison's [Comparison.Group], if any.
	Group string `json:"group,omitempty"`
	// Uncounted is the level's weight when it is not added: its Group
	// has moved (no member corroborates the pair), it weighs against it,
	// and another member weighs more strongly, so the group's
	// disagreement is counted there, once. Weight is then 0.
	Uncounted float64 `json:"uncounted,omitempty"`
}

// Explanation says why a pair scored what it did, comparison by
// comparison. It names levels and weights, never the records' values.
type Explanation struct {
	// Prior is the log2 prior odds every pair starts from.
	Prior float64 `json:"prior"`
	// Comparisons are in model order.
	Comparisons []ComparisonExplanation `json:"comparisons"`
	// Weight is the total match weight (log2 odds).
	Weight float64 `json:"weight"`
	// Probability is the match probability.
	Probability float64 `json:"probability"`
	// Grade is the match grade at the model's threshold.
	Grade Grade `json:"grade"`
	// Constraint names a hard constraint that forbids the link ("different
	// NHS numbers"), if any.
	Constraint string `json:"constraint,omitempty"`
}

// Explain scores a pair and says why; its grade is the [Verdict]'s at the
// model's [Model.Thresholds].
func (s *Scorer) Explain(a, b *Prepared) Explanation {
	s.mustCover(a, b)
	e := Explanation{Prior: s.prior, Weight: s.prior}
	pat := s.pattern(a, b)
	var g groupState
	for i := range s.comps {
		if l := int(pat >> (4 * i) & 15); s.comps[i].group >= 0 {
			g.add(s, i, l, s.levelWeight(i, l, pat))
		}
	}
	for i := range s.comps {
		c := &s.comps[i]
		l := int(pat >> (4 * i) & 15)
		mc := &s.model.Comparisons[c.mi]
		ce := ComparisonExplanation{Name: mc.Name, Level: mc.Levels[l].Label,
			LevelIndex: l, Weight: s.levelWeight(i, l, pat), Group: mc.Group}
		if c.group >= 0 && ce.Weight < 0 && g.moved(c.group) && int(g.at[c.group]) != i+1 {
			ce.Uncounted, ce.Weight = ce.Weight, 0
		}
		if c.tf && c.levels[l].kind == LevelExact {
			ce.TermFrequency = s.tfAdjust(c, a)
		}
		e.Weight += ce.Weight + ce.TermFrequency
		e.Comparisons = append(e.Comparisons, ce)
	}
	e.Probability = Probability(e.Weight)
	v := Verdict{Weight: e.Weight, Probability: e.Probability, Constraint: s.constraint(pat, a, b)}
	e.Grade = v.Grade(s.model.Thresholds())
	e.Constraint = v.Constraint.String()
	return e
}

// String renders the explanation as an aligned table.
func (e Explanation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-22s %-28s %8s %8s\n", "comparison", "level", "weight", "tf adj")
	fmt.Fprintf(&b, "%-22s %-28s %8.2f\n", "prior", "", e.Prior)
	for _, c := range e.Comparisons {
		fmt.Fprintf(&b, "%-22s %-28s %8.2f %8.2f", c.Name, c.Level, c.Weight, c.TermFrequency)
		if c.Uncounted != 0 {
			fmt.Fprintf(&b, "  (%.2f: %s counted once)", c.Uncounted, c.Group)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "%-22s %-28s %8.2f\n", "total", "", e.Weight)
	fmt.Fprintf(&b, "probability %.6f  grade %s", e.Probability, e.Grade)
	if e.Constraint != "" {
		fmt.Fprintf(&b, "  (constraint: %s)", e.Constraint)
	}
	b.WriteByte('\n')
	return b.String()
}
