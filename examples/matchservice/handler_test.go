package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/match"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testToken  = "tok-0123456789abcdef0123456789abcdef"
	otherToken = "tok-fedcba9876543210fedcba9876543210"
)

func testIndex(t testing.TB) *mpi.Index {
	t.Helper()
	ix, err := mpi.OpenIndex(t.Context(), mpi.NewMemoryStore(), nil)
	require.NoError(t, err)
	for _, r := range testRecords {
		_, err := ix.Add(t.Context(), r)
		require.NoError(t, err)
	}
	return ix
}

var testRecords = []match.Record{
	{Source: "gp", ID: "g1", Given: []string{"Amelia"}, Family: "Hartley", BirthDate: "1984-03-07", Sex: "F",
		Postcode: "LS6 2AB", Address: []string{"12 Cardigan Road"}, NHSNumber: "9434765919", Phone: "0113 496 0000"},
	{Source: "hospital", ID: "h1", Given: []string{"AMELIA"}, Family: "HARTLEY", BirthDate: "1984-03-07", Sex: "F",
		Postcode: "LS6 2AB"},
	{Source: "gp", ID: "g2", Given: []string{"Oliver"}, Family: "Nash", BirthDate: "1950-11-30", Sex: "M",
		Postcode: "YO1 7HH"},
	// The person of the FHIR specification's $match example.
	{Source: "hospital", ID: "example", Given: []string{"Peter", "James"}, Family: "Chalmers", BirthDate: "1974-12-25", Sex: "male",
		Address: []string{"534 Erewhon St"}, Town: "PleasantVille", Postcode: "3999",
		Identifiers: []match.Identifier{{System: "urn:oid:1.2.36.146.595.217.0.1", Value: "12345"}}},
}

// testHandler returns a handler over the test index accepting testToken
// (as "clinic-a") and otherToken ("clinic-b"), and its audit log.
func testHandler(t testing.TB, o *Options) (*Handler, *syncBuffer) {
	t.Helper()
	toks, err := ParseTokens([]byte("# test\nclinic-a " + testToken + "\nclinic-b\t" + otherToken + "\n"))
	require.NoError(t, err)
	var opt Options
	if o != nil {
		opt = *o
	}
	if opt.Tokens == nil && !opt.Anonymous {
		opt.Tokens = toks
	}
	log := &syncBuffer{}
	opt.Audit = slog.New(slog.NewTextHandler(log, nil))
	return NewHandler(testIndex(t), &opt), log
}

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

// post sends body to /Patient/$match as FHIR JSON with testToken.
func post(t testing.TB, h http.Handler, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	return send(t, h, http.MethodPost, "/Patient/$match", body, hdr...)
}

const matchRequest = `{
  "resourceType": "Parameters",
  "parameter": [
    {"name": "resource", "resource": {
      "resourceType": "Patient",
      "name": [{"family": "Hartley", "given": ["Amelia"]}],
      "gender": "female",
      "birthDate": "1984-03-07",
      "address": [{"postalCode": "LS6 2AB"}]
    }},
    {"name": "count", "valueInteger": 5}%s
  ]
}`

type bundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Total        int    `json:"total"`
	Entry        []struct {
		FullURL  string         `json:"fullUrl"`
		Resource map[string]any `json:"resource"`
		Search   struct {
			Mode      string  `json:"mode"`
			Score     float64 `json:"score"`
			Extension []struct {
				URL       string `json:"url"`
				ValueCode string `json:"valueCode"`
			} `json:"extension"`
		} `json:"search"`
	} `json:"entry"`
}

func identifiers(res map[string]any) map[string]string {
	out := map[string]string{}
	ids, _ := res["identifier"].([]any)
	for _, id := range ids {
		m := id.(map[string]any)
		s, _ := m["system"].(string)
		out[s], _ = m["value"].(string)
	}
	return out
}

