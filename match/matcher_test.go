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
