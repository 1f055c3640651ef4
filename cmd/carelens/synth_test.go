package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
