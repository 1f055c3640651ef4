package match

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// explained returns the explanation's entry for the comparison called name.
func explained(t *testing.T, e Explanation, name string) ComparisonExplanation {
	t.Helper()
	for _, c := range e.Comparisons {
		if c.Name == name {
			return c
		}
	}
	require.Failf(t, "no comparison", "%q", name)
	return ComparisonExplanation{}
}

// TestAddressGroupCountsOnce scores pairs under the default model, whose
// address fields form one Comparison.Group, and under the same model with
// the group removed (every field independent): a move counts once, a
// household's shared address is scored exactly as before, and so is a
// pattern in which a member corroborates the pair (a house number), while
// an area (the town) or a street alike only in style leaves the move
// counted once.
func TestAddressGroupCountsOnce(t *testing.T) {
	home := Record{Given: []string{"Oliver"}, Family: "Pemberton", BirthDate: "1984-03-07", Sex: "M",
		Address: []string{"12 Harcourt Road"}, Town: "Leeds", Postcode: "LS6 3AB", Phone: "07700 900777", NHSNumber: "9434765919"}
	with := func(f func(r *Record)) *Record {
		r := home
		f(&r)
		return &r
	}
	p := newPreparer(nil)
	a := p.Prepare(&home)
	moved := p.Prepare(with(func(r *Record) {
		r.Address, r.Town, r.Postcode, r.Phone = []string{"3 Quarry Lane"}, "York", "YO1 7HH", "07700 900123"
	}))
	sister := p.Prepare(with(func(r *Record) {
		r.Given, r.Sex, r.BirthDate, r.NHSNumber, r.Phone = []string{"Harriet"}, "F", "1987-10-02", "", ""
	}))
	movedInTown := p.Prepare(with(func(r *Record) {
		r.Address, r.Postcode = []string{"3 Quarry Lane"}, "LS2 9JT"
	}))
	styleAlike := p.Prepare(with(func(r *Record) {
		r.Address, r.Town, r.Postcode = []string{"40 Hartley Road"}, "York", "YO1 7HH"
	}))
	sameNumber := p.Prepare(with(func(r *Record) {
		r.Address, r.Town, r.Postcode, r.NHSNumber = []string{"12 Quarry Lane"}, "York", "YO1 7HH", "4010232137"
	}))
	grouped := DefaultModel(nil)
	independent := grouped.Clone()
	members := map[string]bool{}
	for i := range independent.Comparisons {
		if g := independent.Comparisons[i].Group; g != "" {
			require.Equal(t, addressGroup, g)
			members[independent.Comparisons[i].Name] = true
			independent.Comparisons[i].Group = ""
		}
	}
	require.Equal(t, map[string]bool{"house number": true, "address": true, "town": true, "postcode": true, "state": true}, members)
	sg, err := grouped.scorer(p)
	require.NoError(t, err)
	si, err := independent.scorer(p)
	require.NoError(t, err)

	t.Run("a move counts once", func(t *testing.T) {
		eg, ei := sg.Explain(&a, &moved), si.Explain(&a, &moved)
		assert.InDelta(t, sg.Score(&a, &moved), eg.Weight, 1e-9, "Explain and Score agree")
		assert.InDelta(t, sg.Score(&a, &moved), sg.Score(&moved, &a), 1e-9, "symmetric")
		var sum, strongest float64
		disagreeing, counted := 0, 0
		for name := range members {
			w := explained(t, ei, name).Weight
			if w < 0 {
				disagreeing++
				sum += w
				strongest = min(strongest, w)
			}
			g := explained(t, eg, name)
			assert.Equal(t, addressGroup, g.Group)
			if g.Weight < 0 {
				counted++
				assert.InDelta(t, strongest, min(strongest, g.Weight), 1e-9)
			}
			assert.InDelta(t, w, g.Weight+g.Uncounted, 1e-9, "%s: counted or uncounted, the level's weight is its own", name)
		}
		require.GreaterOrEqual(t, disagreeing, 3, "house number, street, town and postcode all differ")
		assert.Equal(t, 1, counted, "one member carries the group's disagreement")
		assert.InDelta(t, strongest-sum, eg.Weight-ei.Weight, 1e-9, "the group's disagreement is its strongest member's weight, not the sum")
		assert.InDelta(t, explained(t, ei, "phone").Weight, explained(t, eg, "phone").Weight, 1e-9, "the phone is not of the group")
		assert.Less(t, explained(t, eg, "phone").Weight, -2.0, "a different phone still counts against the pair")
	})
	t.Run("household unchanged", func(t *testing.T) {
		// A sister at the same address agrees on every member: no
		// disagreement to fold, so the group cannot help her.
		assert.InDelta(t, si.Score(&a, &sister), sg.Score(&a, &sister), 1e-9)
		for name := range members {
			assert.Zero(t, explained(t, sg.Explain(&a, &sister), name).Uncounted, name)
		}
	})
	t.Run("a member corroborates", func(t *testing.T) {
		// One house number under another street and postcode is not a
		// move but chance (or a postcode mistyped): scored member by
		// member, exactly as without the group, so the agreeing number
		// cannot lift the other members' disagreement.
		e := sg.Explain(&a, &sameNumber)
		require.Equal(t, "exact", explained(t, e, "house number").Level)
		require.Positive(t, explained(t, e, "house number").Weight)
		assert.InDelta(t, si.Score(&a, &sameNumber), sg.Score(&a, &sameNumber), 1e-9)
		for name := range members {
			assert.Zero(t, explained(t, e, name).Uncounted, name)
		}
	})
	t.Run("a street alike only in style", func(t *testing.T) {
		// A loose likeness of the street corroborates nothing (the rule
		// of ConstraintNameDOBOnly): its weight adds, and the move still
		// counts once.
		e := sg.Explain(&a, &styleAlike)
		addr := explained(t, e, "address")
		require.Equal(t, "jaro-winkler >= 0.75", addr.Level)
		require.Positive(t, addr.Weight)
		assert.NotZero(t, explained(t, e, "house number").Uncounted+explained(t, e, "postcode").Uncounted)
		assert.Greater(t, sg.Score(&a, &styleAlike), si.Score(&a, &styleAlike))
	})
	t.Run("a move within the town", func(t *testing.T) {
		// The town is an area: its agreement does not pin the place, and
		// the rest of the move still counts once.
		eg, ei := sg.Explain(&a, &movedInTown), si.Explain(&a, &movedInTown)
		require.Equal(t, "exact", explained(t, eg, "town").Level)
		assert.Greater(t, eg.Weight, ei.Weight)
		counted := 0
		for name := range members {
			if explained(t, eg, name).Weight < 0 {
				counted++
			}
		}
		assert.Equal(t, 1, counted)
	})
}

