package main

import (
	"bytes"
	"errors"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVersionCommand(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var stdout, stderr bytes.Buffer
		require.NoError(t, run(t.Context(), args, nil, &stdout, &stderr), "%v", args)
		assert.Regexp(t, `^carelens \S+.* go1\.\d+`, stdout.String())
	}
	var stdout, stderr bytes.Buffer
	assert.ErrorIs(t, run(t.Context(), []string{"version", "extra"}, nil, &stdout, &stderr), errUsage)

	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.3.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-03T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	assert.Equal(t, "carelens v0.3.0 (commit 0123456789ab, modified, 2026-12-03T10:00:00Z) go1.26.8", versionLine(bi))
	assert.Equal(t, "carelens (devel) go1.26.8", versionLine(&debug.BuildInfo{GoVersion: "go1.26.8"}))
}

func TestUserMessage(t *testing.T) {
	tests := []struct{ err, want string }{
		{"bad.json: fhirutil: invalid JSON: unexpected end of input at byte 31", "bad.json: invalid JSON: unexpected end of input at byte 31"},
		{"match: no records", "no records"},
		{"model.json: match: model: unknown comparison", "model.json: model: unknown comparison"},
		{"usage: --map: unknown field", "usage: --map: unknown field"},
		{"source: gp: timeout", "source: gp: timeout"}, // "source" names a data source too: kept
		{"gp.csv:3: field matchioX: bad", "gp.csv:3: field matchioX: bad"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, userMessage(errors.New(tc.err)))
	}
}
