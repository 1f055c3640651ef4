package badgerstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/carelens/carelens/match"
	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Errors specific to opening a Badger store; the others are match's.
var (
	// ErrLocked reports that another process has the store open.
	ErrLocked = errors.New("badgerstore: directory is in use by another process")
)

// FormatVersion is the on-disk format this package writes and reads. It is
// stored in the format marker; any other value makes Open fail.
const FormatVersion = "carelens-badgerstore/1"

// markerKey is the reserved key of the format marker. Keys starting with
// reservedPrefix are hidden from callers and cannot be written by them.
var (
	reservedPrefix = []byte("\x00\x00carelens/")
	markerKey      = []byte("\x00\x00carelens/format")
)

// Options configures [Open]. The zero value is a durable store with
// settings suited to an identity index on a small machine.
type Options struct {
	// NoSync skips the fsync after each committed transaction. An
	// acknowledged write may then be lost in a crash.
	NoSync bool
	// ReadOnly opens the store for reading only; Update fails.
	ReadOnly bool
	// CacheBytes is the block cache size; zero means 64 MiB.
	CacheBytes int64
	// MemTableBytes is the size of each in-memory table; zero means 32 MiB.
	MemTableBytes int64
}

// Store is a [match.Store] backed by Badger. It is safe for concurrent use.
type Store struct {
	db     *badger.DB
	dir    string
	closed atomic.Bool
}

var _ match.Store = (*Store)(nil)
var _ match.SizeReporter = (*Store)(nil)

// Open opens the store in dir, creating it when dir is missing or empty.
// o may be nil. See the package documentation for the errors it returns for
// directories that hold anything else.
func Open(dir string, o *Options) (*Store, error) {
	var opt Options
	if o != nil {
		opt = *o
	}
	if err := checkDir(dir, opt.ReadOnly); err != nil {
		return nil, err
	}
	bo := badger.DefaultOptions(dir).
		WithLogger(nil).
		WithSyncWrites(!opt.NoSync).
		WithReadOnly(opt.ReadOnly).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		WithValueLogFileSize(64 << 20).
		WithMetricsEnabled(false).
		WithCompression(options.None).
		WithBlockCacheSize(cmpOr(opt.CacheBytes, 64<<20)).
		WithMemTableSize(cmpOr(opt.MemTableBytes, 32<<20)).
		WithNumMemtables(3).
		WithNumLevelZeroTables(4).
		WithNumLevelZeroTablesStall(12)
	db, err := badger.Open(bo)
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("badgerstore: open %s: %w: %v", dir, match.ErrCorrupt, err)
	}
	s := &Store{db: db, dir: dir}
	if err := s.checkMarker(opt.ReadOnly); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func cmpOr(v, def int64) int64 {
	if v > 0 {
		return v
	}
	return def
}

// checkDir refuses a directory that is neither empty nor a Badger database.
func checkDir(dir string, readOnly bool) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if readOnly {
			return fmt.Errorf("badgerstore: open %s: %w", dir, match.ErrNotFound)
		}
		return nil
	case err != nil:
		return fmt.Errorf("badgerstore: open %s: %w", dir, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
		return fmt.Errorf("badgerstore: open %s: %w: the directory is not empty and holds no store", dir, match.ErrForeignStore)
	}
	return nil
}

// checkMarker verifies the format marker, writing it into a new store.
func (s *Store) checkMarker(readOnly bool) error {
	var marker []byte
	empty := true
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(markerKey)
		if err == nil {
			marker, err = item.ValueCopy(nil)
			return err
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		it.Rewind()
		empty = !it.Valid()
		return nil
	})
	if err != nil {
		return fmt.Errorf("badgerstore: open %s: read format marker: %w: %v", s.dir, match.ErrCorrupt, err)
	}
	switch {
	case marker != nil && string(marker) == FormatVersion:
		return nil
	case marker != nil:
		return fmt.Errorf("badgerstore: open %s: %w: format %q, want %q", s.dir, match.ErrForeignStore, marker, FormatVersion)
	case !empty:
		return fmt.Errorf("badgerstore: open %s: %w: a database without the CareLens format marker", s.dir, match.ErrForeignStore)
	case readOnly:
		return fmt.Errorf("badgerstore: open %s: %w: empty store opened read-only", s.dir, match.ErrForeignStore)
	}
	err = s.db.Update(func(txn *badger.Txn) error { return txn.Set(markerKey, []byte(FormatVersion)) })
	if err != nil {
		return fmt.Errorf("badgerstore: open %s: write format marker: %w", s.dir, translate(err))
	}
	return nil
}

