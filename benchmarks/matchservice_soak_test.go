package benchmarks_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/benchmarks"
	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/match/matchio"
	"github.com/carelens/carelens/mpi/badgerstore"
)

var (
	soakDuration = flag.Duration("matchservice-soak", 20*time.Second,
		"how long BenchmarkMatchServiceSoak runs (the issue 15 figure is 10m)")
	soakSrc = flag.String("matchservice-src", "",
		"module root to build examples/matchservice from; empty means this module (give an old worktree for a before figure)")
	soakArgs = flag.String("matchservice-args", "",
		"extra flags for the service, space-separated (e.g. --max-body=2097152)")
)

// soakToken is the bearer token the soak's clients hold.
const soakToken = "soak-client-0123456789abcdef0123456789"

// buildMatchService builds examples/matchservice from *soakSrc (or this
// module) into a temporary directory and returns the binary's path.
func buildMatchService(b *testing.B) string {
	b.Helper()
	src := *soakSrc
	if src == "" {
		src = ".."
	}
	bin := filepath.Join(b.TempDir(), "matchservice")
	cmd := exec.Command("go", "build", "-o", bin, "./examples/matchservice")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build in %s: %v\n%s", src, err, out)
	}
	return bin
}

// soakIndex writes a Badger index of a synthetic cohort (people people,
// three sources) and returns its directory and up to 500 $match request
// bodies built from its records, each a Patient that strict R4 decoding
// accepts.
func soakIndex(b *testing.B, people int) (string, [][]byte) {
	b.Helper()
	ctx := context.Background()
	work := b.TempDir()
	st, err := benchmarks.Synth(ctx, benchmarks.SynthOptions{People: people, Seed: 15, Out: filepath.Join(work, "cohort")})
	if err != nil {
		b.Fatal(err)
	}
	var recs []match.Record
	for _, f := range st.Files {
		if strings.HasPrefix(filepath.Base(f), "truth") || filepath.Ext(f) != ".csv" {
			continue
		}
		rs, err := matchio.ReadFile(f, matchio.Options{})
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, rs...)
	}
	dir := filepath.Join(work, "index")
	s, err := badgerstore.Open(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	ix, err := mpi.OpenIndex(ctx, s, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ix.Load(ctx, func(yield func(match.Record, error) bool) {
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}, nil); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	var bodies [][]byte
	rng := rand.New(rand.NewPCG(15, 1))
	for _, i := range rng.Perm(len(recs)) {
		if len(bodies) == 500 {
			break
		}
		p, err := fhirutil.PatientJSON(recs[i])
		if err != nil {
			continue
		}
		d, err := fhirutil.Decode(p, &fhirutil.Options{Workers: 1})
		if err != nil || len(d.Issues) > 0 || len(d.Resources) != 1 {
			continue
		}
		bodies = append(bodies, fmt.Appendf(nil,
			`{"resourceType":"Parameters","parameter":[{"name":"resource","resource":%s},{"name":"count","valueInteger":5}]}`, p))
	}
	if len(bodies) < 100 {
		b.Fatalf("only %d valid query bodies from %d records", len(bodies), len(recs))
	}
	return dir, bodies
}

// msProcess is the service running in a child process.
type msProcess struct {
	cmd   *exec.Cmd
	url   string
	audit atomic.Int64 // audit lines seen on its stderr
}

// startMatchService starts bin over db on a free loopback port. A binary
// that knows --tokens (this change and later) is given a token file; an
// older one runs as it did.
func startMatchService(b *testing.B, bin, db string) *msProcess {
	b.Helper()
	help, _ := exec.Command(bin, "-h").CombinedOutput()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	args := []string{"--db", db, "--addr", addr}
	if bytes.Contains(help, []byte("-tokens")) {
		tf := filepath.Join(b.TempDir(), "tokens")
		if err := os.WriteFile(tf, []byte("soak "+soakToken+"\n"), 0o600); err != nil {
			b.Fatal(err)
		}
		args = append(args, "--tokens", tf)
	}
	if *soakArgs != "" {
		args = append(args, strings.Fields(*soakArgs)...)
	}
	p := &msProcess{cmd: exec.Command(bin, args...), url: "http://" + addr}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		p.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
	})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if bytes.Contains(sc.Bytes(), []byte("matchservice request")) {
				p.audit.Add(1)
			} else if bytes.Contains(sc.Bytes(), []byte("level=ERROR")) || bytes.Contains(sc.Bytes(), []byte("panic")) {
				fmt.Fprintln(os.Stderr, "matchservice:", sc.Text())
			}
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the service did not start listening")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

