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
func uniqueNameDOB(p *preparer, recs []Record, prepared []Prepared) []bool {
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

// soleField names the field a household key's records agree on alone
// (see householdEvidence).
type soleField uint8

const (
	soleNone  soleField = iota
	soleGiven           // the file shows one given name (and sex) for the pair's family name, birth date and postcode
	soleDOB             // the file shows one birth date for the pair's given name, family name and postcode
)

// householdEvidence says, per record, whether the whole file shows one
// person behind its household keys, so that a record lacking a given name
// or a birth date can be read as that person.
//
// The twins and household constraints refuse a pair when one record
// lacks the field that tells members of one household apart: the given
// name (twins share family name, birth date and address) or the birth
// date (a parent and child may share a name and an address). A batch
// linker sees the whole file: if the twin is in it, the records with
// that family name, birth date and postcode show two given names (or two
// sexes); if the parent is, the records with that name and postcode show
// two birth dates. When they show one, the missing field can only hide
// another person whose every record lacks it too. On the robustness
// sweep's nhs-0 profile (5,000 people) the two rules refused 190 of the
// 408 true pairs the linker missed, each a record without a given name
// or a birth date whose other fields all agreed.
type householdEvidence struct {
	givenKnown []bool // family name, full birth date and postcode present; that key shows one given name and one sex
	dobKnown   []bool // given name, family name and postcode present; that key shows one full birth date
}

// manyValues marks a key whose records disagree on the field counted.
const manyValues = ^uint32(0)

func newHouseholdEvidence(recs []Record, prepared []Prepared) *householdEvidence {
	type key struct{ a, b, c uint32 }
	// stats is what the records of one key show: the one value of the
	// field counted (0 none, manyValues several), likewise the sex (1 for
	// several), and the sources seen, one bit each (sources beyond 64
	// share bits, which can only refuse a lift). A source holding the key
	// twice shows two people (or a duplicate it did not merge): the key is
	// not taken for one person's.
	type stats struct {
		v     uint32
		sex   byte
		twice bool
		srcs  uint64
	}
	note := func(s *stats, v uint32, sex byte, src uint64) {
		switch {
		case v == 0:
		case s.v == 0:
			s.v = v
		case s.v != v:
			s.v = manyValues
		}
		switch {
		case sex == 0:
		case s.sex == 0:
			s.sex = sex
		case s.sex != sex:
			s.sex = 1
		}
		s.twice = s.twice || s.srcs&src != 0
		s.srcs |= src
	}
	// bornKey is the twin key without the postcode: a source holding two
	// records of one family name and birth date knows two people (twins,
	// one perhaps recorded without a given name or an address), so the
	// given name its nameless record lacks is not taken for the one the
	// twin key shows. On the robustness sweep's twins profile (1,000
	// people) a twin's only record, nameless, was linked to the other
	// twin's at their shared address: 2 false-merge pairs, 0.18% of the
	// true pairs; its source also held the other twin's record without an
	// address.
	bornKey := func(r *Prepared) (key, bool) {
		k := key{r.v[FieldFamily], r.dob, 0}
		return k, k.a != 0 && r.dob%100 != 0
	}
	// twinKey is the family name, full birth date and postcode.
	twinKey := func(r *Prepared) (key, bool) {
		k, ok := bornKey(r)
		k.c = r.v[FieldPostcode]
		return k, ok && k.c != 0
	}
	nameKey := func(r *Prepared) (key, bool) {
		k := key{r.v[FieldGiven], r.v[FieldFamily], r.v[FieldPostcode]}
		return k, k.a != 0 && k.b != 0 && k.c != 0
	}
	// One slot per key, the maps and slots sized for every record up
	// front: growing maps of pointers took 1.04 s per op against 0.61 s
	// this way (BenchmarkHouseholdEvidence, 200,000 records, one run on
	// the shared machine at load 12; about 0.25 s of CPU per op).
	sources := make(map[string]uint64)
	givens := make(map[key]int32, len(prepared))
	dobs := make(map[key]int32, len(prepared))
	borns := make(map[key]int32, len(prepared))
	slots := make([]stats, 0, 3*len(prepared))
	at := func(m map[key]int32, k key) *stats {
		x, ok := m[k]
		if !ok {
			x = int32(len(slots))
			slots = append(slots, stats{})
			m[k] = x
		}
		return &slots[x]
	}
	for i := range prepared {
		r := &prepared[i]
		src, ok := sources[recs[i].Source]
		if !ok {
			src = 1 << (len(sources) % 64)
			sources[recs[i].Source] = src
		}
		if k, ok := twinKey(r); ok {
			note(at(givens, k), r.v[FieldGiven], r.sex, src)
		}
		if k, ok := bornKey(r); ok {
			note(at(borns, k), 0, 0, src)
		}
		if k, ok := nameKey(r); ok {
			dob := r.dob
			if dob%100 == 0 {
				dob = 0 // a partial date tells nothing apart
			}
			note(at(dobs, k), dob, 0, src)
		}
	}
	ev := &householdEvidence{givenKnown: make([]bool, len(prepared)), dobKnown: make([]bool, len(prepared))}
	for i := range prepared {
		r := &prepared[i]
		if k, ok := twinKey(r); ok {
			s := slots[givens[k]]
			k.c = 0 // its born key
			ev.givenKnown[i] = s.v != 0 && s.v != manyValues && s.sex != 1 && !s.twice && !slots[borns[k]].twice
		}
		if k, ok := nameKey(r); ok {
			s := slots[dobs[k]]
			ev.dobKnown[i] = s.v != 0 && s.v != manyValues && !s.twice
		}
	}
	return ev
}

// sole returns the field the file fills in for the pair a, b (records i
// and j): the given name when both share family name, birth date and
// postcode and that key shows one given name and sex; the birth date when
// both share given name, family name and postcode and that key shows one
// birth date.
func (ev *householdEvidence) sole(i, j uint32, a, b *Prepared) soleField {
	if ev == nil || a.v[FieldFamily] != b.v[FieldFamily] || a.v[FieldPostcode] != b.v[FieldPostcode] {
		return soleNone
	}
	switch {
	case a.dob == b.dob && ev.givenKnown[i] && ev.givenKnown[j]:
		return soleGiven
	case a.v[FieldGiven] == b.v[FieldGiven] && ev.dobKnown[i] && ev.dobKnown[j]:
		return soleDOB
	}
	return soleNone
}
