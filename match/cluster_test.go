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
	p := NewPreparer(nil)
	mk := func(given, family, dob, pc string) Prepared {
		return p.Prepare(&Record{Given: []string{given}, Family: family, BirthDate: dob, Postcode: pc})
	}
	recs := []Prepared{
		mk("oliver", "pemberton", "1984-03-07", "LS6 3AB"),
		mk("oliver", "pemberton", "1984-03-07", "LS6 3AB"),
		mk("harriet", "quill", "1991-09-09", "BD1 2AB"),
		mk("harriet", "quill", "1991-09-09", "BD1 2AB"),
	}
	sc, err := DefaultModel(nil).Scorer(p)
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