func TestMatch(t *testing.T) {
	h, log := testHandler(t, nil)
	person, err := h.ix.PersonOf(t.Context(), match.RecordRef{Source: "gp", ID: "g1"})
	require.NoError(t, err)
	tests := []struct {
		name        string
		extra       string
		wantEntries int
	}{
		{name: "all grades", extra: "", wantEntries: 1},
		{name: "only certain", extra: `, {"name": "onlyCertainMatches", "valueBoolean": true}`, wantEntries: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(t, h, strings.Replace(matchRequest, "%s", tc.extra, 1))
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			assert.Equal(t, contentType, rec.Header().Get("Content-Type"))
			var b bundle
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &b))
			assert.Equal(t, "Bundle", b.ResourceType)
			assert.Equal(t, "searchset", b.Type)
			require.Len(t, b.Entry, tc.wantEntries, "one person, its best record")
			e := b.Entry[0]
			assert.Equal(t, "match", e.Search.Mode)
			assert.Greater(t, e.Search.Score, 0.99)
			assert.LessOrEqual(t, e.Search.Score, 1.0)
			require.Len(t, e.Search.Extension, 1)
			assert.Equal(t, fhirutil.MatchGradeURL, e.Search.Extension[0].URL)
			assert.Equal(t, "certain", e.Search.Extension[0].ValueCode)
			assert.Equal(t, person, identifiers(e.Resource)[PersonSystem], "the enterprise id is returned")
		})
	}
	line := lastLine(log.String())
	for _, want := range []string{"who=clinic-a", "auth=token", "status=200", "fields=name,birthDate,gender,postalCode",
		"count=5", "onlyCertain=true", "candidates=1", "grades=certain:1", "persons=" + person} {
		assert.Contains(t, line, want)
	}
	for _, phi := range []string{"Hartley", "HARTLEY", "Amelia", "1984", "LS6", "9434765919", testToken} {
		assert.NotContains(t, log.String(), phi, "the audit log holds no patient value and no token")
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestPossibleWithheld: a candidate below probable, found by name and
// birth date alone, is returned with the name, birth date and gender the
// request supplied, and without the NHS number, the other identifiers, the
// address, the telecom, the record id or the person id.
func TestPossibleWithheld(t *testing.T) {
	h, log := testHandler(t, nil)
	body := `{"resourceType":"Patient","name":[{"family":"Hartley","given":["Amelia"]}],"birthDate":"1984-03-07"}`
	rec := post(t, h, body)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var b bundle
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &b))
	require.NotEmpty(t, b.Entry)
	var sawBelow bool
	for _, e := range b.Entry {
		g := e.Search.Extension[0].ValueCode
		if discloses(match.Grade(g)) {
			continue
		}
		sawBelow = true
		for _, k := range []string{"identifier", "address", "telecom", "id", "gender"} {
			assert.NotContains(t, e.Resource, k, "grade %s: %s withheld", g, k)
		}
		assert.Contains(t, e.Resource, "name")
		assert.Contains(t, e.Resource, "birthDate")
	}
	require.True(t, sawBelow, "the index grades name and birth date alone below probable: %s", rec.Body.String())
	for _, s := range []string{"9434765919", "Cardigan", "LS6", "0113", "g1", "h1"} {
		assert.NotContains(t, rec.Body.String(), s)
	}
	assert.Contains(t, lastLine(log.String()), "grades=possible:")
	assert.Regexp(t, `persons=P\d+`, lastLine(log.String()), "the audit line names the person found, by enterprise id")
}

