package pgstore

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carelens/carelens/mpi"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultSchema is the PostgreSQL schema that holds the store's tables
// when [Options.Schema] is empty.
const DefaultSchema = "carelens"

// DefaultOutboxPrefixes are the key families copied to the outbox when
// [Options.OutboxPrefixes] is nil: the identity index's change events
// (keys "e/" followed by the big-endian event sequence number).
var DefaultOutboxPrefixes = [][]byte{[]byte("e/")}

// DefaultFence is the key checked when [Options.Fence] is nil: the identity
// index's counters (next person, event and record numbers), which every
// write of the index rewrites.
var DefaultFence = []byte("m/counters")

// Options configures [Open]. The zero value is a store in schema
// [DefaultSchema] with the index's events in the outbox.
type Options struct {
	// Schema is the PostgreSQL schema holding the tables; it is created
	// when missing. Empty means DefaultSchema.
	Schema string
	// MaxConns bounds the connection pool; zero means 8, or the
	// pool_max_conns of the connection string when it has one.
	MaxConns int32
	// OutboxPrefixes are the key families whose writes are also written
	// to the outbox table, in the same transaction. nil means
	// DefaultOutboxPrefixes; an empty, non-nil slice writes none.
	OutboxPrefixes [][]byte
	// Fence is a key whose writes are checked: an Update that writes it
	// fails with [mpi.ErrConflict] unless its stored value is the one
	// this Store last read or wrote (or the transaction read itself). A
	// writer that keeps state in memory between transactions, as
	// mpi.Index keeps its counters and blocking index, thus learns that
	// another process wrote in between, instead of overwriting that
	// process's writes from a stale picture. nil means DefaultFence; an
	// empty, non-nil slice checks nothing. One Index per Store: two in
	// one process over one Store are not told apart.
	Fence []byte
	// ReadOnly opens the store for reading only: nothing is created or
	// migrated (a missing schema is an error wrapping [mpi.ErrNotFound],
	// an older one an error wrapping [mpi.ErrForeignStore]), and Update
	// fails with [mpi.ErrReadOnly].
	ReadOnly bool
	// CopyThreshold is the number of written keys from which a commit
	// sends them with COPY into a staging table and upserts from it,
	// rather than as array parameters of one statement. Zero means 2000.
	CopyThreshold int
}

// Store is a [mpi.Store] over the PostgreSQL wire protocol. It is safe for
// concurrent use by many goroutines, and several Stores (in one process or
// many) may share one database.
type Store struct {
	pool     *pgxpool.Pool
	schema   string
	outbox   [][]byte
	copyMin  int
	readOnly bool
	closed   atomic.Bool

	fence    []byte
	fenceMu  sync.Mutex
	seen     []byte // the fence's value as this Store last read or wrote it
	seenKnow bool

	// Statements, schema-qualified once.
	qGet, qUpsert, qDelete, qOutbox, qStageUpsert string
	qBlocks, qBlocksDelete, qBlocksInsert         string
}

var _ mpi.Store = (*Store)(nil)
var _ mpi.SizeReporter = (*Store)(nil)
var _ mpi.ReadOnlyStore = (*Store)(nil)

