package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/match"
)

// matchQuery is a $match request read strictly: every element of the
// Parameters envelope and of the Patient is valid R4, none is unknown, no
// key is repeated, and nesting stays within [fhirutil.MaxDepth].
type matchQuery struct {
	Record             match.Record
	OnlyCertainMatches bool
	// Count is the count parameter, 0 when absent.
	Count int
	// Fields names the demographics the request supplied, for the audit
	// line and for what a candidate below probable may show.
	Fields []string
}

// requestError is a request the service refuses with 400: one issue per
// problem found, each naming the element by its FHIRPath.
type requestError struct{ issues []issue }

func (e *requestError) Error() string {
	if len(e.issues) == 0 {
		return "invalid request"
	}
	is := e.issues[0]
	return strings.TrimSpace(is.Expression + " " + is.Diagnostics)
}

func badRequest(code, expr, diag string) *requestError {
	return &requestError{issues: []issue{{Code: code, Expression: expr, Diagnostics: diag}}}
}

// parseMatch reads a Patient/$match body: a Parameters resource with a
// resource parameter holding a Patient and optional onlyCertainMatches
// (valueBoolean) and count (valueInteger, at least 1) parameters, each at
// most once; or a bare Patient. The error is a *requestError.
//
// fhirutil.ParseMatchRequest reads the Patient leniently (dropping unknown
// elements) and the envelope with encoding/json (which ignores unknown
// keys and keeps the last of repeated ones); a FHIR server that promises
// strictness checks more, so the envelope is walked here, the Parameters
// without its resources and each resource are decoded strictly by
// fhirutil.Decode, and only then are the parameters read.
func parseMatch(body []byte) (matchQuery, error) {
	var q matchQuery
	env, err := splitParameters(body)
	if err != nil {
		return q, err
	}
	switch env.resourceType {
	case "Patient":
		rec, err := decodePatient(body, "Patient")
		if err != nil {
			return q, err
		}
		q.Record = rec
		q.Fields = suppliedFields(rec)
		return q, nil
	case "Parameters":
	case "":
		return q, badRequest("required", "resourceType", "a Parameters resource (or a bare Patient) is required")
	default:
		return q, badRequest("not-supported", "resourceType", "Patient/$match takes a Parameters resource or a Patient")
	}
	// The envelope without its resources is an ordinary Parameters
	// resource: jsonformat checks its elements and value types.
	b, err := fhirutil.Decode(env.stripped, &fhirutil.Options{Workers: 1, Retrieved: time.Unix(0, 0)})
	if err != nil {
		return q, badRequest("structure", "", jsonDiagnostics(err))
	}
	if iss := issuesOf(b.Issues, "Parameters", "Parameters"); len(iss) > 0 {
		return q, &requestError{issues: iss}
	}
	var params struct {
		Parameter []map[string]json.RawMessage `json:"parameter"`
	}
	if err := json.Unmarshal(env.stripped, &params); err != nil {
		return q, badRequest("structure", "Parameters.parameter", "not an array of parameters")
	}
	seen := map[string]bool{}
	var problems []issue
	bad := func(code, expr, diag string) {
		problems = append(problems, issue{Code: code, Expression: expr, Diagnostics: diag})
	}
	resourceAt := -1
	for i, p := range params.Parameter {
		at := fmt.Sprintf("Parameters.parameter[%d]", i)
		var name string
		if err := json.Unmarshal(p["name"], &name); err != nil || name == "" {
			bad("required", at+".name", "every parameter needs a name")
			continue
		}
		if seen[name] {
			bad("structure", at+".name", "parameter "+name+" given more than once")
			continue
		}
		seen[name] = true
		hasResource := env.resources[i] != nil
		valueKeys := 0
		for k := range p {
			if strings.HasPrefix(k, "value") {
				valueKeys++
			}
		}
		if _, ok := p["part"]; ok {
			bad("not-supported", at+".part", "$match parameters have no parts")
			continue
		}
		switch name {
		case "resource":
			if !hasResource || valueKeys > 0 {
				bad("structure", at, "resource must hold a Patient in resource, and nothing else")
				continue
			}
			resourceAt = i
		case "onlyCertainMatches":
			raw, ok := p["valueBoolean"]
			if !ok || hasResource || valueKeys != 1 {
				bad("structure", at, "onlyCertainMatches takes valueBoolean")
				continue
			}
			q.OnlyCertainMatches = bytes.Equal(raw, []byte("true"))
		case "count":
			raw, ok := p["valueInteger"]
			if !ok || hasResource || valueKeys != 1 {
				bad("structure", at, "count takes valueInteger")
				continue
			}
			var n int
			if err := json.Unmarshal(raw, &n); err != nil || n < 1 {
				bad("value", at+".valueInteger", "count must be at least 1")
				continue
			}
			q.Count = n
		default:
			bad("not-supported", at+".name", "Patient/$match has no parameter "+safeName(name))
		}
	}
	if len(problems) > 0 {
		return q, &requestError{issues: problems}
	}
	if resourceAt < 0 {
		return q, badRequest("required", "Parameters.parameter", "the resource parameter (a Patient) is required")
	}
	rec, err := decodePatient(env.resources[resourceAt], fmt.Sprintf("Parameters.parameter[%d].resource", resourceAt))
	if err != nil {
		return q, err
	}
	q.Record = rec
	q.Fields = suppliedFields(rec)
	return q, nil
}

