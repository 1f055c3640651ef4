package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/match"
)

// PersonSystem is the identifier system under which each returned Patient
// graded probable or certain carries its CareLens enterprise person id.
const PersonSystem = "urn:carelens:person"

// Defaults of [Options].
const (
	// DefaultMaxBody bounds a request body. A $match request is one
	// Patient: the FHIR specification's example is about 1 KB.
	DefaultMaxBody = 64 << 10
	// DefaultQueue is how many requests may wait for a free slot.
	DefaultQueue = 64
	// DefaultQueueWait is how long a request waits for a slot before a
	// 503.
	DefaultQueueWait = 2 * time.Second
	// DefaultQueryTimeout bounds the search of the index.
	DefaultQueryTimeout = 10 * time.Second
	// DefaultCount is how many candidates are returned when the request
	// gives no count.
	DefaultCount = 10
	// DefaultMaxCount caps the count parameter.
	DefaultMaxCount = 50
)

// Options configure the handler. The zero value works, except that a
// handler with neither Tokens nor ClientCerts nor Anonymous refuses every
// $match request (401): authentication is chosen, never defaulted away.
type Options struct {
	// Tokens are the accepted bearer tokens, each with the name of its
	// holder.
	Tokens *Tokens
	// ClientCerts accepts a verified TLS client certificate as the
	// caller's identity (its subject common name). The server's TLS
	// configuration must require and verify client certificates.
	ClientCerts bool
	// Anonymous serves $match without authentication; the audit line
	// names the caller "anonymous". For tests and loopback demos only.
	Anonymous bool
	// MaxBody bounds a request body in bytes; zero means DefaultMaxBody.
	MaxBody int64
	// MaxInFlight is how many $match requests are decoded and searched at
	// once; zero means 2×GOMAXPROCS.
	MaxInFlight int
	// MaxQueue is how many more may wait for a slot; beyond it a request
	// is refused at once with 429. Zero means DefaultQueue; negative
	// means no queue.
	MaxQueue int
	// QueueWait is how long a request waits for a slot before a 503;
	// zero means DefaultQueueWait.
	QueueWait time.Duration
	// QueryTimeout bounds the search; zero means DefaultQueryTimeout.
	QueryTimeout time.Duration
	// MaxCount caps the count parameter; zero means DefaultMaxCount.
	MaxCount int
	// Audit receives one line per request; nil means slog.Default().
	Audit *slog.Logger
	// AuditKey, when set, adds to each audit line an HMAC-SHA256 (keyed
	// with it) of each identifier the request supplied, so that an
	// investigator holding the key can tell whether a given NHS number
	// was asked for. Without a key no identifier is logged in any form:
	// an unkeyed hash of a 10-digit number is reversed by trying them all.
	AuditKey []byte
	// Software names the server in the CapabilityStatement.
	Software string
}

// Handler is the HTTP handler of the service: POST /Patient/$match and
// GET /metadata over an index. Every error is an OperationOutcome.
type Handler struct {
	ix       *mpi.Index
	o        Options
	slots    chan struct{}
	waiting  atomic.Int64
	authDesc string
}

// NewHandler returns the handler over ix. o may be nil.
func NewHandler(ix *mpi.Index, o *Options) *Handler {
	h := &Handler{ix: ix}
	if o != nil {
		h.o = *o
	}
	if h.o.MaxBody <= 0 {
		h.o.MaxBody = DefaultMaxBody
	}
	if h.o.MaxInFlight <= 0 {
		h.o.MaxInFlight = 2 * runtime.GOMAXPROCS(0)
	}
	if h.o.MaxQueue == 0 {
		h.o.MaxQueue = DefaultQueue
	}
	if h.o.QueueWait <= 0 {
		h.o.QueueWait = DefaultQueueWait
	}
	if h.o.QueryTimeout <= 0 {
		h.o.QueryTimeout = DefaultQueryTimeout
	}
	if h.o.MaxCount <= 0 {
		h.o.MaxCount = DefaultMaxCount
	}
	if h.o.Audit == nil {
		h.o.Audit = slog.Default()
	}
	if h.o.Software == "" {
		h.o.Software = "CareLens matchservice"
	}
	h.slots = make(chan struct{}, h.o.MaxInFlight)
	switch {
	case h.o.Anonymous:
		h.authDesc = "No authentication (a loopback demonstration)."
	case h.o.Tokens != nil && h.o.ClientCerts:
		h.authDesc = "Patient/$match needs a bearer token (Authorization: Bearer) or a client certificate; /metadata is open."
	case h.o.ClientCerts:
		h.authDesc = "Patient/$match needs a client certificate (mutual TLS); /metadata is open."
	default:
		h.authDesc = "Patient/$match needs a bearer token (Authorization: Bearer); /metadata is open."
	}
	return h
}