// Open connects to the database named by connString (a postgres:// URL or
// a key=value string, as pgx reads them), applies the schema migrations
// this version has and the database lacks, and returns the store. A schema
// holding tables of another program, or written by a newer version, is
// refused with an error wrapping [mpi.ErrForeignStore]. o may be nil.
func Open(ctx context.Context, connString string, o *Options) (*Store, error) {
	var opt Options
	if o != nil {
		opt = *o
	}
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		// The connection string may hold a password: say only that it
		// did not parse.
		return nil, errors.New("pgstore: open: the connection string cannot be parsed")
	}
	if opt.MaxConns > 0 {
		cfg.MaxConns = opt.MaxConns
	} else if !bytes.Contains([]byte(connString), []byte("pool_max_conns")) {
		cfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, translate("open", err)
	}
	s := &Store{pool: pool, schema: cmp.Or(opt.Schema, DefaultSchema), outbox: opt.OutboxPrefixes, copyMin: opt.CopyThreshold, readOnly: opt.ReadOnly}
	if s.outbox == nil {
		s.outbox = DefaultOutboxPrefixes
	}
	s.fence = opt.Fence
	if s.fence == nil {
		s.fence = DefaultFence
	}
	if s.copyMin <= 0 {
		s.copyMin = 2000
	}
	kv, ob := s.ident("carelens_kv"), s.ident("carelens_outbox")
	s.qGet = `SELECT v FROM ` + kv + ` WHERE s = $1 AND k = $2`
	s.qUpsert = `INSERT INTO ` + kv + ` (s, k, v) SELECT * FROM unnest($1::smallint[], $2::bytea[], $3::bytea[])
		ON CONFLICT (s, k) DO UPDATE SET v = EXCLUDED.v`
	s.qStageUpsert = `INSERT INTO ` + kv + ` (s, k, v) SELECT s, k, v FROM carelens_stage
		ON CONFLICT (s, k) DO UPDATE SET v = EXCLUDED.v`
	s.qDelete = `DELETE FROM ` + kv + ` WHERE (s, k) IN (SELECT * FROM unnest($1::smallint[], $2::bytea[]))`
	s.qOutbox = `INSERT INTO ` + ob + ` (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[])`
	bl := s.ident("carelens_blocks")
	s.qBlocks = `SELECT q.b, x.rec FROM unnest($1::bigint[]) AS q(b) CROSS JOIN LATERAL
		(SELECT rec FROM ` + bl + ` WHERE block = q.b AND NOT (rec = ANY($3::bigint[])) LIMIT $2) AS x`
	s.qBlocksDelete = `DELETE FROM ` + bl + ` WHERE (s, rec) IN (SELECT * FROM unnest($1::smallint[], $2::bigint[]))`
	s.qBlocksInsert = `INSERT INTO ` + bl + ` (s, rec, block) SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bigint[])`
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, translate("open: connect", err)
	}
	if opt.ReadOnly {
		err = s.checkVersion(ctx)
	} else {
		err = s.migrate(ctx)
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// ReadOnly reports whether the store was opened with [Options.ReadOnly]:
// it implements [mpi.ReadOnlyStore], so that mpi.OpenIndex reads the
// index without writing (and refuses a schema that holds none).
func (s *Store) ReadOnly() bool { return s.readOnly }

// shardOf is the value of the shard column for key: FNV-1a of the key,
// modulo Shards. It is part of the schema (see Shards).
func shardOf(key []byte) int16 {
	h := fnv.New32a()
	h.Write(key)
	return int16(h.Sum32() % Shards)
}

// View implements [mpi.Store]: a read-only transaction at REPEATABLE
// READ, which in PostgreSQL reads one snapshot throughout. Its BEGIN is
// sent with its first statement (see readTx).
func (s *Store) View(ctx context.Context, fn func(mpi.Txn) error) error {
	if s.closed.Load() {
		return mpi.ErrStoreClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.translateClosed("begin", err)
	}
	defer conn.Release() // a connection left inside a transaction is closed, not reused
	rt := &readTx{conn: conn}
	defer rt.end(context.WithoutCancel(ctx))
	return fn(&txn{s: s, ctx: ctx, tx: rt})
}

// dbtx is what a txn sends statements through: a pgx.Tx for Update, a
// readTx for View.
type dbtx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error)
}

// readTx is a View's transaction on one pooled connection. Its BEGIN goes
// in one round trip with its first statement, and a View that reads
// nothing sends nothing: an index query whose candidates are all prepared
// in memory costs its one read (the counters, to learn whether another
// instance has written) and the ROLLBACK, as it cost BEGIN and ROLLBACK
// before it read anything.
type readTx struct {
	conn  *pgxpool.Conn
	begun bool
}

