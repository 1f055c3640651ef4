package match

import (
	"sync/atomic"
)

// maxExpectedNamesakes bounds, for [LinkOptions.UniqueNameDOB], the
// expected number of other people in a population the size of the file
// who share a given name, family name and birth date by chance:
// records × p(given) × p(family) × p(birth date), with the name
// frequencies counted in the file and the birth date spread evenly over
// the plausible range. At 0.01 a file of 5,000 people allows even its
// commonest names (p ≈ 0.15 and 0.1 over a century of birth dates:
// 0.002), and a file of 1,000,000 refuses every name more common than
// about 1 in 600 each.
const maxExpectedNamesakes = 0.01

// uniqueNameDOB marks the records whose given name, family name and full
// birth date (the name+DOB key) no source holds twice and whose key is
// rare enough (see maxExpectedNamesakes) that two records sharing it are
// taken for one person when nothing else can be compared.
//
// The safety argument, in full: two records that agree only on name and
// birth date are either one person or namesakes. Namesakes are ruled out
// as far as the file can rule them out: a source holding the key twice
// shows two people with it (or a duplicate that source did not merge),
// so such keys never link; and a key whose chance agreement is likely in
// a population this size never links. What the file cannot rule out are
// two namesakes each known to a single, different source; the expected
// number of those is what maxExpectedNamesakes bounds. The rule applies
// only to pairs with no other field present on both records (a phone or
// address that disagrees keeps [ConstraintNameDOBOnly]), so data with
// other fields keeps the default safety.
func uniqueNameDOB(p *Preparer, recs []Record, prepared []Prepared) []bool {
	type key struct {
		given, family, dob uint32
	}
	type keySource struct {
		k   key
		src string
	}
	keyOf := func(r *Prepared) (key, bool) {
		k := key{r.v[FieldGiven], r.v[FieldFamily], r.dob}
		return k, k.given != 0 && k.family != 0 && r.dob%100 != 0 // a full date
	}
	perSource := make(map[keySource]int)
	for i := range prepared {
		if k, ok := keyOf(&prepared[i]); ok {
			perSource[keySource{k, recs[i].Source}]++
		}
	}
	twice := make(map[key]bool)
	for ks, c := range perSource {
		if c > 1 {
			twice[ks.k] = true
		}
	}
	names := p.vocabs[FieldGiven]
	names.mu.Lock()
	defer names.mu.Unlock()
	tg, tf := float64(names.total.Load()), float64(names.total2.Load())
	rng := p.opts.BirthDates
	days := float64(rng.To.Year-rng.From.Year+1) * 365.25
	n := float64(len(prepared))
	out := make([]bool, len(prepared))
	for i := range prepared {
		k, ok := keyOf(&prepared[i])
		if !ok || twice[k] || tg == 0 || tf == 0 {
			continue
		}
		pg := float64(atomic.LoadUint32(&names.count[k.given])) / tg
		pf := float64(atomic.LoadUint32(&names.count2[k.family])) / tf
		out[i] = n*pg*pf/days < maxExpectedNamesakes
	}
	return out
}

// onlyNameDOB reports whether the pattern agrees exactly on given name,
// family name and birth date and compares no other field but sex: the
// records have nothing else both hold.
func (s *Scorer) onlyNameDOB(pat uint64) bool {
	exact := 0
	for c := range s.comps {
		cc := &s.comps[c]
		l := int(pat >> (4 * c) & 15)
		switch {
		case cc.field == FieldGiven || cc.field == FieldFamily || cc.field == FieldBirthDate:
			if l != 0 && cc.levels[l].kind == LevelExact {
				exact++
			}
		case cc.field == FieldSex || cc.field == FieldMiddle:
			if l != 0 && cc.levels[l].kind == LevelElse {
				return false
			}
		case l != 0:
			return false
		}
	}
	return exact == 3
}
