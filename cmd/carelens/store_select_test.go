package main

import (
	"context"
	"flag"
	"testing"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/mpi/badgerstore"
	"github.com/carelens/carelens/mpi/pgstore"
	"github.com/carelens/carelens/mpi/pgstore/pgtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStoreFlag(t *testing.T) {
	fs := flag.NewFlagSet("index load", flag.ContinueOnError)
	db := fs.String("db", "", "")
	addStoreFlag(fs, db)
	require.NoError(t, fs.Parse([]string{"--store", "postgres://h/db"}))
	assert.Equal(t, "postgres://h/db", *db, "--store sets what --db sets")
}

func TestOpenIndexStoreSelects(t *testing.T) {
	s, err := openIndexStore(t.Context(), t.TempDir(), true, false)
	require.NoError(t, err)
	_, isBadger := s.(*badgerstore.Store)
	assert.True(t, isBadger, "a directory is a Badger store")
	require.NoError(t, s.Close())

	_, err = openIndexStore(t.Context(), "postgres://u:s3cret@[::1", false, false)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret")

	srv, err := pgtest.Start(context.Background(), &pgtest.Options{NoFsync: true})
	if err != nil {
		pgtest.Unavailable(t, err)
	}
	defer srv.Stop()
	s, err = openIndexStore(t.Context(), srv.URL("postgres")+"?schema=chosen&sslmode=disable", false, false)
	require.NoError(t, err)
	defer s.Close()
	ps, isPG := s.(*pgstore.Store)
	require.True(t, isPG, "a postgres:// URL is a PostgreSQL store")
	ix, err := mpi.OpenIndex(t.Context(), ps, nil)
	require.NoError(t, err)
	_, err = ix.Add(t.Context(), match.Record{Source: "gp", ID: "1", Family: "Smith", Given: []string{"Ann"}, BirthDate: "1970-01-02"})
	require.NoError(t, err)
	// The schema parameter chose the schema.
	again, err := pgstore.Open(t.Context(), srv.URL("postgres"), &pgstore.Options{Schema: "chosen"})
	require.NoError(t, err)
	defer again.Close()
	ix2, err := mpi.OpenIndex(t.Context(), again, nil)
	require.NoError(t, err)
	st, err := ix2.Stats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, st.Records)

	ro, err := openIndexStore(t.Context(), srv.URL("postgres")+"?schema=chosen", false, true)
	require.NoError(t, err)
	defer ro.Close()
	assert.ErrorIs(t, ro.Update(t.Context(), func(mpi.Txn) error { return nil }), mpi.ErrReadOnly)
	_, err = openIndexStore(t.Context(), srv.URL("postgres")+"?schema=absent", false, true)
	assert.ErrorIs(t, err, mpi.ErrNotFound, "read-only creates nothing")

	// The read commands open PostgreSQL read-only too: a mistyped schema is
	// an error and is not created; the right one answers.
	query := func(schema string) (string, error) {
		out, _, err := runCmd(t, "index", "query", "--db", srv.URL("postgres")+"?schema="+schema,
			"--given", "Ann", "--family", "Smith", "--birth-date", "1970-01-02")
		return out, err
	}
	_, err = query("typo")
	require.Error(t, err)
	_, err = openIndexStore(t.Context(), srv.URL("postgres")+"?schema=typo", false, true)
	assert.ErrorIs(t, err, mpi.ErrNotFound, "index query created nothing")
	out, err := query("chosen")
	require.NoError(t, err)
	assert.Contains(t, out, "gp/1")
}
