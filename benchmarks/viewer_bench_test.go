package benchmarks_test

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/carelens/carelens/examples/fhirsource"
	"github.com/carelens/carelens/viewer/demo"
)

var loadDuration = flag.Duration("viewer-load", 60*time.Second, "how long BenchmarkViewerLoad runs")

// viewerDemo starts the demo viewer behind a loopback HTTP server, with
// its three sources in a separate process (as in a deployment, where the
// sources are other organisations' systems: their data and their CPU are
// not the viewer's), each answering after latency, and the hospital's
// $everything hanging when hangHospital is set. It returns the NHS numbers
// of up to 20 people every source holds.
func viewerDemo(b *testing.B, people int, latency, timeout time.Duration, hangHospital bool) (*demo.Demo, *httptest.Server, []string) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestViewerSourcesProcess$")
	cmd.Env = append(os.Environ(), "CARELENS_BENCH_SOURCES="+fmt.Sprintf("%d,%s,%v", people, latency, hangHospital))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	var info sourcesInfo
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "SOURCES "); ok {
			if err := json.Unmarshal([]byte(rest), &info); err != nil {
				b.Fatal(err)
			}
			break
		}
	}
	if len(info.URLs) == 0 {
		b.Fatal("the sources process did not start")
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	d, err := demo.Start(context.Background(), &demo.Options{SourceURLs: info.URLs, Timeout: timeout})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = d.Close() })
	srv := httptest.NewServer(d.Handler)
	b.Cleanup(srv.Close)
	return d, srv, info.Shared
}

type sourcesInfo struct {
	URLs   map[string]string `json:"urls"`
	Shared []string          `json:"shared"`
}

// TestViewerSourcesProcess is the viewer benchmarks' sources process: it
// runs only when a benchmark starts it.
func TestViewerSourcesProcess(t *testing.T) {
	spec := os.Getenv("CARELENS_BENCH_SOURCES")
	if spec == "" {
		t.Skip("the sources process of the viewer benchmarks; run by them")
	}
	var people int
	var latency time.Duration
	var hang bool
	parts := strings.Split(spec, ",")
	fmt.Sscan(parts[0], &people)
	latency, _ = time.ParseDuration(parts[1])
	hang = parts[2] == "true"
	set, err := demo.StartSources(context.Background(), &demo.Options{People: people, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	for id, s := range set.Servers {
		if err := s.SetFaults(fhirsource.Faults{Latency: latency}); err != nil {
			t.Fatal(err)
		}
		if hang && id == "hospital" {
			if err := s.SetEndpointFaults(fhirsource.EndpointEverything, fhirsource.Faults{Hang: true}); err != nil {
				t.Fatal(err)
			}
		}
	}
	b, _ := json.Marshal(sourcesInfo{URLs: set.URLs, Shared: demo.SharedPatients(set.Patients, 20)})
	fmt.Printf("SOURCES %s\n", b)
	_, _ = io.Copy(io.Discard, os.Stdin) // until the benchmark closes stdin
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// clinician signs in as a demo user and returns a client with the session.
func clinician(b *testing.B, base, user, password string) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	resp, err := c.Get(base + "/signin")
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(body)
	if m == nil {
		b.Fatal("no CSRF token on the sign-in page")
	}
	resp, err = c.PostForm(base+"/signin", url.Values{"csrf": {string(m[1])}, "user": {user}, "password": {password}})
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/" {
		b.Fatalf("sign-in as %s failed: ended at %s", user, resp.Request.URL.Path)
	}
	return c
}

// page gets path and returns the status, body and time taken.
func page(c *http.Client, base, path string) (int, string, time.Duration, error) {
	start := time.Now()
	resp, err := c.Get(base + path)
	if err != nil {
		return 0, "", time.Since(start), err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body), time.Since(start), err
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p * float64(len(s)-1))
	return s[i]
}

// BenchmarkViewerPage measures the server time of a record page whose
// three sources each answer in 50 ms: the page costs one round trip to
// each source (in parallel) plus merging and rendering, and the target is
// at most 20 ms beyond the slowest source at p50 and p99. Each patient is
// opened once before timing, so identity resolution (done once per session
// and patient) is not in the figure; a first open adds one search round
// trip. Run with -benchtime 200x for the 200 requests of the target.
func BenchmarkViewerPage(b *testing.B) {
	const latency = 50 * time.Millisecond
	_, srv, all := viewerDemo(b, 100, latency, 3*time.Second, false)
	c := clinician(b, srv.URL, "gp.doctor", "riverside-demo")
	entries := regexp.MustCompile(`\((\d+) of (\d+) items\)`)
	size := map[string]int{}
	for _, n := range all {
		st, body, _, err := page(c, srv.URL, "/patient/"+n)
		if err != nil || st != http.StatusOK {
			b.Fatalf("warm-up: %v %d", err, st)
		}
		if m := entries.FindStringSubmatch(body); m != nil {
			var k int
			fmt.Sscan(m[2], &k)
			size[n] = k
		}
	}
	bySize := slices.Clone(all)
	slices.SortFunc(bySize, func(x, y string) int { return size[x] - size[y] })
	median, largest := bySize[len(bySize)/2], bySize[len(bySize)-1]
	// The patient of median size alone, then every patient held by all
	// three sources in turn (a heavy tail: the largest has several hundred
	// entries), then the largest alone (the slowest page).
	for i, set := range [][]string{{median}, all, {largest}} {
		name := fmt.Sprintf("patients=%d", len(set))
		if i == 2 {
			name = "largest"
		}
		b.Run(name, func(b *testing.B) {
			var times []time.Duration
			var items []int
			i := 0
			cpu0 := processCPU()
			for b.Loop() {
				st, body, dt, err := page(c, srv.URL, "/patient/"+set[i%len(set)])
				if err != nil || st != http.StatusOK || !strings.Contains(body, `id="timeline-h"`) {
					b.Fatalf("page: %v %d", err, st)
				}
				if m := entries.FindStringSubmatch(body); m != nil {
					var n int
					fmt.Sscan(m[2], &n)
					items = append(items, n)
				}
				times = append(times, dt)
				i++
			}
			cpu := processCPU() - cpu0
			over := func(p float64) float64 { return float64(percentile(times, p)-latency) / 1e6 }
			// CPU per page is steadier than the latencies on a shared
			// machine: the viewer's (and this client's) user and system
			// time, not the sources', which run in their own process.
			b.ReportMetric(float64(cpu)/1e6/float64(len(times)), "viewer-cpu-ms/page")
			b.ReportMetric(over(0.50), "p50-ms-beyond-source")
			b.ReportMetric(over(0.99), "p99-ms-beyond-source")
			b.ReportMetric(float64(slices.Max(items)), "max-entries")
		})
	}
}

