package linker_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/beam/linker"
	"github.com/carelens/carelens/benchmarks"
	"github.com/carelens/carelens/match"
)

// BenchmarkCohort100k generates a synthetic cohort of about 100,000
// records over three sources (CARELENS_PEOPLE overrides the 61,000
// people), links it with match.Link and with the pipeline on the default
// runner (Prism), requires the same pairs, weights and clusters, and
// reports both throughputs. Prism runs every worker in this process: its
// figure is a test runner's, not a claim about a cluster. Run it alone:
//
//	cd beam && go test ./linker -run '^$' -bench Cohort100k -benchtime 1x -timeout 30m
func BenchmarkCohort100k(b *testing.B) {
	people := 61_000
	if s := os.Getenv("CARELENS_PEOPLE"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(b, err)
		people = n
	}
	dir := b.TempDir()
	sources := []string{"gp", "hospital", "community"}
	_, err := benchmarks.Synth(b.Context(), benchmarks.SynthOptions{People: people, Sources: sources, Seed: 7, Out: dir})
	require.NoError(b, err)
	var ins []linker.Input
	for _, s := range sources {
		ins = append(ins, linker.Input{Path: filepath.Join(dir, s+".csv")})
	}
	recs := readInputs(b, ins)
	trained, err := match.Link(b.Context(), recs, nil)
	require.NoError(b, err)

	start := time.Now()
	want, err := match.Link(b.Context(), readInputs(b, ins), &match.LinkOptions{Model: trained.Model, KeepPairs: true})
	require.NoError(b, err)
	inProcess := time.Since(start)

	var got *linker.Result
	var onBeam time.Duration
	for b.Loop() {
		start := time.Now()
		got = runBeam(b, linker.Options{Inputs: ins, Model: trained.Model})
		onBeam = time.Since(start)
	}
	require.Equal(b, want.Stats.LinkedPairs, got.LinkedPairs, "linked pairs")
	require.Equal(b, int(want.Stats.CandidatePairs), got.CandidatePairs, "candidate pairs")
	require.Equal(b, want.Pairs, got.Pairs, "linked pairs and weights")
	require.Equal(b, want.Cluster, got.Cluster, "clusters")
	n := float64(len(recs))
	b.ReportMetric(n, "records")
	b.ReportMetric(n/inProcess.Seconds(), "inprocess_records/s")
	b.ReportMetric(n/onBeam.Seconds(), "prism_records/s")
	b.Logf("%d records, %d candidate pairs, %d linked pairs, %d clusters: match.Link %v (read and link), Beam on Prism %v (read, link, write)",
		len(recs), got.CandidatePairs, got.LinkedPairs, got.Clusters, inProcess.Round(time.Millisecond), onBeam.Round(time.Millisecond))
}
