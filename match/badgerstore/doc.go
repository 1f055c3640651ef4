// Package badgerstore is the embedded, Badger-backed [match.Store]: the
// default home of a [match.Index] on one machine.
//
// It holds identity data only (the records' demographics and identifiers,
// enterprise ids, link decisions made by people, change events), never
// clinical data.
//
// # Durability
//
// By default every [match.Store.Update] is synced to disk before it returns,
// so an acknowledged write survives the process being killed (kill -9) or
// the machine losing power. [Options.NoSync] trades that for speed in
// throw-away indexes.
//
// # Format marker
//
// A new store records a format marker in a reserved key. Opening a directory
// that holds something else (files that are not a Badger database, a Badger
// database written by another program, or a store of a different format
// version) fails with an error wrapping [match.ErrForeignStore]; a database
// Badger cannot read fails with one wrapping [match.ErrCorrupt]. Neither is
// ever reset or overwritten.
//
// # Errors
//
// Badger's errors are translated at this boundary: a missing key is
// [match.ErrNotFound], a lost write race is [match.ErrConflict], and no
// Badger type appears in this package's API.
package badgerstore
