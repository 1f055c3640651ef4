package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/provenance"
)

// sharedClient is the HTTP client of every FHIR source opened without
// Options.HTTPClient. Calls are bounded by each source's timeout through
// their context; the transport bounds what a context cannot: dialling,
// the TLS handshake, idle connections.
var sharedClient = &http.Client{
	Transport: &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           256,
		MaxIdleConnsPerHost:    32,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	},
	CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("more than 5 redirects")
		}
		return nil
	},
}

// fhirSource is a FHIR R4 REST server asked over HTTP.
type fhirSource struct {
	c        Config
	base     *url.URL // without a trailing slash
	client   *http.Client
	maxPages int
	now      func() time.Time
	header   http.Header
}

func newFHIR(c Config, o Options) *fhirSource {
	base, _ := url.Parse(strings.TrimRight(c.BaseURL, "/")) // Validate parsed it
	h := http.Header{}
	h.Set("Accept", "application/fhir+json")
	h.Set("User-Agent", "CareLens")
	for k, v := range c.Headers {
		h.Set(k, v)
	}
	return &fhirSource{c: c, base: base, client: o.HTTPClient, maxPages: o.MaxPages, now: o.Now, header: h}
}

// Info implements Source.
func (s *fhirSource) Info() provenance.Source { return s.c.Info() }

// Search implements Source: GET {base}/Patient?identifier=... or
// ?family=...&birthdate=...[&given=...], following "next" pages.
func (s *fhirSource) Search(ctx context.Context, q Query) ([]match.Record, error) {
	params, err := q.Params()
	if err != nil {
		return nil, fmt.Errorf("source: %s: %w", s.c.ID, err)
	}
	u := s.resolve("Patient")
	u.RawQuery = params.Encode()
	b, err := s.fetch(ctx, "search", u)
	if err != nil {
		return nil, err
	}
	recs := b.Patients()
	if recs == nil {
		recs = []match.Record{}
	}
	return recs, nil
}

// Everything implements Source: GET {base}/Patient/{id}/$everything,
// following "next" pages.
func (s *fhirSource) Everything(ctx context.Context, patientID string) (*fhirutil.Batch, error) {
	return s.EverythingSince(ctx, patientID, time.Time{})
}

// EverythingSince implements SinceSource with the _since parameter.
func (s *fhirSource) EverythingSince(ctx context.Context, patientID string, since time.Time) (*fhirutil.Batch, error) {
	if !ValidID(patientID) {
		return nil, fmt.Errorf("source: %s: everything: patient id is not a FHIR id: %w", s.c.ID, ErrNotFound)
	}
	u := s.resolve("Patient", patientID, "$everything")
	if !since.IsZero() {
		u.RawQuery = url.Values{"_since": {since.UTC().Format(time.RFC3339Nano)}}.Encode()
	}
	b, err := s.fetch(ctx, "everything", u)
	if err != nil {
		return nil, err
	}
	// Searchset outcomes (warnings from the server) are not the patient's.
	b.Resources = slices.DeleteFunc(b.Resources, func(r *fhirutil.Resource) bool { return r.Type == "OperationOutcome" })
	return b, nil
}

// Patient implements PatientReader: GET {base}/Patient/{id}.
func (s *fhirSource) Patient(ctx context.Context, id string) (match.Record, error) {
	if !ValidID(id) {
		return match.Record{}, fmt.Errorf("source: %s: read: patient id is not a FHIR id: %w", s.c.ID, ErrNotFound)
	}
	b, err := s.fetch(ctx, "read", s.resolve("Patient", id))
	if err != nil {
		return match.Record{}, err
	}
	recs := b.Patients()
	if len(recs) != 1 || recs[0].ID != id {
		return match.Record{}, fmt.Errorf("source: %s: read: answer is not the Patient asked for: %w", s.c.ID, ErrUnavailable)
	}
	return recs[0], nil
}

// resolve returns base/seg/seg..., each segment escaped.
func (s *fhirSource) resolve(segs ...string) *url.URL {
	u := *s.base
	var esc strings.Builder
	esc.WriteString(s.base.EscapedPath())
	for _, seg := range segs {
		u.Path += "/" + seg
		esc.WriteString("/" + url.PathEscape(seg))
	}
	u.RawPath = esc.String()
	return &u
}

// errTimeout is the cause of a call's context when its source's timeout
// ends it.
var errTimeout = errors.New("source timeout")

