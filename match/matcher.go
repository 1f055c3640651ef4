package match

import (
	"sync"
	"sync/atomic"
)

// Thresholds are the match probabilities that grade a scored pair.
type Thresholds struct {
	// Link is where the certain grade starts: a pair at or above it, with
	// no constraint and evidence beyond name and birth date, is linked
	// automatically.
	Link float64
	// Probable is where the probable grade starts.
	Probable float64
	// Possible is where the possible grade starts; a pair below it is no
	// candidate at all.
	Possible float64
}

// Thresholds returns the model's grading thresholds: certain from its
// linking threshold but never below 0.99, probable from the linking
// threshold, possible from a tenth of it. Certain is what a service uses
// without a person's confirmation (the index links it, the viewer shows
// it), so it asks for more than the batch linker's threshold, which a
// person chose for a file they review.
func (m *Model) Thresholds() Thresholds {
	t := m.EffectiveThreshold()
	return Thresholds{Link: max(t, 0.99), Probable: t, Possible: t / 10}
}

// Verdict is a scored pair with what its grade rests on.
type Verdict struct {
	// Weight is the log2 match weight; Probability the match probability.
	Weight, Probability float64
	// Constraint is the hard constraint that forbids an automatic link,
	// or ConstraintNone: the same constraints [Link] clusters by, among
	// them [ConstraintNameDOBOnly] for a pair that nothing beyond name and
	// birth date corroborates.
	Constraint Constraint
}

// Grade grades the verdict by t: the one grading of the index, the
// viewer's search across sources and [Scorer.Explain]. Two different
// valid NHS numbers are certainly not the same person, nor is a pair
// below t.Possible. A constrained pair is at most possible, for a person
// to look at: twins and namesakes share name and birth date.
func (v Verdict) Grade(t Thresholds) Grade {
	switch {
	case v.Constraint == ConstraintNHS || v.Probability < t.Possible:
		return GradeCertainlyNot
	case v.Constraint != ConstraintNone:
		return GradePossible
	case v.Probability >= t.Link:
		return GradeCertain
	case v.Probability >= t.Probable:
		return GradeProbable
	}
	return GradePossible
}

// Verdict scores a pair and names the constraint on it, if any. It panics
// when a or b was prepared after s was made (see [Scorer]).
func (s *Scorer) Verdict(a, b *Prepared) Verdict {
	v, _ := s.Grade(a, b, Thresholds{}) // no possible threshold: the constraint is always worked out
	return v
}

// Grade scores and grades a pair by t: [Scorer.Verdict] then
// [Verdict.Grade], except that below t.Possible, where the grade is
// certainly-not whatever the constraint, the constraint is not worked out
// (the verdict says ConstraintNone). Most pairs an index compares are
// that far apart: on 327,717 records loaded into an index, working out
// every pair's constraint cost 16% more load CPU (36.9 s against 31.8 s).
func (s *Scorer) Grade(a, b *Prepared, t Thresholds) (Verdict, Grade) {
	s.mustCover(a, b)
	pat := s.pattern(a, b)
	w := s.patternWeight(pat, a)
	v := Verdict{Weight: w, Probability: Probability(w)}
	if v.Probability >= t.Possible {
		v.Constraint = s.constraint(pat, a, b)
	}
	return v, v.Grade(t)
}

// Matcher compares records prepared one at a time, as a service sees them
// (the identity index, a view-time search across sources): one model, one
// preparation, and a [Scorer] refreshed whenever a record brings a value
// the current one has not seen. It is safe for concurrent use.
type Matcher struct {
	model *Model
	prep  *preparer
	mu    sync.Mutex // serialises refreshes
	sc    atomic.Pointer[Scorer]
}

// NewMatcher returns a Matcher for m (nil: [DefaultModel]) with records
// prepared by o (nil: defaults).
func NewMatcher(m *Model, o *PrepareOptions) (*Matcher, error) {
	if m == nil {
		m = DefaultModel(nil)
	}
	mt := &Matcher{model: m, prep: newPreparer(o)}
	sc, err := m.scorer(mt.prep)
	if err != nil {
		return nil, err
	}
	mt.sc.Store(sc)
	return mt, nil
}

// Model returns the matcher's model.
func (mt *Matcher) Model() *Model { return mt.model }

// Prepare prepares r for [Matcher.Verdict] and [Matcher.BlockKeys].
func (mt *Matcher) Prepare(r *Record) *Prepared {
	p := mt.prep.Prepare(r)
	return &p
}

// PrepareAll prepares a batch of records, each source's ambiguous dates
// read in the order the whole batch shows (see [DateOrderAuto]).
func (mt *Matcher) PrepareAll(recs []Record) []*Prepared {
	ps := mt.prep.PrepareAll(recs)
	out := make([]*Prepared, len(ps))
	for i := range ps {
		out[i] = &ps[i]
	}
	return out
}

// Scorer returns a Scorer that covers every record in ps (and every record
// prepared before them).
func (mt *Matcher) Scorer(ps ...*Prepared) *Scorer {
	if sc := mt.sc.Load(); sc.coversAll(ps) {
		return sc
	}
	mt.mu.Lock()
	defer mt.mu.Unlock()
	if sc := mt.sc.Load(); sc.coversAll(ps) {
		return sc
	}
	sc, err := mt.model.scorer(mt.prep)
	if err != nil {
		panic("match: validated model failed to bind: " + err.Error())
	}
	mt.sc.Store(sc)
	return sc
}

// Verdict scores a pair of records this matcher prepared.
func (mt *Matcher) Verdict(a, b *Prepared) Verdict { return mt.Scorer(a, b).Verdict(a, b) }

// Explain scores a pair of records this matcher prepared and says why.
func (mt *Matcher) Explain(a, b *Prepared) Explanation { return mt.Scorer(a, b).Explain(a, b) }

// BlockKeys appends the hashes of p's blocking keys to dst.
func (mt *Matcher) BlockKeys(dst []uint64, p *Prepared) []uint64 {
	var keys [16]ruleKey
	for _, k := range mt.Scorer(p).appendBlockingKeys(keys[:0], p) {
		dst = append(dst, k.Hash)
	}
	return dst
}

// covers reports whether s's vocabulary snapshot holds every value of p.
func (s *Scorer) covers(p *Prepared) bool {
	for f := range Field(numFields) {
		if id := p.v[f]; id != 0 && int(id) >= len(s.views[f].strs) {
			return false
		}
	}
	return true
}

func (s *Scorer) coversAll(ps []*Prepared) bool {
	for _, p := range ps {
		if !s.covers(p) {
			return false
		}
	}
	return true
}

// mustCover panics when a or b holds a value prepared after s was made: a
// stale Scorer would score it as missing, silently. Use a new Scorer, or a
// [Matcher], which refreshes its own.
func (s *Scorer) mustCover(a, b *Prepared) {
	if !s.covers(a) || !s.covers(b) {
		panic("match: record prepared after this Scorer was made; make a new Scorer (or use a Matcher)")
	}
}
