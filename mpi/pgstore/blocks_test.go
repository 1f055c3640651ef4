package pgstore_test

import (
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/mpi"
	"github.com/carelens/carelens/mpi/pgstore"
)

// blockOracle is the blocking index as a plain map: record → its blocks.
type blockOracle map[uint32][]uint64

// want is what Blocks should return for blocks with no limit.
func (o blockOracle) want(blocks []uint64) map[uint64][]uint32 {
	out := map[uint64][]uint32{}
	for _, rec := range slices.Sorted(maps.Keys(o)) {
		for _, h := range o[rec] {
			if slices.Contains(blocks, h) {
				out[h] = append(out[h], rec)
			}
		}
	}
	return out
}

// TestBlocksAgainstOracle runs random transactions of SetBlocks against a
// map: Blocks sees the transaction's own changes before commit, a failed
// transaction changes nothing, a View sees what committed, and a block
// larger than the limit is cut to no fewer than limit records. With and
// without COPY.
func TestBlocksAgainstOracle(t *testing.T) {
	for _, copyMin := range []int{0, 1} {
		s, _ := openStore(t, &pgstore.Options{CopyThreshold: copyMin})
		rng := rand.New(rand.NewPCG(3, uint64(copyMin)))
		committed := blockOracle{}
		randomBlocks := func() []uint64 {
			var bs []uint64
			for range rng.IntN(4) {
				// A few small blocks, some hashes with the top bit set
				// (negative as bigint).
				h := uint64(rng.IntN(12))
				if rng.IntN(3) == 0 {
					h |= 1 << 63
				}
				if !slices.Contains(bs, h) {
					bs = append(bs, h)
				}
			}
			return bs
		}
		var all []uint64
		for h := range uint64(12) {
			all = append(all, h, h|1<<63)
		}
		for round := range 40 {
			mine := maps.Clone(committed)
			fail := rng.IntN(5) == 0
			err := s.Update(t.Context(), func(tx mpi.Txn) error {
				bt := tx.(mpi.BlockTxn)
				for range 1 + rng.IntN(6) {
					rec, bs := uint32(rng.IntN(30)), randomBlocks()
					require.NoError(t, bt.SetBlocks(rec, bs))
					if len(bs) == 0 {
						delete(mine, rec)
					} else {
						mine[rec] = bs
					}
				}
				got, err := bt.Blocks(all, 1000)
				require.NoError(t, err)
				assert.Equal(t, mine.want(all), got, "round %d: the transaction's own changes", round)
				if fail {
					return errors.New("rolled back")
				}
				return nil
			})
			if !fail {
				require.NoError(t, err)
				committed = mine
			}
			require.NoError(t, s.View(t.Context(), func(tx mpi.Txn) error {
				got, err := tx.(mpi.BlockTxn).Blocks(all, 1000)
				assert.Equal(t, committed.want(all), got, "round %d: committed", round)
				for _, lim := range []int{1, 2} {
					cut, err := tx.(mpi.BlockTxn).Blocks(all, lim)
					require.NoError(t, err)
					for h, recs := range committed.want(all) {
						assert.GreaterOrEqual(t, len(cut[h]), min(lim, len(recs)), "a block is cut to no fewer than the limit")
						assert.Subset(t, recs, cut[h])
					}
				}
				return err
			}))
		}
		require.ErrorIs(t, s.View(t.Context(), func(tx mpi.Txn) error { return tx.(mpi.BlockTxn).SetBlocks(1, nil) }), mpi.ErrReadOnly)
	}
}