const beginReadOnly = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

// withBegin returns b with BEGIN queued first when the transaction has
// not begun, and whether it did so.
func (r *readTx) withBegin(b *pgx.Batch) (*pgx.Batch, bool) {
	if r.begun {
		return b, false
	}
	r.begun = true
	nb := &pgx.Batch{}
	nb.Queue(beginReadOnly)
	for _, q := range b.QueuedQueries {
		nb.Queue(q.SQL, q.Arguments...)
	}
	return nb, true
}

func (r *readTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	b, began := r.withBegin(b)
	br := r.conn.SendBatch(ctx, b)
	if began {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return failedBatch{err}
		}
	}
	return br
}

func (r *readTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	br := r.SendBatch(ctx, b)
	return batchRow{br.QueryRow(), br}
}

func (r *readTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := r.begin(ctx); err != nil {
		return nil, err
	}
	return r.conn.Query(ctx, sql, args...)
}

func (r *readTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := r.begin(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	return r.conn.Exec(ctx, sql, args...)
}

func (r *readTx) CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	return 0, mpi.ErrReadOnly
}

func (r *readTx) begin(ctx context.Context) error {
	if r.begun {
		return nil
	}
	r.begun = true
	_, err := r.conn.Exec(ctx, beginReadOnly)
	return err
}

// end rolls the transaction back, if it began.
func (r *readTx) end(ctx context.Context) {
	if r.begun {
		r.conn.Exec(ctx, "ROLLBACK") //nolint:errcheck // a failure leaves the connection in a transaction, and Release closes it
	}
}

// batchRow is a row read from a batch, which closes the batch once read.
type batchRow struct {
	row pgx.Row
	br  pgx.BatchResults
}

func (b batchRow) Scan(dest ...any) error {
	err := b.row.Scan(dest...)
	if cerr := b.br.Close(); err == nil {
		err = cerr
	}
	return err
}

// failedBatch is the results of a batch whose BEGIN failed.
type failedBatch struct{ err error }

func (f failedBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, f.err }
func (f failedBatch) Query() (pgx.Rows, error)         { return nil, f.err }
func (f failedBatch) QueryRow() pgx.Row                { return errRow(f) }
func (f failedBatch) Close() error                     { return f.err }
func (f failedBatch) Tx() pgx.Tx                       { return nil }

type errRow struct{ err error }

func (e errRow) Scan(...any) error { return e.err }

