package pgstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/carelens/carelens/mpi"

	"github.com/jackc/pgx/v5"
)

// Shards is the number of values of the shard column that leads every
// primary key, so that keys written in sequence (the index's event log)
// spread over that many ranges of a range-partitioned database instead of
// all landing at the end of one. It is part of the schema: changing it
// needs a migration that rewrites the rows.
const Shards = 16

// migration is one versioned step of the schema. Steps are applied in
// order, each in its own transaction with its version recorded, and never
// changed once released: a change to the schema is a new step.
type migration struct {
	version int
	name    string
	sql     []string
}

// migrations are the schema's steps. {{kv}}, {{outbox}}, {{blocks}} and
// the index names are replaced by the quoted (schema-qualified) names.
var migrations = []migration{
	{1, "key-value table and outbox", []string{
		// s is shardOf(k): rows spread over Shards ranges; k keeps its
		// byte order within a shard, and a prefix scan reads every shard's
		// range of it and merges them by k.
		`CREATE TABLE {{kv}} (
			s smallint NOT NULL,
			k bytea NOT NULL,
			v bytea NOT NULL,
			PRIMARY KEY (s, k)
		)`,
		// The outbox: every write to a followed key family, committed in
		// the transaction that made it. id is random, so inserts do not
		// converge on one range; a consumer orders by k (the index's
		// event keys carry its sequence number), then written_at (two
		// writes of one key come from serialised transactions, the later
		// begun after the earlier committed), and deletes what it has
		// handled.
		`CREATE TABLE {{outbox}} (
			id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
			k bytea NOT NULL,
			v bytea,
			written_at timestamptz NOT NULL DEFAULT now()
		)`,
	}},
	{2, "outbox order index", []string{
		`CREATE INDEX {{outbox_k}} ON {{outbox}} (k, written_at)`,
	}},
	{3, "blocking index", []string{
		// The index's blocking keys (see blocks.go): s is recShard(rec).
		`CREATE TABLE {{blocks}} (
			s smallint NOT NULL,
			rec bigint NOT NULL,
			block bigint NOT NULL,
			PRIMARY KEY (s, rec, block)
		)`,
		`CREATE INDEX {{blocks_block}} ON {{blocks}} (block, rec)`,
	}},
}

// latestVersion is the schema version this package writes.
func latestVersion() int { return migrations[len(migrations)-1].version }

// migrate brings the schema to the latest version, creating it when
// missing. Several processes opening one database at once are serialised by
// a transaction-scoped advisory lock; a step lost to a serialization
// failure is retried. A schema holding tables of another program, or a
// newer version than this package knows, is refused with
// [mpi.ErrForeignStore].
func (s *Store) migrate(ctx context.Context) error {
	return Retry(ctx, func() error {
		tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
		if err != nil {
			return translate("migrate: begin", err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "carelens/pgstore/"+s.schema); err != nil {
			return translate("migrate: lock", err)
		}
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+s.ident("")); err != nil {
			return translate("migrate: schema", err)
		}
		var tables []string
		rows, err := tx.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, s.schema)
		if err != nil {
			return translate("migrate: list tables", err)
		}
		tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return translate("migrate: list tables", err)
		}
		current := 0
		switch {
		case len(tables) == 0:
			if _, err := tx.Exec(ctx, `CREATE TABLE `+s.ident("carelens_schema")+` (
				version integer PRIMARY KEY,
				name text NOT NULL,
				applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
				return translate("migrate: create version table", err)
			}
		case !slices.Contains(tables, "carelens_schema"):
			return fmt.Errorf("pgstore: open schema %q: %w: it holds tables but no CareLens schema version", s.schema, mpi.ErrForeignStore)
		default:
			if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+s.ident("carelens_schema")).Scan(&current); err != nil {
				return translate("migrate: read version", err)
			}
		}
		if current > latestVersion() {
			return fmt.Errorf("pgstore: open schema %q: %w: schema version %d is newer than this program's %d",
				s.schema, mpi.ErrForeignStore, current, latestVersion())
		}
		for _, m := range migrations {
			if m.version <= current {
				continue
			}
			for _, stmt := range m.sql {
				if _, err := tx.Exec(ctx, s.expand(stmt)); err != nil {
					return translate(fmt.Sprintf("migrate: version %d", m.version), err)
				}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+s.ident("carelens_schema")+` (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return translate("migrate: record version", err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			return translate("migrate: commit", err)
		}
		return nil
	})
}

// ident returns the quoted, schema-qualified name of table (or the schema
// itself for "").
func (s *Store) ident(table string) string {
	if table == "" {
		return pgx.Identifier{s.schema}.Sanitize()
	}
	return pgx.Identifier{s.schema, table}.Sanitize()
}

func (s *Store) expand(stmt string) string {
	r := []string{
		"{{kv}}", s.ident("carelens_kv"),
		"{{outbox}}", s.ident("carelens_outbox"),
		"{{outbox_k}}", pgx.Identifier{"carelens_outbox_k"}.Sanitize(),
		"{{blocks}}", s.ident("carelens_blocks"),
		"{{blocks_block}}", pgx.Identifier{"carelens_blocks_block"}.Sanitize(),
	}
	for i := 0; i < len(r); i += 2 {
		stmt = strings.ReplaceAll(stmt, r[i], r[i+1])
	}
	return stmt
}

// checkVersion, for a read-only store, requires the schema at the latest
// version without changing anything.
func (s *Store) checkVersion(ctx context.Context) error {
	var exists bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables
		WHERE table_schema = $1 AND table_name = 'carelens_schema')`, s.schema).Scan(&exists)
	if err != nil {
		return translate("open: check schema", err)
	}
	if !exists {
		return fmt.Errorf("pgstore: open schema %q read-only: %w: no CareLens store there", s.schema, mpi.ErrNotFound)
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if v != latestVersion() {
		return fmt.Errorf("pgstore: open schema %q read-only: %w: schema version %d, this program's %d (open it for writing once to migrate)",
			s.schema, mpi.ErrForeignStore, v, latestVersion())
	}
	return nil
}

// SchemaVersion returns the schema version recorded in the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	if s.closed.Load() {
		return 0, mpi.ErrStoreClosed
	}
	var v int
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+s.ident("carelens_schema")).Scan(&v)
	if err != nil {
		return 0, translate("schema version", err)
	}
	return v, nil
}
