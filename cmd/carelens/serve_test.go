package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/audit"
	"github.com/carelens/carelens/benchmarks"
	"github.com/carelens/carelens/provenance"
	"github.com/carelens/carelens/source"
	"github.com/carelens/carelens/viewer"
)

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// browse signs in at base and returns the client.
func browse(t *testing.T, base, user, password string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(base + "/signin")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfInput.FindSubmatch(body)
	require.NotNil(t, m)
	resp, err = c.PostForm(base+"/signin", url.Values{"csrf": {string(m[1])}, "user": {user}, "password": {password}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "/", resp.Request.URL.Path, "signed in")
	return c
}

// TestServeConfigEverySourceKind runs a deployment configuration whose
// sources are folders of bundles, one of every kind a region shares
// (out-of-hours, mental health, ambulance, 111 and social care among
// them): a source is a configuration entry, not code.
func TestServeConfigEverySourceKind(t *testing.T) {
	dir := t.TempDir()
	kinds := []provenance.Kind{provenance.KindGP, provenance.KindHospital, provenance.KindCommunity, provenance.KindOutOfHours,
		provenance.KindMentalHealth, provenance.KindAmbulance, provenance.KindNHS111, provenance.KindSocialCare}
	var ids []string
	for _, k := range kinds {
		ids = append(ids, strings.ReplaceAll(string(k), "111", "nhs111"))
	}
	holders := map[string][]string{} // NHS number → sources holding the person
	_, err := benchmarks.SynthFHIR(t.Context(), benchmarks.FHIROptions{People: 30, Sources: ids, Seed: 3, ErrorScale: -1},
		func(p benchmarks.FHIRPatient, b []byte) error {
			d := filepath.Join(dir, "sources", p.Source)
			if err := os.MkdirAll(d, 0o700); err != nil {
				return err
			}
			holders[p.NHSNumber] = append(holders[p.NHSNumber], p.Source)
			return os.WriteFile(filepath.Join(d, p.PatientID+".json"), b, 0o600)
		})
	require.NoError(t, err)
	rules, err := benchmarks.FHIRRules(ids)
	require.NoError(t, err)
	writeJSON(t, filepath.Join(dir, "rules.json"), rules)
	writeJSON(t, filepath.Join(dir, "policy.json"), map[string]any{
		"rules": []any{map[string]any{"name": "gp-sees-all", "viewer": map[string]any{"kind": "gp"}, "effect": "allow"}}})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "audit.key"), []byte(strings.Repeat("k3", 20)), 0o600))
	hash, err := viewer.HashPassword("a long test password")
	require.NoError(t, err)
	var srcs []source.Config
	for i, id := range ids {
		srcs = append(srcs, source.Config{ID: id, Kind: kinds[i], Name: "The " + id + " service", Type: source.TypeFolder,
			Dir: filepath.Join("sources", id), Timeout: source.Duration(5 * time.Second)})
	}
	writeJSON(t, filepath.Join(dir, "carelens.json"), map[string]any{
		"listen": "127.0.0.1:0", "data": "data", "rules": "rules.json", "policy": "policy.json", "auditKeyFile": "audit.key",
		"sources": srcs,
		"orgs":    []viewer.Org{{Code: "Y1", Name: "A practice", Kind: "gp", Sources: []string{"gp"}}},
		"users":   []viewer.User{{ID: "dr", Name: "Dr Test", Org: "Y1", Role: viewer.RoleGP, PasswordHash: hash}},
	})
	cfg, err := readServeConfig(filepath.Join(dir, "carelens.json"))
	require.NoError(t, err)
	h, closeAll, err := buildViewer(t.Context(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(closeAll)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := browse(t, srv.URL, "dr", "a long test password")
	// Open the people held by the most sources until every source has
	// shown items; each page shows items from every source holding them.
	people := slices.Collect(maps.Keys(holders))
	slices.SortFunc(people, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(holders[b]), len(holders[a])), cmp.Compare(a, b))
	})
	union := map[string]bool{}
	for _, nhs := range people[:min(12, len(people))] {
		resp, err := c.Get(srv.URL + "/patient/" + nhs)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		seen := map[string]bool{}
		for _, m := range regexp.MustCompile(`data-sources="([a-z0-9 -]*)"`).FindAllStringSubmatch(string(body), -1) {
			for s := range strings.FieldsSeq(m[1]) {
				seen[s], union[s] = true, true
			}
		}
		for _, id := range holders[nhs] {
			assert.True(t, seen[id], "items from %s for a person it holds", id)
		}
	}
	for _, id := range ids {
		assert.True(t, union[id], "items from %s", id)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

func TestServeConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ name, json, want string }{
		{"unknown field", `{"sources":[{"id":"gp","kind":"gp","type":"folder","dir":"x"}],"policy":"p","auditKeyFile":"k","data":"d","colour":"blue"}`, `unknown field "colour"`},
		{"no sources", `{"policy":"p","auditKeyFile":"k","data":"d"}`, "no sources"},
		{"no policy", `{"sources":[{"id":"gp","kind":"gp","type":"folder","dir":"x"}],"auditKeyFile":"k","data":"d"}`, "policy, auditKeyFile and data are required"},
		{"tls half", `{"sources":[{"id":"gp","kind":"gp","type":"folder","dir":"x"}],"policy":"p","auditKeyFile":"k","data":"d","tlsCert":"c"}`, "tlsCert and tlsKey go together"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".json")
			require.NoError(t, os.WriteFile(p, []byte(tc.json), 0o600))
			_, err := readServeConfig(p)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), p, "the error names the file")
		})
	}
}

