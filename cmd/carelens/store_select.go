package main

import (
	"context"
	"errors"
	"flag"
	"net/url"
	"strings"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/mpi/badgerstore"
	"github.com/carelens/carelens/mpi/pgstore"
)

// storeFlagUsage is the usage of the flag naming where the index lives.
const storeFlagUsage = "where the index lives: a directory (Badger, the default; created by load when missing) " +
	"or a postgres://… URL (PostgreSQL or a compatible database; schema=NAME in the query picks the schema, default carelens)"

// addStoreFlag defines --store on fs, stored in p: the index subcommands
// pass their --db variable, so that --store and --db name the same thing
// and either takes a directory or a postgres:// URL.
func addStoreFlag(fs *flag.FlagSet, p *string) {
	fs.StringVar(p, "store", *p, storeFlagUsage)
}

// openIndexStore opens the identity index's store named by spec: a
// postgres:// or postgresql:// URL selects pgstore, anything else is a
// Badger directory. noSync applies to Badger only; PostgreSQL's durability
// is the server's. With readOnly set the store is opened read-only:
// nothing is created, migrated or written.
func openIndexStore(ctx context.Context, spec string, noSync, readOnly bool) (mpi.Store, error) {
	if !isPostgresURL(spec) {
		return badgerstore.Open(spec, &badgerstore.Options{NoSync: noSync, ReadOnly: readOnly})
	}
	conn, schema, err := splitSchema(spec)
	if err != nil {
		return nil, err
	}
	return pgstore.Open(ctx, conn, &pgstore.Options{Schema: schema, ReadOnly: readOnly})
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// splitSchema takes the schema=NAME parameter out of a connection URL (the
// server would take it for a setting of its own).
func splitSchema(spec string) (conn, schema string, err error) {
	u, err := url.Parse(spec)
	if err != nil {
		// The URL may hold a password: do not repeat it.
		return "", "", errors.New("--store: the postgres:// URL cannot be parsed")
	}
	q := u.Query()
	schema = q.Get("schema")
	q.Del("schema")
	u.RawQuery = q.Encode()
	return u.String(), schema, nil
}
