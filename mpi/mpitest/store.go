// Package mpitest holds the conformance suite for implementations of
// [mpi.Store], in the manner of testing/slogtest: an implementation's own
// tests call [RunStore].
package mpitest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/carelens/carelens/mpi"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RunStore checks that the stores made by open meet the [mpi.Store]
// contract: not-found translation, read-your-writes, atomic rollback,
// read-only views, snapshot reads, ordered prefix scans, buffer ownership,
// conflict-free concurrent counters and closing. open must return a new,
// empty store each time it is called; RunStore closes it.
//
// Durability across a crash cannot be checked in-process; see the index's
// kill -9 test for that.
func RunStore(t *testing.T, open func(t *testing.T) mpi.Store) {
	t.Helper()
	for _, tc := range storeCases {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			defer func() {
				if err := s.Close(); err != nil && !errors.Is(err, mpi.ErrStoreClosed) {
					t.Errorf("Close: %v", err)
				}
			}()
			tc.run(t, s)
		})
	}
}

var storeCases = []struct {
	name string
	run  func(t *testing.T, s mpi.Store)
}{
	{"EmptyStore", testEmpty},
	{"SetGetDelete", testSetGetDelete},
	{"ScanOrderAndBounds", testScan},
	{"ScanEarlyStop", testScanEarlyStop},
	{"ReadYourWrites", testReadYourWrites},
	{"RollbackOnError", testRollback},
	{"ViewIsReadOnly", testViewReadOnly},
	{"CallerOwnsBuffers", testBuffers},
	{"SnapshotRead", testSnapshot},
	{"LargeTransaction", testLargeTransaction},
	{"ConcurrentCounters", testConcurrentCounters},
	{"CancelledContext", testCancelled},
	{"Closed", testClosed},
}

func set(t *testing.T, s mpi.Store, kv ...string) {
	t.Helper()
	require.NoError(t, s.Update(t.Context(), func(tx mpi.Txn) error {
		for i := 0; i+1 < len(kv); i += 2 {
			if err := tx.Set([]byte(kv[i]), []byte(kv[i+1])); err != nil {
				return err
			}
		}
		return nil
	}))
}

func get(t *testing.T, s mpi.Store, key string) (string, error) {
	t.Helper()
	var v string
	err := s.View(t.Context(), func(tx mpi.Txn) error {
		b, err := tx.Get([]byte(key))
		v = string(b)
		return err
	})
	return v, err
}

func scan(t *testing.T, tx mpi.Txn, prefix, start string) []string {
	t.Helper()
	var got []string
	var st []byte
	if start != "" {
		st = []byte(start)
	}
	for kv, err := range tx.Scan([]byte(prefix), st) {
		require.NoError(t, err)
		got = append(got, string(kv.Key)+"="+string(kv.Value))
	}
	return got
}

func testEmpty(t *testing.T, s mpi.Store) {
	_, err := get(t, s, "missing")
	assert.ErrorIs(t, err, mpi.ErrNotFound)
	require.NoError(t, s.View(t.Context(), func(tx mpi.Txn) error {
		assert.Empty(t, scan(t, tx, "", ""), "a new store must be empty (reserved keys hidden)")
		return nil
	}))
}

func testSetGetDelete(t *testing.T, s mpi.Store) {
	tests := []struct {
		name, key, value string
	}{
		{name: "plain", key: "r/gp\x00123", value: "v1"},
		{name: "empty value", key: "k/empty", value: ""},
		{name: "binary key", key: "\x01\xff\x00\x7f", value: "\x00\x01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set(t, s, tc.key, tc.value)
			got, err := get(t, s, tc.key)
			require.NoError(t, err)
			assert.Equal(t, tc.value, got)

			set(t, s, tc.key, tc.value+"2")
			got, err = get(t, s, tc.key)
			require.NoError(t, err)
			assert.Equal(t, tc.value+"2", got, "overwrite")

			require.NoError(t, s.Update(t.Context(), func(tx mpi.Txn) error { return tx.Delete([]byte(tc.key)) }))
			_, err = get(t, s, tc.key)
			assert.ErrorIs(t, err, mpi.ErrNotFound)
		})
	}
	assert.NoError(t, s.Update(t.Context(), func(tx mpi.Txn) error { return tx.Delete([]byte("never-set")) }),
		"deleting a missing key is not an error")
}