// BenchmarkViewerHangingSource opens a record whose hospital source never
// answers: the page must arrive at that source's timeout (1 s here) with a
// banner naming it, built from the other sources.
func BenchmarkViewerHangingSource(b *testing.B) {
	const timeout = time.Second
	_, srv, shared := viewerDemo(b, 60, 50*time.Millisecond, timeout, true)
	c := clinician(b, srv.URL, "gp.doctor", "riverside-demo")
	n := shared[0]
	var times []time.Duration
	for b.Loop() {
		st, body, dt, err := page(c, srv.URL, "/patient/"+n)
		if err != nil || st != http.StatusOK {
			b.Fatalf("page: %v %d", err, st)
		}
		if !strings.Contains(body, "Northfield Hospital EHR did not answer within 1s; its data is not shown.") {
			b.Fatal("no banner for the hanging source")
		}
		times = append(times, dt)
	}
	b.ReportMetric(float64(percentile(times, 0.5))/1e6, "p50-ms")
	b.ReportMetric(float64(percentile(times, 0.99)-timeout)/1e6, "p99-ms-beyond-timeout")
}

// BenchmarkViewerLoad is the load run: 50 clinicians at once for
// -viewer-load (60 s by default), each opening patients and toggling
// sources (one of three views unticks a random source, one in five adds a
// category filter), every source answering in 50 ms. It reports the
// request rate, p50 and p99, errors (any failed request or non-200 fails
// the run), and the process's heap and peak RSS. Run it alone:
//
//	go test ./benchmarks -run XXX -bench ViewerLoad -benchtime 1x
func BenchmarkViewerLoad(b *testing.B) {
	const clinicians = 50
	_, srv, patients := viewerDemo(b, 500, 50*time.Millisecond, 3*time.Second, false)
	users := demo.Users
	sources := []string{"gp", "hospital", "community"}
	for b.Loop() {
		var mu sync.Mutex
		var times []time.Duration
		var errs, reqs atomic.Int64
		var firstErr atomic.Value
		var peakHeap atomic.Uint64
		stop := make(chan struct{})
		go func() {
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					if ms.HeapAlloc > peakHeap.Load() {
						peakHeap.Store(ms.HeapAlloc)
					}
				}
			}
		}()
		deadline := time.Now().Add(*loadDuration)
		var wg sync.WaitGroup
		for w := range clinicians {
			u := users[w%len(users)]
			c := clinician(b, srv.URL, u.ID, u.Password)
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(w), 1))
				var local []time.Duration
				for time.Now().Before(deadline) {
					path := "/patient/" + patients[rng.IntN(len(patients))]
					q := url.Values{}
					if rng.IntN(3) == 0 {
						q.Set("f", "1")
						skip := sources[rng.IntN(3)]
						for _, s := range sources {
							if s != skip {
								q.Add("src", s)
							}
						}
					}
					if rng.IntN(5) == 0 {
						q.Set("cat", "result")
					}
					if len(q) > 0 {
						path += "?" + q.Encode()
					}
					st, _, dt, err := page(c, srv.URL, path)
					reqs.Add(1)
					if err != nil || st != http.StatusOK {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: %v %d", path, err, st))
						continue
					}
					local = append(local, dt)
				}
				mu.Lock()
				times = append(times, local...)
				mu.Unlock()
			})
		}
		wg.Wait()
		close(stop)
		if e := errs.Load(); e > 0 {
			b.Fatalf("%d of %d requests failed; first: %v", e, reqs.Load(), firstErr.Load())
		}
		b.ReportMetric(float64(reqs.Load())/loadDuration.Seconds(), "req/s")
		b.ReportMetric(float64(percentile(times, 0.5))/1e6, "p50-ms")
		b.ReportMetric(float64(percentile(times, 0.99))/1e6, "p99-ms")
		b.ReportMetric(float64(peakHeap.Load())/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
		b.ReportMetric(0, "errors")
	}
}

// processCPU is the process's user and system CPU time so far, or 0
// where getrusage is not available.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS is the process's peak resident set (VmHWM), or 0 off Linux.
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb uint64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}
