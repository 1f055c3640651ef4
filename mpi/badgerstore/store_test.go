package badgerstore_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/carelens/carelens/mpi"
	"github.com/carelens/carelens/mpi/mpitest"

	"github.com/carelens/carelens/mpi/badgerstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	mpitest.RunStore(t, func(t *testing.T) mpi.Store {
		s, err := badgerstore.Open(t.TempDir(), nil)
		require.NoError(t, err)
		return s
	})
}

func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	s, err := badgerstore.Open(dir, nil)
	require.NoError(t, err)
	require.NoError(t, s.Update(t.Context(), func(tx mpi.Txn) error { return tx.Set([]byte("k"), []byte("v")) }))
	require.NoError(t, s.Close())

	s, err = badgerstore.Open(dir, nil)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.View(t.Context(), func(tx mpi.Txn) error {
		v, err := tx.Get([]byte("k"))
		assert.Equal(t, "v", string(v))
		return err
	}))
}

func TestOpenRefusesForeignOrCorruptDirectories(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		want    error
		reason  string
	}{
		{
			name: "unrelated files",
			prepare: func(t *testing.T, dir string) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o600))
			},
			want:   mpi.ErrForeignStore,
			reason: "a non-empty directory without a store is never taken over",
		},
		{
			name: "garbage manifest",
			prepare: func(t *testing.T, dir string) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "MANIFEST"), []byte("not a manifest at all, just junk bytes"), 0o600))
			},
			want: mpi.ErrCorrupt,
		},
		{
			name: "store of another format version",
			prepare: func(t *testing.T, dir string) {
				s, err := badgerstore.Open(dir, nil)
				require.NoError(t, err)
				require.NoError(t, s.Close())
				badgerstore.SetMarkerForTest(t, dir, "carelens-badgerstore/0")
			},
			want: mpi.ErrForeignStore,
		},
		{
			name: "badger database of another program",
			prepare: func(t *testing.T, dir string) {
				badgerstore.WriteForeignForTest(t, dir)
			},
			want:   mpi.ErrForeignStore,
			reason: "a badger database with keys but no marker is not ours",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.prepare(t, dir)
			before := listDir(t, dir)
			_, err := badgerstore.Open(dir, nil)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.want, tc.reason)
			if tc.name == "unrelated files" {
				assert.Equal(t, before, listDir(t, dir), "nothing was written")
			}
		})
	}
}

func TestOpenLockedDirectory(t *testing.T) {
	dir := t.TempDir()
	s, err := badgerstore.Open(dir, nil)
	require.NoError(t, err)
	defer s.Close()
	_, err = badgerstore.Open(dir, nil)
	assert.ErrorIs(t, err, badgerstore.ErrLocked)
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