// ServeHTTP routes a request and writes its audit line.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := &auditRecord{start: time.Now(), who: "anonymous", via: "none"}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.problem = "internal error"
			if sw.status == 0 {
				writeOutcome(sw, http.StatusInternalServerError, issue{Code: "exception", Diagnostics: "internal error"})
			}
		}
		h.audit(r, sw.status, a)
	}()
	switch r.URL.Path {
	case "/Patient/$match":
		h.match(sw, r, a)
	case "/metadata":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			sw.Header().Set("Allow", "GET, HEAD")
			writeOutcome(sw, http.StatusMethodNotAllowed, issue{Code: "not-supported", Diagnostics: "/metadata takes GET"})
			return
		}
		if !acceptable(r) {
			writeOutcome(sw, http.StatusNotAcceptable, notJSON)
			return
		}
		writeJSON(sw, http.StatusOK, capabilityStatement(h.o.Software, h.authDesc))
	default:
		writeOutcome(sw, http.StatusNotFound, issue{Code: "not-found", Diagnostics: "this server answers POST /Patient/$match and GET /metadata only"})
	}
}

// match serves POST /Patient/$match.
func (h *Handler) match(w http.ResponseWriter, r *http.Request, a *auditRecord) {
	a.query = true
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOutcome(w, http.StatusMethodNotAllowed, issue{Code: "not-supported", Diagnostics: "Patient/$match takes POST"})
		return
	}
	who, via, ok := h.authenticate(r)
	a.who, a.via = who, via
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="carelens-match"`)
		writeOutcome(w, http.StatusUnauthorized, issue{Code: "login", Diagnostics: "authentication required"})
		return
	}
	if !acceptable(r) {
		writeOutcome(w, http.StatusNotAcceptable, notJSON)
		return
	}
	if !requestTypeOK(r) {
		writeOutcome(w, http.StatusUnsupportedMediaType, issue{Code: "not-supported", Diagnostics: "the body must be application/fhir+json in UTF-8"})
		return
	}
	if r.ContentLength > h.o.MaxBody {
		w.Header().Set("Connection", "close")
		writeOutcome(w, http.StatusRequestEntityTooLarge, h.tooLarge())
		return
	}
	// The body is read before a slot is taken: a slow client holds its
	// connection (until the server's read timeout), not a slot.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.MaxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeOutcome(w, http.StatusRequestEntityTooLarge, h.tooLarge())
			return
		}
		writeOutcome(w, http.StatusBadRequest, issue{Code: "incomplete", Diagnostics: "the body could not be read"})
		return
	}
	release, status := h.acquire(r.Context())
	if status != 0 {
		w.Header().Set("Retry-After", "1")
		if status == http.StatusTooManyRequests {
			writeOutcome(w, status, issue{Code: "throttled", Diagnostics: "too many requests at once; retry later"})
		} else {
			writeOutcome(w, status, issue{Code: "transient", Diagnostics: "the service is busy; retry later"})
		}
		return
	}
	defer release()

	q, err := parseMatch(body)
	if err != nil {
		re, ok := errors.AsType[*requestError](err)
		if !ok {
			re = badRequest("invalid", "", "invalid request")
		}
		a.problem = re.Error()
		writeOutcome(w, http.StatusBadRequest, re.issues...)
		return
	}
	a.fields, a.onlyCertain, a.count = q.Fields, q.OnlyCertainMatches, q.Count
	a.ids = h.hashIdentifiers(q.Record)
	if len(q.Fields) == 0 {
		writeOutcome(w, http.StatusBadRequest, issue{Code: "required", Expression: "Patient", Diagnostics: "the Patient holds no demographics to match on"})
		return
	}
	count := q.Count
	if count == 0 {
		count = DefaultCount
	}
	count = min(count, h.o.MaxCount)
	ctx, cancel := context.WithTimeout(r.Context(), h.o.QueryTimeout)
	defer cancel()
	cands, err := h.ix.Query(ctx, q.Record, count)
	if err != nil {
		a.problem = "search failed"
		if ctx.Err() != nil {
			writeOutcome(w, http.StatusServiceUnavailable, issue{Code: "timeout", Diagnostics: "the search took too long"})
			return
		}
		writeOutcome(w, http.StatusInternalServerError, issue{Code: "exception", Diagnostics: "the index could not be searched"})
		return
	}
	out := make([]fhirutil.Candidate, 0, len(cands))
	for _, c := range cands {
		if q.OnlyCertainMatches && c.Grade != match.GradeCertain {
			continue
		}
		rec, err := h.ix.Record(ctx, c.Record)
		if errors.Is(err, mpi.ErrNotFound) {
			continue // deleted since the query
		}
		if err != nil {
			a.problem = "record read failed"
			writeOutcome(w, http.StatusInternalServerError, issue{Code: "exception", Diagnostics: "the index could not be read"})
			return
		}
		if discloses(c.Grade) {
			rec.Identifiers = append(rec.Identifiers, match.Identifier{System: PersonSystem, Value: c.Person})
		} else {
			rec = withheld(rec, q.Fields, len(out))
		}
		a.persons = append(a.persons, c.Person)
		a.grades = append(a.grades, c.Grade)
		out = append(out, fhirutil.Candidate{Record: rec, Score: c.Probability, Grade: c.Grade})
	}
	b, err := fhirutil.MatchResponse(out)
	if err != nil {
		a.problem = "response failed"
		writeOutcome(w, http.StatusInternalServerError, issue{Code: "exception", Diagnostics: "the response could not be written"})
		return
	}
	writeBody(w, http.StatusOK, b)
}

// notJSON refuses a request whose _format or Accept excludes FHIR JSON.
var notJSON = issue{Code: "not-supported", Diagnostics: "this server answers in FHIR JSON only (application/fhir+json)"}

// tooLarge refuses a body longer than MaxBody.
func (h *Handler) tooLarge() issue {
	return issue{Code: "too-long", Diagnostics: fmt.Sprintf("the body is limited to %d bytes", h.o.MaxBody)}
}

// discloses reports whether a candidate of grade g is returned with its
// record: certain and probable are; possible is a lead for a person to
// follow up, and returning the candidate's NHS number and address for a
// name and birth date alone would let anyone who knows those read them.
func discloses(g match.Grade) bool {
	return g == match.GradeCertain || g == match.GradeProbable
}

// withheld is what a candidate below probable shows: the name, birth
// date and gender as the index holds them, and only those of the three
// the request supplied (supplied is [matchQuery.Fields]); never
// identifiers, address or telecom, and no source or record id (the nth
// such candidate of a response is told apart by its position alone).
func withheld(rec match.Record, supplied []string, nth int) match.Record {
	out := match.Record{Source: "candidate-" + strconv.Itoa(nth)}
	if slices.Contains(supplied, "name") {
		out.Given, out.Family, out.FullName = rec.Given, rec.Family, rec.FullName
	}
	if slices.Contains(supplied, "birthDate") {
		out.BirthDate = rec.BirthDate
	}
	if slices.Contains(supplied, "gender") {
		out.Sex = rec.Sex
	}
	return out
}

// acquire takes a slot: at once if one is free, else after waiting in the
// queue for at most QueueWait. It returns the release func, or the status
// of the refusal: 429 when the queue is full, 503 when the wait ran out.
func (h *Handler) acquire(ctx context.Context) (func(), int) {
	release := func() { <-h.slots }
	select {
	case h.slots <- struct{}{}:
		return release, 0
	default:
	}
	if h.o.MaxQueue < 0 || h.waiting.Add(1) > int64(h.o.MaxQueue) {
		if h.o.MaxQueue >= 0 {
			h.waiting.Add(-1)
		}
		return nil, http.StatusTooManyRequests
	}
	defer h.waiting.Add(-1)
	t := time.NewTimer(h.o.QueueWait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return release, 0
	case <-t.C:
		return nil, http.StatusServiceUnavailable
	case <-ctx.Done():
		return nil, http.StatusServiceUnavailable
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}
