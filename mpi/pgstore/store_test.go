package pgstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/carelens/carelens/mpi"
	"github.com/carelens/carelens/mpi/mpitest"

	"github.com/carelens/carelens/mpi/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	mpitest.RunStore(t, func(t *testing.T) mpi.Store {
		s, _ := openStore(t, nil)
		return s
	})
}

// TestConformanceCopy runs the suite with every write sent through COPY.
func TestConformanceCopy(t *testing.T) {
	mpitest.RunStore(t, func(t *testing.T) mpi.Store {
		s, _ := openStore(t, &pgstore.Options{CopyThreshold: 1})
		return s
	})
}

func execSQL(t *testing.T, sql string, args ...any) {
	t.Helper()
	c, err := pgx.Connect(t.Context(), needServer(t).URL("postgres"))
	require.NoError(t, err)
	defer c.Close(context.Background())
	_, err = c.Exec(t.Context(), sql, args...)
	require.NoError(t, err)
}

func queryInt(t *testing.T, sql string, args ...any) int {
	t.Helper()
	c, err := pgx.Connect(t.Context(), needServer(t).URL("postgres"))
	require.NoError(t, err)
	defer c.Close(context.Background())
	var n int
	require.NoError(t, c.QueryRow(t.Context(), sql, args...).Scan(&n))
	return n
}

func TestMigrations(t *testing.T) {
	s, schema := openStore(t, nil)
	v, err := s.SchemaVersion(t.Context())
	require.NoError(t, err)
	require.NoError(t, s.Close())
	assert.Positive(t, v)
	assert.Equal(t, v, queryInt(t, `SELECT count(*) FROM `+pgx.Identifier{schema, "carelens_schema"}.Sanitize()),
		"each version applied once and recorded")

	// Reopening applies nothing twice, and keeps the data.
	s2, err := pgstore.Open(t.Context(), needServer(t).URL("postgres"), &pgstore.Options{Schema: schema})
	require.NoError(t, err)
	require.NoError(t, s2.Update(t.Context(), func(tx mpi.Txn) error { return tx.Set([]byte("k"), []byte("v")) }))
	require.NoError(t, s2.Close())
	s3, err := pgstore.Open(t.Context(), needServer(t).URL("postgres"), &pgstore.Options{Schema: schema})
	require.NoError(t, err)
	defer s3.Close()
	require.NoError(t, s3.View(t.Context(), func(tx mpi.Txn) error {
		got, err := tx.Get([]byte("k"))
		assert.Equal(t, "v", string(got))
		return err
	}))
	assert.Equal(t, v, queryInt(t, `SELECT count(*) FROM `+pgx.Identifier{schema, "carelens_schema"}.Sanitize()))
}