// safeName returns a parameter name for a diagnostic when it looks like
// a name (letters, digits, '-', '_', at most 40 bytes), else "(unnamed)":
// a client could put a patient's value in a name.
func safeName(s string) string {
	if len(s) > 40 {
		return "(not shown)"
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "(not shown)"
		}
	}
	return s
}

// decodePatient decodes one Patient strictly; at is the FHIRPath of the
// resource in the request, used to locate its problems.
func decodePatient(data []byte, at string) (match.Record, error) {
	b, err := fhirutil.Decode(data, &fhirutil.Options{Workers: 1, Retrieved: time.Unix(0, 0)})
	if err != nil {
		return match.Record{}, badRequest("structure", at, jsonDiagnostics(err))
	}
	if iss := issuesOf(b.Issues, "Patient", at); len(iss) > 0 {
		return match.Record{}, &requestError{issues: iss}
	}
	// Decode opens Bundles; a Patient inside one is not a Patient.
	if b.Bundles > 0 || len(b.Resources) != 1 || b.Resources[0].Type != "Patient" {
		return match.Record{}, badRequest("not-supported", at, "the resource must be a Patient")
	}
	rec, ok := b.Resources[0].Record("", b.Retrieved)
	if !ok {
		return match.Record{}, badRequest("not-supported", at, "the resource must be a Patient")
	}
	return rec, nil
}

// issuesOf turns fhirutil's issues into OperationOutcome issues, the
// path of each rebased from the resource type it starts with to at. Every
// issue counts, kept or not: the service is strict.
func issuesOf(errs []*fhirutil.ResourceError, typ, at string) []issue {
	var out []issue
	for _, e := range errs {
		code := "invalid"
		switch {
		case errors.Is(e, fhirutil.ErrTooDeep):
			code = "too-costly"
		case errors.Is(e, fhirutil.ErrUnknownElement):
			code = "structure"
		case errors.Is(e, fhirutil.ErrDuplicateKey):
			code = "structure"
		case errors.Is(e, fhirutil.ErrUnknownResourceType):
			code = "not-supported"
		}
		expr := at
		if e.Path != "" {
			if rest, ok := strings.CutPrefix(e.Path, typ); ok {
				expr = at + rest
			} else if e.ResourceType != "" && e.ResourceType != typ {
				// A resource of another type: say which, at its place.
				code, expr = "not-supported", at
			}
		}
		// Offsets are into the piece decoded, not the body: the path
		// locates the problem.
		diag := atByte.ReplaceAllString(e.Detail, "")
		if diag == "" && e.Err != nil {
			diag = strings.TrimPrefix(e.Err.Error(), "fhirutil: ")
		}
		if e.ResourceType != "" && e.ResourceType != typ && e.Path == "" {
			diag = "a " + typ + " was expected"
			if typ == "Patient" {
				code = "not-supported"
			}
		}
		out = append(out, issue{Code: code, Expression: expr, Diagnostics: diag})
	}
	return out
}

var atByte = regexp.MustCompile(` at byte \d+`)

// jsonDiagnostics describes an input-level decoding failure without the
// package prefix (a FHIR client has no use for Go package names).
func jsonDiagnostics(err error) string {
	s := err.Error()
	for strings.HasPrefix(s, "fhirutil: ") {
		s = strings.TrimPrefix(s, "fhirutil: ")
	}
	return s
}

// envelope is a request body split by splitParameters.
type envelope struct {
	resourceType string
	// stripped is the body with the values of parameter[i].resource
	// removed, every other byte of every member kept (repeated keys too,
	// so that the strict decode sees them).
	stripped []byte
	// resources[i] is the resource of parameter[i], nil when it has none.
	resources [][]byte
}

