package benchmarks

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/match/matchio"
	"github.com/carelens/carelens/mpi/badgerstore"
	"github.com/carelens/carelens/mpi/pgstore"
	"github.com/carelens/carelens/mpi/pgstore/pgtest"
	"github.com/stretchr/testify/require"
)

// storeRun is what TestPgstoreHarness measures for one store.
type storeRun struct {
	Store                string
	LoadSeconds          float64
	LoadCPUSeconds       float64 // this process's CPU only; the server's is not counted
	LoadRecordsPerSecond float64
	OpenSeconds          float64 // reopening the index over the loaded store
	DiskBytes            int64
	Persons              int
	QueryP50, QueryP99   time.Duration      // first pass after reopening: the prepared-record cache is cold
	QueryThroughput      map[string]float64 // clients → queries/s
	WarmP50, WarmP99     time.Duration      // the same queries again, after the throughput runs
	LoadAvg              string             // /proc/loadavg before the load: the machine is shared
	AddP50, AddP99       time.Duration
}

// TestPgstoreHarness loads one generated cohort into the identity index on
// Badger and on PostgreSQL, in one run, and measures each the same way:
// bulk load ([mpi.Index.Load]), the size of the store, query latency
// (p50, p99, one client), query throughput with 1, 4 and 16 concurrent
// clients, and durable single-add latency. It runs only when
// CARELENS_PGSTORE_PEOPLE is set (610000 people give about 1,000,000
// records):
//
//	CARELENS_PGSTORE_PEOPLE=610000 CARELENS_PGSTORE_WORK=/tmp/pgrun \
//	  go test -run TestPgstoreHarness -timeout 90m -v ./benchmarks/
//
// PostgreSQL is Debian's, started by pgtest in a temporary cluster on
// loopback with durable settings (fsync on, synchronous commit), as
// Badger syncs each commit. Both indexes use one model, trained once on
// the cohort. The server runs on the same two cores as the client, so the
// PostgreSQL figures include its CPU competing with the index's.
func TestPgstoreHarness(t *testing.T) {
	people, _ := strconv.Atoi(os.Getenv("CARELENS_PGSTORE_PEOPLE"))
	if people <= 0 {
		t.Skip("set CARELENS_PGSTORE_PEOPLE to run the PostgreSQL vs Badger harness")
	}
	work := os.Getenv("CARELENS_PGSTORE_WORK")
	if work == "" {
		work = t.TempDir()
	}
	ctx := t.Context()
	cohort := filepath.Join(work, "cohort")
	st, err := Synth(ctx, SynthOptions{People: people, Seed: 5, Out: cohort})
	require.NoError(t, err)
	var recs []match.Record
	for _, f := range st.Files {
		if filepath.Base(f) == "truth.csv" {
			continue
		}
		rs, err := matchio.ReadFile(f, matchio.Options{})
		require.NoError(t, err)
		recs = append(recs, rs...)
	}
	t0 := time.Now()
	model, err := match.Train(ctx, recs, nil, nil)
	require.NoError(t, err)
	t.Logf("cohort: %d people, %d records; model trained in %.1fs", people, len(recs), time.Since(t0).Seconds())

	rng := rand.New(rand.NewPCG(7, 7))
	queries := make([]match.Record, 2000)
	for i := range queries {
		q := recs[rng.IntN(len(recs))]
		q.Source, q.ID = "query", strconv.Itoa(i)
		queries[i] = q
	}
	adds := make([]match.Record, 300)
	for i := range adds {
		r := recs[rng.IntN(len(recs))]
		r.Source, r.ID = "late", strconv.Itoa(i)
		adds[i] = r
	}

	var runs []storeRun
	// Badger.
	dir := filepath.Join(work, "badger")
	require.NoError(t, os.RemoveAll(dir))
	runs = append(runs, measureStore(t, "badger", func() mpi.Store {
		s, err := badgerstore.Open(dir, nil)
		require.NoError(t, err)
		return s
	}, model, recs, queries, adds))
	require.NoError(t, os.RemoveAll(dir))

	// PostgreSQL, durable.
	srv, err := pgtest.Start(ctx, nil)
	if err != nil {
		t.Fatalf("PostgreSQL: %v", err)
	}
	defer srv.Stop()
	runs = append(runs, measureStore(t, "postgres", func() mpi.Store {
		s, err := pgstore.Open(ctx, srv.URL("postgres"), &pgstore.Options{MaxConns: 20})
		require.NoError(t, err)
		return s
	}, model, recs, queries, adds))

	out, err := json.MarshalIndent(struct {
		People, Records int
		Runs            []storeRun
	}{people, len(recs), runs}, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(work, "pgstore-harness.json"), out, 0o644))
	t.Logf("results: %s", out)
}

