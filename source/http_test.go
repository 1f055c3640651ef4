package source_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/examples/fhirsource"
	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/provenance"
	"github.com/carelens/carelens/source"
)

// serve starts the example FHIR server over testdata.
func serve(t *testing.T, o *fhirsource.Options) (*fhirsource.Server, *httptest.Server) {
	t.Helper()
	srv, err := fhirsource.New(testStore(t), o)
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts
}

// openFHIR opens a FHIR source for base with a short timeout.
func openFHIR(t *testing.T, base string, f func(*source.Config), o *source.Options) source.Source {
	t.Helper()
	c := source.Config{ID: "hospital", Kind: provenance.KindHospital, Name: "Hospital EHR", Type: source.TypeFHIR,
		BaseURL: base, Timeout: source.Duration(5 * time.Second)}
	if f != nil {
		f(&c)
	}
	s, err := source.Open(c, o)
	require.NoError(t, err)
	return s
}

var (
	bySample = source.Query{NHSNumber: "9990000018"}
	byDemog  = source.Query{Family: "sample", Given: "alexa", BirthDate: "1970-01-01"}
)

func recordIDs(recs []match.Record) []string {
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.Source+"/"+r.ID)
	}
	return ids
}

func TestFHIRSearch(t *testing.T) {
	_, ts := serve(t, nil)
	s := openFHIR(t, ts.URL+"/", nil, nil) // a trailing slash is fine
	tests := []struct {
		name string
		q    source.Query
		want []string
	}{
		{name: "nhs number", q: bySample, want: []string{"hospital/gp-1", "hospital/h-1"}},
		{name: "demographics", q: byDemog, want: []string{"hospital/h-1"}},
		{name: "no match", q: source.Query{NHSNumber: "9990000034"}, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := s.Search(t.Context(), tc.q)
			require.NoError(t, err)
			require.NotNil(t, recs, "no match is an empty slice")
			assert.Equal(t, tc.want, recordIDs(recs))
		})
	}
	recs, err := s.Search(t.Context(), bySample)
	require.NoError(t, err)
	assert.Equal(t, "Sample", recs[0].Family)
	assert.Equal(t, "9990000018", recs[0].NHSNumber)

	_, err = s.Search(t.Context(), source.Query{Family: "Sample"})
	require.ErrorIs(t, err, source.ErrQuery)
}

func TestFHIREverything(t *testing.T) {
	_, ts := serve(t, &fhirsource.Options{PageSize: 2})
	s := openFHIR(t, ts.URL, nil, nil)
	b, err := s.Everything(t.Context(), "gp-1")
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"Patient": 1, "AllergyIntolerance": 1, "Observation": 1, "MedicationStatement": 1}, b.CountByType(),
		"two pages of two")
	assert.Equal(t, 2, b.Bundles)
	assert.Empty(t, b.Issues)
	assert.Equal(t, "hospital", b.Source.ID)
	require.Len(t, b.Patients(), 1)
	assert.Equal(t, "gp-1", b.Patients()[0].ID)
	entries := b.Entries()
	require.Len(t, entries, 3)
	for _, e := range entries {
		tags := e.Lineage.Tags()
		require.Len(t, tags, 1)
		assert.Equal(t, "hospital", tags[0].Source, "every entry is tagged with the source")
		assert.False(t, tags[0].Asserted.IsZero(), "meta.lastUpdated is the asserted time")
	}

	ss, ok := s.(source.SinceSource)
	require.True(t, ok)
	b, err = ss.EverythingSince(t.Context(), "gp-1", time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"Patient": 1, "MedicationStatement": 1}, b.CountByType())

	pr, ok := s.(source.PatientReader)
	require.True(t, ok)
	rec, err := pr.Patient(t.Context(), "h-1")
	require.NoError(t, err)
	assert.Equal(t, "SAMPLE", rec.Family)
	assert.Equal(t, "hospital", rec.Source)
	_, err = pr.Patient(t.Context(), "nobody")
	assert.ErrorIs(t, err, source.ErrNotFound)
}

func TestFHIRPages(t *testing.T) {
	_, ts := serve(t, &fhirsource.Options{PageSize: 1})
	s := openFHIR(t, ts.URL, nil, &source.Options{MaxPages: 3})
	_, err := s.Everything(t.Context(), "gp-1")
	require.ErrorIs(t, err, source.ErrTooLarge, "four pages of one, at most three followed")
	b, err := s.Everything(t.Context(), "c-1")
	require.NoError(t, err)
	assert.Len(t, b.Resources, 2)
}

