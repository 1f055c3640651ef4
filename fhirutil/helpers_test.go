package fhirutil

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/internal/shareddata"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// golden compares got, rendered as indented JSON, with testdata/name,
// rewriting the file under -update. A mismatch leaves the output in the
// test's artifact directory.
func golden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	require.NoError(t, err)
	b = append(b, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, b, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: run go test -run %s -update", t.Name())
	if string(want) != string(b) {
		out := filepath.Join(t.ArtifactDir(), filepath.Base(name))
		_ = os.WriteFile(out, b, 0o644)
		t.Errorf("%s differs from golden file (output in %s); run with -update if the change is intended", name, out)
	}
}

// sharedFiles returns every JSON file under shared data fhir/, skipping
// when the data is absent.
func sharedFiles(t testing.TB) []string {
	t.Helper()
	dir := shareddata.Path(t, "fhir")
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

// testFiles is sharedFiles, less the large Synthea bundles in -short mode
// (the race-detector run in CI).
func testFiles(t testing.TB) []string {
	t.Helper()
	files := sharedFiles(t)
	if !testing.Short() {
		return files
	}
	var out []string
	for _, f := range files {
		if filepath.Base(filepath.Dir(f)) != "synthea-r4" {
			out = append(out, f)
		}
	}
	return out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// countResources is an oracle independent of fhirutil: it counts the
// resources of a JSON document with encoding/json, opening Bundles.
func countResources(t testing.TB, raw []byte) map[string]int {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	out := map[string]int{}
	var walk func(m map[string]any)
	walk = func(m map[string]any) {
		if m["resourceType"] != "Bundle" {
			out[m["resourceType"].(string)]++
			return
		}
		entries, _ := m["entry"].([]any)
		for _, e := range entries {
			if r, ok := e.(map[string]any)["resource"].(map[string]any); ok {
				walk(r)
			}
		}
	}
	walk(doc)
	return out
}