func TestAuthentication(t *testing.T) {
	h, log := testHandler(t, nil)
	body := strings.Replace(matchRequest, "%s", "", 1)
	tests := []struct {
		name, auth string
		want       int
		who        string
	}{
		{name: "no token", auth: "", want: http.StatusUnauthorized, who: "who=unknown"},
		{name: "wrong token", auth: "Bearer " + strings.Repeat("x", 40), want: http.StatusUnauthorized, who: "who=unknown"},
		{name: "basic", auth: "Basic " + testToken, want: http.StatusUnauthorized, who: "who=unknown"},
		{name: "first", auth: "Bearer " + testToken, want: http.StatusOK, who: "who=clinic-a"},
		{name: "second, lower-case scheme", auth: "bearer " + otherToken, want: http.StatusOK, who: "who=clinic-b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(t, h, body, "Authorization", tc.auth)
			require.Equal(t, tc.want, rec.Code, rec.Body.String())
			if tc.want == http.StatusUnauthorized {
				assert.Equal(t, `Bearer realm="carelens-match"`, rec.Header().Get("WWW-Authenticate"))
				assertOutcome(t, rec, "login")
			}
			assert.Contains(t, lastLine(log.String()), tc.who)
		})
	}
	t.Run("no authentication configured refuses", func(t *testing.T) {
		h := NewHandler(testIndex(t), &Options{Audit: slog.New(slog.DiscardHandler)})
		rec := post(t, h, body)
		assert.Equal(t, http.StatusUnauthorized, rec.Code)
	})
	t.Run("metadata is open", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metadata", nil))
		assert.Equal(t, http.StatusOK, rec.Code)
	})
}

type outcome struct {
	ResourceType string `json:"resourceType"`
	Issue        []struct {
		Severity    string   `json:"severity"`
		Code        string   `json:"code"`
		Diagnostics string   `json:"diagnostics"`
		Expression  []string `json:"expression"`
	} `json:"issue"`
}

func assertOutcome(t *testing.T, rec *httptest.ResponseRecorder, code string) outcome {
	t.Helper()
	assert.Equal(t, contentType, rec.Header().Get("Content-Type"))
	var oo outcome
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &oo), rec.Body.String())
	require.Equal(t, "OperationOutcome", oo.ResourceType)
	require.NotEmpty(t, oo.Issue)
	if code != "" {
		assert.Equal(t, code, oo.Issue[0].Code, rec.Body.String())
	}
	for _, internal := range []string{"fhirutil", "match:", "jsonformat", "encoding/json", "proto"} {
		assert.NotContains(t, rec.Body.String(), internal, "no internal names")
	}
	return oo
}