// Update implements [mpi.Store]: a SERIALIZABLE transaction. The writes
// fn makes are kept in memory (Get and Scan see them) and sent at commit,
// as one upsert and one delete, or through COPY when there are many; the
// writes to outbox key families go to the outbox table in the same
// transaction. A serialization failure or deadlock (SQLSTATE 40001,
// 40P01) is returned wrapping [mpi.ErrConflict], never retried here: fn
// may have effects of its own, so only the caller knows whether it can be
// run again (see [Retry] and [Store.UpdateRetry]).
func (s *Store) Update(ctx context.Context, fn func(mpi.Txn) error) error {
	if s.closed.Load() {
		return mpi.ErrStoreClosed
	}
	if s.readOnly {
		return mpi.ErrReadOnly
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	if err != nil {
		return s.translateClosed("begin", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	t := &txn{s: s, ctx: ctx, tx: tx, writable: true, writes: map[string]pending{}}
	if err := fn(t); err != nil {
		return err
	}
	if err := t.flush(); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return s.translateClosed("commit", err)
	}
	s.noteFence(t)
	return nil
}

// noteFence records the fence's value after a committed transaction that
// read or wrote it.
func (s *Store) noteFence(t *txn) {
	if len(s.fence) == 0 {
		return
	}
	v, ok := t.fenceRead, t.fenceKnown
	if p, w := t.writes[string(s.fence)]; w {
		v, ok = p.v, !p.del
	}
	if !ok {
		return
	}
	s.fenceMu.Lock()
	s.seen, s.seenKnow = v, true
	s.fenceMu.Unlock()
}

// checkFence fails with ErrConflict when the transaction writes the fence
// and the stored value is not the one the writer last saw.
func (t *txn) checkFence() error {
	if len(t.s.fence) == 0 {
		return nil
	}
	if _, w := t.writes[string(t.s.fence)]; !w {
		return nil
	}
	want, known := t.fenceRead, t.fenceKnown
	if !known {
		t.s.fenceMu.Lock()
		want, known = t.s.seen, t.s.seenKnow
		t.s.fenceMu.Unlock()
	}
	if !known {
		return nil // never seen: nothing to compare with
	}
	var cur []byte
	err := t.tx.QueryRow(t.ctx, t.s.qGet+` FOR UPDATE`, shardOf(t.s.fence), t.s.fence).Scan(&cur)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return t.s.translateClosed("fence", err)
	}
	if !bytes.Equal(cur, want) {
		return fmt.Errorf("pgstore: commit: %w: another writer changed the store since this process last read it", mpi.ErrConflict)
	}
	return nil
}

// UpdateRetry is Update retried by [Retry] while it fails with
// [mpi.ErrConflict]. fn must be safe to run more than once: it must
// derive everything it writes from what it reads in the transaction.
func (s *Store) UpdateRetry(ctx context.Context, fn func(mpi.Txn) error) error {
	return Retry(ctx, func() error { return s.Update(ctx, fn) })
}

// Retry runs op until it returns nil or an error other than
// [mpi.ErrConflict] (which is how this package reports serialization
// failures and deadlocks, SQLSTATE 40001 and 40P01), at most 12 times, with
// jittered exponential backoff from 2 ms to 1 s between attempts. It is
// the one place this package retries.
func Retry(ctx context.Context, op func() error) error {
	const attempts = 12
	backoff := 2 * time.Millisecond
	for i := 1; ; i++ {
		err := op()
		if err == nil || !errors.Is(err, mpi.ErrConflict) || i == attempts {
			return err
		}
		d := backoff/2 + rand.N(backoff)
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(d):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// Close closes the pool. Further calls fail with [mpi.ErrStoreClosed].
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return mpi.ErrStoreClosed
	}
	s.pool.Close()
	return nil
}

// DiskSize returns the bytes the store's tables and their indexes occupy.
func (s *Store) DiskSize() (int64, error) {
	if s.closed.Load() {
		return 0, mpi.ErrStoreClosed
	}
	var n int64
	err := s.pool.QueryRow(context.Background(),
		`SELECT pg_total_relation_size($1::regclass) + pg_total_relation_size($2::regclass) + pg_total_relation_size($3::regclass)`,
		s.ident("carelens_kv"), s.ident("carelens_outbox"), s.ident("carelens_blocks")).Scan(&n)
	if err != nil {
		return 0, translate("disk size", err)
	}
	return n, nil
}

// translateClosed is translate, reporting use after Close as
// [mpi.ErrStoreClosed].
func (s *Store) translateClosed(op string, err error) error {
	if s.closed.Load() {
		return mpi.ErrStoreClosed
	}
	return translate(op, err)
}

// translate maps PostgreSQL's and pgx's errors onto mpi's sentinels.
// Messages carry the operation and SQLSTATE, never the server's message
// text, which may quote stored values.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("pgstore: %s: %w", op, err)
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch pe.Code {
		case "40001", "40P01":
			return fmt.Errorf("pgstore: %s: %w (SQLSTATE %s)", op, mpi.ErrConflict, pe.Code)
		case "57P01", "57P02", "57P03":
			return fmt.Errorf("pgstore: %s: server shutting down or starting (SQLSTATE %s)", op, pe.Code)
		}
		where := ""
		if pe.TableName != "" {
			where = " table " + pe.TableName
		}
		if pe.ConstraintName != "" {
			where += " constraint " + pe.ConstraintName
		}
		return fmt.Errorf("pgstore: %s: SQLSTATE %s%s", op, pe.Code, where)
	}
	if errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("pgstore: %s: %w", op, mpi.ErrStoreClosed)
	}
	// Connection failures: pgconn's messages name host and port only.
	return fmt.Errorf("pgstore: %s: %v", op, err)
}

