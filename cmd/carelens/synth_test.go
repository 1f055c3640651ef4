package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/merge"
)

func TestSynthCommand(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"synth", "--people", "300", "--sources", "gp,hospital", "--seed", "9", "--out", dir}, nil, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	for _, f := range []string{"gp.csv", "hospital.csv", "truth.csv"} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	assert.NoFileExists(t, filepath.Join(dir, "community.csv"))
	assert.Contains(t, stdout.String(), "people 300")
	first, err := os.ReadFile(filepath.Join(dir, "gp.csv"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(first), "record_id,nhs_number,given,family,birth_date,sex,address,postcode,phone,email\n"))

	// Same flags, same bytes.
	dir2 := t.TempDir()
	require.NoError(t, run(t.Context(), []string{"synth", "--people", "300", "--sources", "gp,hospital", "--seed", "9", "--out", dir2}, nil, &stdout, &stderr))
	second, err := os.ReadFile(filepath.Join(dir2, "gp.csv"))
	require.NoError(t, err)
	assert.Equal(t, first, second)
}

func TestSynthCommandErrors(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		usage bool
	}{
		{"zero people", []string{"synth", "--people", "0"}, true},
		{"negative error scale", []string{"synth", "--error-scale", "-1"}, true},
		{"stray argument", []string{"synth", "extra"}, true},
		{"bad source name", []string{"synth", "--people", "5", "--sources", "gp,a/b"}, false},
		{"bad source name, FHIR", []string{"synth", "--fhir", "--people", "5", "--sources", "gp,a/b"}, false},
		{"unknown flag", []string{"synth", "--nope"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{tc.args[0], "--out", t.TempDir()}, tc.args[1:]...)
			err := run(t.Context(), args, nil, &stdout, &stderr)
			require.Error(t, err)
			assert.Equal(t, tc.usage, errors.Is(err, errUsage), "%v", err)
		})
	}
}

func TestSynthCommandFHIR(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"synth", "--fhir", "--people", "25", "--sources", "gp,hospital,community", "--seed", "4", "--out", dir}
	require.NoError(t, run(t.Context(), args, nil, &stdout, &stderr), stderr.String())
	out := stdout.String()
	assert.Equal(t, 1, strings.Count(out, "\n"), "a one-line summary: %q", out)
	assert.Contains(t, out, "people 25")

	// truth.csv sits beside the source folders and names every bundle.
	f, err := os.Open(filepath.Join(dir, "truth.csv"))
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Greater(t, len(rows), 25)
	assert.Equal(t, []string{"source", "record_id", "person_id"}, rows[0])
	for _, r := range rows[1:] {
		data, err := os.ReadFile(filepath.Join(dir, r[0], r[1]+".json"))
		require.NoError(t, err, "bundle of %s/%s", r[0], r[1])
		b, err := fhirutil.Decode(data, &fhirutil.Options{Workers: 1})
		require.NoError(t, err)
		assert.Empty(t, b.Issues)
		require.Len(t, b.Patients(), 1)
		assert.Equal(t, r[1], b.Patients()[0].ID)
	}
	for _, s := range []string{"gp", "hospital", "community"} {
		entries, err := os.ReadDir(filepath.Join(dir, s))
		require.NoError(t, err)
		for _, e := range entries {
			assert.True(t, strings.HasSuffix(e.Name(), ".json"), "only bundles in the source folder %s", s)
		}
	}

	// rules.json is what timeline -rules loads.
	rf, err := os.Open(filepath.Join(dir, "rules.json"))
	require.NoError(t, err)
	defer rf.Close()
	rules, err := merge.LoadRules(rf)
	require.NoError(t, err)
	assert.NotEmpty(t, rules.Concepts)

	// Same flags, same bytes.
	dir2 := t.TempDir()
	args[len(args)-1] = dir2
	require.NoError(t, run(t.Context(), args, nil, &stdout, &stderr))
	for _, name := range []string{"truth.csv", "rules.json", filepath.Join(rows[1][0], rows[1][1]+".json")} {
		a, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(dir2, name))
		require.NoError(t, err)
		assert.Equal(t, a, b, "%s is deterministic", name)
	}
}

// TestSynthFHIRWritesAtomically: a synth that fails (here, cancelled)
// leaves an existing truth.csv as it was and no temporary file behind.
func TestSynthFHIRWritesAtomically(t *testing.T) {
	dir := t.TempDir()
	truth := filepath.Join(dir, "truth.csv")
	require.NoError(t, os.WriteFile(truth, []byte("source,record_id,person_id\nold,1,p\n"), 0o644))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"synth", "--fhir", "--people", "5", "--out", dir}, nil, &stdout, &stderr)
	require.Error(t, err)
	got, err := os.ReadFile(truth)
	require.NoError(t, err)
	assert.Equal(t, "source,record_id,person_id\nold,1,p\n", string(got))
	tmp, err := filepath.Glob(filepath.Join(dir, ".*.tmp*"))
	require.NoError(t, err)
	assert.Empty(t, tmp)

	require.NoError(t, run(t.Context(), []string{"synth", "--fhir", "--people", "5", "--out", dir}, nil, &stdout, &stderr))
	got, err = os.ReadFile(truth)
	require.NoError(t, err)
	assert.NotContains(t, string(got), "old,1,p")
}
