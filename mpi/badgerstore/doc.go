// Package badgerstore is the embedded, Badger-backed [mpi.Store]: the
// default home of a [mpi.Index] on one machine.
//
// It holds identity data only (the records' demographics and identifiers,
// enterprise ids, link decisions made by people, change events), never
// clinical data.
//
// # Durability
//
// By default every [mpi.Store.Update] is synced to disk before it returns,
// so an acknowledged write survives the process being killed (kill -9) or
// the machine losing power. [Options.NoSync] trades that for speed in
// throw-away indexes.
//
// # Format marker
//
// A new store records a format marker in a reserved key. Opening a directory
// that holds something else (files that are not a Badger database, a Badger
// database written by another program, or a store of a different format
// version) fails with an error wrapping [mpi.ErrForeignStore]. Neither is
// ever reset or overwritten.
//
// # Damage
//
// Badger "repairs" some damage by deleting data: a MANIFEST that lost its
// tail makes it delete every table the MANIFEST no longer lists, a table
// failing its checksums is skipped, a truncated table panics in one of
// its goroutines, and a log (the write-ahead log of the memory tables,
// .mem, or the value log, .vlog) is cut at its first damaged entry, losing
// the acknowledged entries after it. So before Badger opens a directory,
// [Open] reads the MANIFEST, verifies every table's structure and
// checksums and reads every log itself, read-only; damage fails with an
// error wrapping [mpi.ErrCorrupt] that names the files (and, in a log, the
// byte offsets), and nothing is changed. The one cut allowed is the damaged
// tail of a log with no valid entry after it: what a crash in the middle
// of a write leaves, never acknowledged (writes are synced before they
// are), and removed by Badger's recovery as usual. [Check] reports the same
// without opening the store for writing. A panic of the engine during a
// transaction becomes an error wrapping [mpi.ErrCorrupt].
//
// # Read-only opens
//
// [Options.ReadOnly] opens an existing store without creating, changing or
// deleting anything; a missing or empty directory fails with [ErrNoStore].
// The store then implements [mpi.ReadOnlyStore], so that
// [mpi.OpenIndex] opens it without writing.
//
// # Full disks
//
// Badger writes its log and tables through memory maps, where running out
// of disk is a fatal SIGBUS rather than an error. Update therefore refuses
// to write, with [ErrDiskFull], when the file system has less free space
// than [Options.ReserveBytes]; acknowledged writes stay readable and
// writes resume once space is freed. (Space taken by other programs while
// a write is in flight can still exhaust the reserve.)
//
// # Errors
//
// Badger's errors are translated at this boundary: a missing key is
// [mpi.ErrNotFound], a lost write race is [mpi.ErrConflict], a store in
// use is [ErrLocked] (by the lock's errno), an unwritable directory wraps
// [fs.ErrPermission] or [syscall.EROFS], and no Badger type appears in this
// package's API.
package badgerstore