// pending is a write made in a transaction and not yet sent.
type pending struct {
	v   []byte
	del bool
}

// txn adapts a pgx transaction to [mpi.Txn].
type txn struct {
	s        *Store
	ctx      context.Context
	tx       dbtx
	writable bool
	writes   map[string]pending

	fenceRead  []byte // the fence's stored value, when this transaction read it
	fenceKnown bool

	blocks map[uint32][]uint64 // SetBlocks's changes not yet sent: record number → its blocks
}

func (t *txn) Get(key []byte) ([]byte, error) {
	if p, ok := t.writes[string(key)]; ok {
		if p.del {
			return nil, mpi.ErrNotFound
		}
		return p.v, nil
	}
	var v []byte
	err := t.tx.QueryRow(t.ctx, t.s.qGet, shardOf(key), key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, mpi.ErrNotFound
	}
	if err != nil {
		return nil, t.s.translateClosed("get", err)
	}
	if v == nil {
		v = []byte{}
	}
	if len(t.s.fence) > 0 && bytes.Equal(key, t.s.fence) {
		t.fenceRead, t.fenceKnown = bytes.Clone(v), true
	}
	return v, nil
}

func (t *txn) Set(key, value []byte) error {
	if !t.writable {
		return mpi.ErrReadOnly
	}
	v := bytes.Clone(value)
	if v == nil {
		v = []byte{}
	}
	t.writes[string(key)] = pending{v: v}
	return nil
}

func (t *txn) Delete(key []byte) error {
	if !t.writable {
		return mpi.ErrReadOnly
	}
	t.writes[string(key)] = pending{del: true}
	return nil
}

// Scan page sizes: the first page read from each shard, and the largest,
// reached by doubling as a scan goes on.
const (
	firstPage = 32
	maxPage   = 2048
)

// Scan reads each shard's range of the keys in primary-key order, a page
// at a time (keyset paging: each page starts past the last key read, so
// the server walks its index and never sorts), merges the shards by key
// and merges in the transaction's own unsent writes. The first page of
// every shard is asked for in one round trip. A scan abandoned early
// reads little: a caller reading one page of a large range costs about
// Shards×firstPage rows.
func (t *txn) Scan(prefix, start []byte) iter.Seq2[mpi.KV, error] {
	return func(yield func(mpi.KV, error) bool) {
		lo := prefix
		if bytes.Compare(start, prefix) > 0 {
			lo = start
		}
		if !bytes.HasPrefix(lo, prefix) {
			return
		}
		hi := successor(prefix)
		// This transaction's writes in range, sorted.
		var mine []string
		for k := range t.writes {
			kb := []byte(k)
			if bytes.HasPrefix(kb, prefix) && bytes.Compare(kb, lo) >= 0 {
				mine = append(mine, k)
			}
		}
		slices.Sort(mine)

		m := &shardMerge{t: t, lo: lo, hi: hi}
		db, ok, err := m.next()
		for {
			if err != nil {
				yield(mpi.KV{}, err)
				return
			}
			var out mpi.KV
			switch {
			case !ok && len(mine) == 0:
				return
			case len(mine) > 0 && (!ok || mine[0] <= string(db.Key)):
				k := mine[0]
				mine = mine[1:]
				if ok && k == string(db.Key) {
					db, ok, err = m.next() // overwritten or deleted here
				}
				p := t.writes[k]
				if p.del {
					continue
				}
				out = mpi.KV{Key: []byte(k), Value: p.v}
			default:
				out = db
				db, ok, err = m.next()
			}
			if out.Value == nil {
				out.Value = []byte{}
			}
			if !yield(out, nil) {
				return
			}
		}
	}
}

