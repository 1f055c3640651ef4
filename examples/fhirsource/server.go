package fhirsource

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carelens/carelens/source"
)

// Page sizes of searchset Bundles.
const (
	// DefaultPageSize is the page size when neither the request (_count)
	// nor Options.PageSize sets one.
	DefaultPageSize = 500
	// MaxPageSize is the largest page a request may ask for.
	MaxPageSize = 5000
)

// Options configure a [Server]. The zero value works; nil means the zero
// value.
type Options struct {
	// Name describes the system in the CapabilityStatement ("GP practice
	// system"); "" means "CareLens fhirsource".
	Name string
	// BaseURL is the server's public base URL, for fullUrls and links;
	// "" derives it from each request (scheme, Host and any prefix
	// stripped before the server saw the path).
	BaseURL string
	// PageSize is the default page size of searchset Bundles; zero means
	// DefaultPageSize. A request's _count overrides it.
	PageSize int
	// Faults apply to every endpoint from the start; EndpointFaults
	// override them per endpoint. See [Server.SetFaults].
	Faults         Faults
	EndpointFaults map[Endpoint]Faults
}

// Server is a FHIR R4 server over a [source.Store]; it is an
// http.Handler. It is safe for concurrent use, and its store and faults
// may be changed while it serves.
type Server struct {
	name     string
	base     string
	pageSize int
	capJSON  []byte
	store    atomic.Pointer[source.Store]

	mu             sync.RWMutex
	faults         Faults
	endpointFaults map[Endpoint]Faults
}

// New returns a server answering from st. o may be nil.
func New(st *source.Store, o *Options) (*Server, error) {
	if st == nil {
		return nil, errors.New("fhirsource: nil store")
	}
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.Name == "" {
		opts.Name = "CareLens fhirsource"
	}
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	opts.PageSize = min(opts.PageSize, MaxPageSize)
	if opts.BaseURL != "" {
		u, err := url.Parse(opts.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("fhirsource: BaseURL must be an absolute http or https URL")
		}
	}
	if err := opts.Faults.Validate(); err != nil {
		return nil, err
	}
	for _, f := range opts.EndpointFaults {
		if err := f.Validate(); err != nil {
			return nil, err
		}
	}
	s := &Server{
		name:           opts.Name,
		base:           strings.TrimRight(opts.BaseURL, "/"),
		pageSize:       opts.PageSize,
		faults:         opts.Faults,
		endpointFaults: maps.Clone(opts.EndpointFaults),
	}
	if s.endpointFaults == nil {
		s.endpointFaults = map[Endpoint]Faults{}
	}
	s.capJSON = capabilityStatement(s.name, time.Now())
	s.store.Store(st)
	return s, nil
}

// SetStore replaces the data the server answers from; requests already
// being answered finish with the old store.
func (s *Server) SetStore(st *source.Store) {
	if st != nil {
		s.store.Store(st)
	}
}

// Store returns the data the server answers from.
func (s *Server) Store() *source.Store { return s.store.Load() }

// ServeHTTP answers one request; see the package documentation.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	ep, id, ok := route(r.URL.Path)
	if !ok {
		writeOutcome(w, http.StatusNotFound, "not-found", "unknown path")
		return
	}
	if !s.inject(w, r, ep) {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		writeOutcome(w, http.StatusMethodNotAllowed, "not-supported", "only GET and HEAD are supported")
		return
	}
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, "invalid", "malformed query string")
		return
	}
	if !acceptable(r.Header.Values("Accept"), params.Get("_format")) {
		writeOutcome(w, http.StatusNotAcceptable, "not-supported", "only application/fhir+json and application/json are served")
		return
	}
	if id != "" && !source.ValidID(id) {
		writeOutcome(w, http.StatusBadRequest, "invalid", "the patient id is not a FHIR id")
		return
	}
	if err := checkControl(ep, params); err != nil {
		writeOutcome(w, http.StatusBadRequest, "not-supported", err.Error())
		return
	}
	switch ep {
	case EndpointMetadata:
		writeJSON(w, http.StatusOK, s.capJSON)
	case EndpointSearch:
		s.search(w, r, params)
	case EndpointRead:
		s.read(w, id)
	case EndpointEverything:
		s.everything(w, r, id, params)
	}
}

// route maps a path to an endpoint and the patient id in it.
func route(p string) (Endpoint, string, bool) {
	if p == "/metadata" {
		return EndpointMetadata, "", true
	}
	rest, ok := strings.CutPrefix(p, "/Patient")
	switch {
	case !ok:
		return "", "", false
	case rest == "":
		return EndpointSearch, "", true
	case rest[0] != '/':
		return "", "", false
	}
	rest = rest[1:]
	if id, op, ok := strings.Cut(rest, "/"); ok {
		if op == "$everything" && id != "" {
			return EndpointEverything, id, true
		}
		return "", "", false
	}
	if rest == "" {
		return "", "", false
	}
	return EndpointRead, rest, true
}

