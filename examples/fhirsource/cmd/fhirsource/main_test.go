package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe to write from the server's goroutines
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	write := func(data string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "p.ndjson"), []byte(data), 0o600))
	}
	write(`{"resourceType":"Patient","id":"p1","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9990000050"}]}` + "\n")

	ctx, cancel := context.WithCancel(t.Context())
	reload := make(chan os.Signal, 1)
	var stdout, stderr syncBuffer
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"--dir", dir, "--addr", "127.0.0.1:0", "--source-id", "community", "--latency", "1ms"}, reload, &stdout, &stderr)
	}()
	urlRe := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
	require.Eventually(t, func() bool { return urlRe.MatchString(stdout.String()) }, 5*time.Second, 10*time.Millisecond)
	base := urlRe.FindString(stdout.String())
	assert.Contains(t, stdout.String(), "community: serving 1 patients")

	total := func() int {
		resp, err := http.Get(base + "/Patient?identifier=9990000050")
		require.NoError(t, err)
		defer resp.Body.Close()
		var b struct{ Total int }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&b))
		return b.Total
	}
	assert.Equal(t, 1, total())

	write(`{"resourceType":"Patient","id":"p2"}` + "\n")
	reload <- os.Interrupt
	require.Eventually(t, func() bool { return total() == 0 }, 5*time.Second, 10*time.Millisecond, "SIGHUP reads the folder again")

	cancel()
	require.NoError(t, <-errc)
	log := stderr.String()
	assert.Contains(t, log, "GET /Patient 200")
	assert.NotContains(t, log, "9990000050", "query strings are not logged")
}

func TestRunErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--dir", filepath.Join(t.TempDir(), "missing")},
		{"--dir", t.TempDir(), "--fail-rate", "2"},
		{"--dir", t.TempDir(), "extra"},
	} {
		var out syncBuffer
		assert.Error(t, run(t.Context(), args, nil, &out, &out), args)
	}
}
