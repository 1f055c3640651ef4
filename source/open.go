package source

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/provenance"
)

// Limits a [Config] is checked against.
const (
	// MaxTimeout is the longest Timeout a source may have.
	MaxTimeout = 5 * time.Minute
	// MaxMaxBytes is the largest MaxBytes a source may have.
	MaxMaxBytes = 4 << 30
	// DefaultMaxPages is how many pages of a paged answer are followed
	// when [Options.MaxPages] is zero.
	DefaultMaxPages = 100
)

// SinceSource is a [Source] that can return only what changed: the
// Patient and the resources whose meta.lastUpdated is after since (FHIR's
// Patient/$everything?_since). Both sources this package opens implement
// it; find it with a type assertion.
type SinceSource interface {
	Source
	// EverythingSince is Everything restricted to resources updated after
	// since; the Patient is always included.
	EverythingSince(ctx context.Context, patientID string, since time.Time) (*fhirutil.Batch, error)
}

// PatientReader is a [Source] that can read one Patient by its logical id
// (GET Patient/{id}), for a launch that names the patient by the source's
// own id. Both sources this package opens implement it.
type PatientReader interface {
	Source
	// Patient returns the source's Patient id as a match record, or an
	// error wrapping ErrNotFound.
	Patient(ctx context.Context, id string) (match.Record, error)
}

// Options configure [Open]. The zero value works; nil means the zero
// value.
type Options struct {
	// HTTPClient makes the requests of "fhir" sources. Nil means a client
	// shared by every source this package opens, with bounded dial, TLS
	// handshake and idle-connection limits; its calls are bounded by each
	// source's Timeout. A client given here keeps its own limits and
	// transport, and the source's Timeout still applies.
	HTTPClient *http.Client
	// MaxPages bounds how many pages (Bundle link "next") one answer may
	// have; more gives [ErrTooLarge]. Zero means DefaultMaxPages.
	MaxPages int
	// Now is the clock for each answer's retrieval time; nil means
	// time.Now.
	Now func() time.Time
}

func (o *Options) withDefaults() Options {
	var v Options
	if o != nil {
		v = *o
	}
	if v.HTTPClient == nil {
		v.HTTPClient = sharedClient
	}
	if v.MaxPages <= 0 {
		v.MaxPages = DefaultMaxPages
	}
	if v.Now == nil {
		v.Now = time.Now
	}
	return v
}

// Open returns the source c describes: a FHIR R4 REST client for
// [TypeFHIR], a folder of R4 files for [TypeFolder]. It validates c first
// (see [Config.Validate]) and reads c.Kind case-insensitively. A folder is
// read once here, so a folder that is missing or holds a file that is not
// R4 JSON fails at start (wrapping [ErrUnavailable]); every call then
// looks for changed files and reads the folder again if there are any.
// A folder's files are each bounded by MaxBytes or DefaultMaxBytes,
// whichever is larger, and its answers by MaxBytes.
// A FHIR source makes no request until it is asked. o may be nil.
func Open(c Config, o *Options) (Source, error) {
	c, err := c.normalised()
	if err != nil {
		return nil, err
	}
	opts := o.withDefaults()
	switch c.Type {
	case TypeFHIR:
		return newFHIR(c, opts), nil
	case TypeFolder:
		return openFolder(c, opts)
	}
	panic("unreachable: Validate accepted type " + string(c.Type))
}

// OpenStore returns a source that answers from an in-memory [Store]: what
// a test, or a demo that must not write clinical data to disk, uses in
// place of a folder. c describes the source; its Type, BaseURL and Dir
// are not used. The source also implements [SinceSource] and
// [PatientReader]. o may be nil.
func OpenStore(c Config, st *Store, o *Options) (Source, error) {
	if st == nil {
		return nil, fmt.Errorf("source: open store: nil Store: %w", ErrConfig)
	}
	c.Type, c.BaseURL, c.Dir = TypeFolder, "", "."
	c, err := c.normalised()
	if err != nil {
		return nil, err
	}
	return &storeSource{c: c, now: o.withDefaults().Now, load: func() (*Store, error) { return st, nil }}, nil
}

// normalised validates c and returns it with its kind in canonical form.
func (c Config) normalised() (Config, error) {
	if err := c.Validate(); err != nil {
		return c, err
	}
	k, _ := provenance.ParseKind(string(c.Kind))
	c.Kind = k
	return c, nil
}

var (
	sourceID   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	headerName = regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")
)

