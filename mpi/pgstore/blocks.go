package pgstore

import (
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/carelens/carelens/mpi"
)

// The index's blocking keys in SQL ([mpi.BlockTxn]): a table of (record
// number, block hash), its primary key led by a shard of the record number
// (sequential numbers spread over Shards ranges), and a secondary index on
// (block, record) that answers "which records are in these blocks" with
// index-only scans. An mpi.Index over this store then holds no block
// postings in memory, and every instance reads the same blocks.

var _ mpi.BlockTxn = (*txn)(nil)

// recShard is the shard column of record number rec in the blocks table.
func recShard(rec uint32) int16 { return int16(rec % Shards) }

// SetBlocks implements [mpi.BlockTxn]. The change is sent at commit with
// the transaction's other writes; Blocks sees it before then.
func (t *txn) SetBlocks(rec uint32, blocks []uint64) error {
	if !t.writable {
		return mpi.ErrReadOnly
	}
	if t.blocks == nil {
		t.blocks = map[uint32][]uint64{}
	}
	t.blocks[rec] = slices.Clone(blocks)
	return nil
}

// Blocks implements [mpi.BlockTxn] in one round trip: for each block, at
// most limit stored records through the block index, leaving out those
// this transaction has changed, then this transaction's own changes.
func (t *txn) Blocks(blocks []uint64, limit int) (map[uint64][]uint32, error) {
	out := make(map[uint64][]uint32, len(blocks))
	if len(blocks) == 0 {
		return out, nil
	}
	hs := make([]int64, len(blocks))
	for i, h := range blocks {
		hs[i] = int64(h)
	}
	changed := make([]int64, 0, len(t.blocks))
	for rec := range t.blocks {
		changed = append(changed, int64(rec))
	}
	rows, err := t.tx.Query(t.ctx, t.s.qBlocks, hs, limit, changed)
	if err != nil {
		return nil, t.s.translateClosed("blocks", err)
	}
	var b, r int64
	if _, err := pgx.ForEachRow(rows, []any{&b, &r}, func() error {
		out[uint64(b)] = append(out[uint64(b)], uint32(r))
		return nil
	}); err != nil {
		return nil, t.s.translateClosed("blocks", err)
	}
	for rec, bs := range t.blocks {
		for _, h := range bs {
			if slices.Contains(blocks, h) {
				out[h] = append(out[h], rec)
			}
		}
	}
	for _, recs := range out {
		slices.Sort(recs)
	}
	return out, nil
}

// flushBlocks sends the transaction's block changes: the changed records'
// rows deleted, then their new rows inserted (through COPY when many).
func (t *txn) flushBlocks() error {
	if len(t.blocks) == 0 {
		return nil
	}
	recs := slices.Sorted(func(yield func(uint32) bool) {
		for rec := range t.blocks {
			if !yield(rec) {
				return
			}
		}
	})
	var delS, insS []int16
	var delR, insR, insB []int64
	for _, rec := range recs {
		delS, delR = append(delS, recShard(rec)), append(delR, int64(rec))
		for _, h := range t.blocks[rec] {
			insS, insR, insB = append(insS, recShard(rec)), append(insR, int64(rec)), append(insB, int64(h))
		}
	}
	if _, err := t.tx.Exec(t.ctx, t.s.qBlocksDelete, delS, delR); err != nil {
		return t.s.translateClosed("blocks delete", err)
	}
	if len(insR) >= t.s.copyMin {
		rows := make([][]any, len(insR))
		for i := range insR {
			rows[i] = []any{insS[i], insR[i], insB[i]}
		}
		if _, err := t.tx.CopyFrom(t.ctx, pgx.Identifier{t.s.schema, "carelens_blocks"}, []string{"s", "rec", "block"}, pgx.CopyFromRows(rows)); err != nil {
			return t.s.translateClosed("blocks copy", err)
		}
	} else if len(insR) > 0 {
		if _, err := t.tx.Exec(t.ctx, t.s.qBlocksInsert, insS, insR, insB); err != nil {
			return t.s.translateClosed("blocks insert", err)
		}
	}
	return nil
}