// errorCases are requests the service refuses, each with its status, the
// issue code and (for 400) the FHIRPath the first issue must name.
var errorCases = []struct {
	name, method, path, body string
	hdr                      []string
	want                     int
	code, expr               string
	reason                   string
}{
	{name: "unknown path", method: http.MethodGet, path: "/Patient", want: http.StatusNotFound, code: "not-found"},
	{name: "root", method: http.MethodGet, path: "/", want: http.StatusNotFound, code: "not-found"},
	{name: "GET $match", method: http.MethodGet, path: "/Patient/$match", want: http.StatusMethodNotAllowed, code: "not-supported"},
	{name: "POST metadata", method: http.MethodPost, path: "/metadata", want: http.StatusMethodNotAllowed, code: "not-supported"},
	{name: "Accept XML", method: http.MethodPost, hdr: []string{"Accept", "application/fhir+xml"}, want: http.StatusNotAcceptable, code: "not-supported"},
	{name: "Accept JSON q=0", method: http.MethodPost, hdr: []string{"Accept", "application/fhir+json;q=0, text/html"}, want: http.StatusNotAcceptable, code: "not-supported"},
	{name: "_format xml", method: http.MethodPost, path: "/Patient/$match?_format=xml", want: http.StatusNotAcceptable, code: "not-supported"},
	{name: "metadata _format xml", method: http.MethodGet, path: "/metadata?_format=xml", want: http.StatusNotAcceptable, code: "not-supported"},
	{name: "text/plain", method: http.MethodPost, hdr: []string{"Content-Type", "text/plain"}, want: http.StatusUnsupportedMediaType, code: "not-supported",
		reason: "a cross-site form can send text/plain without a preflight"},
	{name: "form", method: http.MethodPost, hdr: []string{"Content-Type", "application/x-www-form-urlencoded"}, want: http.StatusUnsupportedMediaType, code: "not-supported"},
	{name: "fhir+xml body", method: http.MethodPost, hdr: []string{"Content-Type", "application/fhir+xml"}, want: http.StatusUnsupportedMediaType, code: "not-supported"},
	{name: "no content type", method: http.MethodPost, hdr: []string{"Content-Type", ""}, want: http.StatusUnsupportedMediaType, code: "not-supported"},
	{name: "Latin-1", method: http.MethodPost, hdr: []string{"Content-Type", "application/fhir+json; charset=iso-8859-1"}, want: http.StatusUnsupportedMediaType, code: "not-supported"},
	{name: "too large", method: http.MethodPost, body: `{"resourceType":"Patient","name":[{"text":"` + strings.Repeat("a", DefaultMaxBody) + `"}]}`,
		want: http.StatusRequestEntityTooLarge, code: "too-long"},
	{name: "not JSON", method: http.MethodPost, body: "Amelia Hartley 1984-03-07", want: http.StatusBadRequest, code: "structure"},
	{name: "truncated", method: http.MethodPost, body: `{"resourceType":"Parameters","parameter":[{"name":"resource"`, want: http.StatusBadRequest, code: "structure"},
	{name: "trailing data", method: http.MethodPost, body: `{"resourceType":"Patient","birthDate":"1984-03-07"} {}`, want: http.StatusBadRequest, code: "structure"},
	{name: "no resource", method: http.MethodPost, body: `{"resourceType":"Parameters","parameter":[]}`, want: http.StatusBadRequest, code: "required", expr: "Parameters.parameter"},
	{name: "wrong resource type", method: http.MethodPost, body: `{"resourceType":"Observation"}`, want: http.StatusBadRequest, code: "not-supported", expr: "resourceType"},
	{name: "Bundle", method: http.MethodPost, body: `{"resourceType":"Bundle","type":"collection"}`, want: http.StatusBadRequest, code: "not-supported", expr: "resourceType"},
	{name: "Observation as the resource", method: http.MethodPost,
		body: `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Observation","status":"final","code":{"text":"x"}}}]}`,
		want: http.StatusBadRequest, code: "not-supported", expr: "Parameters.parameter[0].resource"},
	{name: "a Patient inside a Bundle as the resource", method: http.MethodPost,
		body: `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","birthDate":"1950-11-30"}}]}}]}`,
		want: http.StatusBadRequest, code: "not-supported", expr: "Parameters.parameter[0].resource"},
	{name: "a resource on the count parameter", method: http.MethodPost,
		body: `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","birthDate":"1950-11-30"}},{"name":"count","valueInteger":2,"resource":{"resourceType":"Patient"}}]}`,
		want: http.StatusBadRequest, code: "structure", expr: "Parameters.parameter[1]"},
	{name: "unknown Patient element", method: http.MethodPost,
		body: `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","name":[{"family":"Nash","nickname":"Ollie"}]}}]}`,
		want: http.StatusBadRequest, code: "structure", expr: "Parameters.parameter[0].resource.name[0].nickname"},
	{name: "unknown bare Patient element", method: http.MethodPost, body: `{"resourceType":"Patient","birthDate":"1950-11-30","shoeSize":9}`,
		want: http.StatusBadRequest, code: "structure", expr: "Patient.shoeSize"},
	{name: "unknown Parameters element", method: http.MethodPost,
		body: `{"resourceType":"Parameters","extra":1,"parameter":[{"name":"resource","resource":{"resourceType":"Patient","birthDate":"1950-11-30"}}]}`,
		want: http.StatusBadRequest, code: "structure", expr: "Parameters.extra"},
	{name: "unknown parameter element", method: http.MethodPost,
		body: `{"resourceType":"Parameters","parameter":[{"name":"resource","weight":3,"resource":{"resourceType":"Patient","birthDate":"1950-11-30"}}]}`,
		want: http.StatusBadRequest, code: "structure", expr: "Parameters.parameter[0].weight"},
	{name: "unknown parameter", method: http.MethodPost,
		body: `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","birthDate":"1950-11-30"}},{"name":"threshold","valueDecimal":0.2}]}`,
		want: http.StatusBadRequest, code: "not-supported", expr: "Parameters.parameter[1].name"},
	{name: "count as a string", method: http.MethodPost,
		body: `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","birthDate":"1950-11-30"}},{"name":"count","valueInteger":"3"}]}`,
		want: http.StatusBadRequest, code: "invalid", expr: "Parameters.parameter[1].valueInteger"},
	{name: "count zero", method: http.MethodPost,
		body: `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","birthDate":"1950-11-30"}},{"name":"count","valueInteger":0}]}`,
		want: http.StatusBadRequest, code: "value", expr: "Parameters.parameter[1].valueInteger"},
	{name: "count as a decimal", method: http.MethodPost,
		body: `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","birthDate":"1950-11-30"}},{"name":"count","valueDecimal":3}]}`,
		want: http.StatusBadRequest, code: "structure", expr: "Parameters.parameter[1]"},
	{name: "resource twice", method: http.MethodPost,
		body: `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","birthDate":"1950-11-30"}},{"name":"resource","resource":{"resourceType":"Patient","birthDate":"1950-11-30"}}]}`,
		want: http.StatusBadRequest, code: "structure", expr: "Parameters.parameter[1].name"},
	{name: "repeated key in the Patient", method: http.MethodPost,
		body: `{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}],"identifier":[]}`,
		want: http.StatusBadRequest, code: "structure", expr: "Patient.identifier", reason: "the last value would drop the NHS number silently"},
	{name: "repeated key in a parameter", method: http.MethodPost,
		body: `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","birthDate":"1950-11-30"}},{"name":"count","valueInteger":1,"valueInteger":50}]}`,
		want: http.StatusBadRequest, code: "structure", expr: "Parameters.parameter[1].valueInteger"},
	{name: "bad date", method: http.MethodPost, body: `{"resourceType":"Patient","birthDate":"1950-13-45"}`,
		want: http.StatusBadRequest, code: "invalid", expr: "Patient.birthDate"},
	{name: "nested too deep", method: http.MethodPost, body: nested(200),
		want: http.StatusBadRequest, code: "too-costly", expr: "Parameters.parameter[0].resource.extension",
		reason: "fhirutil.MaxDepth, before jsonformat reads it"},
	{name: "empty Patient", method: http.MethodPost, body: `{"resourceType":"Patient"}`, want: http.StatusBadRequest, code: "required", expr: "Patient"},
}