// procMem returns the process's resident set (VmRSS) and its peak (VmHWM)
// in bytes, from /proc.
func procMem(pid int) (rss, hwm uint64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for l := range strings.SplitSeq(string(data), "\n") {
		var kb uint64
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			rss = kb << 10
		} else if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			hwm = kb << 10
		}
	}
	return rss, hwm
}

// deepPatientJSON is the hostile Patient of issue 15 item 3: valid R4,
// its extensions nested levels deep (about 39 bytes a level: 4,900
// levels are 191 KB).
func deepPatientJSON(levels int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"resourceType":"Patient","extension":[`)
	for range levels - 1 {
		b.WriteString(`{"url":"http://example.org/x","extension":[`)
	}
	b.WriteString(`{"url":"http://example.org/x","valueString":"leaf"}`)
	for range levels - 1 {
		b.WriteString(`]}`)
	}
	b.WriteString(`],"birthDate":"1970-01-01"}`)
	return b.Bytes()
}

// deepBundleJSON is eight deep Patients in a collection Bundle (1.5 MB).
func deepBundleJSON() []byte {
	var b bytes.Buffer
	b.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[`)
	p := deepPatientJSON(4900)
	for i := range 8 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"fullUrl":"urn:uuid:00000000-0000-0000-0000-00000000000%d","resource":%s}`, i, p)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// soakRequest is one kind of request the soak sends.
type soakRequest struct {
	kind, name string
	method     string
	path       string
	body       []byte
	header     map[string]string
	// anonymous requests go without the token.
	anonymous bool
	// ok lists the statuses that are right for it.
	ok []int
}

func soakRequests(valid [][]byte) []soakRequest {
	fhirJSON := map[string]string{"Content-Type": "application/fhir+json"}
	with := func(k, v string) map[string]string {
		m := maps.Clone(fhirJSON)
		m[k] = v
		return m
	}
	v0 := valid[0]
	reqs := []soakRequest{
		{kind: "malformed", name: "truncated JSON", body: v0[:len(v0)/2], ok: []int{400}},
		{kind: "malformed", name: "unknown element", body: bytes.Replace(v0, []byte(`"resourceType":"Patient"`), []byte(`"resourceType":"Patient","shoeSize":9`), 1), ok: []int{400}},
		{kind: "malformed", name: "count as a string", body: bytes.Replace(v0, []byte(`"valueInteger":5`), []byte(`"valueInteger":"5"`), 1), ok: []int{400}},
		{kind: "malformed", name: "text/plain", body: v0, header: with("Content-Type", "text/plain"), ok: []int{415}},
		{kind: "malformed", name: "XML wanted", body: v0, header: with("Accept", "application/fhir+xml"), ok: []int{406}},
		{kind: "malformed", name: "no token", body: v0, anonymous: true, ok: []int{401}},
		{kind: "malformed", name: "GET", method: http.MethodGet, ok: []int{405}},
		{kind: "malformed", name: "unknown path", path: "/Patient/123", ok: []int{404}},
		{kind: "malformed", name: "Observation", body: []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`), ok: []int{400}},
		{kind: "hostile", name: "extensions 4,900 deep (191 KB)", body: deepPatientJSON(4900), ok: []int{400, 413}},
		{kind: "hostile", name: "Bundle of 8 such Patients (1.5 MB)", body: deepBundleJSON(), ok: []int{400, 413}},
		{kind: "hostile", name: "extensions 300 deep (13 KB)", body: deepPatientJSON(300), ok: []int{400}},
		{kind: "hostile", name: "repeated identifier key", body: []byte(`{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}],"identifier":[],"birthDate":"1970-01-01"}`), ok: []int{400}},
		{kind: "hostile", name: "60 KB identifier", body: fmt.Appendf(nil, `{"resourceType":"Patient","identifier":[{"system":"urn:x","value":"%s"}],"birthDate":"1970-01-01"}`, strings.Repeat("7", 60000)), ok: []int{200, 400}},
		{kind: "hostile", name: "2 MB of spaces", body: append(bytes.Repeat([]byte(" "), 2<<20), v0...), ok: []int{413}},
	}
	for i := range reqs {
		if reqs[i].header == nil {
			reqs[i].header = fhirJSON
		}
	}
	return reqs
}

