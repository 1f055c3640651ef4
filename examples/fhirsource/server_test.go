package fhirsource_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/examples/fhirsource"
	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/source"
)

// records is a small synthetic community-service record in NDJSON: two
// patients, three resources of the first.
const records = `{"resourceType":"Patient","id":"p1","meta":{"lastUpdated":"2025-01-01T00:00:00Z"},"identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9990000050"}],"name":[{"family":"Tester","given":["Robin"]}],"birthDate":"1961-02-03"}
{"resourceType":"Patient","id":"p2","meta":{"lastUpdated":"2023-01-01T00:00:00Z"},"identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9990000069"}],"name":[{"family":"Tester","given":["Kim"]}],"birthDate":"1961-02-03"}
{"resourceType":"Encounter","id":"e1","meta":{"lastUpdated":"2024-01-01T00:00:00Z"},"status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"HH"},"subject":{"reference":"Patient/p1"}}
{"resourceType":"Condition","id":"c1","meta":{"lastUpdated":"2025-02-01T00:00:00Z"},"code":{"text":"Leg ulcer"},"subject":{"reference":"Patient/p1"}}
{"resourceType":"Procedure","id":"pr1","meta":{"lastUpdated":"2025-03-01T00:00:00Z"},"status":"completed","code":{"text":"Dressing change"},"subject":{"reference":"Patient/p1"}}
`

func newServer(t testing.TB, o *fhirsource.Options) *fhirsource.Server {
	t.Helper()
	st, err := source.NewStore([]source.File{{Name: "community.ndjson", Data: []byte(records)}})
	require.NoError(t, err)
	srv, err := fhirsource.New(st, o)
	require.NoError(t, err)
	return srv
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func do(t testing.TB, h http.Handler, method, target string, header map[string]string) answer {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	a := answer{status: w.Code, header: w.Header(), raw: w.Body.Bytes()}
	if method != http.MethodHead {
		require.NoError(t, json.Unmarshal(a.raw, &a.body), "every answer is JSON")
	}
	return a
}

func TestEndpoints(t *testing.T) {
	srv := newServer(t, nil)
	nhs := url.QueryEscape("https://fhir.nhs.uk/Id/nhs-number|9990000050")
	tests := []struct {
		name     string
		method   string
		target   string
		header   map[string]string
		status   int
		resource string
		total    int // for searchsets
		entries  int
	}{
		{name: "metadata", target: "/metadata", status: 200, resource: "CapabilityStatement"},
		{name: "search by nhs number", target: "/Patient?identifier=" + nhs, status: 200, resource: "Bundle", total: 1, entries: 1},
		{name: "search by demographics", target: "/Patient?family=tester&birthdate=1961-02-03", status: 200, resource: "Bundle", total: 2, entries: 2},
		{name: "search with given", target: "/Patient?family=tester&birthdate=1961-02-03&given=ki", status: 200, resource: "Bundle", total: 1, entries: 1},
		{name: "search by lastUpdated", target: "/Patient?_lastUpdated=gt2024-06-01", status: 200, resource: "Bundle", total: 1, entries: 1},
		{name: "no match", target: "/Patient?family=nobody", status: 200, resource: "Bundle", total: 0, entries: 0},
		{name: "total only", target: "/Patient?family=tester&_count=0", status: 200, resource: "Bundle", total: 2, entries: 0},
		{name: "read", target: "/Patient/p1", status: 200, resource: "Patient"},
		{name: "everything", target: "/Patient/p1/$everything", status: 200, resource: "Bundle", total: 4, entries: 4},
		{name: "everything since", target: "/Patient/p1/$everything?_since=" + url.QueryEscape("2025-01-15T00:00:00+00:00"), status: 200, resource: "Bundle", total: 3, entries: 3},
		{name: "everything page", target: "/Patient/p1/$everything?_count=3&_offset=2", status: 200, resource: "Bundle", total: 4, entries: 2},
		{name: "accept with parameters", target: "/Patient/p1", header: map[string]string{"Accept": "text/html;q=0.9, application/fhir+json; fhirVersion=4.0"}, status: 200, resource: "Patient"},
		{name: "accept anything", target: "/Patient/p1", header: map[string]string{"Accept": "*/*"}, status: 200, resource: "Patient"},
		{name: "format overrides accept", target: "/Patient/p1?_format=json", header: map[string]string{"Accept": "application/fhir+xml"}, status: 200, resource: "Patient"},
		{name: "unknown patient", target: "/Patient/nobody", status: 404, resource: "OperationOutcome"},
		{name: "everything of unknown patient", target: "/Patient/nobody/$everything", status: 404, resource: "OperationOutcome"},
		{name: "other resource type", target: "/Observation/x", status: 404, resource: "OperationOutcome"},
		{name: "other operation", target: "/Patient/p1/$match", status: 404, resource: "OperationOutcome"},
		{name: "unknown parameter", target: "/Patient?address-city=Leeds", status: 400, resource: "OperationOutcome"},
		{name: "unsupported control parameter", target: "/Patient?_sort=family", status: 400, resource: "OperationOutcome"},
		{name: "parameter on read", target: "/Patient/p1?family=x", status: 400, resource: "OperationOutcome"},
		{name: "bad since", target: "/Patient/p1/$everything?_since=yesterday", status: 400, resource: "OperationOutcome"},
		{name: "bad count", target: "/Patient?_count=-1", status: 400, resource: "OperationOutcome"},
		{name: "huge count", target: "/Patient?_count=1000000", status: 400, resource: "OperationOutcome"},
		{name: "bad id", target: "/Patient/" + url.PathEscape("p 1"), status: 400, resource: "OperationOutcome"},
		{name: "bad query string", target: "/Patient?family=%zz", status: 400, resource: "OperationOutcome"},
		{name: "post", method: http.MethodPost, target: "/Patient", status: 405, resource: "OperationOutcome"},
		{name: "delete", method: http.MethodDelete, target: "/Patient/p1", status: 405, resource: "OperationOutcome"},
		{name: "xml", target: "/Patient/p1", header: map[string]string{"Accept": "application/fhir+xml"}, status: 406, resource: "OperationOutcome"},
		{name: "json refused", target: "/metadata", header: map[string]string{"Accept": "application/json;q=0, text/html"}, status: 406, resource: "OperationOutcome"},
		{name: "format xml", target: "/metadata?_format=xml", status: 406, resource: "OperationOutcome"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			a := do(t, srv, method, tc.target, tc.header)
			require.Equal(t, tc.status, a.status, string(a.raw))
			assert.Equal(t, "application/fhir+json; charset=utf-8", a.header.Get("Content-Type"))
			assert.Equal(t, "nosniff", a.header.Get("X-Content-Type-Options"))
			assert.Equal(t, tc.resource, a.body["resourceType"])
			if tc.status == 405 {
				assert.Equal(t, "GET, HEAD", a.header.Get("Allow"))
			}
			if tc.resource == "Bundle" {
				assert.Equal(t, "searchset", a.body["type"])
				assert.EqualValues(t, tc.total, a.body["total"])
				entries, _ := a.body["entry"].([]any)
				assert.Len(t, entries, tc.entries)
			}
			if tc.resource == "OperationOutcome" {
				issue := a.body["issue"].([]any)[0].(map[string]any)
				assert.NotEmpty(t, issue["diagnostics"])
				for _, v := range []string{"Leeds", "yesterday", "nobody", "1000000"} {
					assert.NotContains(t, issue["diagnostics"], v, "diagnostics never echo values")
				}
			}
			if tc.status == 200 {
				// What the server writes is R4 that fhirutil reads strictly.
				b, err := fhirutil.Decode(a.raw, &fhirutil.Options{Validate: true})
				require.NoError(t, err)
				assert.Empty(t, b.Issues)
			}
		})
	}
	a := do(t, srv, http.MethodHead, "/Patient/p1", nil)
	assert.Equal(t, 200, a.status)
}