func testScan(t *testing.T, s mpi.Store) {
	set(t, s, "a", "0", "b/", "1", "b/1", "2", "b/2", "3", "b/2/x", "4", "b\xff", "5", "b0", "6", "c", "7",
		"\xff\xff", "8", "\xff\xff\x00", "9")
	tests := []struct {
		name, prefix, start string
		want                []string
		reason              string
	}{
		{name: "prefix", prefix: "b/", want: []string{"b/=1", "b/1=2", "b/2=3", "b/2/x=4"}},
		{name: "start inside", prefix: "b/", start: "b/2", want: []string{"b/2=3", "b/2/x=4"}},
		{name: "start before prefix", prefix: "b/", start: "a", want: []string{"b/=1", "b/1=2", "b/2=3", "b/2/x=4"},
			reason: "a start below the prefix means the prefix"},
		{name: "start past prefix", prefix: "b/", start: "b0", want: nil},
		{name: "no match", prefix: "zz", want: nil},
		{name: "all ff prefix", prefix: "\xff\xff", want: []string{"\xff\xff=8", "\xff\xff\x00=9"},
			reason: "a prefix with no successor still ends"},
		{name: "whole store", prefix: "", want: []string{"a=0", "b/=1", "b/1=2", "b/2=3", "b/2/x=4", "b0=6", "b\xff=5", "c=7", "\xff\xff=8", "\xff\xff\x00=9"}},
	}
	require.NoError(t, s.View(t.Context(), func(tx mpi.Txn) error {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				assert.Equal(t, tc.want, scan(t, tx, tc.prefix, tc.start), tc.reason)
			})
		}
		return nil
	}))
}

func testScanEarlyStop(t *testing.T, s mpi.Store) {
	var kv []string
	for i := range 50 {
		kv = append(kv, fmt.Sprintf("p/%03d", i), "x")
	}
	set(t, s, kv...)
	require.NoError(t, s.View(t.Context(), func(tx mpi.Txn) error {
		n := 0
		for _, err := range tx.Scan([]byte("p/"), nil) {
			require.NoError(t, err)
			n++
			if n == 3 {
				break
			}
		}
		assert.Equal(t, 3, n)
		// The transaction is still usable after an abandoned scan.
		_, err := tx.Get([]byte("p/010"))
		return err
	}))
}

func testReadYourWrites(t *testing.T, s mpi.Store) {
	set(t, s, "x/1", "old", "x/2", "keep", "x/3", "gone")
	require.NoError(t, s.Update(t.Context(), func(tx mpi.Txn) error {
		require.NoError(t, tx.Set([]byte("x/1"), []byte("new")))
		require.NoError(t, tx.Set([]byte("x/0"), []byte("added")))
		require.NoError(t, tx.Delete([]byte("x/3")))
		v, err := tx.Get([]byte("x/1"))
		require.NoError(t, err)
		assert.Equal(t, "new", string(v))
		_, err = tx.Get([]byte("x/3"))
		assert.ErrorIs(t, err, mpi.ErrNotFound, "deleted in this transaction")
		assert.Equal(t, []string{"x/0=added", "x/1=new", "x/2=keep"}, scan(t, tx, "x/", ""))
		return nil
	}))
	require.NoError(t, s.View(t.Context(), func(tx mpi.Txn) error {
		assert.Equal(t, []string{"x/0=added", "x/1=new", "x/2=keep"}, scan(t, tx, "x/", ""))
		return nil
	}))
}

func testRollback(t *testing.T, s mpi.Store) {
	set(t, s, "acct", "100")
	boom := errors.New("boom")
	err := s.Update(t.Context(), func(tx mpi.Txn) error {
		require.NoError(t, tx.Set([]byte("acct"), []byte("0")))
		require.NoError(t, tx.Set([]byte("other"), []byte("x")))
		return fmt.Errorf("wrapped: %w", boom)
	})
	require.ErrorIs(t, err, boom, "Update returns fn's error")
	v, err := get(t, s, "acct")
	require.NoError(t, err)
	assert.Equal(t, "100", v, "nothing of a failed transaction is applied")
	_, err = get(t, s, "other")
	assert.ErrorIs(t, err, mpi.ErrNotFound)
}

func testViewReadOnly(t *testing.T, s mpi.Store) {
	err := s.View(t.Context(), func(tx mpi.Txn) error {
		assert.ErrorIs(t, tx.Set([]byte("k"), []byte("v")), mpi.ErrReadOnly)
		assert.ErrorIs(t, tx.Delete([]byte("k")), mpi.ErrReadOnly)
		return nil
	})
	require.NoError(t, err)
	_, err = get(t, s, "k")
	assert.ErrorIs(t, err, mpi.ErrNotFound)
}

func testBuffers(t *testing.T, s mpi.Store) {
	key, val := []byte("buf/1"), []byte("first")
	require.NoError(t, s.Update(t.Context(), func(tx mpi.Txn) error {
		require.NoError(t, tx.Set(key, val))
		copy(key, "XXX/1")
		copy(val, "XXXXX")
		return nil
	}))
	v, err := get(t, s, "buf/1")
	require.NoError(t, err)
	assert.Equal(t, "first", v, "the store must copy what it keeps")
	var kept []byte
	require.NoError(t, s.View(t.Context(), func(tx mpi.Txn) error {
		b, err := tx.Get([]byte("buf/1"))
		kept = bytes.Clone(b)
		return err
	}))
	assert.Equal(t, "first", string(kept))
}