// nested is a $match request whose Patient has extensions nested depth
// deep.
func nested(depth int) string {
	return `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","birthDate":"1950-11-30","extension":` +
		strings.Repeat(`[{"url":"http://example.org/x","extension":`, depth) + `[]` + strings.Repeat(`}]`, depth) + `}}]}`
}

func TestErrors(t *testing.T) {
	h, _ := testHandler(t, nil)
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, h, tc.method, tc.path, tc.body, tc.hdr...)
			require.Equal(t, tc.want, rec.Code, "%s\n%s", tc.reason, rec.Body.String())
			oo := assertOutcome(t, rec, tc.code)
			if tc.expr != "" {
				require.NotEmpty(t, oo.Issue[0].Expression, rec.Body.String())
				assert.Equal(t, tc.expr, oo.Issue[0].Expression[0], rec.Body.String())
			}
			for _, phi := range []string{"Amelia", "Hartley", "1950-11-30", "1950-13-45", "9434765919", "Ollie"} {
				assert.NotContains(t, rec.Body.String(), phi, "no value of the request echoed back")
			}
			if tc.want == http.StatusMethodNotAllowed {
				assert.NotEmpty(t, rec.Header().Get("Allow"))
			}
		})
	}
}

// do sends a request with testToken; path defaults to /Patient/$match
// and body to a valid request.
func do(t testing.TB, h http.Handler, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	if path == "" {
		path = "/Patient/$match"
	}
	if body == "" && method == http.MethodPost {
		body = strings.Replace(matchRequest, "%s", "", 1)
	}
	return send(t, h, method, path, body, hdr...)
}

