package match

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLooseSimilarityDoesNotCorroborate holds the rule behind
// minCorroborationSimilarity: two records agreeing on given name, birth
// date and sex, and on nothing else but a street that resembles the
// other's by style, stay under ConstraintNameDOBOnly however much the
// model credits the loose address level, while an address one typo apart
// still corroborates.
func TestLooseSimilarityDoesNotCorroborate(t *testing.T) {
	m := DefaultModel(nil)
	for i := range m.Comparisons {
		c := &m.Comparisons[i]
		if c.Field != "address" {
			continue
		}
		for l := range c.Levels {
			if c.Levels[l].Kind == LevelSimilarity {
				// as trained on the 1,000,000-record cohort: +2.6 bits
				c.Levels[l].M, c.Levels[l].U = 0.3, 0.05
			}
		}
	}
	p := newPreparer(nil)
	a := Record{Given: []string{"Anne"}, Family: "Leack", BirthDate: "1956-06-23", Sex: "F",
		Address: []string{"77 Beech Avenue"}, Postcode: "OX1 9BW"}
	namesake := Record{Given: []string{"Anne"}, Family: "Hamwick", BirthDate: "1956-06-23", Sex: "F",
		Address: []string{"74 Church Avenue"}, Postcode: "LS11 8WA"}
	typo := namesake
	typo.Address = []string{"77 Beach Avenue"}
	pa, pn, pt := p.Prepare(&a), p.Prepare(&namesake), p.Prepare(&typo)
	sc, err := m.scorer(p) // after Prepare: the scorer snapshots the values
	require.NoError(t, err)

	e := sc.Explain(&pa, &pn)
	level := func(e Explanation) string {
		for _, c := range e.Comparisons {
			if c.Name == "address" {
				return c.Level
			}
		}
		return ""
	}
	require.Equal(t, "jaro-winkler >= 0.75", level(e), "the case needs the loose level")
	assert.NotEmpty(t, e.Constraint, "a loose street likeness must not lift the name-and-birth-date-only constraint")
	assert.NotEqual(t, GradeCertain, e.Grade)

	e = sc.Explain(&pa, &pt)
	require.Equal(t, "jaro-winkler >= 0.90", level(e))
	assert.Empty(t, e.Constraint, "an address one typo apart corroborates")
}

// TestHouseholdConstraints holds the constraints for members of one
// household, from the false merges an independently generated cohort
// showed (benchmarks/independent): twins whose given names are only
// loosely alike, a parent and child of the same name, and two people
// whose only agreement is the household's address and family name. Each
// must be refused however the shared address weighs, and an identifier
// in common still lets the pair link.
func TestHouseholdConstraints(t *testing.T) {
	home := Record{Family: "Davies", Address: []string{"12 Mill Lane"}, Postcode: "LS6 3AB", Phone: "0113 496 0000"}
	with := func(given, dob, sex string) Record {
		r := home
		r.Given, r.BirthDate, r.Sex = []string{given}, dob, sex
		return r
	}
	noPhone := func(r Record) Record { r.Phone = ""; return r }
	phone := func(r Record, p string) Record { r.Phone = p; return r }
	for _, tc := range []struct {
		name string
		a, b Record
		want Constraint
	}{
		{"twins, given names loosely alike", with("Amy", "1983-04-02", "F"), with("Mary", "1983-04-02", "F"), ConstraintTwins},
		{"parent and child of one name", with("Jack", "1994-05-28", "M"), with("Jack", "2007-01-12", "M"), ConstraintHousehold},
		{"household only", with("Oliver", "1976-02-15", "M"), with("Patricia", "1977-03-19", "F"), ConstraintHousehold},
		{"one person, a birth-date typo", with("Jack", "1994-05-28", "M"), with("Jack", "1994-05-29", "M"), ConstraintNone},
		{"one person, a name typo", with("Amelia", "1983-04-02", "F"), with("Amelja", "1983-04-02", "F"), ConstraintNone},
		{"one name, a birth date missing, no phone", noPhone(with("Jack", "1994-05-28", "M")), noPhone(with("Jack", "", "M")), ConstraintHousehold},
		{"one name, birth dates a digit apart, phones disagree", phone(with("Mary", "2000-05-03", "F"), "07671 460234"),
			phone(with("Mary", "2009-05-03", "F"), "07540 704498"), ConstraintHousehold},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPreparer(nil)
			pa, pb := p.Prepare(&tc.a), p.Prepare(&tc.b)
			sc, err := DefaultModel(nil).scorer(p)
			require.NoError(t, err)
			assert.Equal(t, tc.want, sc.Constraint(&pa, &pb), "%v", sc.Explain(&pa, &pb))
			if tc.want == ConstraintNone {
				return
			}
			if tc.a.BirthDate == "" || tc.b.BirthDate == "" {
				// a phone both hold (a mobile) tells one person from a
				// relative when a birth date is missing
				a, b := tc.a, tc.b
				a.Phone, b.Phone = "07700 900123", "07700 900123"
				p := newPreparer(nil)
				pa, pb := p.Prepare(&a), p.Prepare(&b)
				sc, err := DefaultModel(nil).scorer(p)
				require.NoError(t, err)
				assert.Equal(t, ConstraintNone, sc.Constraint(&pa, &pb))
			}
			// An identifier both hold lifts the household rules (not the twins
			// rule's cluster-wide guard, which needs a disagreeing name).
			a, b := tc.a, tc.b
			a.NHSNumber, b.NHSNumber = "9434765919", "9434765919"
			p = newPreparer(nil)
			pa, pb = p.Prepare(&a), p.Prepare(&b)
			sc, err = DefaultModel(nil).scorer(p)
			require.NoError(t, err)
			assert.Equal(t, ConstraintNone, sc.Constraint(&pa, &pb))
		})
	}
}