// measureStore loads recs into an index over a store from open, reopens
// it, and measures queries and adds.
func measureStore(t *testing.T, name string, open func() mpi.Store, model *match.Model,
	recs, queries, adds []match.Record) storeRun {
	ctx := t.Context()
	res := storeRun{Store: name, QueryThroughput: map[string]float64{}}
	s := open()
	ix, err := mpi.OpenIndex(ctx, s, &mpi.IndexOptions{Model: model})
	require.NoError(t, err)
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		res.LoadAvg = strings.TrimSpace(string(b))
	}
	t0, cpu0, last := time.Now(), indexCPUSeconds(), time.Now()
	n, err := ix.Load(ctx, func(yield func(match.Record, error) bool) {
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}, func(n int) {
		if time.Since(last) > 15*time.Second {
			last = time.Now()
			t.Logf("  %s: loaded %d records, %.0f/s", name, n, float64(n)/time.Since(t0).Seconds())
		}
	})
	require.NoError(t, err)
	res.LoadSeconds = time.Since(t0).Seconds()
	res.LoadCPUSeconds = indexCPUSeconds() - cpu0
	res.LoadRecordsPerSecond = float64(n) / res.LoadSeconds
	if sr, ok := s.(mpi.SizeReporter); ok {
		res.DiskBytes, err = sr.DiskSize()
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())
	t.Logf("%s: load %d records in %.1fs (%.0f/s, %.1fs client CPU), %.2f GiB",
		name, n, res.LoadSeconds, res.LoadRecordsPerSecond, res.LoadCPUSeconds, float64(res.DiskBytes)/(1<<30))

	// Reopen: the index rebuilds its blocking index from the stored records.
	s = open()
	defer s.Close()
	t0 = time.Now()
	ix, err = mpi.OpenIndex(ctx, s, nil)
	require.NoError(t, err)
	res.OpenSeconds = time.Since(t0).Seconds()
	stats, err := ix.Stats(ctx)
	require.NoError(t, err)
	res.Persons = stats.Persons
	t.Logf("%s: reopened in %.1fs, %d persons", name, res.OpenSeconds, res.Persons)

	lat := make([]time.Duration, len(queries))
	for i, q := range queries {
		q0 := time.Now()
		_, err := ix.Query(ctx, q, 10)
		lat[i] = time.Since(q0)
		require.NoError(t, err)
	}
	res.QueryP50, res.QueryP99 = percentile(lat, 0.50), percentile(lat, 0.99)
	for _, clients := range []int{1, 4, 16} {
		qps := queryThroughput(ctx, t, ix, queries, clients, 5*time.Second)
		res.QueryThroughput[strconv.Itoa(clients)] = qps
	}
	for i, q := range queries {
		q0 := time.Now()
		_, err := ix.Query(ctx, q, 10)
		lat[i] = time.Since(q0)
		require.NoError(t, err)
	}
	res.WarmP50, res.WarmP99 = percentile(lat, 0.50), percentile(lat, 0.99)
	t.Logf("%s: query p50 %v p99 %v (warm: p50 %v p99 %v); throughput %v queries/s by clients",
		name, res.QueryP50, res.QueryP99, res.WarmP50, res.WarmP99, fmtQPS(res.QueryThroughput))

	addLat := make([]time.Duration, len(adds))
	for i, r := range adds {
		a0 := time.Now()
		_, err := ix.Add(ctx, r)
		addLat[i] = time.Since(a0)
		require.NoError(t, err)
	}
	res.AddP50, res.AddP99 = percentile(addLat, 0.50), percentile(addLat, 0.99)
	t.Logf("%s: durable single add p50 %v p99 %v", name, res.AddP50, res.AddP99)
	return res
}

func fmtQPS(m map[string]float64) string {
	return fmt.Sprintf("1: %.0f, 4: %.0f, 16: %.0f", m["1"], m["4"], m["16"])
}