// fetch GETs u and every "next" page after it, within the source's
// timeout and MaxBytes, and decodes them into one Batch.
func (s *fhirSource) fetch(ctx context.Context, op string, u *url.URL) (*fhirutil.Batch, error) {
	timeout := s.c.EffectiveTimeout()
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeout)
	defer cancel()
	budget := s.c.maxBytes()
	var all *fhirutil.Batch
	for page := 0; ; page++ {
		if page == s.maxPages {
			return nil, fmt.Errorf("source: %s: %s: more than %d pages: %w", s.c.ID, op, s.maxPages, ErrTooLarge)
		}
		body, err := s.get(ctx, op, u, budget)
		if err != nil {
			return nil, s.callError(ctx, op, timeout, err)
		}
		budget -= int64(len(body))
		// Decode finds a Bundle's next link as it splits it; reading the
		// answer a second time for it was 11% of the viewer's CPU.
		b, err := fhirutil.Decode(body, s.c.decodeOptions(s.now()))
		if err != nil {
			return nil, fmt.Errorf("source: %s: %s: unreadable answer: %w: %w", s.c.ID, op, ErrUnavailable, err)
		}
		if all == nil {
			all = b
		} else {
			for _, is := range b.Issues {
				is.Location = fmt.Sprintf("page[%d].%s", page, is.Location)
			}
			all.Resources = append(all.Resources, b.Resources...)
			all.Issues = append(all.Issues, b.Issues...)
			all.Bundles += b.Bundles
		}
		next := b.Next
		if next == "" {
			return all, nil
		}
		if u, err = s.nextURL(u, next); err != nil {
			return nil, fmt.Errorf("source: %s: %s: %w", s.c.ID, op, err)
		}
	}
}

// nextURL resolves a "next" link against the page it came from. It must
// stay on the source's scheme and host: the source's headers (its
// credentials) go with every request.
func (s *fhirSource) nextURL(cur *url.URL, link string) (*url.URL, error) {
	ref, err := url.Parse(link)
	if err != nil {
		return nil, fmt.Errorf("next link is not a URL: %w", ErrUnavailable)
	}
	u := cur.ResolveReference(ref)
	if u.Scheme != s.base.Scheme || u.Host != s.base.Host {
		return nil, fmt.Errorf("next link leaves the source's server: %w", ErrUnavailable)
	}
	return u, nil
}

// statusError is a non-2xx answer.
type statusError struct{ code int }

func (e *statusError) Error() string { return fmt.Sprintf("HTTP status %d", e.code) }

// get makes one request and reads at most max bytes of a 2xx answer.
func (s *fhirSource) get(ctx context.Context, op string, u *url.URL, max int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, errors.New("cannot build request")
	}
	req.Header = s.header.Clone()
	resp, err := s.client.Do(req)
	if err != nil {
		// A *url.Error quotes the URL, whose query holds the patient's
		// identifier or name: keep only what went wrong.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.CopyN(io.Discard, resp.Body, 64<<10) // let the connection be reused
		return nil, &statusError{resp.StatusCode}
	}
	if resp.ContentLength > max {
		return nil, errTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > max {
		return nil, errTooLarge
	}
	return body, nil
}

var errTooLarge = errors.New("too large")

// callError turns a failed request into the error Source promises: not
// found, too large, or unavailable with the reason, naming the source,
// operation and status, never the URL.
func (s *fhirSource) callError(ctx context.Context, op string, timeout time.Duration, err error) error {
	pre := fmt.Sprintf("source: %s: %s", s.c.ID, op)
	if se, ok := errors.AsType[*statusError](err); ok {
		if (se.code == http.StatusNotFound || se.code == http.StatusGone) && op != "search" {
			return fmt.Errorf("%s: %v: %w", pre, se, ErrNotFound)
		}
		return fmt.Errorf("%s: %v: %w", pre, se, ErrUnavailable)
	}
	if errors.Is(err, errTooLarge) {
		return fmt.Errorf("%s: answer larger than %d bytes: %w", pre, s.c.maxBytes(), ErrTooLarge)
	}
	if ctx.Err() != nil {
		if context.Cause(ctx) == errTimeout {
			return fmt.Errorf("%s: no answer within %v: %w: %w", pre, timeout, ErrUnavailable, context.DeadlineExceeded)
		}
		return fmt.Errorf("%s: %w: %w", pre, ErrUnavailable, context.Cause(ctx))
	}
	return fmt.Errorf("%s: %w: %w", pre, ErrUnavailable, err)
}