// TestServeAuditSurvivesKill9 runs `carelens serve --demo` in a child
// process, has clinicians open records in parallel, kills the process
// with SIGKILL mid-load and checks that the audit entry of every request
// that was answered is in the log, which verifies.
func TestServeAuditSurvivesKill9(t *testing.T) {
	if dir := os.Getenv("CARELENS_SERVE_CHILD"); dir != "" {
		_ = run(context.Background(), []string{"serve", "--demo", "--people", "40", "--data", dir, "--addr", "127.0.0.1:0"},
			strings.NewReader(""), os.Stdout, io.Discard)
		os.Exit(0)
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeAuditSurvivesKill9$")
	cmd.Env = append(os.Environ(), "CARELENS_SERVE_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var base, nhs string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		l := sc.Text()
		if m := regexp.MustCompile(`^Open (http://\S+) `).FindStringSubmatch(l); m != nil {
			base = m[1]
		}
		if m := regexp.MustCompile(`by NHS number: (\d{10})`).FindStringSubmatch(l); m != nil {
			nhs = m[1]
			break
		}
	}
	require.NotEmpty(t, base)
	require.NotEmpty(t, nhs)
	go func() { _, _ = io.Copy(io.Discard, out) }()

	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		c := browse(t, base, "gp.doctor", "riverside-demo")
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				path := "/patient/" + nhs
				if (w+i)%3 == 0 {
					path += "?f=1&src=gp&src=community"
				}
				resp, err := c.Get(base + path)
				if err != nil {
					return // the server died
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode == http.StatusOK {
					mu.Lock()
					acked = append(acked, resp.Header.Get("X-Request-Id"))
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(2 * time.Second)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	close(stop)
	wg.Wait()
	_ = cmd.Wait()
	require.NotEmpty(t, acked)

	key, err := audit.ReadKey(filepath.Join(dir, "audit.key"))
	require.NoError(t, err)
	l, err := audit.Open(filepath.Join(dir, "audit"), audit.Options{Key: key})
	require.NoError(t, err, "the log opens after kill -9")
	defer l.Close()
	require.NoError(t, l.Verify(t.Context()))
	var logged []string
	for ev, err := range l.Events(t.Context(), audit.Filter{Patient: nhs}) {
		require.NoError(t, err)
		if ev.Action == audit.ActionView {
			logged = append(logged, ev.RequestID)
		}
	}
	missing := 0
	for _, id := range acked {
		if !slices.Contains(logged, id) {
			missing++
		}
	}
	assert.Zero(t, missing, "every answered view is in the audit log (%d answered)", len(acked))
	t.Logf("%d views answered before kill -9, %d audited, 0 missing", len(acked), len(logged))

}
