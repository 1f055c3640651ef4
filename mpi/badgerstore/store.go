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
	"sync/atomic"
	"syscall"

	"github.com/carelens/carelens/mpi"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Errors specific to a Badger store; the others are mpi's.
var (
	// ErrLocked reports that another process has the store open.
	ErrLocked = errors.New("badgerstore: directory is in use by another process")
	// ErrNoStore reports a directory, opened read-only, that is missing or
	// holds no store. When the directory is missing the error also wraps
	// [fs.ErrNotExist].
	ErrNoStore = errors.New("badgerstore: no store in directory")
	// ErrNeedsRecovery reports a store, opened read-only, whose last
	// writer did not close it (it crashed or was killed): its write-ahead
	// log must be replayed, which is a write. Opening it once for writing
	// does that; nothing acknowledged is lost.
	ErrNeedsRecovery = errors.New("badgerstore: the store was not closed by its last writer (a crash?) and must be opened for writing once to replay its log")
	// ErrDiskFull reports a write refused because the disk holding the
	// store has less free space than [Options.ReserveBytes]. Nothing was
	// written; what was acknowledged before stays readable, and writes
	// succeed again once space is freed.
	ErrDiskFull = errors.New("badgerstore: disk full")
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
	// ReadOnly opens an existing store for reading only: nothing in the
	// directory is created, changed or deleted, a missing or empty
	// directory fails with [ErrNoStore], and Update fails with
	// [mpi.ErrReadOnly]. Several read-only opens may share a store; a
	// writer excludes them.
	ReadOnly bool
	// CacheBytes is the block cache size; zero means 64 MiB.
	CacheBytes int64
	// MemTableBytes is the size of each in-memory table; zero means 32 MiB.
	MemTableBytes int64
	// ReserveBytes is the free space an Update needs on the store's file
	// system before it writes, so that the storage engine (which writes
	// its logs and tables through memory maps, where a full disk is a
	// fatal signal rather than an error) never runs out; short of it,
	// Update fails with [ErrDiskFull]. Zero means two memory tables (the
	// log growing to a full one, and its flush to a table) plus 16 MiB;
	// negative disables the check.
	ReserveBytes int64
}

// Store is a [mpi.Store] backed by Badger. It is safe for concurrent use.
type Store struct {
	db       *badger.DB
	dir      string
	readOnly bool
	reserve  int64
	closed   atomic.Bool
}

var (
	_ mpi.Store         = (*Store)(nil)
	_ mpi.SizeReporter  = (*Store)(nil)
	_ mpi.ReadOnlyStore = (*Store)(nil)
)

// Open opens the store in dir, creating it when dir is missing or empty
// (unless o.ReadOnly). o may be nil.
//
// Before the storage engine sees the directory, Open checks its files as
// [Check] does: a damaged MANIFEST, a table file that is missing, fails its
// checksums or is truncated, a table the MANIFEST does not list, or a log
// damaged before valid entries fails with an error wrapping
// [mpi.ErrCorrupt] naming the files, and nothing is changed (Badger would
// otherwise delete unlisted tables, skip tables failing their checksums,
// crash, or cut the log at the damage, losing the entries after it). A log
// whose damage runs to its end, with no valid entry after it (a write cut
// short by a crash), is Badger's to cut. The one exception is a store whose
// last session did not close (a crash), opened for writing: unlisted tables
// are then the remains of an interrupted flush or compaction, whose data is
// still in the write-ahead log or in the listed tables, and Badger's
// recovery removes them as usual.
//
// A directory that cannot be read or (for writing) written fails with an
// error wrapping [fs.ErrPermission] (or [syscall.EROFS] for a read-only
// file system); one in use by another process with [ErrLocked]; a
// directory that holds something else with [mpi.ErrForeignStore].
func Open(dir string, o *Options) (*Store, error) {
	var opt Options
	if o != nil {
		opt = *o
	}
	if err := checkDir(dir, opt.ReadOnly); err != nil {
		return nil, err
	}
	if !opt.ReadOnly {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("badgerstore: open %s: %w", dir, err)
		}
		if err := syscall.Access(dir, 0x2|0x1); err != nil { // W_OK|X_OK
			return nil, fmt.Errorf("badgerstore: open %s for writing: %w", dir, &fs.PathError{Op: "access", Path: dir, Err: err})
		}
	}
	unlock, err := probeLock(dir, opt.ReadOnly)
	if err != nil {
		return nil, err
	}
	err = checkFiles(dir, opt.ReadOnly)
	unlock()
	if err != nil {
		return nil, err
	}
	return openEngine(dir, opt)
}