// TestNameOnlyEmailNotCountedTwice: an e-mail address made only of its
// record's names and birth year repeats the names, so between records
// whose names differ it is not compared (whatever it would say), and
// between records with the same names, or an address with more in it,
// it is.
func TestNameOnlyEmailNotCountedTwice(t *testing.T) {
	rec := func(given, family, email string) Record {
		r := Record{Family: family, BirthDate: "1990-05-04", Email: email}
		if given != "" {
			r.Given = []string{given}
		}
		return r
	}
	tests := []struct {
		name     string
		a, b     Record
		compared bool
		reason   string
	}{
		{name: "siblings share an address made of the names", a: rec("Isla", "Elliott", "ielliott@example.com"),
			b: rec("Ian", "Elliott", "ielliott@example.com"), compared: false,
			reason: "the same address by construction: the given names' disagreement says it all"},
		{name: "a name typo carried into the address", a: rec("Isla", "Elliott", "isla.elliott@example.com"),
			b: rec("Isla", "Eliott", "isla.eliott@example.com"), compared: false,
			reason: "the address resembles the other exactly as much as the family names do"},
		{name: "namesakes", a: rec("Isla", "Elliott", "isla.elliott@example.com"),
			b: rec("Isla", "Elliott", "elliott.isla@example.org"), compared: true,
			reason: "same names: the addresses differ by format and domain, which the names do not say"},
		{name: "more than the names", a: rec("Isla", "Elliott", "isla.elliott3@example.com"),
			b: rec("Ian", "Elliott", "isla.elliott3@example.com"), compared: true,
			reason: "a number of her own: personal, and a family sharing it is the borrowed-identifier rule's case"},
		{name: "a given name missing", a: rec("", "Elliott", "elliott1990@example.com"),
			b: rec("Isla", "Elliott", "elliott1990@example.org"), compared: true,
			reason: "the address is what is left to tell twins apart"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPreparer(nil)
			a, b := p.Prepare(&tc.a), p.Prepare(&tc.b)
			sc, err := DefaultModel(nil).scorer(p)
			require.NoError(t, err)
			for _, e := range []Explanation{sc.Explain(&a, &b), sc.Explain(&b, &a)} {
				email := explained(t, e, "email")
				assert.Equal(t, tc.compared, email.LevelIndex != 0, "%s (level %s)", tc.reason, email.Level)
			}
		})
	}
}

// TestTrainingReportNamesGroup: the training report says which
// comparisons count their disagreement once.
func TestTrainingReportNamesGroup(t *testing.T) {
	m, err := Train(t.Context(), syntheticRecords(300, 3), nil, nil)
	require.NoError(t, err)
	var b strings.Builder
	require.NoError(t, m.WriteTrainingReport(&b))
	assert.Contains(t, b.String(), "\npostcode (group address: the group's disagreement counts once)")
	assert.Contains(t, b.String(), "\nhouse number (depends on postcode) (group address: the group's disagreement counts once)")
	assert.NotContains(t, b.String(), "\nphone (depends on postcode) (group")
}

// TestValidateGroups: a model may name at most maxGroups groups.
func TestValidateGroups(t *testing.T) {
	m := DefaultModel(nil)
	require.NoError(t, m.Validate())
	for i := range m.Comparisons[:maxGroups+1] {
		m.Comparisons[i].Group = string(rune('a' + i))
	}
	assert.ErrorIs(t, m.Validate(), ErrInvalidModel)
}