// Validate reports whether c can work. It checks that ID is 1 to 64
// letters, digits, '.', '_' or '-' starting with a letter or digit; that
// Kind is one [provenance.ParseKind] knows; that Type is "fhir" with
// BaseURL an absolute http or https URL without credentials, query or
// fragment (and no Dir), or "folder" with Dir set (and no BaseURL); that
// header names are tokens and values hold no control characters; that
// Timeout is at most MaxTimeout, MaxBytes at most MaxMaxBytes, and none
// negative. Errors wrap [ErrConfig] and name the source and field, never a
// header value or the URL.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		id := c.ID
		if !sourceID.MatchString(id) {
			id = "?"
		}
		return fmt.Errorf("source %q: %s: %s: %w", id, field, fmt.Sprintf(format, args...), ErrConfig)
	}
	if !sourceID.MatchString(c.ID) {
		return bad("id", "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if _, err := provenance.ParseKind(string(c.Kind)); err != nil {
		return bad("kind", "unknown kind %q", c.Kind)
	}
	switch c.Type {
	case TypeFHIR:
		if c.Dir != "" {
			return bad("dir", "not used by type %q", c.Type)
		}
		u, err := url.Parse(c.BaseURL)
		switch {
		case c.BaseURL == "":
			return bad("baseUrl", "required for type %q", c.Type)
		case err != nil:
			return bad("baseUrl", "not a URL")
		case u.Scheme != "http" && u.Scheme != "https":
			return bad("baseUrl", "must be an absolute http or https URL")
		case u.Host == "":
			return bad("baseUrl", "has no host")
		case u.User != nil:
			return bad("baseUrl", "must not hold credentials (use headers)")
		case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
			return bad("baseUrl", "must not have a query or fragment")
		}
	case TypeFolder:
		if c.Dir == "" {
			return bad("dir", "required for type %q", c.Type)
		}
		if c.BaseURL != "" {
			return bad("baseUrl", "not used by type %q", c.Type)
		}
	case "":
		return bad("type", "required (%q or %q)", TypeFHIR, TypeFolder)
	default:
		return bad("type", "unknown type %q (want %q or %q)", c.Type, TypeFHIR, TypeFolder)
	}
	for name, value := range c.Headers {
		if !headerName.MatchString(name) {
			return bad("headers", "invalid header name")
		}
		for _, r := range value {
			if r < ' ' && r != '\t' || r == 0x7f {
				return bad("headers", "header %q: value holds a control character", name)
			}
		}
	}
	if c.Timeout < 0 || time.Duration(c.Timeout) > MaxTimeout {
		return bad("timeout", "must be between 0 (default %v) and %v", DefaultTimeout, MaxTimeout)
	}
	if c.MaxAge < 0 {
		return bad("maxAge", "must not be negative")
	}
	if c.MaxBytes < 0 || c.MaxBytes > MaxMaxBytes {
		return bad("maxBytes", "must be between 0 (default %d) and %d", DefaultMaxBytes, int64(MaxMaxBytes))
	}
	return nil
}

// LoadConfigs reads a JSON array of source configurations, as a
// deployment's configuration file holds them. Unknown fields, an invalid
// entry (see [Config.Validate]) and two entries with the same id are
// errors wrapping [ErrConfig]; kinds are returned in canonical form.
func LoadConfigs(r io.Reader) ([]Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20+1))
	if err != nil {
		return nil, fmt.Errorf("source: read configuration: %w", err)
	}
	if len(data) > 1<<20 {
		return nil, fmt.Errorf("source: configuration larger than 1 MiB: %w", ErrConfig)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var cs []Config
	if err := dec.Decode(&cs); err != nil {
		// json's messages name the field and offset, not values, except
		// for syntax errors; report the offset only.
		if se, ok := err.(*json.SyntaxError); ok {
			return nil, fmt.Errorf("source: configuration: invalid JSON at offset %d: %w", se.Offset, ErrConfig)
		}
		return nil, fmt.Errorf("source: configuration: %w: %w", ErrConfig, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("source: configuration: more than one JSON value: %w", ErrConfig)
	}
	seen := map[string]int{}
	for i := range cs {
		c, err := cs[i].normalised()
		if err != nil {
			return nil, fmt.Errorf("source: configuration entry %d: %w", i, err)
		}
		if j, dup := seen[c.ID]; dup {
			return nil, fmt.Errorf("source: configuration entries %d and %d: source %q: id: used twice: %w", j, i, c.ID, ErrConfig)
		}
		seen[c.ID] = i
		cs[i] = c
	}
	return cs, nil
}
