package mpi

import (
	"context"
	"errors"
	"iter"
)

// Errors returned by a [Store] and by the [Index] built on one.
var (
	// ErrNotFound reports that a key, record, person or event does not exist.
	ErrNotFound = errors.New("mpi: not found")
	// ErrStoreClosed reports use of a Store or Index after Close.
	ErrStoreClosed = errors.New("mpi: store closed")
	// ErrReadOnly reports a write attempted inside a [Store.View] transaction.
	ErrReadOnly = errors.New("mpi: write in read-only transaction")
	// ErrConflict reports that a transaction lost a race with another writer
	// and was not applied; the caller may retry it.
	ErrConflict = errors.New("mpi: transaction conflict")
	// ErrCorrupt reports that stored data cannot be decoded. It is never
	// repaired silently: the index refuses to open or to serve the value.
	ErrCorrupt = errors.New("mpi: corrupt store")
	// ErrForeignStore reports a store that was written by something other
	// than the CareLens index, or by an incompatible version of it.
	ErrForeignStore = errors.New("mpi: store holds foreign data or another format version")
	// ErrInvalidRecord reports a record the index cannot hold (no source or
	// no id).
	ErrInvalidRecord = errors.New("mpi: invalid record")
	// ErrInvalidDecision reports a decision without a person, or about a
	// record and itself.
	ErrInvalidDecision = errors.New("mpi: invalid decision")
	// ErrDecisionConflict reports a link that would join records a person
	// has said are different people. Resolve it with a new decision.
	ErrDecisionConflict = errors.New("mpi: conflicts with a never-link decision")
	// ErrTxnTooBig reports a transaction holding more writes than the
	// Store accepts in one; it was not applied, and may be split.
	ErrTxnTooBig = errors.New("mpi: transaction too big")
	// ErrNotReversible reports a [Index.Revert] of an event that cannot be
	// reversed (an addition, update or removal of a record).
	ErrNotReversible = errors.New("mpi: event cannot be reverted")
)

// Store is the persistence seam beneath an [Index]: an ordered key-value
// store with serialisable read-write transactions. It is deliberately small,
// so that an embedded engine (mpi/badgerstore), an in-memory map
// ([NewMemoryStore]) or a distributed transactional key-value store can sit
// behind it without anything above the seam changing.
//
// Keys and values are opaque bytes. Keys sort bytewise. The contract, which
// [github.com/carelens/carelens/match/mpitest.RunStore] checks:
//
//   - View runs fn over a consistent snapshot; writes inside it fail with
//     [ErrReadOnly].
//   - Update runs fn in a transaction that sees its own writes (Get and Scan
//     included) and is applied atomically when fn returns nil, and not at all
//     when fn returns an error (which Update returns unchanged). When Update
//     returns nil the write is durable: it survives a crash of the process.
//   - A missing key is reported as an error wrapping [ErrNotFound], never as
//     a dependency's own error type.
//   - Byte slices passed to fn (keys and values read) are valid only until
//     fn returns; byte slices passed in by the caller may be reused by the
//     caller once the call returns.
//   - Concurrent View and Update calls are safe. Update calls that touch the
//     same keys either serialise or fail with [ErrConflict].
//   - After Close every method returns [ErrStoreClosed].
type Store interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(tx Txn) error) error
	// Update runs fn in a read-write transaction and commits it durably.
	Update(ctx context.Context, fn func(tx Txn) error) error
	// Close releases the store. Further calls fail with ErrStoreClosed.
	Close() error
}

// Txn is one transaction of a [Store].
type Txn interface {
	// Get returns the value of key, or an error wrapping ErrNotFound. The
	// value is valid until the transaction function returns.
	Get(key []byte) ([]byte, error)
	// Scan yields the keys with the given prefix and their values in
	// ascending key order, starting at the first key >= start (nil: the
	// prefix itself). The slices are valid only during the yield call. A
	// failure is yielded once, as the last element. The sequence is
	// single-use and must not be held past the transaction function.
	Scan(prefix, start []byte) iter.Seq2[KV, error]
	// Set stores value under key.
	Set(key, value []byte) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(key []byte) error
}

// KV is one key and its value yielded by [Txn.Scan].
type KV struct {
	Key, Value []byte
}

// SizeReporter is an optional capability of a [Store] that can say how many
// bytes it occupies on disk.
type SizeReporter interface {
	// DiskSize returns the bytes the store occupies on disk.
	DiskSize() (int64, error)
}

// ReadOnlyStore is an optional capability of a [Store] opened for reading
// only (how is the store's own option, such as badgerstore's
// Options.ReadOnly). [OpenIndex] opens such a store without writing to it
// and refuses one that holds no index; the index's writes then fail with
// [ErrReadOnly], as the store's Update does.
type ReadOnlyStore interface {
	// ReadOnly reports whether the store refuses writes.
	ReadOnly() bool
}

// BlockTxn is an optional capability of a [Txn] whose store keeps the
// index's blocking keys itself, in a table of (record number, block hash)
// with a secondary index on the hash (mpi/pgstore). An [Index] over such a
// store keeps no block postings in memory: it writes each record's blocks
// in the record's own transaction and reads a query's candidates from the
// store, so its memory does not grow with every record's blocks and all
// its instances read one blocking index.
type BlockTxn interface {
	// SetBlocks replaces the blocks record number rec is in (nil: none).
	SetBlocks(rec uint32, blocks []uint64) error
	// Blocks returns the record numbers in each of blocks, ascending, as
	// the transaction sees them; a block of more than limit records may
	// be cut short, to no fewer than limit.
	Blocks(blocks []uint64, limit int) (map[uint64][]uint32, error)
}