// send sends body to path with testToken, as FHIR JSON when it is a
// POST; hdr is name, value pairs, an empty value deleting the header.
func send(t testing.TB, h http.Handler, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, path, strings.NewReader(body))
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestAcceptedMediaTypes(t *testing.T) {
	h, _ := testHandler(t, nil)
	for _, hdr := range [][]string{
		{"Content-Type", "application/json"},
		{"Content-Type", "application/fhir+json; charset=UTF-8"},
		{"Content-Type", "application/json+fhir"},
		{"Accept", "application/fhir+json"},
		{"Accept", "text/html, */*;q=0.1"},
		{"Accept", "application/json"},
	} {
		rec := post(t, h, strings.Replace(matchRequest, "%s", "", 1), hdr...)
		assert.Equal(t, http.StatusOK, rec.Code, "%v: %s", hdr, rec.Body.String())
	}
	rec := do(t, h, http.MethodPost, "/Patient/$match?_format=application/fhir%2Bjson", "")
	assert.Equal(t, http.StatusOK, rec.Code)
}

func TestConcurrencyLimit(t *testing.T) {
	body := strings.Replace(matchRequest, "%s", "", 1)
	t.Run("queue full: 429", func(t *testing.T) {
		h, log := testHandler(t, &Options{MaxInFlight: 1, MaxQueue: -1})
		h.slots <- struct{}{} // a request in flight
		rec := post(t, h, body)
		require.Equal(t, http.StatusTooManyRequests, rec.Code)
		assert.Equal(t, "1", rec.Header().Get("Retry-After"))
		assertOutcome(t, rec, "throttled")
		assert.Contains(t, lastLine(log.String()), "status=429")
		<-h.slots
		assert.Equal(t, http.StatusOK, post(t, h, body).Code, "served again once the slot is free")
	})
	t.Run("waited too long: 503", func(t *testing.T) {
		h, _ := testHandler(t, &Options{MaxInFlight: 1, MaxQueue: 1, QueueWait: 20 * time.Millisecond})
		h.slots <- struct{}{}
		start := time.Now()
		rec := post(t, h, body)
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
		assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
		assertOutcome(t, rec, "transient")
	})
	t.Run("a queued request is served when a slot frees", func(t *testing.T) {
		h, _ := testHandler(t, &Options{MaxInFlight: 1, MaxQueue: 1, QueueWait: 5 * time.Second})
		h.slots <- struct{}{}
		time.AfterFunc(50*time.Millisecond, func() { <-h.slots })
		assert.Equal(t, http.StatusOK, post(t, h, body).Code)
	})
	t.Run("a burst beyond the slots waits and is served", func(t *testing.T) {
		h, _ := testHandler(t, &Options{MaxInFlight: 2, MaxQueue: 100, QueueWait: 10 * time.Second})
		var wg sync.WaitGroup
		codes := make(chan int, 40)
		for range 40 {
			wg.Go(func() { codes <- post(t, h, body).Code })
		}
		wg.Wait()
		close(codes)
		for c := range codes {
			assert.Equal(t, http.StatusOK, c)
		}
		assert.Zero(t, len(h.slots), "every slot released")
		assert.Zero(t, h.waiting.Load(), "nobody left waiting")
	})
}

func TestAuditKey(t *testing.T) {
	key := []byte("0123456789abcdef-audit")
	h, log := testHandler(t, &Options{AuditKey: key})
	body := `{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}],"birthDate":"1984-03-07"}`
	rec := post(t, h, body)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	line := lastLine(log.String())
	assert.NotContains(t, line, "9434765919")
	want := NewHandler(h.ix, &Options{AuditKey: key}).hashIdentifiers(match.Record{NHSNumber: "9434765919"})
	require.Len(t, want, 1)
	assert.Contains(t, line, "idHashes="+want[0], "an investigator with the key can find the line")
	other := NewHandler(h.ix, &Options{AuditKey: []byte("another key, another hash")}).hashIdentifiers(match.Record{NHSNumber: "9434765919"})
	assert.NotEqual(t, want, other)

	h2, log2 := testHandler(t, nil)
	require.Equal(t, http.StatusOK, post(t, h2, body).Code)
	assert.NotContains(t, log2.String(), "idHashes", "no key, no identifier in any form")
}