// shard is one shard's stream in a scan: the page read and where the next
// page starts.
type shard struct {
	page []mpi.KV
	pos  int
	size int  // the next page's size
	done bool // the last page was short: nothing after it
}

// shardMerge merges the shards' streams of keys in [lo, hi) by key.
type shardMerge struct {
	t      *txn
	lo, hi []byte
	shards []shard
}

func (m *shardMerge) query(s int16, from []byte, after bool, limit int) (string, []any) {
	op := ">="
	if after {
		op = ">"
	}
	q := `SELECT k, v FROM ` + m.t.s.ident("carelens_kv") + ` WHERE s = $1 AND k ` + op + ` $2`
	args := []any{s, from}
	if m.hi != nil {
		q += ` AND k < $3`
		args = append(args, m.hi)
	}
	return q + ` ORDER BY k LIMIT ` + strconv.Itoa(limit), args
}

func readPage(rows pgx.Rows, page []mpi.KV) ([]mpi.KV, error) {
	defer rows.Close()
	for rows.Next() {
		var kv mpi.KV
		if err := rows.Scan(&kv.Key, &kv.Value); err != nil {
			return page, err
		}
		page = append(page, kv)
	}
	return page, rows.Err()
}

// fill reads the first page of every shard in one round trip.
func (m *shardMerge) fill() error {
	m.shards = make([]shard, Shards)
	b := &pgx.Batch{}
	for i := range m.shards {
		q, args := m.query(int16(i), m.lo, false, firstPage)
		b.Queue(q, args...)
	}
	br := m.t.tx.SendBatch(m.t.ctx, b)
	defer br.Close()
	for i := range m.shards {
		rows, err := br.Query()
		if err != nil {
			return m.t.s.translateClosed("scan", err)
		}
		sh := &m.shards[i]
		if sh.page, err = readPage(rows, nil); err != nil {
			return m.t.s.translateClosed("scan", err)
		}
		sh.done, sh.size = len(sh.page) < firstPage, 2*firstPage
	}
	if err := br.Close(); err != nil {
		return m.t.s.translateClosed("scan", err)
	}
	return nil
}

// refill reads shard i's next page, after the last key of its current one.
func (m *shardMerge) refill(i int) error {
	sh := &m.shards[i]
	last := sh.page[len(sh.page)-1].Key
	q, args := m.query(int16(i), last, true, sh.size)
	rows, err := m.t.tx.Query(m.t.ctx, q, args...)
	if err != nil {
		return m.t.s.translateClosed("scan", err)
	}
	if sh.page, err = readPage(rows, sh.page[:0]); err != nil {
		return m.t.s.translateClosed("scan", err)
	}
	sh.pos, sh.done, sh.size = 0, len(sh.page) < sh.size, min(2*sh.size, maxPage)
	return nil
}

// next returns the least unread key of all shards.
func (m *shardMerge) next() (mpi.KV, bool, error) {
	if m.shards == nil {
		if err := m.fill(); err != nil {
			return mpi.KV{}, false, err
		}
	}
	best := -1
	for i := range m.shards {
		sh := &m.shards[i]
		if sh.pos == len(sh.page) {
			if sh.done || len(sh.page) == 0 {
				continue
			}
			if err := m.refill(i); err != nil {
				return mpi.KV{}, false, err
			}
			if len(sh.page) == 0 {
				sh.done = true
				continue
			}
		}
		if best < 0 || bytes.Compare(sh.page[sh.pos].Key, m.shards[best].page[m.shards[best].pos].Key) < 0 {
			best = i
		}
	}
	if best < 0 {
		return mpi.KV{}, false, nil
	}
	sh := &m.shards[best]
	sh.pos++
	return sh.page[sh.pos-1], true, nil
}

