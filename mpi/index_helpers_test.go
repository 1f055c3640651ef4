package mpi_test

import (
	"fmt"
	"testing"

	"github.com/carelens/carelens/nhsnumber"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/mpi/badgerstore"
	"github.com/stretchr/testify/require"
)

var (
	testGiven  = []string{"Oliver", "Amelia", "Harry", "Isla", "Jack", "Ava", "George", "Mia", "Noah", "Emily", "Leo", "Grace", "Arthur", "Sophia", "Oscar", "Lily"}
	testFamily = []string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson"}
)

// testNHS returns a valid NHS number derived from n.
func testNHS(n int) string {
	for k := n; ; k++ {
		first9 := fmt.Sprintf("4%08d", k%100000000)
		if d, ok := nhsnumber.CheckDigit(first9); ok {
			return first9 + string(d)
		}
	}
}

// testPerson returns synthetic demographics for person n (distinct for
// distinct n) as a record of source src.
func testPerson(n int, src string) match.Record {
	return match.Record{
		Source:    src,
		ID:        fmt.Sprintf("%s-%d", src, n),
		Given:     []string{testGiven[n%len(testGiven)]},
		Family:    testFamily[(n/len(testGiven))%len(testFamily)],
		BirthDate: fmt.Sprintf("%04d-%02d-%02d", 1930+n%70, 1+(n/7)%12, 2+(n/3)%27),
		Sex:       []string{"F", "M"}[n%2],
		Address:   []string{fmt.Sprintf("%d High Street", 1+n%97)},
		Postcode:  fmt.Sprintf("LS%d %dAB", 1+n%28, n%10),
		Phone:     fmt.Sprintf("07700 %06d", 100000+n),
	}
}

func openMem(t testing.TB) *mpi.Index {
	t.Helper()
	ix, err := mpi.OpenIndex(t.Context(), mpi.NewMemoryStore(), nil)
	require.NoError(t, err)
	return ix
}

func openBadger(t testing.TB, dir string) (*mpi.Index, *badgerstore.Store) {
	t.Helper()
	s, err := badgerstore.Open(dir, nil)
	require.NoError(t, err)
	ix, err := mpi.OpenIndex(t.Context(), s, nil)
	require.NoError(t, err)
	return ix, s
}

func add(t testing.TB, ix *mpi.Index, r match.Record) string {
	t.Helper()
	p, err := ix.Add(t.Context(), r)
	require.NoError(t, err)
	return p
}

func personOf(t testing.TB, ix *mpi.Index, r match.Record) string {
	t.Helper()
	p, err := ix.PersonOf(t.Context(), r.Ref())
	require.NoError(t, err)
	return p
}

func events(t testing.TB, ix *mpi.Index, since uint64) []mpi.Event {
	t.Helper()
	var out []mpi.Event
	for e, err := range ix.Events(t.Context(), since) {
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}