// control lists the parameters the server handles itself, by endpoint.
var control = map[Endpoint][]string{
	EndpointSearch:     {"_count", "_offset", "_format", "_pretty", "_lastUpdated"},
	EndpointEverything: {"_count", "_offset", "_format", "_pretty", "_since"},
	EndpointRead:       {"_format", "_pretty"},
	EndpointMetadata:   {"_format", "_pretty", "mode"},
}

// checkControl rejects control parameters the endpoint does not know, and
// (for endpoints that are not searches) any other parameter.
func checkControl(e Endpoint, params url.Values) error {
	for name := range params {
		known := false
		for _, c := range control[e] {
			known = known || name == c
		}
		if !known && (e != EndpointSearch || strings.HasPrefix(name, "_")) {
			return fmt.Errorf("parameter %q is not supported", name)
		}
	}
	return nil
}

func (s *Server) search(w http.ResponseWriter, r *http.Request, params url.Values) {
	items, err := s.Store().Search(params)
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, "invalid", strings.TrimPrefix(err.Error(), "source: "))
		return
	}
	s.searchset(w, r, params, items)
}

func (s *Server) read(w http.ResponseWriter, id string) {
	it, ok := s.Store().Patient(id)
	if !ok {
		writeOutcome(w, http.StatusNotFound, "not-found", "no such Patient")
		return
	}
	if !it.LastUpdated.IsZero() {
		w.Header().Set("Last-Modified", it.LastUpdated.Format(http.TimeFormat))
	}
	writeJSON(w, http.StatusOK, it.JSON)
}

func (s *Server) everything(w http.ResponseWriter, r *http.Request, id string, params url.Values) {
	var since time.Time
	if v := params.Get("_since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeOutcome(w, http.StatusBadRequest, "invalid", "_since must be an instant with a time-zone offset")
			return
		}
		since = t
	}
	items, err := s.Store().Everything(id, since)
	if err != nil {
		writeOutcome(w, http.StatusNotFound, "not-found", "no such Patient")
		return
	}
	s.searchset(w, r, params, items)
}

// searchset writes one page of items as a searchset Bundle with total,
// a self link and, when more follow, a next link.
func (s *Server) searchset(w http.ResponseWriter, r *http.Request, params url.Values, items []source.Item) {
	count, offset := s.pageSize, 0
	for name, p := range map[string]*int{"_count": &count, "_offset": &offset} {
		if v := params.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || name == "_count" && n > MaxPageSize {
				writeOutcome(w, http.StatusBadRequest, "invalid", fmt.Sprintf("%s must be a whole number from 0 to %d", name, MaxPageSize))
				return
			}
			*p = n
		}
	}
	base := s.baseURL(r)
	selfURL := base + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		selfURL += "?" + r.URL.RawQuery
	}
	page := items[min(offset, len(items)):min(offset+count, len(items))]

	// The answer is sized up front (the entries' bytes, their fullUrls and
	// wrapping, and the links): growing the buffer by doubling was most of
	// the server's CPU per $everything (0.7 ms of the largest demo
	// patient's, mostly clearing new memory).
	size := 512 + 2*len(selfURL)
	for _, it := range page {
		size += len(it.JSON) + len(base) + len(it.Type) + len(it.ID) + len(it.FullURL) + 64
	}
	var b bytes.Buffer
	b.Grow(size)
	b.WriteString(`{"resourceType":"Bundle","type":"searchset","timestamp":`)
	writeString(&b, time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, `,"total":%d,"link":[{"relation":"self","url":`, len(items))
	writeString(&b, selfURL)
	b.WriteString("}")
	if count > 0 && offset+count < len(items) {
		next := make(url.Values, len(params))
		maps.Copy(next, params)
		next.Set("_count", strconv.Itoa(count))
		next.Set("_offset", strconv.Itoa(offset+count))
		b.WriteString(`,{"relation":"next","url":`)
		writeString(&b, base+r.URL.EscapedPath()+"?"+next.Encode())
		b.WriteString("}")
	}
	b.WriteString("]")
	if len(page) > 0 {
		b.WriteString(`,"entry":[`)
		for i, it := range page {
			if i > 0 {
				b.WriteByte(',')
			}
			full := it.FullURL
			if it.ID != "" {
				full = base + "/" + it.Type + "/" + it.ID
			}
			b.WriteString(`{`)
			if full != "" {
				b.WriteString(`"fullUrl":`)
				writeString(&b, full)
				b.WriteString(`,`)
			}
			b.WriteString(`"resource":`)
			b.Write(it.JSON)
			b.WriteString(`,"search":{"mode":"match"}}`)
		}
		b.WriteString("]")
	}
	b.WriteString("}")
	writeJSON(w, http.StatusOK, b.Bytes())
}