// openEngine opens the store in dir, whose files have been checked, with
// the storage engine.
func openEngine(dir string, opt Options) (*Store, error) {
	memTable := cmpOr(opt.MemTableBytes, 32<<20)
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
		WithMemTableSize(memTable).
		WithValueThreshold(min(1<<20, memTable/10)).
		WithNumMemtables(3).
		WithNumLevelZeroTables(4).
		WithNumLevelZeroTablesStall(12)
	var db *badger.DB
	err := recoverErr(func() error {
		var err error
		db, err = badger.Open(bo)
		return err
	})
	if err != nil {
		// The checks above found nothing wrong with the MANIFEST, the
		// tables and the logs; what is left (an I/O error, a damaged key
		// registry) is reported as Badger words it.
		return nil, fmt.Errorf("badgerstore: open %s: storage engine: %v", dir, err)
	}
	reserve := opt.ReserveBytes
	if reserve == 0 {
		reserve = 2*memTable + 16<<20
	}
	s := &Store{db: db, dir: dir, readOnly: opt.ReadOnly, reserve: reserve}
	if err := s.checkMarker(opt.ReadOnly); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// checkFiles checks the files of the store in dir, if it has any, before
// Badger opens it (see [Open]).
func checkFiles(dir string, readOnly bool) error {
	if _, err := os.Stat(filepath.Join(dir, badger.ManifestFilename)); err != nil {
		return nil
	}
	return filesVerdict(dir, inspect(dir), readOnly)
}

// filesVerdict is the error, if any, that keeps [Open] from opening a
// store whose files inspect found in state st.
func filesVerdict(dir string, st state, readOnly bool) error {
	if len(st.problems) > 0 && !(st.interrupted && onlyUnlisted(st.problems)) {
		return problemsError(dir, st.problems)
	}
	if readOnly && st.interrupted {
		return fmt.Errorf("badgerstore: open %s: %w", dir, ErrNeedsRecovery)
	}
	return nil
}

// onlyUnlisted reports whether every problem is a table missing from the
// MANIFEST (what a crash between writing a table and listing it leaves).
func onlyUnlisted(ps []Problem) bool {
	for _, p := range ps {
		if !p.unlisted {
			return false
		}
	}
	return true
}

// probeLock takes and releases the lock Badger takes (an exclusive flock
// on the directory for a writer, a shared one for a reader), so that a
// store in use is reported as [ErrLocked] by its errno, not by parsing
// Badger's message. The caller releases the lock before Badger takes it.
func probeLock(dir string, readOnly bool) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("badgerstore: open %s: %w", dir, err)
	}
	how := syscall.LOCK_EX
	if readOnly {
		how = syscall.LOCK_SH
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("badgerstore: lock %s: %w", dir, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func cmpOr(v, def int64) int64 {
	if v > 0 {
		return v
	}
	return def
}

// checkDir refuses a directory that is neither empty nor a Badger
// database, and, for reading, one that is missing or empty.
func checkDir(dir string, readOnly bool) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if readOnly {
			return fmt.Errorf("badgerstore: open %s: %w: %w", dir, ErrNoStore, fs.ErrNotExist)
		}
		return nil
	case err != nil:
		return fmt.Errorf("badgerstore: open %s: %w", dir, err)
	}
	if len(entries) == 0 {
		if readOnly {
			return fmt.Errorf("badgerstore: open %s: %w: the directory is empty", dir, ErrNoStore)
		}
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, badger.ManifestFilename)); err != nil {
		return fmt.Errorf("badgerstore: open %s: %w: the directory is not empty and holds no store", dir, mpi.ErrForeignStore)
	}
	return nil
}

