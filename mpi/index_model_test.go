package mpi_test

import (
	"strings"
	"testing"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/mpi/badgerstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIndexWithModel runs the index over a model given to it, and checks that the model is kept
// with the index.
func TestIndexWithModel(t *testing.T) {
	dir := t.TempDir()
	s, err := badgerstore.Open(dir, nil)
	require.NoError(t, err)
	ix, err := mpi.OpenIndex(t.Context(), s, &mpi.IndexOptions{Model: match.DefaultModel(nil)})
	require.NoError(t, err)

	for n := range 40 {
		add(t, ix, testPerson(n, "gp"))
	}
	a := testPerson(3, "hospital")
	a.Given = []string{strings.ToUpper(a.Given[0])}
	assert.Equal(t, personOf(t, ix, testPerson(3, "gp")), add(t, ix, a), "same person across sources")

	weak := testPerson(4, "hospital")
	weak.Address, weak.Postcode, weak.Phone = nil, "", ""
	assert.NotEqual(t, personOf(t, ix, testPerson(4, "gp")), add(t, ix, weak), "name and birth date alone")

	q := testPerson(5, "query")
	cands, err := ix.Query(t.Context(), q, 3)
	require.NoError(t, err)
	require.NotEmpty(t, cands)
	assert.Equal(t, personOf(t, ix, testPerson(5, "gp")), cands[0].Person)
	assert.Equal(t, match.GradeCertain, cands[0].Grade)
	require.NoError(t, s.Close())

	// Reopened without a model, the index scores with the stored one.
	s, err = badgerstore.Open(dir, nil)
	require.NoError(t, err)
	defer s.Close()
	ix, err = mpi.OpenIndex(t.Context(), s, nil)
	require.NoError(t, err)
	b := testPerson(6, "community")
	assert.Equal(t, personOf(t, ix, testPerson(6, "gp")), add(t, ix, b))
}
