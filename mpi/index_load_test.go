package mpi_test

import (
	"context"
	"errors"
	"testing"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/match"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// smallTxnStore is a store that, like Badger, refuses a transaction with
// more than max writes (ErrTxnTooBig).
type smallTxnStore struct {
	mpi.Store
	max     int
	refused int
}

func (s *smallTxnStore) Update(ctx context.Context, fn func(mpi.Txn) error) error {
	return s.Store.Update(ctx, func(tx mpi.Txn) error {
		err := fn(&countingTxn{Txn: tx, left: s.max})
		if errors.Is(err, mpi.ErrTxnTooBig) {
			s.refused++
		}
		return err
	})
}

type countingTxn struct {
	mpi.Txn
	left int
}

func (t *countingTxn) Set(k, v []byte) error {
	if t.left--; t.left < 0 {
		return mpi.ErrTxnTooBig
	}
	return t.Txn.Set(k, v)
}

// TestIndexLoadSplitsBatchesTooBigForTheStore loads with batches larger
// than the store takes at once: the load halves them, adds every record,
// and assigns the persons a load into an unlimited store assigns.
func TestIndexLoadSplitsBatchesTooBigForTheStore(t *testing.T) {
	var recs []match.Record
	for n := range 60 {
		for _, src := range []string{"gp", "hospital", "community"} {
			if (n+len(src))%4 != 0 {
				recs = append(recs, testPerson(n, src))
			}
		}
	}
	seq := func(yield func(match.Record, error) bool) {
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}
	tests := []struct {
		name        string
		max         int
		wantRefused bool
	}{
		{name: "unlimited", max: 1 << 30},
		{name: "small transactions", max: 40, wantRefused: true},
	}
	var want map[string]string // record → the person of its first record
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &smallTxnStore{Store: mpi.NewMemoryStore(), max: tc.max}
			ix, err := mpi.OpenIndex(t.Context(), s, &mpi.IndexOptions{LoadBatch: 64})
			require.NoError(t, err)
			var progress []int
			n, err := ix.Load(t.Context(), seq, func(n int) { progress = append(progress, n) })
			require.NoError(t, err)
			assert.Equal(t, len(recs), n)
			require.NotEmpty(t, progress)
			assert.Equal(t, len(recs), progress[len(progress)-1])
			assert.Equal(t, tc.wantRefused, s.refused > 0)
			got := map[string]string{}
			first := map[string]string{}
			for _, r := range recs {
				p := personOf(t, ix, r)
				if _, ok := first[p]; !ok {
					first[p] = r.Ref().String()
				}
				got[r.Ref().String()] = first[p]
			}
			if want == nil {
				want = got
				return
			}
			assert.Equal(t, want, got, "the same persons")
		})
	}
}
