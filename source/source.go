// Package source is how CareLens asks an organisation's system for a
// patient at view time. A [Source] answers two questions: which of its
// patients answer a query (by identifier, or by demographics), and
// everything it holds for one of them. The viewer holds no clinical data:
// it asks every configured source when a record is opened, merges, shows
// and forgets.
//
// Two implementations ship: FHIR R4 REST over HTTP ([Config.Type] "fhir")
// and a folder of R4 Bundles on disk ("folder"). A site adds a source
// (out-of-hours, mental health, ambulance, 111, a council's social care
// system) by adding a [Config] entry, not code.
//
// # Opening sources
//
// [LoadConfigs] reads a deployment's list of [Config] values (rejecting
// unknown fields and duplicate ids), [Config.Validate] checks one, and
// [Open] turns one into a Source. [OpenStore] answers from a [Store] held
// in memory, for tests and demos that must not write clinical data to
// disk. Optional capabilities are found by type assertion, as in
// database/sql/driver: [SinceSource] (only what changed since an instant)
// and [PatientReader] (one Patient by the source's own id). Both
// implementations here provide them.
//
// # What is asked
//
// A FHIR source sends, with Accept: application/fhir+json and the
// configured headers:
//
//	GET {base}/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs}
//	GET {base}/Patient?family={family}&birthdate={YYYY-MM-DD}[&given={given}]
//	GET {base}/Patient/{id}/$everything[?_since={instant}]
//	GET {base}/Patient/{id}
//
// and follows Bundle links with relation "next" on the same scheme and
// host, up to [Options.MaxPages]. [Query.Params] builds the search. A
// folder source asks its [Store] the same search, so a folder and a
// server holding the same bundles give the same answers; the example
// server examples/fhirsource is built on the Store too.
//
// # Limits
//
// Every answer is bounded: a response body larger than
// [Config.MaxBytes] is refused, and every call honours its context's
// deadline and the source's [Config.Timeout]. Errors name the source id,
// the operation and the HTTP status or file, never patient values, query
// strings, URLs, file names (Synthea names files after patients) or
// header values.
//
// # Errors
//
// 404 and 410 from $everything or a read, and an id the source does not
// hold, wrap [ErrNotFound]; an answer over MaxBytes or MaxPages wraps
// [ErrTooLarge]; everything else that keeps an answer from arriving
// (refused connections, timeouts, other non-2xx statuses, unreadable
// bodies, a folder that cannot be read) wraps [ErrUnavailable], and a
// timeout also wraps context.DeadlineExceeded. A search that finds no one
// is an empty slice, not an error.
package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/provenance"
)

// Errors returned by this package.
var (
	// ErrConfig is returned by [Open] and [Config.Validate] for a
	// configuration that cannot work.
	ErrConfig = errors.New("source: invalid configuration")
	// ErrNotFound is returned by [Source.Everything] when the source has no
	// patient with that id.
	ErrNotFound = errors.New("source: patient not found")
	// ErrUnavailable wraps every failure to get an answer from a source:
	// a refused connection, a timeout, a 5xx status, an unreadable body.
	ErrUnavailable = errors.New("source: unavailable")
	// ErrTooLarge is returned when an answer is larger than
	// [Config.MaxBytes].
	ErrTooLarge = errors.New("source: answer too large")
	// ErrQuery is returned for a question a source cannot be asked: a
	// [Query] with neither a valid NHS number nor a family name and birth
	// date, a search parameter a [Store] does not support, a patient id
	// that is not a FHIR id.
	ErrQuery = errors.New("source: unsupported query")
)

// Defaults for a [Config] whose fields are zero.
const (
	DefaultTimeout  = 3 * time.Second
	DefaultMaxBytes = 64 << 20
)

// Source is one organisation's system that CareLens asks at view time.
// Implementations are safe for concurrent use.
type Source interface {
	// Info describes the source: its id (the one every provenance tag
	// carries), organisation code, kind and display name.
	Info() provenance.Source
	// Search returns the source's patient records that answer q: by NHS
	// number when q has one, else by family name and birth date (and
	// given name when set). Each record has Source set to the source's id
	// and ID to the source's logical Patient id. No match is an empty
	// slice and a nil error.
	Search(ctx context.Context, q Query) ([]match.Record, error)
	// Everything returns everything the source holds for its patient
	// patientID (the Patient and every resource about them), decoded and
	// tagged with this source. A patient the source does not hold gives
	// an error wrapping ErrNotFound.
	Everything(ctx context.Context, patientID string) (*fhirutil.Batch, error)
}

// Query is what a source is asked for when a patient is looked up. It
// holds identity data only.
type Query struct {
	// NHSNumber is a valid NHS number, ten digits without spaces, or "".
	NHSNumber string
	// Family and Given are names as typed; Given may be empty.
	Family string
	Given  string
	// BirthDate is YYYY-MM-DD, or "".
	BirthDate string
}

// Type names a kind of source implementation in a [Config].
type Type string

// The implementations this package provides.
const (
	// TypeFHIR is a FHIR R4 REST server over HTTP(S).
	TypeFHIR Type = "fhir"
	// TypeFolder is a folder of R4 JSON files (Bundles or resources).
	TypeFolder Type = "folder"
)

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("3s", "250ms").
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"3s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", s)
	}
	*d = Duration(v)
	return nil
}

// Config describes one source as a deployment configures it.
type Config struct {
	// ID, Org, Kind and Name describe the source (see provenance.Source).
	ID   string          `json:"id"`
	Org  string          `json:"org,omitempty"`
	Kind provenance.Kind `json:"kind"`
	Name string          `json:"name,omitempty"`
	// Type selects the implementation: "fhir" or "folder".
	Type Type `json:"type"`
	// BaseURL is the FHIR server's base (for Type "fhir"), e.g.
	// "https://ehr.example.nhs.uk/fhir/R4".
	BaseURL string `json:"baseUrl,omitempty"`
	// Dir is the folder of bundles (for Type "folder").
	Dir string `json:"dir,omitempty"`
	// Headers are sent with every request (for Type "fhir"), e.g. an
	// Authorization header. Their values never appear in errors or logs.
	Headers map[string]string `json:"headers,omitempty"`
	// Timeout bounds each call to the source; zero means DefaultTimeout.
	Timeout Duration `json:"timeout,omitempty"`
	// MaxAge is how old the source's newest data may be before the viewer
	// warns that it may be out of date; zero means no warning.
	MaxAge Duration `json:"maxAge,omitempty"`
	// MaxBytes bounds one answer's size; zero means DefaultMaxBytes.
	MaxBytes int64 `json:"maxBytes,omitempty"`
	// Lenient decodes the source's resources leniently (see
	// fhirutil.Options.Lenient).
	Lenient bool `json:"lenient,omitempty"`
}

// Info returns the provenance source c describes.
func (c Config) Info() provenance.Source {
	return provenance.Source{ID: c.ID, Org: c.Org, Kind: c.Kind, Name: c.Name}
}

// EffectiveTimeout returns Timeout, or DefaultTimeout when it is zero.
func (c Config) EffectiveTimeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return time.Duration(c.Timeout)
}
