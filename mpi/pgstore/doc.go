// Package pgstore is a [mpi.Store] over the PostgreSQL wire protocol
// (github.com/jackc/pgx/v5): the identity index's home when it outgrows one
// machine or is served by more than one process, on PostgreSQL or on a
// distributed database that speaks its protocol (YugabyteDB, CockroachDB).
//
// # Schema
//
// The store keeps the index's keys and values in one table,
// carelens_kv(s, k, v), in a schema of its own ([Options.Schema]). Its
// primary key leads with a shard number computed from the key ([Shards]
// of them), so that keys written in sequence (the index's event log) do not
// all land at the end of one key range on a range-partitioned database;
// a prefix scan reads each shard's range and merges them in key order.
// Writes are upserts (INSERT … ON CONFLICT DO UPDATE). The schema is
// versioned: [Open] applies the migrations the database lacks, in order,
// under an advisory lock, recording each in carelens_schema.
//
// # Transactions
//
// [Store.Update] runs SERIALIZABLE; [Store.View] runs REPEATABLE READ,
// READ ONLY (one snapshot), its BEGIN sent in one round trip with its
// first statement. A transaction's writes are kept in memory and
// sent at commit in key order: as one array upsert and one array delete,
// or, from [Options.CopyThreshold] keys, by COPY into a temporary staging
// table and one upsert from it — the index's bulk load sends thousands of
// keys per transaction this way.
//
// Serialization failures and deadlocks (SQLSTATE 40001, 40P01) are returned
// wrapping [mpi.ErrConflict]; [Retry] is the one retry loop, used for
// the migrations and offered to callers whose transactions can be run
// again ([Store.UpdateRetry]). The index retries its own conflicting
// writes.
//
// # Outbox
//
// Writes to the key families in [Options.OutboxPrefixes] (by default the
// index's change events) are also written to carelens_outbox in the same
// transaction, so a consumer can follow the index's changes with plain SQL
// and no vendor change feed; [Store.DrainOutbox] reads and removes them.
//
// # Several instances
//
// A mpi.Index keeps its counters, blocking index and persons in memory.
// The Store declares itself shared ([Store.Shared]), so an index over it
// catches up with other processes' writes (from the index's event log)
// before each write and each query: a record added through one instance is
// found through another on the next query. So that two processes never
// write from a stale picture even so, an Update that rewrites the index's
// counters key ([Options.Fence]) fails with [mpi.ErrConflict] unless the
// stored value is the one this Store last read or wrote; the index then
// catches up and tries again.
//
// # Read-only
//
// [Options.ReadOnly] creates and migrates nothing and refuses writes, for
// tools that only read an index.
//
// # Errors
//
// Errors carry the operation and SQLSTATE, never the server's message
// text or a key or value, which may hold patient identifiers.
package pgstore