// TestLinkReadsMissingFieldFromFile holds householdEvidence: a record
// lacking the given name (or the birth date) links to the records of its
// household key when the whole file shows one given name (one birth date)
// for that key, and stays apart when the file shows a second person
// behind it, when one source holds the key twice (or, for the given name,
// the family name and birth date twice), or when the two records disagree
// on a contact detail.
func TestLinkReadsMissingFieldFromFile(t *testing.T) {
	home := Record{Family: "Davies", Address: []string{"12 Mill Lane"}, Postcode: "LS6 3AB"}
	rec := func(src, given, dob, sex string) Record {
		r := home
		r.Source, r.BirthDate, r.Sex = src, dob, sex
		if given != "" {
			r.Given = []string{given}
		}
		return r
	}
	email := func(r Record, e string) Record { r.Email = e; return r }
	noAddress := func(r Record) Record { r.Address, r.Postcode = nil, ""; return r }
	amy := rec("gp", "Amy", "1983-04-02", "F")
	amyNoGiven := rec("hospital", "", "1983-04-02", "F")
	jack := rec("gp", "Jack", "1994-05-28", "M")
	jackNoDOB := rec("hospital", "Jack", "", "M")
	for _, tc := range []struct {
		name string
		recs []Record
		want bool // records 0 and 1 in one cluster
	}{
		{"given name missing, one given name behind the key", []Record{amy, amyNoGiven}, true},
		{"given name missing, the twin in the file", []Record{amy, amyNoGiven, rec("community", "Mary", "1983-04-02", "F")}, false},
		{"given name missing, a twin of the other sex without a given name", []Record{amy, amyNoGiven, rec("community", "", "1983-04-02", "M")}, false},
		{"given name missing, one source holds the key twice", []Record{amy, rec("gp", "", "1983-04-02", "F")}, false},
		// The nameless record's source also holds a twin of the family
		// name and birth date, without an address: two people there.
		{"given name missing, its source holds the family name and birth date twice", []Record{amy, amyNoGiven, noAddress(rec("hospital", "Mary", "1983-04-02", "F"))}, false},
		{"given name missing, e-mail addresses disagree", []Record{email(amy, "amy.d@example.org"), email(amyNoGiven, "stormcloud7@example.net")}, false},
		{"birth date missing, one birth date behind the key", []Record{jack, jackNoDOB}, true},
		{"birth date missing, a parent of one name in the file", []Record{jack, jackNoDOB, rec("community", "Jack", "1966-02-01", "M")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Link(t.Context(), tc.recs, &LinkOptions{Model: DefaultModel(nil)})
			require.NoError(t, err)
			e := res.Scorer.Explain(&res.Prepared[0], &res.Prepared[1])
			require.GreaterOrEqual(t, e.Weight, Weight(res.Model.EffectiveThreshold()), "the case needs a pair above the threshold: %v", e)
			assert.Equal(t, tc.want, res.Cluster[0] == res.Cluster[1], "%v", e)
		})
	}
}

// TestApartBirthDateAndPhone holds the cluster-wide form of the household
// rule: records of one name and address whose birth dates differ and
// whose phones disagree are two people, so a record lacking the phone and
// the postcode, which scores above the threshold with both, joins at most
// one of them.
func TestApartBirthDateAndPhone(t *testing.T) {
	mary := func(src, dob, phone, postcode string) Record {
		return Record{Source: src, Given: []string{"Mary"}, Family: "Jones", BirthDate: dob, Sex: "F",
			Address: []string{"55 Moor Street"}, Town: "Leeds", Postcode: postcode, Phone: phone}
	}
	recs := []Record{
		mary("gp", "2000-05-03", "07671 460234", "LS8 8JC"),
		mary("gp", "2009-05-03", "07540 704498", "LS8 8JC"),
		mary("ambulance", "2009-05-03", "", ""),
		mary("hospital", "2000-05-03", "07671 460234", "LS8 8JC"),
		mary("hospital", "2009-05-03", "07540 704498", "LS8 8JC"),
	}
	res, err := Link(t.Context(), recs, &LinkOptions{Model: DefaultModel(nil)})
	require.NoError(t, err)
	assert.Equal(t, res.Cluster[0], res.Cluster[3], "one Mary's records link")
	assert.Equal(t, res.Cluster[1], res.Cluster[4], "the other Mary's records link")
	assert.NotEqual(t, res.Cluster[0], res.Cluster[1], "two Marys, one cluster")
}