func testSnapshot(t *testing.T, s mpi.Store) {
	set(t, s, "snap", "before")
	done := make(chan error, 1)
	require.NoError(t, s.View(t.Context(), func(tx mpi.Txn) error {
		v, err := tx.Get([]byte("snap"))
		require.NoError(t, err)
		assert.Equal(t, "before", string(v))
		go func() {
			done <- s.Update(context.WithoutCancel(t.Context()), func(tx mpi.Txn) error {
				return tx.Set([]byte("snap"), []byte("after"))
			})
		}()
		// Whether the writer waits for this view or commits beside it, the
		// view keeps reading its snapshot.
		v, err = tx.Get([]byte("snap"))
		require.NoError(t, err)
		assert.Equal(t, "before", string(v))
		return nil
	}))
	require.NoError(t, <-done)
	v, err := get(t, s, "snap")
	require.NoError(t, err)
	assert.Equal(t, "after", v)
}

// testLargeTransaction writes thousands of keys in one transaction, over
// keys committed before, deleting some: a bulk load's transaction. Scans
// inside it and after it see the same merged, ordered result.
func testLargeTransaction(t *testing.T, s mpi.Store) {
	const n = 6000
	key := func(i int) []byte { return fmt.Appendf(nil, "big/%05d", i) }
	// Every third key exists before.
	require.NoError(t, s.Update(t.Context(), func(tx mpi.Txn) error {
		for i := 0; i < n; i += 3 {
			if err := tx.Set(key(i), []byte("old")); err != nil {
				return err
			}
		}
		return nil
	}))
	// want is the state after the big transaction: every key but those
	// divisible by 5 (deleted, or never written), all "new" or "kept".
	want := func(i int) (string, bool) {
		switch {
		case i%5 == 0:
			return "", false
		case i%3 == 0 && i%2 == 1:
			return "old", true // existing, untouched
		default:
			return "new", true
		}
	}
	check := func(tx mpi.Txn, from int) {
		t.Helper()
		i := from
		next := func() {
			for i < n {
				if _, ok := want(i); ok {
					return
				}
				i++
			}
		}
		next()
		for kv, err := range tx.Scan([]byte("big/"), key(from)) {
			require.NoError(t, err)
			require.Less(t, i, n, "scan yields keys past the last")
			v, _ := want(i)
			require.Equal(t, string(key(i)), string(kv.Key), "scan order")
			require.Equal(t, v, string(kv.Value), "value of %s", kv.Key)
			i++
			next()
		}
		require.Equal(t, n, i, "scan ends at the last key")
	}
	require.NoError(t, s.Update(t.Context(), func(tx mpi.Txn) error {
		for i := range n {
			_, keep := want(i)
			switch {
			case !keep:
				if err := tx.Delete(key(i)); err != nil {
					return err
				}
			case i%3 != 0 || i%2 == 0:
				if err := tx.Set(key(i), []byte("new")); err != nil {
					return err
				}
			}
		}
		check(tx, 0)
		check(tx, n/2+1)
		return nil
	}))
	require.NoError(t, s.View(t.Context(), func(tx mpi.Txn) error {
		check(tx, 0)
		return nil
	}))
}

func testConcurrentCounters(t *testing.T, s mpi.Store) {
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range each {
				for {
					err := s.Update(t.Context(), func(tx mpi.Txn) error {
						var n uint64
						v, err := tx.Get([]byte("counter"))
						switch {
						case err == nil:
							n = binary.BigEndian.Uint64(v)
						case !errors.Is(err, mpi.ErrNotFound):
							return err
						}
						return tx.Set([]byte("counter"), binary.BigEndian.AppendUint64(nil, n+1))
					})
					if errors.Is(err, mpi.ErrConflict) {
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var n uint64
	require.NoError(t, s.View(t.Context(), func(tx mpi.Txn) error {
		v, err := tx.Get([]byte("counter"))
		if err == nil {
			n = binary.BigEndian.Uint64(v)
		}
		return err
	}))
	assert.Equal(t, uint64(workers*each), n, "no increment may be lost")
}

func testCancelled(t *testing.T, s mpi.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ran := false
	err := s.Update(ctx, func(tx mpi.Txn) error { ran = true; return tx.Set([]byte("c"), nil) })
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, ran)
}

func testClosed(t *testing.T, s mpi.Store) {
	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.View(t.Context(), func(mpi.Txn) error { return nil }), mpi.ErrStoreClosed)
	assert.ErrorIs(t, s.Update(t.Context(), func(mpi.Txn) error { return nil }), mpi.ErrStoreClosed)
	assert.ErrorIs(t, s.Close(), mpi.ErrStoreClosed)
}