// baseURL is the server's base as the client addressed it.
func (s *Server) baseURL(r *http.Request) string {
	if s.base != "" {
		return s.base
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	prefix := ""
	reqPath, _, _ := strings.Cut(r.RequestURI, "?")
	if esc := r.URL.EscapedPath(); strings.HasPrefix(reqPath, "/") && strings.HasSuffix(reqPath, esc) {
		prefix = strings.TrimSuffix(reqPath, esc)
	}
	return scheme + "://" + r.Host + prefix
}

func writeString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s)
	b.Write(q)
}

// acceptable reports whether a request accepts FHIR JSON, by its _format
// parameter when it has one (FHIR's override) or its Accept headers.
func acceptable(accept []string, format string) bool {
	ok := func(mt string) bool {
		switch mt {
		case "json", "application/json", "application/fhir+json", "application/json+fhir":
			return true
		}
		return false
	}
	if format != "" {
		return ok(format)
	}
	if len(accept) == 0 {
		return true
	}
	for _, h := range accept {
		for part := range strings.SplitSeq(h, ",") {
			mt, p, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			if q, err := strconv.ParseFloat(p["q"], 64); err == nil && q <= 0 {
				continue
			}
			if ok(mt) || mt == "*/*" || mt == "application/*" {
				return true
			}
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeOutcome writes an OperationOutcome. diagnostics never holds values
// from the request.
func writeOutcome(w http.ResponseWriter, status int, code, diagnostics string) {
	body, _ := json.Marshal(map[string]any{
		"resourceType": "OperationOutcome",
		"issue": []map[string]string{{
			"severity":    "error",
			"code":        code,
			"diagnostics": diagnostics,
		}},
	})
	writeJSON(w, status, body)
}

func capabilityStatement(name string, now time.Time) []byte {
	param := func(name, typ string) map[string]string { return map[string]string{"name": name, "type": typ} }
	body, _ := json.Marshal(map[string]any{
		"resourceType":   "CapabilityStatement",
		"status":         "active",
		"date":           now.UTC().Format("2006-01-02"),
		"publisher":      "CareLens",
		"kind":           "instance",
		"software":       map[string]string{"name": "CareLens fhirsource"},
		"implementation": map[string]string{"description": name},
		"fhirVersion":    "4.0.1",
		"format":         []string{"application/fhir+json", "json"},
		"rest": []map[string]any{{
			"mode": "server",
			"resource": []map[string]any{{
				"type":        "Patient",
				"interaction": []map[string]string{{"code": "read"}, {"code": "search-type"}},
				"searchParam": []map[string]string{
					param("identifier", "token"), param("family", "string"), param("given", "string"),
					param("birthdate", "date"), param("_lastUpdated", "date"),
				},
				"operation": []map[string]string{{
					"name":       "everything",
					"definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
				}},
			}},
		}},
	})
	return body
}

// Listening is a [Server] accepting connections on a port of its own.
type Listening struct {
	// URL is the server's base URL, e.g. "http://127.0.0.1:41234".
	URL string
	// Addr is the address it listens on.
	Addr   net.Addr
	hs     *http.Server
	cancel context.CancelFunc
	served chan struct{}
}

// Listen serves s on addr ("127.0.0.1:0" picks a free port) until Close;
// see the package function [Listen]. Use it to start in-process sources,
// as the viewer's demo does.
func (s *Server) Listen(addr string) (*Listening, error) { return Listen(addr, s) }

// Listen serves h (a [Server], perhaps wrapped) on addr until Close, with
// bounded header size and read times. The requests' contexts end when
// Close is called, which releases requests held by a fault.
func Listen(addr string, h http.Handler) (*Listening, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fhirsource: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Listening{
		URL:  "http://" + ln.Addr().String(),
		Addr: ln.Addr(),
		hs: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      5 * time.Minute,
			IdleTimeout:       time.Minute,
			MaxHeaderBytes:    32 << 10,
			BaseContext:       func(net.Listener) context.Context { return ctx },
		},
		cancel: cancel,
		served: make(chan struct{}),
	}
	go func() {
		defer close(l.served)
		_ = l.hs.Serve(ln)
	}()
	return l, nil
}

// Close stops the server: requests held by a fault end at once, others
// get up to two seconds to finish.
func (l *Listening) Close() error {
	l.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := l.hs.Shutdown(ctx)
	if err != nil {
		err = l.hs.Close()
	}
	<-l.served
	return err
}
