package mpi_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/carelens/carelens/mpi"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIndexConcurrentSameNewPerson is the test trusted MPIs use: eight
// goroutines add the same new person at once, repeatedly; each round must
// end with exactly one enterprise id.
func TestIndexConcurrentSameNewPerson(t *testing.T) {
	stores := []struct {
		name   string
		open   func(t *testing.T) *mpi.Index
		rounds int
	}{
		{name: "memory", open: func(t *testing.T) *mpi.Index { return openMem(t) }, rounds: 50},
		{name: "badger", open: func(t *testing.T) *mpi.Index {
			ix, s := openBadger(t, t.TempDir())
			t.Cleanup(func() { s.Close() })
			return ix
		}, rounds: 15},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ix := st.open(t)
			for round := range st.rounds {
				const workers = 8
				n := 7000 + round
				start := make(chan struct{})
				ids := make([]string, workers)
				errs := make([]error, workers)
				var wg sync.WaitGroup
				for g := range workers {
					wg.Go(func() {
						r := testPerson(n, fmt.Sprintf("src%d", g))
						<-start
						ids[g], errs[g] = ix.Add(t.Context(), r)
					})
				}
				close(start)
				wg.Wait()
				for _, err := range errs {
					require.NoError(t, err)
				}
				distinct := map[string]bool{}
				for g := range workers {
					distinct[personOf(t, ix, testPerson(n, fmt.Sprintf("src%d", g)))] = true
				}
				require.Len(t, distinct, 1, "round %d: one person, one enterprise id", round)
				p, err := ix.Person(t.Context(), ids[0])
				require.NoError(t, err)
				assert.Len(t, p.Records, workers)
			}
		})
	}
}

// TestIndexReadersDuringWrites runs queries and lookups while two writers
// load people; run it with -race.
func TestIndexReadersDuringWrites(t *testing.T) {
	ix, s := openBadger(t, t.TempDir())
	defer s.Close()
	const people = 150
	var writers, readers sync.WaitGroup
	done := make(chan struct{})
	for w := range 2 {
		writers.Go(func() {
			for n := w; n < people; n += 2 {
				for _, src := range []string{"gp", "hospital"} {
					if _, err := ix.Add(t.Context(), testPerson(n, src)); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	var queries, found int
	var mu sync.Mutex
	for range 4 {
		readers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				cands, err := ix.Query(t.Context(), testPerson(i%people, "query"), 3)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := ix.PersonOf(t.Context(), testPerson(i%people, "gp").Ref()); err != nil && !assert.ErrorIs(t, err, mpi.ErrNotFound) {
					return
				}
				mu.Lock()
				queries++
				if len(cands) > 0 {
					found++
				}
				mu.Unlock()
			}
		})
	}
	writers.Wait()
	close(done)
	readers.Wait()
	assert.Positive(t, queries)
	for n := range people {
		assert.Equal(t, personOf(t, ix, testPerson(n, "gp")), personOf(t, ix, testPerson(n, "hospital")))
	}
	st, err := ix.Stats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 2*people, st.Records)
	assert.Equal(t, people, st.Persons)
	t.Logf("%d queries during the writes, %d found candidates", queries, found)
}
