package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/benchmarks"
)

func TestEvalCommand(t *testing.T) {
	dir := t.TempDir()
	truth := filepath.Join(dir, "truth.csv")
	require.NoError(t, os.WriteFile(truth, []byte("source,record_id,person_id\nA,1,p\nA,2,p\nB,1,p\nB,2,q\n"), 0o644))
	clusters := filepath.Join(dir, "clusters.csv")
	require.NoError(t, os.WriteFile(clusters, []byte("source,record_id,cluster_id\nA,1,x\nB,1,x\nA,2,y\nB,2,y\n"), 0o644))

	tests := []struct {
		name                    string
		args                    []string
		truePairs, tp, fp, miss int64
	}{
		{"all pairs", nil, 3, 1, 1, 2},
		{"cross-source", []string{"--cross-source"}, 2, 1, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"eval", "--truth", truth, "--clusters", clusters, "--json"}, tc.args...)
			require.NoError(t, run(t.Context(), args, nil, &stdout, &stderr), stderr.String())
			var m benchmarks.Metrics
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &m))
			assert.Equal(t, tc.truePairs, m.TruePairs)
			assert.Equal(t, tc.tp, m.TruePositives)
			assert.Equal(t, tc.fp, m.FalseMerges)
			assert.Equal(t, tc.miss, m.MissedPairs)
		})
	}

	var stdout, stderr bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"eval", "--truth", truth, "--clusters", clusters}, nil, &stdout, &stderr))
	assert.Contains(t, stdout.String(), "pairwise P / R / F1")
	assert.Contains(t, stdout.String(), "0.5000 / 0.3333 / 0.4000")
}

func TestEvalCommandSeveralTruthFiles(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "dataset4a.csv")
	b := filepath.Join(dir, "dataset4b.csv")
	require.NoError(t, os.WriteFile(a, []byte("rec_id, given_name, surname\nrec-1-org, ann, lee\nrec-2-org, bo, ng\n"), 0o644))
	require.NoError(t, os.WriteFile(b, []byte("rec_id, given_name, surname\nrec-1-dup-0, anne, lee\nrec-2-dup-0, bob, ng\n"), 0o644))
	cl := filepath.Join(dir, "cl.csv")
	require.NoError(t, os.WriteFile(cl, []byte("source,record_id,cluster_id\ndataset4a,rec-1-org,1\ndataset4b,rec-1-dup-0,1\ndataset4a,rec-2-org,2\ndataset4b,rec-2-dup-0,3\n"), 0o644))
	for _, args := range [][]string{
		{"--truth", a + "," + b},
		{"--truth", a, "--truth", b},
	} {
		var stdout, stderr bytes.Buffer
		full := append(append([]string{"eval"}, args...), "--clusters", cl, "--cross-source", "--json")
		require.NoError(t, run(t.Context(), full, nil, &stdout, &stderr), stderr.String())
		var m benchmarks.Metrics
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &m))
		assert.Equal(t, int64(2), m.TruePairs)
		assert.Equal(t, int64(1), m.TruePositives)
		assert.Equal(t, int64(1), m.MissedPairs)
	}
}

func TestEvalCommandErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "truth.csv")
	require.NoError(t, os.WriteFile(good, []byte("record_id,entity_id\n1,a\n"), 0o644))
	bad := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("record_id,cluster_id\n1,a\n2\n"), 0o644))
	// A quote left open on line 3 swallows lines 4-6 into one field.
	open := filepath.Join(dir, "open.csv")
	require.NoError(t, os.WriteFile(open, []byte("record_id,cluster_id\n1,a\n2,\"b\n3,c\n4,d\n5,e\"\n6,f\n"), 0o644))
	// Left open to the end of the file.
	unclosed := filepath.Join(dir, "unclosed.csv")
	require.NoError(t, os.WriteFile(unclosed, []byte("record_id,cluster_id\n1,a\n2,\"b\n3,c\n"), 0o644))
	tests := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no truth", []string{"eval", "--clusters", good}, true, ""},
		{"no clusters", []string{"eval", "--truth", good}, true, ""},
		{"malformed clusters", []string{"eval", "--truth", good, "--clusters", bad}, false, "bad.csv:3"},
		{"quote left open in clusters", []string{"eval", "--truth", good, "--clusters", open}, false, "open.csv:3: a quote opened on this line runs on to line 6"},
		{"quote left open in truth", []string{"eval", "--truth", open, "--clusters", good}, false, "open.csv:3: a quote"},
		{"quote never closed", []string{"eval", "--truth", good, "--clusters", unclosed}, false, "unclosed.csv:3: a quote opened on this line is not closed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tc.args, nil, &stdout, &stderr)
			require.Error(t, err)
			assert.Equal(t, tc.usage, errors.Is(err, errUsage), "%v", err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, userMessage(err), "benchmarks", "no internal package names")
		})
	}
}
