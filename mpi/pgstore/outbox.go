package pgstore

import (
	"context"
	"time"

	"github.com/carelens/carelens/mpi"

	"github.com/jackc/pgx/v5"
)

// OutboxEntry is one write copied to the outbox.
type OutboxEntry struct {
	// Key is the key written; for the index's events, "e/" and the
	// big-endian sequence number, so entries sort in event order.
	Key []byte
	// Value is the value written, nil when the key was deleted.
	Value []byte
	// WrittenAt is the time of the writing transaction.
	WrittenAt time.Time
}

// DrainOutbox hands up to limit outbox entries, in key order, to handle,
// and removes them when handle returns nil, in one transaction: an entry is
// removed only once it was handled, and is handed again after a failure
// (at least once delivery). Entries another consumer holds are skipped, so
// several consumers may drain one outbox. It returns how many entries were
// handled; zero when the outbox is empty.
func (s *Store) DrainOutbox(ctx context.Context, limit int, handle func([]OutboxEntry) error) (int, error) {
	if s.closed.Load() {
		return 0, mpi.ErrStoreClosed
	}
	var n int
	err := Retry(ctx, func() error {
		tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
		if err != nil {
			return s.translateClosed("outbox: begin", err)
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		rows, err := tx.Query(ctx, `SELECT id, k, v, written_at FROM `+s.ident("carelens_outbox")+
			` ORDER BY k, written_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`, limit)
		if err != nil {
			return s.translateClosed("outbox: read", err)
		}
		var ids [][16]byte
		var entries []OutboxEntry
		for rows.Next() {
			var id [16]byte
			var e OutboxEntry
			if err := rows.Scan(&id, &e.Key, &e.Value, &e.WrittenAt); err != nil {
				rows.Close()
				return s.translateClosed("outbox: read", err)
			}
			ids, entries = append(ids, id), append(entries, e)
		}
		if err := rows.Err(); err != nil {
			return s.translateClosed("outbox: read", err)
		}
		if len(entries) == 0 {
			n = 0
			return nil
		}
		if err := handle(entries); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM `+s.ident("carelens_outbox")+` WHERE id = ANY($1)`, ids); err != nil {
			return s.translateClosed("outbox: delete", err)
		}
		if err := tx.Commit(ctx); err != nil {
			return s.translateClosed("outbox: commit", err)
		}
		n = len(entries)
		return nil
	})
	return n, err
}