// TestPaging follows next links through a whole $everything and checks
// that the pages hold every resource once, with absolute links and
// fullUrls under the prefix the server is mounted at.
func TestPaging(t *testing.T) {
	srv := newServer(t, &fhirsource.Options{PageSize: 1})
	ts := httptest.NewServer(http.StripPrefix("/fhir", srv))
	defer ts.Close()
	next := ts.URL + "/fhir/Patient/p1/$everything"
	var got []string
	for pages := 0; next != ""; pages++ {
		require.Less(t, pages, 10)
		resp, err := ts.Client().Get(next)
		require.NoError(t, err)
		var b struct {
			Total int `json:"total"`
			Link  []struct{ Relation, URL string }
			Entry []struct {
				FullURL  string `json:"fullUrl"`
				Resource struct{ ResourceType, ID string }
			}
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&b))
		resp.Body.Close()
		require.Equal(t, 4, b.Total)
		require.Len(t, b.Entry, 1)
		e := b.Entry[0]
		assert.Equal(t, ts.URL+"/fhir/"+e.Resource.ResourceType+"/"+e.Resource.ID, e.FullURL)
		got = append(got, e.Resource.ResourceType+"/"+e.Resource.ID)
		next = ""
		for _, l := range b.Link {
			if l.Relation == "self" {
				assert.True(t, strings.HasPrefix(l.URL, ts.URL+"/fhir/Patient/p1/$everything"), l.URL)
			}
			if l.Relation == "next" {
				next = l.URL
			}
		}
	}
	assert.Equal(t, []string{"Patient/p1", "Encounter/e1", "Condition/c1", "Procedure/pr1"}, got)
}