// TestFHIRFailures checks that every failure is one of the errors Source
// promises and names the source and operation, never the patient.
func TestFHIRFailures(t *testing.T) {
	nonJSON := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>proxy error</html>"))
	}))
	defer nonJSON.Close()
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"http://attacker.example/steal"}]}`))
	}))
	defer elsewhere.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		name    string
		faults  fhirsource.Faults
		base    string // another server; "" for the example server
		timeout time.Duration
		max     int64
		op      string // "search" or "everything"
		id      string
		want    error
		status  string
	}{
		{name: "500", faults: fhirsource.Faults{FailRate: 1}, op: "search", want: source.ErrUnavailable, status: "500"},
		{name: "503", faults: fhirsource.Faults{FailRate: 1, FailStatus: 503}, op: "everything", want: source.ErrUnavailable, status: "503"},
		{name: "hang", faults: fhirsource.Faults{Hang: true}, timeout: 200 * time.Millisecond, op: "search", want: context.DeadlineExceeded},
		{name: "slow", faults: fhirsource.Faults{Latency: 5 * time.Second}, timeout: 200 * time.Millisecond, op: "everything", want: source.ErrUnavailable},
		{name: "unknown patient", op: "everything", id: "nobody", want: source.ErrNotFound, status: "404"},
		{name: "too large", max: 2048, op: "everything", want: source.ErrTooLarge},
		{name: "refused", base: closedURL, op: "search", want: source.ErrUnavailable},
		{name: "not JSON", base: nonJSON.URL, op: "everything", want: source.ErrUnavailable},
		{name: "next page elsewhere", base: elsewhere.URL, op: "search", want: source.ErrUnavailable},
	}
	srv, ts := serve(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, srv.SetFaults(tc.faults))
			defer srv.ClearFaults()
			base := tc.base
			if base == "" {
				base = ts.URL
			}
			s := openFHIR(t, base, func(c *source.Config) {
				if tc.timeout > 0 {
					c.Timeout = source.Duration(tc.timeout)
				}
				c.MaxBytes = tc.max
				c.Headers = map[string]string{"Authorization": "Bearer s3cr3t"}
			}, nil)
			id := tc.id
			if id == "" {
				id = "gp-1"
			}
			start := time.Now()
			var err error
			if tc.op == "search" {
				_, err = s.Search(t.Context(), bySample)
			} else {
				_, err = s.Everything(t.Context(), id)
			}
			elapsed := time.Since(start)
			require.ErrorIs(t, err, tc.want)
			if errors.Is(tc.want, source.ErrUnavailable) || errors.Is(tc.want, context.DeadlineExceeded) {
				assert.ErrorIs(t, err, source.ErrUnavailable)
			}
			if tc.timeout > 0 {
				assert.Less(t, elapsed, tc.timeout+3*time.Second, "a stuck source answers by its timeout, with slack for a loaded machine")
			}
			msg := err.Error()
			assert.Contains(t, msg, "hospital", "names the source")
			assert.Contains(t, msg, tc.op, "names the operation")
			assert.Contains(t, msg, tc.status)
			for _, secret := range []string{"9990000018", "s3cr3t", "identifier", "nhs-number", "gp-1?", "127.0.0.1:0"} {
				assert.NotContains(t, msg, secret)
			}
		})
	}
}

func TestFHIRHeadersAndCancel(t *testing.T) {
	var (
		mu  sync.Mutex
		got http.Header
	)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Header.Clone()
		mu.Unlock()
		<-r.Context().Done()
	}))
	defer ts.Close()
	s := openFHIR(t, ts.URL, func(c *source.Config) { c.Headers = map[string]string{"Authorization": "Bearer abc"} }, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := s.Everything(ctx, "gp-1")
	require.ErrorIs(t, err, source.ErrUnavailable)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the caller's deadline ends the call")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, "Bearer abc", got.Get("Authorization"))
	assert.Equal(t, "application/fhir+json", got.Get("Accept"))
}

// TestFHIRConcurrent runs searches and $everything from several
// goroutines while the faults change; run with -race.
func TestFHIRConcurrent(t *testing.T) {
	srv, ts := serve(t, &fhirsource.Options{PageSize: 2})
	s := openFHIR(t, ts.URL, nil, nil)
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for i := range 10 {
				if (g+i)%2 == 0 {
					recs, err := s.Search(t.Context(), bySample)
					if assert.NoError(t, err) {
						assert.Len(t, recs, 2)
					}
				} else {
					b, err := s.Everything(t.Context(), "h-1")
					if assert.NoError(t, err) {
						assert.Len(t, b.Resources, 4)
					}
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			_ = srv.SetFaults(fhirsource.Faults{Latency: time.Duration(i%3) * time.Millisecond})
			_ = srv.SetEndpointFaults(fhirsource.EndpointSearch, fhirsource.Faults{Jitter: time.Millisecond})
			srv.SetStore(srv.Store())
		}
	})
	wg.Wait()
}

// TestFHIRSynthea serves the Synthea bundles and reads each patient back
// through the client, in pages.
func TestFHIRSynthea(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 2.6 MB of Synthea")
	}
	dir := sharedData(t, "synthea-r4")
	st, err := source.LoadStore(os.DirFS(dir), 0)
	require.NoError(t, err)
	srv, err := fhirsource.New(st, &fhirsource.Options{PageSize: 100})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	s := openFHIR(t, ts.URL, nil, nil)
	for _, id := range st.PatientIDs() {
		want, err := st.Everything(id, time.Time{})
		require.NoError(t, err)
		b, err := s.Everything(t.Context(), id)
		require.NoError(t, err)
		assert.Len(t, b.Resources, len(want))
		assert.Empty(t, b.Err())
		for _, e := range b.Entries() {
			assert.Equal(t, "hospital", e.Lineage.Tags()[0].Source)
		}
	}
}
