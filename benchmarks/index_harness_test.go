package benchmarks

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/match/matchio"
	"github.com/carelens/carelens/mpi/badgerstore"
	"github.com/stretchr/testify/require"
)

// indexHarnessResult is what TestIndexHarness measures; it is logged and
// written as JSON next to the index.
type indexHarnessResult struct {
	People, Records      int
	SynthSeconds         float64
	BatchSeconds         float64
	BatchF1              float64
	LoadSeconds          float64
	LoadCPUSeconds       float64 // process CPU time (user+system) during the load
	LoadAvgBefore        string  // /proc/loadavg when the load started: the machine is shared
	LoadRecordsPerSecond float64
	DiskBytes            int64
	IndexF1              float64
	F1Gap                float64
	IndexPrecision       float64
	IndexRecall          float64
	Persons              int
	QueryP50, QueryP99   time.Duration
	QueryThroughput      map[string]float64 // clients → queries/s
	AddP50, AddP99       time.Duration
}

// TestIndexHarness is the large-run harness for the identity index. It
// runs only when CARELENS_INDEX_PEOPLE is set (about 1.64 records per
// person with the default three sources; 610000 people give about 1,000,000
// records):
//
//	CARELENS_INDEX_PEOPLE=610000 CARELENS_INDEX_WORK=/tmp/ixrun \
//	  go test -run TestIndexHarness -timeout 60m -v ./benchmarks/
//
// CARELENS_INDEX_MAXBLOCK overrides [mpi.IndexOptions.MaxBlockSize];
// CARELENS_INDEX_CPUPROFILE names a file to receive a CPU profile of the
// load alone.
//
// It generates the cohort, links it with the batch linker (training the
// model the index then uses), loads it record by record into a durable
// Badger index, and measures the load, the size on disk, the agreement of
// the index's persons with the batch clusters (pairwise F1 against the
// truth), single-query latency, query throughput with concurrent clients
// and durable single-add latency.
func TestIndexHarness(t *testing.T) {
	people, _ := strconv.Atoi(os.Getenv("CARELENS_INDEX_PEOPLE"))
	if people <= 0 {
		t.Skip("set CARELENS_INDEX_PEOPLE to run the index harness")
	}
	work := os.Getenv("CARELENS_INDEX_WORK")
	if work == "" {
		work = t.TempDir()
	}
	ctx := t.Context()
	res := indexHarnessResult{People: people, QueryThroughput: map[string]float64{}}

	t0 := time.Now()
	cohort := filepath.Join(work, "cohort")
	st, err := Synth(ctx, SynthOptions{People: people, Seed: 5, Out: cohort})
	require.NoError(t, err)
	res.SynthSeconds = time.Since(t0).Seconds()
	var recs []match.Record
	for _, f := range st.Files {
		if filepath.Base(f) == "truth.csv" {
			continue
		}
		rs, err := matchio.ReadFile(f, matchio.Options{})
		require.NoError(t, err)
		recs = append(recs, rs...)
	}
	res.Records = len(recs)
	truth, err := ReadTruth(filepath.Join(cohort, "truth.csv"))
	require.NoError(t, err)
	t.Logf("cohort: %d people, %d records (%.1fs)", people, len(recs), res.SynthSeconds)

	// The batch linker, which also trains the model.
	t0 = time.Now()
	lr, err := match.Link(ctx, recs, nil)
	require.NoError(t, err)
	res.BatchSeconds = time.Since(t0).Seconds()
	batch := &Clusters{}
	for i := range recs {
		batch.Records = append(batch.Records, LabelledRecord{Source: recs[i].Source, ID: recs[i].ID, Label: strconv.Itoa(lr.Cluster[i])})
	}
	bm, err := Evaluate(truth, batch, EvalOptions{})
	require.NoError(t, err)
	res.BatchF1 = bm.F1
	t.Logf("batch link: %.1fs, P %.4f R %.4f F1 %.4f", res.BatchSeconds, bm.Precision, bm.Recall, bm.F1)

	// Load record by record into a durable index.
	dir := filepath.Join(work, "index")
	require.NoError(t, os.RemoveAll(dir))
	s, err := badgerstore.Open(dir, nil)
	require.NoError(t, err)
	defer s.Close()
	maxBlock, _ := strconv.Atoi(os.Getenv("CARELENS_INDEX_MAXBLOCK")) // zero: the default
	ix, err := mpi.OpenIndex(ctx, s, &mpi.IndexOptions{Model: lr.Model, MaxBlockSize: maxBlock})
	require.NoError(t, err)
	t0 = time.Now()
	cpu0 := indexCPUSeconds()
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		res.LoadAvgBefore = string(b[:len(b)-1])
	}
	if pf := os.Getenv("CARELENS_INDEX_CPUPROFILE"); pf != "" {
		f, err := os.Create(pf)
		require.NoError(t, err)
		require.NoError(t, pprof.StartCPUProfile(f))
		defer f.Close()
		defer pprof.StopCPUProfile() // also stopped after the load
	}
	last := time.Now()
	n, err := ix.Load(ctx, func(yield func(match.Record, error) bool) {
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}, func(n int) {
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			t.Logf("  loaded %d records, %.0f/s", n, float64(n)/time.Since(t0).Seconds())
		}
	})
	require.NoError(t, err)
	res.LoadSeconds = time.Since(t0).Seconds()
	res.LoadCPUSeconds = indexCPUSeconds() - cpu0
	pprof.StopCPUProfile()
	res.LoadRecordsPerSecond = float64(n) / res.LoadSeconds
	res.DiskBytes, err = s.DiskSize()
	require.NoError(t, err)
	t.Logf("index load: %d records in %.1fs (%.0f/s; %.1fs CPU; load average before %s), %.2f GiB on disk",
		n, res.LoadSeconds, res.LoadRecordsPerSecond, res.LoadCPUSeconds, res.LoadAvgBefore, float64(res.DiskBytes)/(1<<30))

	// Agreement with the batch linker.
	ic := &Clusters{}
	persons := map[string]bool{}
	for a, err := range ix.Assignments(ctx) {
		require.NoError(t, err)
		ic.Records = append(ic.Records, LabelledRecord{Source: a.Record.Source, ID: a.Record.ID, Label: a.Person})
		persons[a.Person] = true
	}
	res.Persons = len(persons)
	im, err := Evaluate(truth, ic, EvalOptions{})
	require.NoError(t, err)
	res.IndexF1, res.IndexPrecision, res.IndexRecall = im.F1, im.Precision, im.Recall
	res.F1Gap = bm.F1 - im.F1
	t.Logf("index clusters: %d persons, P %.4f R %.4f F1 %.4f (batch F1 %.4f, gap %.4f)", res.Persons, im.Precision, im.Recall, im.F1, bm.F1, res.F1Gap)

	// Single queries: each a record's demographics under a new source.
	rng := rand.New(rand.NewPCG(7, 7))
	queries := make([]match.Record, 2000)
	for i := range queries {
		q := recs[rng.IntN(len(recs))]
		q.Source, q.ID = "query", strconv.Itoa(i)
		queries[i] = q
	}
	lat := make([]time.Duration, len(queries))
	for i, q := range queries {
		q0 := time.Now()
		_, err := ix.Query(ctx, q, 10)
		lat[i] = time.Since(q0)
		require.NoError(t, err)
	}
	res.QueryP50, res.QueryP99 = percentile(lat, 0.50), percentile(lat, 0.99)
	t.Logf("query latency: p50 %v p99 %v", res.QueryP50, res.QueryP99)
	for _, clients := range []int{1, 2, 4} {
		qps := queryThroughput(ctx, t, ix, queries, clients, 5*time.Second)
		res.QueryThroughput[strconv.Itoa(clients)] = qps
		t.Logf("query throughput, %d clients: %.0f queries/s", clients, qps)
	}

	// Durable single adds: new records of existing people (updates of
	// their demographics under new ids), one transaction each.
	adds := make([]time.Duration, 500)
	for i := range adds {
		r := recs[rng.IntN(len(recs))]
		r.Source, r.ID = "late", strconv.Itoa(i)
		a0 := time.Now()
		_, err := ix.Add(ctx, r)
		adds[i] = time.Since(a0)
		require.NoError(t, err)
	}
	res.AddP50, res.AddP99 = percentile(adds, 0.50), percentile(adds, 0.99)
	t.Logf("durable single add: p50 %v p99 %v", res.AddP50, res.AddP99)

	out, err := json.MarshalIndent(res, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(work, "index-harness.json"), out, 0o644))
	t.Logf("results: %s", out)
}

// indexCPUSeconds returns the process's CPU time so far.
func indexCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// queryThroughput runs clients goroutines querying for d and returns
// queries per second.
func queryThroughput(ctx context.Context, t *testing.T, ix *mpi.Index, qs []match.Record, clients int, d time.Duration) float64 {
	var n atomic.Int64
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	t0 := time.Now()
	for c := range clients {
		wg.Go(func() {
			for i := c; ctx.Err() == nil; i += clients {
				if _, err := ix.Query(context.WithoutCancel(ctx), qs[i%len(qs)], 10); err != nil {
					t.Error(fmt.Errorf("query: %w", err))
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(t0).Seconds()
}
