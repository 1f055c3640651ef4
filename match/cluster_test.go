package match

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClusterNHSConstraintThroughChain checks that two records with
// different valid NHS numbers never share a cluster, even when each links
// strongly to a third record without one.
func TestClusterNHSConstraintThroughChain(t *testing.T) {
	base := Record{Given: []string{"Oliver"}, Family: "Pemberton", BirthDate: "1984-03-07", Sex: "M",
		Address: []string{"12 Harcourt Road"}, Postcode: "LS6 3AB", Phone: "07700 900777"}
	a, b, c := base, base, base
	a.Source, a.ID, a.NHSNumber = "gp", "a", "9434765919"
	b.Source, b.ID = "community", "b"
	c.Source, c.ID, c.NHSNumber = "hospital", "c", "4010232137"
	recs := append(syntheticRecords(500, 4), a, b, c)
	res, err := Link(t.Context(), recs, nil)
	require.NoError(t, err)
	n := len(recs)
	assert.NotEqual(t, res.Cluster[n-3], res.Cluster[n-1], "different valid NHS numbers")
	assert.True(t, res.Cluster[n-2] == res.Cluster[n-3] || res.Cluster[n-2] == res.Cluster[n-1], "b joins one of them")
	assert.Positive(t, res.Stats.ConstraintSplits)
}

// TestChainGuard checks that two clusters joined by a single link that
// most of their cross pairs contradict are kept apart, and that the guard
// can be turned off.
func TestChainGuard(t *testing.T) {
	p := newPreparer(nil)
	mk := func(given, family, dob, pc string) Prepared {
		return p.Prepare(&Record{Given: []string{given}, Family: family, BirthDate: dob, Postcode: pc})
	}
	recs := []Prepared{
		mk("oliver", "pemberton", "1984-03-07", "LS6 3AB"),
		mk("oliver", "pemberton", "1984-03-07", "LS6 3AB"),
		mk("harriet", "quill", "1991-09-09", "BD1 2AB"),
		mk("harriet", "quill", "1991-09-09", "BD1 2AB"),
	}
	sc, err := DefaultModel(nil).scorer(p)
	require.NoError(t, err)
	thr := Weight(0.5)
	edges := []edge{{0, 1, 50}, {2, 3, 50}, {1, 2, thr + 1}} // one weak bridge
	guarded := clusterEdges(sc, recs, edges, thr, true)
	assert.NotEqual(t, guarded.cluster[0], guarded.cluster[3])
	assert.Equal(t, 1, guarded.guard)
	plain := clusterEdges(sc, recs, edges, thr, false)
	assert.Equal(t, plain.cluster[0], plain.cluster[3])
	assert.Equal(t, 1, plain.count)
}

// TestTrainDeterministic checks that training gives the same model for the
// same seed and data.
func TestTrainDeterministic(t *testing.T) {
	recs := syntheticRecords(1500, 8)
	m1, err := Train(t.Context(), recs, nil, &TrainOptions{Seed: 42})
	require.NoError(t, err)
	m2, err := Train(t.Context(), recs, nil, &TrainOptions{Seed: 42, Workers: 1})
	require.NoError(t, err)
	assert.Equal(t, m1, m2)
	assert.Greater(t, m1.Prior, 0.0)
	for _, c := range m1.Comparisons {
		for _, l := range c.Levels[1:] {
			assert.True(t, l.M > 0 && l.M <= 1 && l.U > 0 && l.U <= 1, "%s/%s", c.Name, l.Label)
		}
	}
}

// TestClusterApartThroughThird checks that twins never share a cluster
// through a third record whose given name is missing, whatever links it
// has to each, and that a missing given name on its own does not keep a
// person's records apart.
func TestClusterApartThroughThird(t *testing.T) {
	house := Record{Family: "Pemberton", BirthDate: "2019-06-17", Address: []string{"107 Harcourt Road"},
		Postcode: "LS6 3AB", Phone: "07700 900777"}
	mk := func(p *preparer, given, sex, dob string) Prepared {
		r := house
		if given != "" {
			r.Given = []string{given}
		}
		r.Sex = sex
		if dob != "" {
			r.BirthDate = dob
		}
		return p.Prepare(&r)
	}
	tests := []struct {
		name      string
		recs      func(p *preparer) []Prepared
		noTwin    bool
		together  bool
		wantApart int
		reason    string
	}{
		{name: "twins through a nameless record", together: false, wantApart: 1,
			recs: func(p *preparer) []Prepared {
				return []Prepared{mk(p, "Oliver", "M", ""), mk(p, "", "", ""), mk(p, "Harriet", "F", "")}
			},
			reason: "Oliver and Harriet share a birth date and household: twins"},
		{name: "twins through a record with a birth-date typo", together: false, wantApart: 1,
			recs: func(p *preparer) []Prepared {
				return []Prepared{mk(p, "Oliver", "M", ""), mk(p, "Oliver", "M", "2018-06-17"), mk(p, "Harriet", "F", "")}
			},
			reason: "the typo makes the bridge's own pair look like no twins; the cluster still holds both"},
		{name: "guard off", noTwin: true, together: true,
			recs: func(p *preparer) []Prepared {
				return []Prepared{mk(p, "Oliver", "M", ""), mk(p, "", "", ""), mk(p, "Harriet", "F", "")}
			},
			reason: "NoTwinGuard (FEBRL) lets the links stand"},
		{name: "one person, one record without given name", together: true,
			recs: func(p *preparer) []Prepared {
				return []Prepared{mk(p, "", "M", ""), mk(p, "Oliver", "M", ""), mk(p, "Oliver", "M", "")}
			},
			reason: "a missing given name proves nothing: it cannot veto the merge"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPreparer(nil)
			recs := tc.recs(p)
			m := DefaultModel(nil)
			m.NoTwinGuard = tc.noTwin
			sc, err := m.scorer(p)
			require.NoError(t, err)
			edges := []edge{{0, 1, 50}, {1, 2, 40}} // as if both links scored high
			cl := clusterEdges(sc, recs, edges, Weight(0.5), false)
			assert.Equal(t, tc.together, cl.cluster[0] == cl.cluster[2], tc.reason)
			assert.Equal(t, tc.wantApart, cl.apart)
		})
	}
}

// TestTwinsConstraintBirthDateTypo checks that a typo in one twin's birth
// date (one digit, day and month transposed) does not lift the twins
// guard, while birth dates years apart are left to the score.
func TestTwinsConstraintBirthDateTypo(t *testing.T) {
	p := newPreparer(nil)
	base := Record{Family: "Pemberton", Address: []string{"107 Harcourt Road"}, Postcode: "LS6 3AB", Phone: "07700 900777"}
	a, b := base, base
	a.Given, a.BirthDate = []string{"Oliver"}, "2019-06-03"
	b.Given = []string{"Harriet"}
	pa := p.Prepare(&a)
	for _, tc := range []struct {
		dob  string
		want Constraint
	}{
		{"2019-06-03", ConstraintTwins},
		{"2019-06-08", ConstraintTwins},
		{"2019-03-06", ConstraintTwins},
		// not twins, but different given names and birth dates with
		// only the household in common: never linked automatically
		{"1961-11-24", ConstraintHousehold},
	} {
		b.BirthDate = tc.dob
		pb := p.Prepare(&b)
		sc, err := DefaultModel(nil).scorer(p)
		require.NoError(t, err)
		assert.Equal(t, tc.want, sc.Constraint(&pa, &pb), tc.dob)
	}
}