// TestConcurrentOpen opens one new schema from many goroutines at once:
// the migrations run once.
func TestConcurrentOpen(t *testing.T) {
	srv := needServer(t)
	schema := newSchema()
	errs := make(chan error, 6)
	for range 6 {
		go func() {
			s, err := pgstore.Open(t.Context(), srv.URL("postgres"), &pgstore.Options{Schema: schema})
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for range 6 {
		require.NoError(t, <-errs)
	}
	s, _ := openStore(t, &pgstore.Options{Schema: schema})
	defer s.Close()
	v, err := s.SchemaVersion(t.Context())
	require.NoError(t, err)
	assert.Equal(t, v, queryInt(t, `SELECT count(*) FROM `+pgx.Identifier{schema, "carelens_schema"}.Sanitize()))
}

func TestOpenRefusesForeignSchemas(t *testing.T) {
	srv := needServer(t)
	t.Run("tables of another program", func(t *testing.T) {
		schema := newSchema()
		execSQL(t, `CREATE SCHEMA `+schema)
		execSQL(t, `CREATE TABLE `+schema+`.users (id int)`)
		_, err := pgstore.Open(t.Context(), srv.URL("postgres"), &pgstore.Options{Schema: schema})
		assert.ErrorIs(t, err, mpi.ErrForeignStore)
	})
	t.Run("newer schema version", func(t *testing.T) {
		s, schema := openStore(t, nil)
		require.NoError(t, s.Close())
		execSQL(t, `INSERT INTO `+schema+`.carelens_schema (version, name) VALUES (999, 'from the future')`)
		_, err := pgstore.Open(t.Context(), srv.URL("postgres"), &pgstore.Options{Schema: schema})
		assert.ErrorIs(t, err, mpi.ErrForeignStore)
	})
	t.Run("unparseable connection string", func(t *testing.T) {
		_, err := pgstore.Open(t.Context(), "postgres://user:s3cret@[::1", nil)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "s3cret", "errors never carry the password")
	})
}

// TestKeysSpreadOverShards checks that the index's event keys, written in
// sequence, do not share one shard.
func TestKeysSpreadOverShards(t *testing.T) {
	s, schema := openStore(t, nil)
	defer s.Close()
	require.NoError(t, s.Update(t.Context(), func(tx mpi.Txn) error {
		for i := range 256 {
			if err := tx.Set(binary.BigEndian.AppendUint64([]byte("e/"), uint64(i+1)), []byte("x")); err != nil {
				return err
			}
		}
		return nil
	}))
	n := queryInt(t, `SELECT count(DISTINCT s) FROM `+pgx.Identifier{schema, "carelens_kv"}.Sanitize())
	assert.Equal(t, pgstore.Shards, n, "sequential keys spread over every shard")
}

func TestOutboxInSameTransaction(t *testing.T) {
	s, _ := openStore(t, nil)
	defer s.Close()
	ev := func(i uint64) []byte { return binary.BigEndian.AppendUint64([]byte("e/"), i) }
	// A failed transaction leaves nothing in the outbox.
	boom := errors.New("boom")
	err := s.Update(t.Context(), func(tx mpi.Txn) error {
		require.NoError(t, tx.Set(ev(1), []byte("lost")))
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.NoError(t, s.Update(t.Context(), func(tx mpi.Txn) error {
		for i := uint64(1); i <= 3; i++ {
			if err := tx.Set(ev(i), fmt.Appendf(nil, "event %d", i)); err != nil {
				return err
			}
		}
		return tx.Set([]byte("r/not-followed"), []byte("x"))
	}))
	require.NoError(t, s.Update(t.Context(), func(tx mpi.Txn) error { return tx.Delete(ev(2)) }))

	var got []string
	fail := errors.New("consumer failed")
	_, err = s.DrainOutbox(t.Context(), 10, func([]pgstore.OutboxEntry) error { return fail })
	require.ErrorIs(t, err, fail)
	n, err := s.DrainOutbox(t.Context(), 10, func(es []pgstore.OutboxEntry) error {
		for _, e := range es {
			v := "<deleted>"
			if e.Value != nil {
				v = string(e.Value)
			}
			got = append(got, fmt.Sprintf("%d=%s", binary.BigEndian.Uint64(e.Key[2:]), v))
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	assert.Equal(t, []string{"1=event 1", "2=event 2", "2=<deleted>", "3=event 3"}, sortStable(got),
		"every committed write of a followed family, handed again after a failed consumer")
	n, err = s.DrainOutbox(t.Context(), 10, func([]pgstore.OutboxEntry) error { return nil })
	require.NoError(t, err)
	assert.Zero(t, n, "handled entries are removed")
}

// sortStable orders outbox lines by event number, keeping the order of
// writes to one key.
func sortStable(ss []string) []string {
	out := append([]string(nil), ss...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && strings.SplitN(out[j], "=", 2)[0] < strings.SplitN(out[j-1], "=", 2)[0]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// TestLargeScan reads a prefix larger than one cursor page, stopping
// early and reading to the end, beside writes of its own transaction.
func TestLargeScan(t *testing.T) {
	s, _ := openStore(t, nil)
	defer s.Close()
	key := func(i int) []byte { return fmt.Appendf(nil, "r/%05d", i) }
	require.NoError(t, s.Update(t.Context(), func(tx mpi.Txn) error {
		for i := 0; i < 3000; i += 2 {
			if err := tx.Set(key(i), key(i)); err != nil {
				return err
			}
		}
		return nil
	}))
	require.NoError(t, s.Update(t.Context(), func(tx mpi.Txn) error {
		for i := 1; i < 3000; i += 2 {
			require.NoError(t, tx.Set(key(i), key(i)))
		}
		require.NoError(t, tx.Delete(key(100)))
		want := 0
		for kv, err := range tx.Scan([]byte("r/"), key(50)) {
			require.NoError(t, err)
			if want == 0 {
				want = 50
			}
			if want == 100 {
				want++
			}
			require.Equal(t, string(key(want)), string(kv.Key))
			require.True(t, bytes.Equal(kv.Key, kv.Value))
			want++
		}
		assert.Equal(t, 3000, want)
		return nil
	}))
}

func TestRetry(t *testing.T) {
	calls := 0
	err := pgstore.Retry(t.Context(), func() error {
		calls++
		if calls < 3 {
			return fmt.Errorf("lost: %w", mpi.ErrConflict)
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 3, calls)
	other := errors.New("other")
	calls = 0
	err = pgstore.Retry(t.Context(), func() error { calls++; return other })
	assert.ErrorIs(t, err, other)
	assert.Equal(t, 1, calls, "only conflicts are retried")
}

func TestReadOnly(t *testing.T) {
	srv := needServer(t)
	_, err := pgstore.Open(t.Context(), srv.URL("postgres"), &pgstore.Options{Schema: newSchema(), ReadOnly: true})
	assert.ErrorIs(t, err, mpi.ErrNotFound, "a missing schema is not created read-only")

	s, schema := openStore(t, nil)
	require.NoError(t, s.Update(t.Context(), func(tx mpi.Txn) error { return tx.Set([]byte("k"), []byte("v")) }))
	require.NoError(t, s.Close())
	ro, err := pgstore.Open(t.Context(), srv.URL("postgres"), &pgstore.Options{Schema: schema, ReadOnly: true})
	require.NoError(t, err)
	defer ro.Close()
	assert.ErrorIs(t, ro.Update(t.Context(), func(tx mpi.Txn) error { return tx.Set([]byte("k"), []byte("w")) }), mpi.ErrReadOnly)
	require.NoError(t, ro.View(t.Context(), func(tx mpi.Txn) error {
		v, err := tx.Get([]byte("k"))
		assert.Equal(t, "v", string(v))
		return err
	}))

	execSQL(t, `DELETE FROM `+schema+`.carelens_schema WHERE version = (SELECT max(version) FROM `+schema+`.carelens_schema)`)
	_, err = pgstore.Open(t.Context(), srv.URL("postgres"), &pgstore.Options{Schema: schema, ReadOnly: true})
	assert.ErrorIs(t, err, mpi.ErrForeignStore, "an older schema is not migrated read-only")
}

// TestFence: a Store that writes the fence key after another Store has
// changed it, without reading it since, fails with ErrConflict and writes
// nothing; a transaction that reads the fence's current value and writes
// it goes through.
func TestFence(t *testing.T) {
	s1, schema := openStore(t, nil)
	defer s1.Close()
	s2, _ := openStore(t, &pgstore.Options{Schema: schema})
	defer s2.Close()
	ctx := t.Context()
	set := func(s *pgstore.Store, v string, read bool) error {
		return s.Update(ctx, func(tx mpi.Txn) error {
			if read {
				if _, err := tx.Get(pgstore.DefaultFence); err != nil {
					return err
				}
			}
			return tx.Set(pgstore.DefaultFence, []byte(v))
		})
	}
	get := func(s *pgstore.Store) (v string) {
		require.NoError(t, s.View(ctx, func(tx mpi.Txn) error {
			b, err := tx.Get(pgstore.DefaultFence)
			v = string(b)
			return err
		}))
		return v
	}
	require.NoError(t, set(s1, "1", false))
	require.NoError(t, set(s2, "2", true), "s2 read 1 in the transaction")
	require.ErrorIs(t, set(s1, "3", false), mpi.ErrConflict, "s1 last saw 1")
	assert.Equal(t, "2", get(s1), "the refused write left nothing")
	assert.Equal(t, "2", get(s1), "a View does not count as seeing the new value")
	require.ErrorIs(t, set(s1, "3", false), mpi.ErrConflict)
	require.NoError(t, set(s1, "3", true), "s1 read 2 in the transaction")
	require.ErrorIs(t, set(s2, "4", false), mpi.ErrConflict, "s2 last saw 2")
}
