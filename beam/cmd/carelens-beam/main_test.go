package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/internal/shareddata"
	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/match/matchio"
)

func TestMain(m *testing.M) {
	if os.Getenv("CARELENS_DATA") == "" {
		if abs, err := filepath.Abs(filepath.Join("..", "..", "..", "testdata")); err == nil {
			if _, err := os.Stat(filepath.Join(abs, "linkage")); err == nil {
				os.Setenv("CARELENS_DATA", abs)
			}
		}
	}
	flag.Parse()
	beam.Init()
	os.Exit(m.Run())
}

func parse(t *testing.T, args ...string) *cmdFlags {
	t.Helper()
	f := addFlags(flag.NewFlagSet("carelens-beam", flag.ContinueOnError))
	require.NoError(t, f.fs.Parse(args))
	return f
}

// trainModel trains on recs as carelens link does and writes the model to
// dir/model.json, returning it and the file's path.
func trainModel(t *testing.T, recs []match.Record, dir string) (*match.Model, string) {
	t.Helper()
	res, err := match.Link(t.Context(), recs, nil)
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, res.Model.WriteJSON(&b))
	path := filepath.Join(dir, "model.json")
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o600))
	return res.Model, path
}

// TestClustersAsCarelensLink links FEBRL1 with carelens-beam on Prism and
// asks for the clusters file carelens link writes with the same model.
func TestClustersAsCarelensLink(t *testing.T) {
	in := shareddata.Path(t, "linkage", "febrl", "dataset1.csv")
	recs, err := matchio.ReadFile(in, matchio.Options{})
	require.NoError(t, err)
	dir := t.TempDir()
	trained, model := trainModel(t, recs, dir)
	want, err := match.Link(t.Context(), recs, &match.LinkOptions{Model: trained})
	require.NoError(t, err)
	var wb bytes.Buffer
	cw := csv.NewWriter(&wb)
	cw.Write([]string{"source", "record_id", "cluster_id"})
	for i := range recs {
		cw.Write([]string{matchio.EscapeCSVField(recs[i].Source), matchio.EscapeCSVField(recs[i].ID), strconv.Itoa(want.Cluster[i] + 1)})
	}
	cw.Flush()

	out := filepath.Join(dir, "clusters.csv")
	require.NoError(t, run(t.Context(), parse(t, "--model", model, "--out", out, in)))
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, wb.String(), string(got))
}

// TestInputFlags: the input flags are carelens link's (internal/cliinput).
// FEBRL1 rewritten with a semicolon, its id, name and birth date columns
// renamed so that the automatic mapping cannot find them, and named by
// --source, links with --id, --map and --delimiter to the clusters file
// of the original.
func TestInputFlags(t *testing.T) {
	in := shareddata.Path(t, "linkage", "febrl", "dataset1.csv")
	recs, err := matchio.ReadFile(in, matchio.Options{})
	require.NoError(t, err)
	dir := t.TempDir()
	_, model := trainModel(t, recs, dir)

	f, err := os.Open(in)
	require.NoError(t, err)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	require.NoError(t, err)
	renamed := map[string]string{"rec_id": "key", "given_name": "fn", "surname": "ln", "date_of_birth": "born"}
	for i, h := range rows[0] {
		if r, ok := renamed[strings.TrimSpace(h)]; ok {
			rows[0][i] = r
		}
	}
	var rb bytes.Buffer
	w := csv.NewWriter(&rb)
	w.Comma = ';'
	require.NoError(t, w.WriteAll(rows))
	odd := filepath.Join(dir, "odd.csv")
	require.NoError(t, os.WriteFile(odd, rb.Bytes(), 0o600))

	want := filepath.Join(dir, "want.csv")
	require.NoError(t, run(t.Context(), parse(t, "--model", model, "--out", want, in)))
	got := filepath.Join(dir, "got.csv")
	require.NoError(t, run(t.Context(), parse(t, "--model", model, "--out", got, "--source", "dataset1="+odd,
		"--id", "key", "--map", "given=fn", "--map", "family=ln", "--map", "birthdate=born", "--delimiter", "semicolon")))
	wb, err := os.ReadFile(want)
	require.NoError(t, err)
	gb, err := os.ReadFile(got)
	require.NoError(t, err)
	assert.Equal(t, string(wb), string(gb))

	// Without the mapping the file reads otherwise (no id column found).
	err = run(t.Context(), parse(t, "--model", model, "--out", got, "--source", "dataset1="+odd, "--delimiter", "semicolon"))
	require.Error(t, err)
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model.json")
	var mb bytes.Buffer
	require.NoError(t, match.DefaultModel(nil).WriteJSON(&mb))
	require.NoError(t, os.WriteFile(model, mb.Bytes(), 0o600))
	notModel := filepath.Join(dir, "notmodel.json")
	require.NoError(t, os.WriteFile(notModel, []byte("{"), 0o600))
	out := filepath.Join(dir, "out.csv")
	tests := []struct {
		name    string
		args    []string
		usage   bool   // a usage error
		mention string // in the message
	}{
		{name: "no inputs", args: []string{"--model", model, "--out", out}, usage: true, mention: "no input files"},
		{name: "no model", args: []string{"--out", out, "a.csv"}, usage: true, mention: "--model"},
		{name: "no output", args: []string{"--model", model, "a.csv"}, usage: true, mention: "--out"},
		{name: "threshold", args: []string{"--model", model, "--out", out, "--threshold", "1", "a.csv"}, usage: true, mention: "--threshold"},
		{name: "source twice", args: []string{"--model", model, "--out", out, "x/a.csv", "y/a.csv"}, usage: true, mention: "source name a"},
		{name: "bad source flag", args: []string{"--model", model, "--out", out, "--source", "a.csv"}, usage: true, mention: "NAME=FILE"},
		{name: "model missing", args: []string{"--model", filepath.Join(dir, "none.json"), "--out", out, "a.csv"}, mention: "none.json"},
		{name: "model unreadable", args: []string{"--model", notModel, "--out", out, "a.csv"}, mention: "notmodel.json"},
		{name: "skip-bad", args: []string{"--model", model, "--out", out, "--skip-bad", "a.csv"}, usage: true, mention: "--skip-bad"},
		{name: "bad map", args: []string{"--model", model, "--out", out, "--map", "nosuchfield=x", "a.csv"}, usage: true, mention: "--map"},
		{name: "bad delimiter", args: []string{"--model", model, "--out", out, "--delimiter", "colon", "a.csv"}, usage: true, mention: "--delimiter"},
		{name: "input missing", args: []string{"--model", model, "--out", out, filepath.Join(dir, "absent.csv")}, mention: "absent.csv"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(t.Context(), parse(t, tc.args...))
			require.Error(t, err)
			assert.Equal(t, tc.usage, errors.Is(err, errUsage))
			assert.Contains(t, err.Error(), tc.mention)
		})
	}
}
