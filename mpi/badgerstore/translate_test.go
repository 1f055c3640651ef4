package badgerstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"

	"github.com/carelens/carelens/mpi"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/assert"
)

// TestTranslateKeepsOSErrors: an error from the file system under Badger
// is matched by errors.Is at the store boundary (permissions, a full disk,
// an I/O error), not by its text, and is never reported as corruption;
// Badger's sentinels become mpi's.
func TestTranslateKeepsOSErrors(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EACCES, syscall.ENOSPC, syscall.EIO} {
		under := fmt.Errorf("while syncing value log: %w", &os.PathError{Op: "write", Path: "000001.vlog", Err: errno})
		err := translate(under)
		assert.ErrorIs(t, err, errno)
		assert.NotErrorIs(t, err, mpi.ErrCorrupt)
		if errno == syscall.EACCES {
			assert.ErrorIs(t, err, fs.ErrPermission)
		}
	}
	assert.ErrorIs(t, translate(badger.ErrKeyNotFound), mpi.ErrNotFound)
	assert.ErrorIs(t, translate(badger.ErrConflict), mpi.ErrConflict)
	other := translate(errors.New("engine detail"))
	var be interface{ Unwrap() error }
	assert.False(t, errors.As(other, &be), "no engine error is reachable through the store's errors")
}
