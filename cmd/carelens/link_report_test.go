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

// TestLinkReportHTML checks --report FILE.html on link and train: one
// self-contained page with the level chart, the histogram and a
// waterfall per --explain pair, and no record values.
func TestLinkReportHTML(t *testing.T) {
	gp, hosp := writeInputs(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "link.html")
	var stdout, stderr bytes.Buffer
	args := []string{"link", "--report", page, "--explain", "g1,h1", "--explain", "gp/g2,hospital/h2", gp, hosp}
	require.NoError(t, run(t.Context(), args, nil, &stdout, &stderr), stderr.String())
	assert.Contains(t, stdout.String(), "gp/g1 vs hospital/h1 (same cluster: true)")
	assert.Contains(t, stdout.String(), "gp/g2 vs hospital/h2 (same cluster: false)")
	data, err := os.ReadFile(page)
	require.NoError(t, err)
	html := string(data)
	assert.Equal(t, 4, strings.Count(html, "<svg "), "level weights, histogram, two waterfalls")
	assert.Contains(t, html, `class="threshold"`)
	assert.Contains(t, html, "gp/g1 vs hospital/h1")
	assert.NotContains(t, html, "<script")
	for _, phi := range []string{"Jonathan", "JOHNATHAN", "Smith", "1984", "9434765919", "LS1"} {
		assert.NotContains(t, html, phi, "no record values in the report")
	}
	assert.Contains(t, stderr.String(), "report written to")

	page = filepath.Join(dir, "train.html")
	stdout.Reset()
	require.NoError(t, run(t.Context(), []string{"train", "--report", page, gp, hosp}, nil, &stdout, &stderr), stderr.String())
	data, err = os.ReadFile(page)
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(string(data), "<svg "), "level weights and the training pairs' histogram")
}

// TestLinkReportFlag checks that --report - keeps the text report of the
// former boolean flag, and that a value that is neither - nor an HTML
// file (an input file written after a bare --report) is refused.
func TestLinkReportFlag(t *testing.T) {
	gp, hosp := writeInputs(t)
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"link", "--report", "-", gp, hosp}, nil, &stdout, &stderr), stderr.String())
	assert.Contains(t, stderr.String(), "m from / u from", "the text training report")

	before, err := os.ReadFile(gp)
	require.NoError(t, err)
	for _, args := range [][]string{
		{"link", "--report", gp, hosp},
		{"link", "--report", "out.txt", gp},
		{"train", "--report", gp, hosp},
		{"link", "--report", filepath.Join(filepath.Dir(gp), "x.html"), filepath.Join(filepath.Dir(gp), "x.html")},
	} {
		err := run(t.Context(), args, nil, &stdout, &stderr)
		require.Error(t, err, args)
		assert.True(t, errors.Is(err, errUsage), err.Error())
	}
	after, err := os.ReadFile(gp)
	require.NoError(t, err)
	assert.Equal(t, before, after, "an input file is never overwritten")
}