// send sends one request and returns its status (0 on a transport error).
func (p *msProcess) send(c *http.Client, r soakRequest) (int, time.Duration, error) {
	method := cmp.Or(r.method, http.MethodPost)
	var body io.Reader
	if method == http.MethodPost {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequest(method, p.url+cmp.Or(r.path, "/Patient/$match"), body)
	if err != nil {
		return 0, 0, err
	}
	if !r.anonymous {
		req.Header.Set("Authorization", "Bearer "+soakToken)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, time.Since(start), err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start), err
}

func soakPercentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

// BenchmarkMatchServiceSoak is the soak of issue 15: the $match service,
// built and run in a child process over a Badger index of a synthetic
// cohort (2,000 people), under 50 concurrent clients for
// -matchservice-soak (20 s by default; the issue's figure is 10 minutes),
// each sending 70% valid requests and 30% malformed or hostile ones
// (truncated JSON, unknown elements, wrong types, text/plain, XML wanted,
// no token, wrong method and path, extensions nested 4,900 and 300 deep,
// a 1.5 MB Bundle of eight deep Patients, repeated keys, a 60 KB
// identifier, 2 MB of spaces).
//
// It fails on any valid request not answered 200 (a transport error, a
// 429/503 or a 5xx included), on any malformed or hostile request answered
// otherwise than listed, and when the service's RSS grows by more than
// 20% between the end of warm-up (median of the samples in the second
// tenth of the run) and the end (median of the last tenth). It reports
// the request rate, p50 and p99 of the valid requests, RSS at warm-up, at
// the end and at most, the peak (VmHWM), and logs RSS over time.
//
//	go test ./benchmarks -run XXX -bench MatchServiceSoak -benchtime 1x
//	go test ./benchmarks -run XXX -bench MatchServiceSoak -benchtime 1x -matchservice-soak 10m -timeout 30m
func BenchmarkMatchServiceSoak(b *testing.B) {
	const clients = 50
	bin := buildMatchService(b)
	db, valid := soakIndex(b, 2000)
	reqs := soakRequests(valid)
	for b.Loop() {
		p := startMatchService(b, bin, db)
		pid := p.cmd.Process.Pid
		type sample struct {
			at  time.Duration
			rss uint64
		}
		var (
			mu         sync.Mutex
			samples    []sample
			times      []time.Duration
			sent, bad  atomic.Int64
			validErrs  atomic.Int64
			firstErr   atomic.Value
			byName     sync.Map // name → *atomic.Int64
			stop       = make(chan struct{})
			start      = time.Now()
			deadline   = start.Add(*soakDuration)
			sampleStep = max(*soakDuration/200, 500*time.Millisecond)
		)
		go func() {
			t := time.NewTicker(sampleStep)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					rss, _ := procMem(pid)
					mu.Lock()
					samples = append(samples, sample{time.Since(start), rss})
					mu.Unlock()
				}
			}
		}()
		var wg sync.WaitGroup
		for w := range clients {
			wg.Go(func() {
				c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
				defer c.CloseIdleConnections()
				rng := rand.New(rand.NewPCG(uint64(w), 15))
				var local []time.Duration
				for time.Now().Before(deadline) {
					if rng.IntN(10) < 7 {
						st, dt, err := p.send(c, soakRequest{body: valid[rng.IntN(len(valid))], header: map[string]string{"Content-Type": "application/fhir+json"}})
						sent.Add(1)
						if err != nil || st != http.StatusOK {
							validErrs.Add(1)
							firstErr.CompareAndSwap(nil, fmt.Sprintf("valid request: status %d, %v", st, err))
							continue
						}
						local = append(local, dt)
						continue
					}
					r := reqs[rng.IntN(len(reqs))]
					st, _, err := p.send(c, r)
					sent.Add(1)
					n, _ := byName.LoadOrStore(r.name, new(atomic.Int64))
					n.(*atomic.Int64).Add(1)
					if err != nil || !slices.Contains(r.ok, st) {
						bad.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Sprintf("%s %q: status %d (want %v), %v", r.kind, r.name, st, r.ok, err))
					}
				}
				mu.Lock()
				times = append(times, local...)
				mu.Unlock()
			})
		}
		wg.Wait()
		close(stop)
		_, hwm := procMem(pid)
		elapsed := time.Since(start)

		// RSS over time: ten rows.
		mu.Lock()
		ss := slices.Clone(samples)
		mu.Unlock()
		window := func(from, to float64) uint64 {
			var v []uint64
			for _, s := range ss {
				f := float64(s.at) / float64(*soakDuration)
				if f >= from && f < to {
					v = append(v, s.rss)
				}
			}
			if len(v) == 0 {
				return 0
			}
			slices.Sort(v)
			return v[len(v)/2]
		}
		// One line: the testing package cuts benchmark logs after a few
		// lines.
		var rows []string
		for i := range 10 {
			rows = append(rows, fmt.Sprintf("%.1f", float64(window(float64(i)/10, float64(i+1)/10))/(1<<20)))
		}
		warm, end := window(0.1, 0.2), window(0.9, 1.01)
		var peak uint64
		for _, s := range ss {
			if float64(s.at) >= 0.1*float64(*soakDuration) {
				peak = max(peak, s.rss)
			}
		}
		var kinds []string
		byName.Range(func(k, v any) bool {
			kinds = append(kinds, fmt.Sprintf("%s ×%d", k, v.(*atomic.Int64).Load()))
			return true
		})
		slices.Sort(kinds)
		growth := 100 * (float64(end)/float64(max(warm, 1)) - 1)
		b.Logf("soak %v, %d clients: %d requests, %d valid answered 200, %d audit lines; service RSS in MiB, median of each tenth of the run: %s",
			elapsed.Round(time.Second), clients, sent.Load(), len(times), p.audit.Load(), strings.Join(rows, " "))
		b.Logf("malformed and hostile requests sent: %s", strings.Join(kinds, "; "))

		b.ReportMetric(float64(sent.Load())/elapsed.Seconds(), "req/s")
		b.ReportMetric(float64(soakPercentile(times, 0.5))/1e6, "valid-p50-ms")
		b.ReportMetric(float64(soakPercentile(times, 0.99))/1e6, "valid-p99-ms")
		b.ReportMetric(float64(validErrs.Load()), "valid-errors")
		b.ReportMetric(float64(bad.Load()), "invalid-unexpected")
		b.ReportMetric(float64(warm)/(1<<20), "rss-warm-MiB")
		b.ReportMetric(float64(end)/(1<<20), "rss-end-MiB")
		b.ReportMetric(float64(peak)/(1<<20), "rss-max-after-warmup-MiB")
		b.ReportMetric(growth, "rss-growth-%")
		b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MiB")
		if e := validErrs.Load() + bad.Load(); e > 0 {
			b.Fatalf("%d valid requests failed and %d others were answered wrongly; first: %v", validErrs.Load(), bad.Load(), firstErr.Load())
		}
		if growth > 20 {
			b.Fatalf("RSS grew %.1f%% (%.1f → %.1f MiB) after warm-up", growth, float64(warm)/(1<<20), float64(end)/(1<<20))
		}
		if audit := p.audit.Load(); audit < sent.Load() {
			b.Fatalf("%d audit lines for %d requests", audit, sent.Load())
		}
	}
}

