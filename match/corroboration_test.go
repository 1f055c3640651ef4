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
	p := NewPreparer(nil)
	a := Record{Given: []string{"Anne"}, Family: "Leack", BirthDate: "1956-06-23", Sex: "F",
		Address: []string{"77 Beech Avenue"}, Postcode: "OX1 9BW"}
	namesake := Record{Given: []string{"Anne"}, Family: "Hamwick", BirthDate: "1956-06-23", Sex: "F",
		Address: []string{"74 Church Avenue"}, Postcode: "LS11 8WA"}
	typo := namesake
	typo.Address = []string{"77 Beach Avenue"}
	pa, pn, pt := p.Prepare(&a), p.Prepare(&namesake), p.Prepare(&typo)
	sc, err := m.Scorer(p) // after Prepare: the scorer snapshots the values
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