func TestMetadata(t *testing.T) {
	h, _ := testHandler(t, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metadata", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	var cs struct {
		ResourceType string   `json:"resourceType"`
		FHIRVersion  string   `json:"fhirVersion"`
		Format       []string `json:"format"`
		Rest         []struct {
			Resource []struct {
				Type      string `json:"type"`
				Operation []struct {
					Name       string `json:"name"`
					Definition string `json:"definition"`
				} `json:"operation"`
			} `json:"resource"`
		} `json:"rest"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &cs))
	assert.Equal(t, "CapabilityStatement", cs.ResourceType)
	assert.Equal(t, "4.0.1", cs.FHIRVersion)
	assert.Equal(t, []string{"json"}, cs.Format)
	require.Len(t, cs.Rest, 1)
	require.Len(t, cs.Rest[0].Resource, 1)
	assert.Equal(t, "Patient", cs.Rest[0].Resource[0].Type)
	require.Len(t, cs.Rest[0].Resource[0].Operation, 1)
	assert.Equal(t, "match", cs.Rest[0].Resource[0].Operation[0].Name)
	assert.Equal(t, "http://hl7.org/fhir/OperationDefinition/Patient-match", cs.Rest[0].Resource[0].Operation[0].Definition)
}

func TestCountCapped(t *testing.T) {
	ix := testIndex(t)
	for i := range 30 {
		_, err := ix.Add(t.Context(), match.Record{Source: "bulk", ID: "b" + string(rune('a'+i)), Given: []string{"Oliver"}, Family: "Nash",
			BirthDate: "1950-11-30", Sex: "M", Postcode: "YO1 7HH", Phone: "0" + strings.Repeat(string(rune('0'+i%10)), 10)})
		require.NoError(t, err)
	}
	h := NewHandler(ix, &Options{Anonymous: true, MaxCount: 2, Audit: slog.New(slog.DiscardHandler)})
	body := `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","name":[{"family":"Nash","given":["Oliver"]}],"birthDate":"1950-11-30"}},{"name":"count","valueInteger":1000}]}`
	rec := post(t, h, body)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var b bundle
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &b))
	assert.LessOrEqual(t, len(b.Entry), 2)
}

func TestNoCandidates(t *testing.T) {
	h, _ := testHandler(t, nil)
	rec := post(t, h, `{"resourceType":"Patient","name":[{"family":"Zbyszko","given":["Wit"]}],"birthDate":"2001-01-02"}`)
	require.Equal(t, http.StatusOK, rec.Code)
	var b bundle
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &b))
	assert.Equal(t, "searchset", b.Type)
	assert.Empty(t, b.Entry, "no match is an empty searchset, not an error")
}

func TestTokens(t *testing.T) {
	long := strings.Repeat("k", MinTokenLength)
	tests := []struct {
		name, file string
		wantErr    string
	}{
		{name: "ok", file: "# comment\n\na " + long + "\nb " + long + "2\n"},
		{name: "short token", file: "a short-token\n", wantErr: "line 1 (a): a token is at least"},
		{name: "three fields", file: "a b c\n", wantErr: "line 1: want a name and a token"},
		{name: "bad name", file: "a;b " + long + "\n", wantErr: "line 1: a name is"},
		{name: "repeated token", file: "a " + long + "\nb " + long + "\n", wantErr: "line 2 (b): name or token repeated"},
		{name: "repeated name", file: "a " + long + "\na " + long + "x\n", wantErr: "line 2 (a): name or token repeated"},
		{name: "empty", file: "# nothing\n", wantErr: "no tokens"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			toks, err := ParseTokens([]byte(tc.file))
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.NotContains(t, err.Error(), long, "errors never quote a token")
				return
			}
			require.NoError(t, err)
			name, ok := toks.lookup(long)
			assert.True(t, ok)
			assert.Equal(t, "a", name)
			_, ok = toks.lookup(long[1:])
			assert.False(t, ok)
		})
	}
}