// View implements [match.Store].
func (s *Store) View(ctx context.Context, fn func(match.Txn) error) error {
	if s.closed.Load() {
		return match.ErrStoreClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	return fn(&tx{txn: txn})
}

// Update implements [match.Store]. The commit is synced to disk before
// Update returns unless the store was opened with [Options.NoSync].
func (s *Store) Update(ctx context.Context, fn func(match.Txn) error) error {
	if s.closed.Load() {
		return match.ErrStoreClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	if err := fn(&tx{txn: txn, writable: true}); err != nil {
		return err
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("badgerstore: commit: %w", translate(err))
	}
	return nil
}

// Close closes the database. Further calls fail with [match.ErrStoreClosed].
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return match.ErrStoreClosed
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("badgerstore: close: %w", translate(err))
	}
	return nil
}

// DiskSize returns the bytes allocated on disk to the store's files.
func (s *Store) DiskSize() (int64, error) {
	var total int64
	err := filepath.WalkDir(s.dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		} else {
			total += fi.Size()
		}
		return nil
	})
	return total, err
}

// translate maps Badger's errors onto match's sentinels.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return match.ErrNotFound
	case errors.Is(err, badger.ErrConflict):
		return match.ErrConflict
	case errors.Is(err, badger.ErrTxnTooBig):
		return match.ErrTxnTooBig
	case errors.Is(err, badger.ErrReadOnlyTxn):
		return match.ErrReadOnly
	case errors.Is(err, badger.ErrDBClosed), errors.Is(err, badger.ErrBlockedWrites):
		return match.ErrStoreClosed
	}
	return errors.New("badgerstore: " + err.Error())
}

// tx adapts a Badger transaction to [match.Txn].
type tx struct {
	txn      *badger.Txn
	writable bool
}

func (t *tx) Get(key []byte) ([]byte, error) {
	if bytes.HasPrefix(key, reservedPrefix) {
		return nil, match.ErrNotFound
	}
	item, err := t.txn.Get(key)
	if err != nil {
		return nil, translate(err)
	}
	v, err := item.ValueCopy(nil)
	return v, translate(err)
}

func (t *tx) Set(key, value []byte) error {
	if !t.writable {
		return match.ErrReadOnly
	}
	if bytes.HasPrefix(key, reservedPrefix) {
		return errors.New("badgerstore: key uses the reserved prefix")
	}
	// Badger keeps the slices until commit; the caller may reuse its own.
	return translate(t.txn.Set(bytes.Clone(key), bytes.Clone(value)))
}

func (t *tx) Delete(key []byte) error {
	if !t.writable {
		return match.ErrReadOnly
	}
	if bytes.HasPrefix(key, reservedPrefix) {
		return errors.New("badgerstore: key uses the reserved prefix")
	}
	return translate(t.txn.Delete(bytes.Clone(key)))
}

func (t *tx) Scan(prefix, start []byte) iter.Seq2[match.KV, error] {
	return func(yield func(match.KV, error) bool) {
		it := t.txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		seek := prefix
		if bytes.Compare(start, prefix) > 0 {
			seek = start
		}
		for it.Seek(seek); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()
			if bytes.HasPrefix(k, reservedPrefix) {
				continue
			}
			more := true
			err := item.Value(func(v []byte) error {
				more = yield(match.KV{Key: k, Value: v}, nil)
				return nil
			})
			if err != nil {
				yield(match.KV{}, translate(err))
				return
			}
			if !more {
				return
			}
		}
	}
}
