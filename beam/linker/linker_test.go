package linker_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/beam/linker"
	"github.com/carelens/carelens/internal/shareddata"
	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/match/matchio"
)

// TestMain points shareddata at the core repository's data (shareddata
// looks beside the nearest go.mod, which is this module's) and runs the
// tests on Prism unless --runner says otherwise. In CI the data must be
// there: the equality tests must run, not skip.
func TestMain(m *testing.M) {
	if os.Getenv("CARELENS_DATA") == "" {
		for _, d := range []string{filepath.Join("..", "..", "testdata"), filepath.Join("..", "..", "..", "shared", "data")} {
			if fi, err := os.Stat(filepath.Join(d, "linkage")); err == nil && fi.IsDir() {
				abs, err := filepath.Abs(d)
				if err == nil {
					os.Setenv("CARELENS_DATA", abs)
				}
				break
			}
		}
	}
	if os.Getenv("CI") != "" && shareddata.Root() == "" {
		fmt.Fprintln(os.Stderr, "linker: no linkage data beside the repository; the equality tests cannot run")
		os.Exit(1)
	}
	ptest.MainWithDefault(m, "prism")
}

// readInputs reads the files as the pipeline reads them, for match.Link.
func readInputs(t testing.TB, ins []linker.Input) []match.Record {
	t.Helper()
	var recs []match.Record
	for _, in := range ins {
		rs, err := matchio.ReadFile(in.Path, matchio.Options{Source: in.Source})
		require.NoError(t, err)
		recs = append(recs, rs...)
	}
	return recs
}

// runBeam runs the pipeline for o on the default runner and returns its
// result.
func runBeam(t testing.TB, o linker.Options) *linker.Result {
	t.Helper()
	dir := t.TempDir()
	o.Out, o.Result = filepath.Join(dir, "clusters.csv"), filepath.Join(dir, "result.json")
	p, err := linker.New(&o)
	require.NoError(t, err)
	require.NoError(t, ptest.Run(p))
	f, err := os.Open(o.Result)
	require.NoError(t, err)
	defer f.Close()
	res, err := linker.ReadResult(f)
	require.NoError(t, err)
	return res
}

// requireEqual asks for Link's exact outcome: candidates, linked pairs and
// their weights bit for bit, refused merges, clusters.
func requireEqual(t *testing.T, want *match.LinkResult, got *linker.Result) {
	t.Helper()
	assert.Equal(t, want.Stats.Records, got.Records, "records")
	assert.Equal(t, int(want.Stats.CandidatePairs), got.CandidatePairs, "candidate pairs")
	assert.Equal(t, want.Stats.GuardedPairs, got.GuardedPairs, "guarded pairs")
	assert.Equal(t, want.Stats.UniqueNameDOBLinks, got.UniqueNameDOBLinks, "unique name+dob links")
	assert.Equal(t, want.Stats.LinkedPairs, got.LinkedPairs, "linked pairs")
	assert.Equal(t, want.Pairs, got.Pairs, "linked pairs and weights")
	assert.Equal(t, match.Splits{Constraint: want.Stats.ConstraintSplits, ChainGuard: want.Stats.ChainGuardSplits,
		Apart: want.Stats.ApartSplits}, got.Splits, "refused merges")
	assert.Equal(t, want.Clusters, got.Clusters, "clusters")
	assert.Equal(t, want.Cluster, got.Cluster, "each record's cluster")
}

// TestEqualsLink runs the Beam pipeline on Prism and match.Link on the
// public linkage sets, with one model trained in-process, and asks for
// the same pairs, weights and clusters.
func TestEqualsLink(t *testing.T) {
	febrl := func(f ...string) []linker.Input {
		var ins []linker.Input
		for _, x := range f {
			ins = append(ins, linker.Input{Path: shareddata.Path(t, "linkage", "febrl", x)})
		}
		return ins
	}
	tests := []struct {
		name   string
		inputs []linker.Input
		o      linker.Options
		reason string
	}{
		{name: "febrl1", inputs: febrl("dataset1.csv")},
		{name: "febrl1 oversized blocks", inputs: febrl("dataset1.csv"), o: linker.Options{MaxBlockSize: 4, Window: 3},
			reason: "most blocks are windowed; pairs found by several rules' windows are one candidate"},
		{name: "febrl1 one partition", inputs: febrl("dataset1.csv"), o: linker.Options{Partitions: 1},
			reason: "every block, pair and component shares one group: they must still be kept apart inside it"},
		{name: "febrl2", inputs: febrl("dataset2.csv")},
		{name: "febrl3", inputs: febrl("dataset3.csv")},
		{name: "febrl4", inputs: febrl("dataset4a.csv", "dataset4b.csv"), o: linker.Options{Threshold: 0.9}},
		{name: "febrl4 names and birth dates only", inputs: namesDOBOnly(t, febrl("dataset4a.csv", "dataset4b.csv")),
			o:      linker.Options{UniqueNameDOB: true},
			reason: "pairs link on a unique name and birth date: the whole-file key counts must be the same on every worker"},
		{name: "uganda", inputs: []linker.Input{{Path: shareddata.Path(t, "linkage", "opencr_uganda", "uganda_data_v21_20201501.csv")}},
			reason: "the Uganda set's clusters need the chain guard and the constraints across components"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs := readInputs(t, tc.inputs)
			trained, err := match.Link(t.Context(), recs, nil)
			require.NoError(t, err)
			o := tc.o
			o.Inputs, o.Model = tc.inputs, trained.Model
			want, err := match.Link(t.Context(), recs, &match.LinkOptions{Model: o.Model, Threshold: o.Threshold,
				MaxBlockSize: o.MaxBlockSize, Window: o.Window, UniqueNameDOB: o.UniqueNameDOB, KeepPairs: true})
			require.NoError(t, err)
			require.NotEmpty(t, want.Pairs)
			requireEqual(t, want, runBeam(t, o))
			if o.UniqueNameDOB {
				assert.Positive(t, want.Stats.UniqueNameDOBLinks, "the case must exercise unique name+dob links")
			}
		})
	}
}

// namesDOBOnly rewrites the inputs with only record id, names and birth
// date, under the same file (and so source) names.
func namesDOBOnly(t *testing.T, ins []linker.Input) []linker.Input {
	t.Helper()
	dir := t.TempDir()
	var out []linker.Input
	for _, in := range ins {
		var b bytes.Buffer
		cw := csv.NewWriter(&b)
		cw.Write([]string{"rec_id", "given_name", "surname", "date_of_birth"})
		for _, r := range readInputs(t, []linker.Input{in}) {
			cw.Write([]string{r.ID, strings.Join(r.Given, " "), r.Family, r.BirthDate})
		}
		cw.Flush()
		require.NoError(t, cw.Error())
		p := filepath.Join(dir, filepath.Base(in.Path))
		require.NoError(t, os.WriteFile(p, b.Bytes(), 0o600))
		out = append(out, linker.Input{Path: p})
	}
	return out
}