// splitParameters walks the top level of a JSON object and, under its
// parameter array, each parameter's members, copying everything but the
// resource values into stripped. It reads no deeper than that itself;
// encoding/json checks the syntax of the values it skips.
func splitParameters(body []byte) (envelope, error) {
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(body))
	syntax := func(err error) error {
		off := dec.InputOffset()
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off = se.Offset
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return badRequest("structure", "", fmt.Sprintf("invalid JSON: unexpected end of input at byte %d", len(body)))
		}
		return badRequest("structure", "", fmt.Sprintf("invalid JSON at byte %d", off))
	}
	delim := func(want json.Delim) error {
		t, err := dec.Token()
		if err != nil {
			return syntax(err)
		}
		if d, ok := t.(json.Delim); !ok || d != want {
			return badRequest("structure", "", fmt.Sprintf("invalid JSON at byte %d: expected %s", dec.InputOffset(), want))
		}
		return nil
	}
	key := func() (string, error) {
		t, err := dec.Token()
		if err != nil {
			return "", syntax(err)
		}
		return t.(string), nil
	}
	var out bytes.Buffer
	out.Grow(len(body))
	member := func(first bool, k string, v []byte) {
		if !first {
			out.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		out.Write(kb)
		out.WriteByte(':')
		out.Write(v)
	}
	if err := delim('{'); err != nil {
		return env, err
	}
	out.WriteByte('{')
	for first := true; dec.More(); first = false {
		k, err := key()
		if err != nil {
			return env, err
		}
		if k != "parameter" {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return env, syntax(err)
			}
			if k == "resourceType" {
				var s string
				if json.Unmarshal(raw, &s) != nil {
					return env, badRequest("structure", "resourceType", "resourceType must be a string")
				}
				env.resourceType = s
			}
			member(first, k, raw)
			continue
		}
		// Not an array of objects: copy it as it is, for the strict
		// decode to report.
		raw, isArray, err := peekArray(dec, body)
		if err != nil {
			return env, syntax(err)
		}
		if !isArray {
			member(first, k, raw)
			continue
		}
		member(first, k, []byte("["))
		for i := 0; dec.More(); i++ {
			if i > 0 {
				out.WriteByte(',')
			}
			env.resources = append(env.resources, nil)
			t, err := dec.Token()
			if err != nil {
				return env, syntax(err)
			}
			if d, ok := t.(json.Delim); !ok || d != '{' {
				return env, badRequest("structure", fmt.Sprintf("Parameters.parameter[%d]", i), "a parameter must be an object")
			}
			out.WriteByte('{')
			nres := 0
			for pfirst := true; dec.More(); {
				pk, err := key()
				if err != nil {
					return env, err
				}
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return env, syntax(err)
				}
				if pk == "resource" {
					nres++
					if nres > 1 {
						return env, badRequest("structure", fmt.Sprintf("Parameters.parameter[%d].resource", i), "duplicate key")
					}
					env.resources[i] = raw
					continue
				}
				member(pfirst, pk, raw)
				pfirst = false
			}
			if err := delim('}'); err != nil {
				return env, err
			}
			out.WriteByte('}')
		}
		if err := delim(']'); err != nil {
			return env, err
		}
		out.WriteByte(']')
	}
	if err := delim('}'); err != nil {
		return env, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return env, badRequest("structure", "", fmt.Sprintf("invalid JSON: data after the resource at byte %d", dec.InputOffset()))
	}
	out.WriteByte('}')
	env.stripped = out.Bytes()
	return env, nil
}

// peekArray reads the next value of dec, which reads body: if it opens
// an array, it consumes only the '[' and reports true; otherwise it
// returns the whole value. json.Decoder cannot look at a value without
// consuming it, so the next byte of body decides.
func peekArray(dec *json.Decoder, body []byte) (json.RawMessage, bool, error) {
	rest := bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n:")
	if len(rest) > 0 && rest[0] == '[' {
		if _, err := dec.Token(); err != nil {
			return nil, false, err
		}
		return nil, true, nil
	}
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, false, err
	}
	return raw, false, nil
}

// suppliedFields names the demographics a request supplied.
func suppliedFields(r match.Record) []string {
	var f []string
	add := func(ok bool, name string) {
		if ok {
			f = append(f, name)
		}
	}
	add(len(r.Given) > 0 || r.Family != "" || r.FullName != "" || len(r.OtherNames) > 0, "name")
	add(r.BirthDate != "", "birthDate")
	add(r.Sex != "", "gender")
	add(len(r.Address) > 0 || r.Town != "" || r.State != "", "address")
	add(r.Postcode != "", "postalCode")
	add(r.Phone != "" || r.Email != "", "telecom")
	add(r.NHSNumber != "", "nhsNumber")
	add(len(r.Identifiers) > 0, "identifier")
	return f
}
