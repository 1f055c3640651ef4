package match

import (
	"bytes"
	"math"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fixturePair(tb testing.TB) (*Scorer, Prepared, Prepared, Prepared) {
	tb.Helper()
	p := newPreparer(nil)
	a := p.Prepare(&Record{Source: "gp", ID: "1", Given: []string{"Jonathan"}, Family: "Smith-Jones",
		BirthDate: "1984-03-07", Sex: "M", Postcode: "sw1a 1aa", Phone: "07700 900123", NHSNumber: "943 476 5919"})
	b := p.Prepare(&Record{Source: "hosp", ID: "9", Given: []string{"Johnathan"}, Family: "Jones",
		BirthDate: "07/03/1984", Sex: "male", Postcode: "SW1A1AA", Phone: "+44 7700 900123", NHSNumber: "9434765919"})
	c := p.Prepare(&Record{Source: "hosp", ID: "10", Given: []string{"Mary"}, Family: "Brown",
		BirthDate: "1950-11-02", Sex: "F", Postcode: "LS1 4AP", NHSNumber: "4010232137"})
	sc, err := DefaultModel(nil).scorer(p)
	require.NoError(tb, err)
	return sc, a, b, c
}

func TestScoreSeparatesMatchFromNonMatch(t *testing.T) {
	sc, a, b, c := fixturePair(t)
	assert.Greater(t, sc.Score(&a, &b), 10.0)
	assert.Less(t, sc.Score(&a, &c), -10.0)
	assert.InDelta(t, sc.Score(&a, &b), sc.Score(&b, &a), 1e-9, "symmetric")
	e := sc.Explain(&a, &b)
	assert.InDelta(t, sc.Score(&a, &b), e.Weight, 1e-9)
	assert.Equal(t, GradeCertain, e.Grade)
	ec := sc.Explain(&a, &c)
	assert.Equal(t, GradeCertainlyNot, ec.Grade)
	assert.NotEmpty(t, ec.Constraint)
}

func TestScoreNoAllocs(t *testing.T) {
	sc, a, b, c := fixturePair(t)
	assert.Zero(t, testing.AllocsPerRun(200, func() {
		_ = sc.Score(&a, &b)
		_ = sc.Score(&a, &c)
	}))
}

func TestModelJSONRoundTrip(t *testing.T) {
	m := DefaultModel([]string{"soc_sec_id"})
	var buf bytes.Buffer
	require.NoError(t, m.WriteJSON(&buf))
	got, err := ReadModel(&buf)
	require.NoError(t, err)
	assert.Equal(t, m, got)

	bad := m.Clone()
	bad.Comparisons[1].Levels[4].Comparator = "no-such-comparator"
	buf.Reset()
	require.NoError(t, bad.WriteJSON(&buf))
	_, err = ReadModel(&buf)
	assert.ErrorIs(t, err, ErrUnknownComparator)
}

func TestBlockingKeysSkipPlaceholders(t *testing.T) {
	p := newPreparer(nil)
	a := p.Prepare(&Record{Given: []string{"Baby Girl"}, Family: "Unknown", BirthDate: "1900-01-01", NHSNumber: "0000000000"})
	b := p.Prepare(&Record{Given: []string{"Baby Girl"}, Family: "Unknown", BirthDate: "1900-01-01", NHSNumber: "0000000000"})
	sc, err := DefaultModel(nil).scorer(p)
	require.NoError(t, err)
	assert.Empty(t, sc.appendBlockingKeys(nil, &a))
	assert.InDelta(t, sc.Prior(), sc.Score(&a, &b), 1e-9, "placeholders carry no weight")
	assert.True(t, a.flagsReport().PlaceholderName)
	assert.True(t, a.flagsReport().PlaceholderDate)
	assert.True(t, a.flagsReport().InvalidNHS)
}

// TestPrepareWhileScoring prepares records on some goroutines while others
// take Scorer snapshots and score records prepared earlier, as an index
// does; run with -race.
func TestPrepareWhileScoring(t *testing.T) {
	recs := syntheticRecords(300, 5)
	p := newPreparer(nil)
	m := DefaultModel(nil)
	first := make([]Prepared, 50)
	for i := range first {
		first[i] = p.Prepare(&recs[i])
	}
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := 50 + w; i < len(recs); i += 2 {
				p.Prepare(&recs[i])
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for k := range 200 {
				sc, err := m.scorer(p)
				if !assert.NoError(t, err) {
					return
				}
				a, b := &first[k%50], &first[(k*7)%50]
				// Term frequencies move while records are added (and the
				// adjustment starts at minTFValues values), so a score
				// taken now has no fixed value; it must still be a number.
				w := sc.Score(a, b)
				assert.False(t, math.IsNaN(w) || math.IsInf(w, 0), "score %v", w)
				_ = sc.appendBlockingKeys(nil, a)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, len(recs), p.Len())
	// Once the adds have stopped, the frequencies hold still and scoring
	// is symmetric again.
	sc, err := m.scorer(p)
	require.NoError(t, err)
	for i := range first {
		a, b := &first[i], &first[(i*7)%50]
		assert.InDelta(t, sc.Score(a, b), sc.Score(b, a), 1e-9, "pair %d", i)
	}
}

func TestFamilyLevels(t *testing.T) {
	tests := []struct {
		name string
		a, b Record
		want LevelKind
	}{
		{name: "exact after folding", a: Record{Family: "O'Brien"}, b: Record{Family: "OBRIEN"}, want: LevelExact},
		{name: "hyphenated part", a: Record{Family: "Smith-Jones"}, b: Record{Family: "Jones"}, want: LevelPart},
		{name: "previous name", a: Record{Family: "Hale", OtherNames: []Name{{Family: "Pemberton", Use: "maiden"}}}, b: Record{Family: "Pemberton"}, want: LevelPart},
		{name: "swapped", a: Record{Given: []string{"Oliver"}, Family: "Pemberton"}, b: Record{Given: []string{"Pemberton"}, Family: "Oliver"}, want: LevelSwap},
		{name: "typo", a: Record{Family: "Pemberton"}, b: Record{Family: "Pembreton"}, want: LevelSimilarity},
		{name: "different", a: Record{Family: "Pemberton"}, b: Record{Family: "Quill"}, want: LevelElse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPreparer(nil)
			a, b := p.Prepare(&tc.a), p.Prepare(&tc.b)
			m := DefaultModel(nil)
			sc, err := m.scorer(p)
			require.NoError(t, err)
			var family *compiledComparison
			for i := range sc.comps {
				if sc.comps[i].field == FieldFamily {
					family = &sc.comps[i]
				}
			}
			require.NotNil(t, family)
			assert.Equal(t, tc.want, family.levels[sc.level(family, &a, &b)].kind)
			assert.Equal(t, tc.want, family.levels[sc.level(family, &b, &a)].kind, "symmetric")
		})
	}
}

// TestScoreNoAllocsTrained pins zero allocations per pair for a trained
// model over many different pairs (every level kind is reached).
func TestScoreNoAllocsTrained(t *testing.T) {
	recs := syntheticRecords(400, 12)
	res, err := Link(t.Context(), recs, nil)
	require.NoError(t, err)
	sc, prep := res.Scorer, res.Prepared
	k := 0
	allocs := testing.AllocsPerRun(2000, func() {
		a, b := &prep[k%len(prep)], &prep[(k*31+7)%len(prep)]
		_ = sc.Score(a, b)
		_ = sc.pattern(a, b)
		_ = sc.Constraint(a, b)
		k++
	})
	assert.Zero(t, allocs)
}

func TestGivenAliasLevel(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"Bob", "Robert", true},
		{"Bobby", "Bob", true},
		{"Helen", "Nell", true},
		{"Eleanor", "Nell", true},
		{"Mohammed", "Muhammad", true},
		{"Helen", "Robert", false},
		{"Zbyszko", "Zbigniew", false},
	}
	for _, tc := range tests {
		t.Run(tc.a+"/"+tc.b, func(t *testing.T) {
			p := newPreparer(nil)
			a := p.Prepare(&Record{Given: []string{tc.a}})
			b := p.Prepare(&Record{Given: []string{tc.b}})
			sc, err := DefaultModel(nil).scorer(p)
			require.NoError(t, err)
			v := &sc.views[FieldGiven]
			x, y := a.v[FieldGiven], b.v[FieldGiven]
			assert.Equal(t, tc.want, v.canon[x].intersects(&v.canon[y]))
			assert.Equal(t, tc.want, v.canon[y].intersects(&v.canon[x]))
		})
	}
}
