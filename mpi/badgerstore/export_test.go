package badgerstore

import (
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"
)

// SetMarkerForTest overwrites the format marker of the store in dir.
func SetMarkerForTest(t *testing.T, dir, marker string) {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	require.NoError(t, err)
	require.NoError(t, db.Update(func(txn *badger.Txn) error { return txn.Set(markerKey, []byte(marker)) }))
	require.NoError(t, db.Close())
}

// WriteForeignForTest writes a Badger database without a CareLens marker.
func WriteForeignForTest(t *testing.T, dir string) {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	require.NoError(t, err)
	require.NoError(t, db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("users/1"), []byte("x")) }))
	require.NoError(t, db.Close())
}
