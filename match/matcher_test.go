package match

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestScorerGradeIsVerdictGrade: the shortcut that skips the constraint
// below the possible threshold grades every pair as the full verdict does,
// at the model's thresholds and at stricter and looser ones.
func TestScorerGradeIsVerdictGrade(t *testing.T) {
	recs := syntheticRecords(300, 7)
	m, err := NewMatcher(nil, nil)
	require.NoError(t, err)
	ps := make([]*Prepared, len(recs))
	for i := range recs {
		ps[i] = m.Prepare(&recs[i])
	}
	sc := m.Scorer(ps...)
	th := m.Model().Thresholds()
	grades := map[Grade]int{}
	for _, t2 := range []Thresholds{th, {Link: 0.999, Probable: 0.9, Possible: 0.5}, {Link: 0.5, Probable: 0.1, Possible: 0.001}} {
		for i := range ps {
			for j := i + 1; j < len(ps); j++ {
				v, g := sc.Grade(ps[i], ps[j], t2)
				full := sc.Verdict(ps[i], ps[j])
				assert.Equal(t, full.Grade(t2), g)
				assert.Equal(t, full.Weight, v.Weight)
				grades[g]++
			}
		}
	}
	assert.Positive(t, grades[GradeCertain], "the population holds duplicates")
	assert.Positive(t, grades[GradePossible])
	assert.Positive(t, grades[GradeCertainlyNot])
}

// TestStaleScorerPanics: a Scorer made before a record was prepared refuses
// to score it rather than score its new values as missing; a Matcher
// refreshes its own.
func TestStaleScorerPanics(t *testing.T) {
	p := newPreparer(nil)
	a := p.Prepare(&Record{Given: []string{"Ada"}, Family: "Lovelace", BirthDate: "1815-12-10"})
	sc, err := DefaultModel(nil).scorer(p)
	require.NoError(t, err)
	b := p.Prepare(&Record{Given: []string{"Augusta"}, Family: "Byron", BirthDate: "1815-12-10"})
	assert.Panics(t, func() { sc.Score(&a, &b) })
	assert.Panics(t, func() { sc.Explain(&a, &b) })
	assert.NotPanics(t, func() { sc.Score(&a, &a) })

	m, err := NewMatcher(nil, nil)
	require.NoError(t, err)
	x := m.Prepare(&Record{Given: []string{"Ada"}, Family: "Lovelace", BirthDate: "1815-12-10"})
	y := m.Prepare(&Record{Given: []string{"Augusta"}, Family: "Byron", BirthDate: "1815-12-10"})
	assert.NotPanics(t, func() { m.Verdict(x, y) })
}

// TestFewValuesNoTermFrequency: a handful of records (what the viewer
// resolves one patient from) says nothing about how common a name is, so
// exact agreement is not marked down as common. One person's records with
// the same NHS number, name and birth date, at a new address with a new
// phone, are then certain; with the adjustment on two records they were
// probable (p = 0.987), waiting for a person to confirm.
func TestFewValuesNoTermFrequency(t *testing.T) {
	a := Record{Source: "gp", ID: "1", Given: []string{"Oliver"}, Family: "Pemberton", BirthDate: "1984-03-07", Sex: "M",
		Address: []string{"12 Harcourt Road"}, Postcode: "LS6 3AB", Phone: "07700 900777", NHSNumber: "9434765919"}
	b := a
	b.Source, b.ID = "hospital", "7"
	b.Address, b.Postcode, b.Phone = []string{"3 Quarry Lane"}, "YO1 7HH", "07700 900123"
	m, err := NewMatcher(nil, nil)
	require.NoError(t, err)
	ps := m.PrepareAll([]Record{a, b})
	e := m.Explain(ps[0], ps[1])
	for _, c := range e.Comparisons {
		assert.Zero(t, c.TermFrequency, "%s: two records give no frequencies", c.Name)
	}
	assert.Equal(t, GradeCertain, e.Grade, "%s", e)

	// With a population behind them, a common name is marked down again.
	pop := syntheticRecords(200, 3)
	for i := range pop {
		pop[i].Given = []string{"Oliver"}
	}
	m, err = NewMatcher(nil, nil)
	require.NoError(t, err)
	ps = m.PrepareAll(append(pop, a, b))
	e = m.Explain(ps[len(ps)-2], ps[len(ps)-1])
	for _, c := range e.Comparisons {
		if c.Name == "given name" {
			assert.Negative(t, c.TermFrequency, "Oliver is every given name here")
		}
	}
}
