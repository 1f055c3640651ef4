package fhirutil

import (
	"cmp"
	"errors"
	"strings"
)

// Errors returned by this package. A [ResourceError] wraps one of them, so
// callers test with errors.Is.
var (
	// ErrInvalidJSON reports input that is not JSON, not a JSON object, or
	// an NDJSON line that is not one JSON object.
	ErrInvalidJSON = errors.New("fhirutil: invalid JSON")
	// ErrEmpty reports input holding no resource at all.
	ErrEmpty = errors.New("fhirutil: no resources")
	// ErrInvalidResource reports a resource that does not parse as FHIR R4
	// as a whole (no resourceType, not an object). Problems with one
	// element are ErrInvalidElement, ErrUnknownElement or ErrMissingOffset.
	ErrInvalidResource = errors.New("fhirutil: invalid resource")
	// ErrUnknownElement reports a JSON key that R4 does not define at its
	// place. In lenient mode the element is dropped and the resource kept.
	ErrUnknownElement = errors.New("fhirutil: unknown element")
	// ErrInvalidElement reports an element whose value is not valid R4 (a
	// code outside its value set, a malformed date). Strict mode skips the
	// resource; lenient mode drops the element and keeps the resource.
	ErrInvalidElement = errors.New("fhirutil: invalid element")
	// ErrMissingOffset reports a dateTime or instant with a time of day but
	// no time-zone offset. Strict mode rejects the resource; lenient mode
	// reads the time as UTC and keeps it.
	ErrMissingOffset = errors.New("fhirutil: dateTime without time-zone offset")
	// ErrUnknownResourceType reports a resourceType that R4 does not
	// define (an R5-only resource, a typo). Lenient mode keeps a stub with
	// the type, id and meta only.
	ErrUnknownResourceType = errors.New("fhirutil: unknown resource type")
	// ErrTooDeep reports a resource whose objects and arrays nest deeper
	// than [MaxDepth], or whose nested bytes exceed [MaxNestedBytes]. It
	// is skipped in both modes, before jsonformat reads it.
	ErrTooDeep = errors.New("fhirutil: JSON nested too deep")
	// ErrDuplicateKey reports a JSON object holding a key twice. Strict
	// mode skips the resource; lenient mode keeps it with the last value
	// (what a JSON decoder reads) and reports each repeat.
	ErrDuplicateKey = errors.New("fhirutil: duplicate JSON key")
	// ErrValidation reports a resource that parses but breaks an R4 rule
	// checked by validation (a missing required element, a reference to
	// the wrong resource type). The resource is kept in both modes.
	ErrValidation = errors.New("fhirutil: resource fails validation")
	// ErrNotPatient reports a resource that should be a Patient and is not.
	ErrNotPatient = errors.New("fhirutil: not a Patient")
	// ErrInvalidMatchRequest reports a $match Parameters resource without
	// a usable resource parameter.
	ErrInvalidMatchRequest = errors.New("fhirutil: invalid $match request")
	// ErrOutput reports a resource CareLens built that does not validate as
	// R4; it is a bug in CareLens or invalid input values.
	ErrOutput = errors.New("fhirutil: cannot build resource")
)

// ResourceError is a problem with one resource of an input. Its message
// names where the resource is, its type and id and the JSON path of the
// offending element, and never holds the patient's data: values from the
// input (names, dates, identifiers) are not kept in it at all.
type ResourceError struct {
	// Location is where the resource sits in the input: "entry[3]",
	// "line 7", "entry[2].resource.entry[0]", or "" for a whole document.
	Location string
	// ResourceType and ID identify the resource when they could be read.
	ResourceType string
	ID           string
	// Path is the FHIR JSON path of the offending element, as jsonformat
	// reports it: "Observation.component[0].valueQuantity".
	Path string
	// Detail describes the problem ("unknown field", "expected datetime",
	// `missing required field "status"`); it never quotes input values.
	Detail string
	// Kept is true when the resource was kept despite the problem: a
	// validation issue, or an element dropped or repaired in lenient mode.
	Kept bool
	// Err is the sentinel classifying the problem (ErrUnknownElement, ...).
	Err error
}

// Error returns "fhirutil: entry[3] Observation/abc: Observation.code: unknown field (dropped, resource kept)".
func (e *ResourceError) Error() string {
	var b strings.Builder
	b.WriteString("fhirutil: ")
	if e.Location != "" {
		b.WriteString(e.Location)
		b.WriteByte(' ')
	}
	if e.ResourceType != "" || e.ID != "" {
		b.WriteString(cmp.Or(e.ResourceType, "?"))
		if e.ID != "" {
			b.WriteByte('/')
			b.WriteString(e.ID)
		}
	} else {
		b.WriteString("resource")
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	switch {
	case e.Detail != "":
		b.WriteString(e.Detail)
	case e.Err != nil:
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "fhirutil: "))
	default:
		b.WriteString("invalid")
	}
	switch {
	case e.Kept && (e.Err == ErrUnknownElement || e.Err == ErrInvalidElement):
		b.WriteString(" (dropped, resource kept)")
	case e.Kept && e.Err == ErrDuplicateKey:
		b.WriteString(" (last value kept, resource kept)")
	case e.Kept && e.Err == ErrMissingOffset:
		b.WriteString(" (read as UTC, resource kept)")
	case e.Kept:
		b.WriteString(" (resource kept)")
	default:
		b.WriteString(" (resource skipped)")
	}
	return b.String()
}

// Unwrap returns the sentinel.
func (e *ResourceError) Unwrap() error { return e.Err }
