package badgerstore_test

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carelens/carelens/mpi"
	"github.com/carelens/carelens/mpi/mpitest"

	"github.com/carelens/carelens/mpi/badgerstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const damageKeys = 3000

// filledStore writes damageKeys keys into a new store in dir and closes
// it, leaving at least one table file.
func filledStore(t testing.TB, dir string) {
	t.Helper()
	s, err := badgerstore.Open(dir, &badgerstore.Options{NoSync: true})
	require.NoError(t, err)
	for i := 0; i < damageKeys; i += 500 {
		require.NoError(t, s.Update(t.Context(), func(tx mpi.Txn) error {
			for j := i; j < i+500; j++ {
				if err := tx.Set(fmt.Appendf(nil, "k%06d", j), []byte(strings.Repeat("v", 300))); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	require.NoError(t, s.Close())
	require.NotEmpty(t, tables(t, dir), "the store has table files to damage")
}

func tables(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	require.NoError(t, err)
	return m
}

func countKeys(t *testing.T, s mpi.Store) int {
	t.Helper()
	n := 0
	require.NoError(t, s.View(t.Context(), func(tx mpi.Txn) error {
		for _, err := range tx.Scan(nil, nil) {
			if err != nil {
				return err
			}
			n++
		}
		return nil
	}))
	return n
}

// TestDamagedStoreIsReportedNotRepaired damages real store files the ways
// issue 15 found (a truncated MANIFEST made Badger delete every table; a
// corrupted or truncated table panicked) and checks that opening, for
// reading or for writing, fails with ErrCorrupt naming the damaged file,
// that Check reports the same without an error, and that no file changed
// (hashes before and after).
func TestDamagedStoreIsReportedNotRepaired(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string) string // returns the file named
	}{
		{name: "MANIFEST truncated to 8 bytes", damage: func(t *testing.T, dir string) string {
			require.NoError(t, os.Truncate(filepath.Join(dir, "MANIFEST"), 8))
			return filepath.Base(tables(t, dir)[0])
		}},
		{name: "MANIFEST truncated to 16 bytes", damage: func(t *testing.T, dir string) string {
			require.NoError(t, os.Truncate(filepath.Join(dir, "MANIFEST"), 16))
			return "MANIFEST"
		}},
		{name: "4 KB of random bytes inside a table", damage: func(t *testing.T, dir string) string {
			path := tables(t, dir)[0]
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			require.NoError(t, err)
			fi, err := f.Stat()
			require.NoError(t, err)
			junk := make([]byte, 4096)
			rng := rand.New(rand.NewPCG(4, 96))
			for i := range junk {
				junk[i] = byte(rng.Uint32())
			}
			_, err = f.WriteAt(junk, fi.Size()/3)
			require.NoError(t, err)
			require.NoError(t, f.Close())
			return filepath.Base(path)
		}},
		{name: "table truncated to half", damage: func(t *testing.T, dir string) string {
			path := tables(t, dir)[0]
			fi, err := os.Stat(path)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(path, fi.Size()/2))
			return filepath.Base(path)
		}},
		{name: "table missing", damage: func(t *testing.T, dir string) string {
			path := tables(t, dir)[0]
			require.NoError(t, os.Remove(path))
			return filepath.Base(path)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			filledStore(t, dir)
			file := tc.damage(t, dir)
			before := mpitest.HashDir(t, dir)

			rep, err := badgerstore.Check(dir)
			require.NoError(t, err)
			require.NotEmpty(t, rep.Problems, "check reports the damage")
			assert.Contains(t, fmt.Sprint(rep.Problems), file)
			assert.Equal(t, before, mpitest.HashDir(t, dir), "check changed nothing")

			for _, ro := range []bool{true, false} {
				s, err := badgerstore.Open(dir, &badgerstore.Options{ReadOnly: ro})
				if err == nil {
					n := countKeys(t, s)
					s.Close()
					t.Fatalf("read-only=%v: opened a damaged store showing %d of %d keys", ro, n, damageKeys)
				}
				assert.ErrorIs(t, err, mpi.ErrCorrupt, "read-only=%v", ro)
				assert.Contains(t, err.Error(), file, "the error names the damaged file")
				assert.Equal(t, before, mpitest.HashDir(t, dir), "read-only=%v: nothing changed", ro)
			}
		})
	}
}

// TestCheckSoundStore: a sound store checks clean, every key read, and
// nothing changes.
func TestCheckSoundStore(t *testing.T) {
	dir := t.TempDir()
	filledStore(t, dir)
	before := mpitest.HashDir(t, dir)
	rep, err := badgerstore.Check(dir)
	require.NoError(t, err)
	assert.Empty(t, rep.Problems)
	assert.Equal(t, damageKeys+1, rep.Keys, "every key and the format marker")
	assert.Equal(t, before, mpitest.HashDir(t, dir))
}

// TestReadOnlyOpen: a read-only open reads the store, writes nothing
// (hashes before and after), refuses writes, and never creates a store.
func TestReadOnlyOpen(t *testing.T) {
	dir := t.TempDir()
	filledStore(t, dir)
	before := mpitest.HashDir(t, dir)
	s, err := badgerstore.Open(dir, &badgerstore.Options{ReadOnly: true})
	require.NoError(t, err)
	assert.True(t, s.ReadOnly())
	assert.Equal(t, damageKeys, countKeys(t, s))
	err = s.Update(t.Context(), func(tx mpi.Txn) error { return tx.Set([]byte("x"), []byte("y")) })
	assert.ErrorIs(t, err, mpi.ErrReadOnly)

	// A second reader shares the store; a writer is locked out.
	s2, err := badgerstore.Open(dir, &badgerstore.Options{ReadOnly: true})
	require.NoError(t, err)
	require.NoError(t, s2.Close())
	_, err = badgerstore.Open(dir, nil)
	assert.ErrorIs(t, err, badgerstore.ErrLocked)
	require.NoError(t, s.Close())
	assert.Equal(t, before, mpitest.HashDir(t, dir), "nothing written")

	missing := filepath.Join(t.TempDir(), "typo")
	_, err = badgerstore.Open(missing, &badgerstore.Options{ReadOnly: true})
	assert.ErrorIs(t, err, badgerstore.ErrNoStore)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), missing)
	_, statErr := os.Stat(missing)
	assert.True(t, errors.Is(statErr, fs.ErrNotExist), "not created")

	empty := t.TempDir()
	_, err = badgerstore.Open(empty, &badgerstore.Options{ReadOnly: true})
	assert.ErrorIs(t, err, badgerstore.ErrNoStore)
	assert.Empty(t, listDir(t, empty), "nothing created")
}

