package pgstore_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/carelens/carelens/mpi/pgstore"
	"github.com/carelens/carelens/mpi/pgstore/pgtest"
)

// server is the PostgreSQL server the tests share, or nil with the reason
// in unavailable.
var (
	server      *pgtest.Server
	unavailable error
	schemaNo    atomic.Int64
)

// helperEnv, when set, makes the test binary a helper subprocess of a
// multi-process test; it names the helper's task.
const helperEnv = "CARELENS_PGSTORE_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		// A helper subprocess: it uses the server its parent started.
		os.Exit(m.Run())
	}
	var err error
	server, err = pgtest.Start(context.Background(), &pgtest.Options{NoFsync: true})
	if err != nil {
		unavailable = err
	}
	code := m.Run()
	if server != nil {
		server.Stop()
	}
	os.Exit(code)
}

// needServer skips t, saying why, when no server could be started.
func needServer(t testing.TB) *pgtest.Server {
	t.Helper()
	if server == nil {
		pgtest.Unavailable(t, unavailable)
	}
	return server
}

// newSchema returns a schema name no other test uses.
func newSchema() string { return fmt.Sprintf("t%d_%d", os.Getpid(), schemaNo.Add(1)) }

// openStore opens a store in a new schema of the shared server's database.
func openStore(t testing.TB, o *pgstore.Options) (*pgstore.Store, string) {
	t.Helper()
	srv := needServer(t)
	var opt pgstore.Options
	if o != nil {
		opt = *o
	}
	if opt.Schema == "" {
		opt.Schema = newSchema()
	}
	s, err := pgstore.Open(t.Context(), srv.URL("postgres"), &opt)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s, opt.Schema
}