// checkMarker verifies the format marker, writing it into a new store.
func (s *Store) checkMarker(readOnly bool) error {
	var marker []byte
	empty := true
	err := s.guard(func() error {
		return s.db.View(func(txn *badger.Txn) error {
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
	})
	if err != nil {
		return fmt.Errorf("badgerstore: open %s: read format marker: %w: %v", s.dir, mpi.ErrCorrupt, err)
	}
	switch {
	case marker != nil && string(marker) == FormatVersion:
		return nil
	case marker != nil:
		return fmt.Errorf("badgerstore: open %s: %w: format %q, want %q", s.dir, mpi.ErrForeignStore, marker, FormatVersion)
	case !empty:
		return fmt.Errorf("badgerstore: open %s: %w: a database without the CareLens format marker", s.dir, mpi.ErrForeignStore)
	case readOnly:
		return fmt.Errorf("badgerstore: open %s: %w: the store is empty", s.dir, ErrNoStore)
	}
	err = s.guard(func() error {
		return s.db.Update(func(txn *badger.Txn) error { return txn.Set(markerKey, []byte(FormatVersion)) })
	})
	if err != nil {
		return fmt.Errorf("badgerstore: open %s: write format marker: %w", s.dir, translate(err))
	}
	return nil
}

// guard runs fn, which calls the storage engine, turning a panic (the
// engine's reaction to some damaged bytes) into an error wrapping
// [mpi.ErrCorrupt], so that no panic escapes the store.
func (s *Store) guard(fn func() error) error {
	err := recoverErr(fn)
	var pe *panicError
	if errors.As(err, &pe) {
		return fmt.Errorf("badgerstore: %s: %w: %v", s.dir, mpi.ErrCorrupt, pe)
	}
	return err
}

// ReadOnly reports whether the store was opened read-only.
func (s *Store) ReadOnly() bool { return s.readOnly }

// checkSpace refuses a write when the file system is short of the reserve.
func (s *Store) checkSpace() error {
	if s.reserve < 0 {
		return nil
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &st); err != nil {
		return nil // no figure: let the write report its own error
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if free < s.reserve {
		return fmt.Errorf("%w: %s: %d bytes free, %d kept in reserve", ErrDiskFull, s.dir, free, s.reserve)
	}
	return nil
}

// View implements [mpi.Store].
func (s *Store) View(ctx context.Context, fn func(mpi.Txn) error) error {
	if s.closed.Load() {
		return mpi.ErrStoreClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	return fn(&tx{s: s, txn: txn})
}

// Update implements [mpi.Store]. The commit is synced to disk before
// Update returns unless the store was opened with [Options.NoSync]. On a
// read-only store it fails with [mpi.ErrReadOnly]; short of disk space,
// with [ErrDiskFull], before fn runs.
func (s *Store) Update(ctx context.Context, fn func(mpi.Txn) error) error {
	if s.closed.Load() {
		return mpi.ErrStoreClosed
	}
	if s.readOnly {
		return fmt.Errorf("badgerstore: %s opened read-only: %w", s.dir, mpi.ErrReadOnly)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.checkSpace(); err != nil {
		return err
	}
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	if err := fn(&tx{s: s, txn: txn, writable: true}); err != nil {
		return err
	}
	if err := s.guard(txn.Commit); err != nil {
		return fmt.Errorf("badgerstore: commit: %w", translate(err))
	}
	return nil
}

// Close closes the database. Further calls fail with [mpi.ErrStoreClosed].
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return mpi.ErrStoreClosed
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

// translate maps Badger's errors onto mpi's sentinels.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return mpi.ErrNotFound
	case errors.Is(err, badger.ErrConflict):
		return mpi.ErrConflict
	case errors.Is(err, badger.ErrTxnTooBig):
		return mpi.ErrTxnTooBig
	case errors.Is(err, badger.ErrReadOnlyTxn):
		return mpi.ErrReadOnly
	case errors.Is(err, badger.ErrDBClosed), errors.Is(err, badger.ErrBlockedWrites):
		return mpi.ErrStoreClosed
	}
	// An operating-system error keeps its errno, so that a caller matches
	// a permissions, disk or I/O failure with errors.Is (fs.ErrPermission,
	// syscall.ENOSPC, syscall.EIO), never by message; Badger's own types
	// stay behind this boundary.
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return fmt.Errorf("badgerstore: %v: %w", err, errno)
	}
	return errors.New("badgerstore: " + err.Error())
}

// tx adapts a Badger transaction to [mpi.Txn].
type tx struct {
	s        *Store
	txn      *badger.Txn
	writable bool
}

func (t *tx) Get(key []byte) ([]byte, error) {
	if bytes.HasPrefix(key, reservedPrefix) {
		return nil, mpi.ErrNotFound
	}
	var v []byte
	err := t.s.guard(func() error {
		item, err := t.txn.Get(key)
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	return v, translate(err)
}

func (t *tx) Set(key, value []byte) error {
	if !t.writable {
		return mpi.ErrReadOnly
	}
	if bytes.HasPrefix(key, reservedPrefix) {
		return errors.New("badgerstore: key uses the reserved prefix")
	}
	// Badger keeps the slices until commit; the caller may reuse its own.
	return translate(t.txn.Set(bytes.Clone(key), bytes.Clone(value)))
}

func (t *tx) Delete(key []byte) error {
	if !t.writable {
		return mpi.ErrReadOnly
	}
	if bytes.HasPrefix(key, reservedPrefix) {
		return errors.New("badgerstore: key uses the reserved prefix")
	}
	return translate(t.txn.Delete(bytes.Clone(key)))
}

func (t *tx) Scan(prefix, start []byte) iter.Seq2[mpi.KV, error] {
	return func(yield func(mpi.KV, error) bool) {
		// A panic of the engine becomes an error; one raised by the
		// caller's loop body (inside yield) is the caller's, and passes.
		inYield := false
		err := func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					if inYield {
						panic(r)
					}
					err = fmt.Errorf("badgerstore: %s: %w: %v", t.s.dir, mpi.ErrCorrupt, &panicError{r})
				}
			}()
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
					inYield = true
					more = yield(mpi.KV{Key: k, Value: v}, nil)
					inYield = false
					return nil
				})
				if err != nil {
					return translate(err)
				}
				if !more {
					return nil
				}
			}
			return nil
		}()
		if err != nil {
			yield(mpi.KV{}, err)
		}
	}
}