// successor returns the least key greater than every key with the prefix,
// or nil when there is none (empty, or all 0xff).
func successor(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			s := bytes.Clone(prefix[:i+1])
			s[i]++
			return s
		}
	}
	return nil
}

// flush sends the transaction's writes: upserts and deletes in key order
// (so that concurrent writers take row locks in one order), and the
// outbox's rows.
func (t *txn) flush() error {
	if err := t.flushBlocks(); err != nil {
		return err
	}
	if len(t.writes) == 0 {
		return nil
	}
	if err := t.checkFence(); err != nil {
		return err
	}
	keys := make([]string, 0, len(t.writes))
	for k := range t.writes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var setS, delS []int16
	var setK, setV, delK, obK, obV [][]byte
	for _, k := range keys {
		p, kb := t.writes[k], []byte(k)
		if p.del {
			delS, delK = append(delS, shardOf(kb)), append(delK, kb)
		} else {
			setS, setK, setV = append(setS, shardOf(kb)), append(setK, kb), append(setV, p.v)
		}
		for _, pre := range t.s.outbox {
			if bytes.HasPrefix(kb, pre) {
				obK = append(obK, kb)
				if p.del {
					obV = append(obV, nil)
				} else {
					obV = append(obV, p.v)
				}
				break
			}
		}
	}
	if len(setK) >= t.s.copyMin {
		if err := t.copyUpsert(setS, setK, setV); err != nil {
			return err
		}
	} else if len(setK) > 0 {
		if _, err := t.tx.Exec(t.ctx, t.s.qUpsert, setS, setK, setV); err != nil {
			return t.s.translateClosed("upsert", err)
		}
	}
	if len(delK) > 0 {
		if _, err := t.tx.Exec(t.ctx, t.s.qDelete, delS, delK); err != nil {
			return t.s.translateClosed("delete", err)
		}
	}
	if len(obK) >= t.s.copyMin {
		rows := make([][]any, len(obK))
		for i := range obK {
			rows[i] = []any{obK[i], obV[i]}
		}
		if _, err := t.tx.CopyFrom(t.ctx, pgx.Identifier{t.s.schema, "carelens_outbox"}, []string{"k", "v"}, pgx.CopyFromRows(rows)); err != nil {
			return t.s.translateClosed("outbox copy", err)
		}
	} else if len(obK) > 0 {
		if _, err := t.tx.Exec(t.ctx, t.s.qOutbox, obK, obV); err != nil {
			return t.s.translateClosed("outbox", err)
		}
	}
	return nil
}

// copyUpsert sends many writes with COPY into a temporary staging table
// (emptied at commit) and upserts from it: COPY streams rows without a
// statement per row or one huge parameter list.
func (t *txn) copyUpsert(ss []int16, ks, vs [][]byte) error {
	if _, err := t.tx.Exec(t.ctx, `CREATE TEMPORARY TABLE IF NOT EXISTS carelens_stage
		(s smallint NOT NULL, k bytea NOT NULL, v bytea NOT NULL) ON COMMIT DELETE ROWS`); err != nil {
		return t.s.translateClosed("stage", err)
	}
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(ks) {
			return nil, nil
		}
		i++
		return []any{ss[i-1], ks[i-1], vs[i-1]}, nil
	})
	if _, err := t.tx.CopyFrom(t.ctx, pgx.Identifier{"carelens_stage"}, []string{"s", "k", "v"}, src); err != nil {
		return t.s.translateClosed("copy", err)
	}
	if _, err := t.tx.Exec(t.ctx, t.s.qStageUpsert); err != nil {
		return t.s.translateClosed("upsert from stage", err)
	}
	return nil
}

// Shared implements [mpi.SharedStore]: other processes may write to the
// database, so an index over this Store catches up with their writes
// before it answers or writes.
func (s *Store) Shared() bool { return true }