// TestWriterLocksOutReader: a reader cannot open a store a writer holds,
// and the error is ErrLocked, found by the lock's errno.
func TestWriterLocksOutReader(t *testing.T) {
	dir := t.TempDir()
	s, err := badgerstore.Open(dir, nil)
	require.NoError(t, err)
	defer s.Close()
	_, err = badgerstore.Open(dir, &badgerstore.Options{ReadOnly: true})
	assert.ErrorIs(t, err, badgerstore.ErrLocked)
	_, err = badgerstore.Check(dir)
	assert.ErrorIs(t, err, badgerstore.ErrLocked)
}

// copyDir copies the files of src into a new directory: taken while a
// writer has the store open, it is the store as a crash would leave it.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600))
	}
	return dst
}

// TestCrashedStore: a store its writer did not close cannot be opened
// read-only without a write (its log must be replayed), so a read-only
// open says so, changing nothing; a write open recovers every
// acknowledged key, after which read-only opens work.
func TestCrashedStore(t *testing.T) {
	src := t.TempDir()
	s, err := badgerstore.Open(src, nil)
	require.NoError(t, err)
	require.NoError(t, s.Update(t.Context(), func(tx mpi.Txn) error {
		for i := range 100 {
			if err := tx.Set(fmt.Appendf(nil, "k%03d", i), []byte("v")); err != nil {
				return err
			}
		}
		return nil
	}))
	crashed := copyDir(t, src)
	require.NoError(t, s.Close())

	before := mpitest.HashDir(t, crashed)
	_, err = badgerstore.Open(crashed, &badgerstore.Options{ReadOnly: true})
	assert.ErrorIs(t, err, badgerstore.ErrNeedsRecovery)
	assert.Equal(t, before, mpitest.HashDir(t, crashed), "nothing changed")

	s, err = badgerstore.Open(crashed, nil)
	require.NoError(t, err)
	assert.Equal(t, 100, countKeys(t, s))
	require.NoError(t, s.Close())
	s, err = badgerstore.Open(crashed, &badgerstore.Options{ReadOnly: true})
	require.NoError(t, err)
	assert.Equal(t, 100, countKeys(t, s))
	require.NoError(t, s.Close())
}