func TestFaults(t *testing.T) {
	srv := newServer(t, &fhirsource.Options{EndpointFaults: map[fhirsource.Endpoint]fhirsource.Faults{
		fhirsource.EndpointMetadata: {FailRate: 1, FailStatus: 503},
	}})
	a := do(t, srv, http.MethodGet, "/metadata", nil)
	assert.Equal(t, 503, a.status, "faults from Options")
	assert.Equal(t, "1", a.header.Get("Retry-After"))
	assert.Equal(t, "OperationOutcome", a.body["resourceType"])
	assert.Equal(t, 200, do(t, srv, http.MethodGet, "/Patient/p1", nil).status, "other endpoints are untouched")

	require.NoError(t, srv.SetFaults(fhirsource.Faults{FailRate: 1}))
	assert.Equal(t, 500, do(t, srv, http.MethodGet, "/Patient/p1", nil).status, "faults set at run time")
	assert.Equal(t, 503, do(t, srv, http.MethodGet, "/metadata", nil).status, "an endpoint's own faults win")
	require.NoError(t, srv.SetEndpointFaults(fhirsource.EndpointRead, fhirsource.Faults{}))
	assert.Equal(t, 200, do(t, srv, http.MethodGet, "/Patient/p1", nil).status)
	assert.Equal(t, 500, do(t, srv, http.MethodGet, "/Patient/p1/$everything", nil).status)
	srv.ClearFaults()
	assert.Equal(t, 200, do(t, srv, http.MethodGet, "/metadata", nil).status)
	assert.Equal(t, fhirsource.Faults{}, srv.Faults(fhirsource.EndpointEverything))

	require.NoError(t, srv.SetFaults(fhirsource.Faults{Latency: 30 * time.Millisecond, Jitter: 10 * time.Millisecond}))
	start := time.Now()
	assert.Equal(t, 200, do(t, srv, http.MethodGet, "/Patient/p1", nil).status)
	assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond, "latency is a lower bound")

	require.NoError(t, srv.SetFaults(fhirsource.Faults{Hang: true}))
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequestWithContext(ctx, http.MethodGet, "/Patient/p1", nil))
	assert.Empty(t, w.Body.Bytes(), "a hang ends with the request, without an answer")

	for _, bad := range []fhirsource.Faults{{Latency: -1}, {FailRate: 1.5}, {FailRate: -0.1}, {FailStatus: 404}} {
		assert.Error(t, srv.SetFaults(bad))
		assert.Error(t, srv.SetEndpointFaults(fhirsource.EndpointSearch, bad))
		_, err := fhirsource.New(srv.Store(), &fhirsource.Options{Faults: bad})
		assert.Error(t, err)
	}
}

// TestListen starts a server on a port of its own, as the viewer's demo
// does, and closes it while a request hangs.
func TestListen(t *testing.T) {
	srv := newServer(t, &fhirsource.Options{Name: "Community service"})
	l, err := srv.Listen("127.0.0.1:0")
	require.NoError(t, err)
	resp, err := http.Get(l.URL + "/metadata")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Contains(t, string(body), "Community service")

	require.NoError(t, srv.SetFaults(fhirsource.Faults{Hang: true}))
	errc := make(chan error, 1)
	go func() {
		resp, err := http.Get(l.URL + "/Patient/p1")
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the request arrive
	start := time.Now()
	require.NoError(t, l.Close())
	assert.Less(t, time.Since(start), 3*time.Second, "Close releases hanging requests")
	<-errc
}

// FuzzSearch sends arbitrary query strings to the Patient search: the
// server answers 200 or 400 with FHIR JSON, and a 400's diagnostics never
// quote a parameter's value.
func FuzzSearch(f *testing.F) {
	for _, q := range []string{
		"identifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9990000050",
		"family=tester&birthdate=1961-02-03&given=ro",
		"family:exact=Tester,Other&birthdate=eq1961",
		"_lastUpdated=ge2024-01-01T00:00:00Z&_lastUpdated=lt2026",
		"_count=1&_offset=1&family=t",
		"birthdate=gt1961&secret1234=x",
		"identifier=%7C&family=%5C%2C",
	} {
		f.Add(q)
	}
	srv := newServer(f, nil)
	f.Fuzz(func(t *testing.T, q string) {
		r := httptest.NewRequest(http.MethodGet, "/Patient", nil)
		r.URL.RawQuery = q
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		require.Contains(t, []int{200, 400}, w.Code)
		var body struct {
			ResourceType string
			Total        *int
			Entry        []json.RawMessage
			Issue        []struct{ Diagnostics string }
		}
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
		if w.Code == 200 {
			require.Equal(t, "Bundle", body.ResourceType)
			require.NotNil(t, body.Total)
			require.LessOrEqual(t, len(body.Entry), *body.Total)
			return
		}
		require.Equal(t, "OperationOutcome", body.ResourceType)
		params, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		for name, vs := range params {
			for _, v := range vs {
				if len(v) >= 4 && !strings.Contains(name, v) && !strings.Contains(fixedDiagnostics, v) {
					require.NotContains(t, body.Issue[0].Diagnostics, v)
				}
			}
		}
	})
}

// fixedDiagnostics holds the words the server's diagnostics are made of,
// which a fuzzed value may happen to equal.
const fixedDiagnostics = `search parameter not supported modifier not a date, or a prefix other than eq
not a date or dateTime with an offset prefix not supported unsupported query malformed query string
_count _offset must be a whole number from 0 to 5000 parameter is not supported`