// BenchmarkMatchServiceHostile measures the service's peak RSS (VmHWM of
// its process) for the hostile bodies of issue 15 item 3, each case in a
// fresh process over the soak's index: one Patient with extensions nested
// 4,900 deep (191 KB), four of them POSTed at once, a 1.5 MB Bundle of
// eight such Patients, and four of those at once. Run it against this
// tree and against an older one for the before/after table:
//
//	git worktree add /tmp/ms-old <commit>
//	go test ./benchmarks -run XXX -bench MatchServiceHostile -benchtime 1x -matchservice-src /tmp/ms-old
//	go test ./benchmarks -run XXX -bench MatchServiceHostile -benchtime 1x
//	go test ./benchmarks -run XXX -bench MatchServiceHostile -benchtime 1x -matchservice-args=--max-body=4194304
//
// The last line lifts the body limit, so that the nesting limit alone is
// what stands between the bodies and the decoder.
func BenchmarkMatchServiceHostile(b *testing.B) {
	bin := buildMatchService(b)
	db, _ := soakIndex(b, 200)
	patient, bundle := deepPatientJSON(4900), deepBundleJSON()
	b.Logf("deep Patient %d bytes, Bundle %d bytes", len(patient), len(bundle))
	cases := []struct {
		name string
		body []byte
		n    int
	}{
		{"patient-4900-deep", patient, 1},
		{"patient-4900-deep-x4", patient, 4},
		{"bundle-8-deep", bundle, 1},
		{"bundle-8-deep-x4", bundle, 4},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				p := startMatchService(b, bin, db)
				time.Sleep(200 * time.Millisecond)
				base, _ := procMem(p.cmd.Process.Pid)
				var wg sync.WaitGroup
				statuses := make([]int, tc.n)
				start := time.Now()
				for i := range tc.n {
					wg.Go(func() {
						c := &http.Client{Timeout: 5 * time.Minute}
						st, _, err := p.send(c, soakRequest{body: tc.body, header: map[string]string{"Content-Type": "application/fhir+json"}})
						if err != nil {
							b.Logf("request %d: %v", i, err)
						}
						statuses[i] = st
					})
				}
				wg.Wait()
				_, hwm := procMem(p.cmd.Process.Pid)
				b.Logf("%s: statuses %v in %v; RSS before %.1f MiB, peak %.1f MiB", tc.name, statuses, time.Since(start).Round(time.Millisecond),
					float64(base)/(1<<20), float64(hwm)/(1<<20))
				b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MiB")
				b.ReportMetric(float64(base)/(1<<20), "idle-RSS-MiB")
				b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms")
				b.ReportMetric(float64(statuses[0]), "status")
			}
		})
	}
}
