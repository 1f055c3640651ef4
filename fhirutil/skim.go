package fhirutil

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// This file holds the skim: with [Options.SkimUnmapped], a resource of a
// type that [Batch.Entries] does not map (it becomes a CategoryOther
// entry) is read for the few elements such an entry carries instead of
// being decoded by jsonformat. In Synthea bundles these resources (Claim
// and ExplanationOfBenefit above all) are most of the bytes.
//
// The skim reads resourceType, id, meta.versionId, meta.lastUpdated,
// meta.source and status, and checks each of them as jsonformat would
// (an R4 resource type, the id pattern, an instant with its offset, a code
// of the type's status value set). Anything it is not sure of (a value of
// the wrong JSON type, an escaped or capitalised key, a fraction finer
// than a microsecond, an unknown status code) sends the resource to
// jsonformat, so a skimmed resource's facts are the ones a full decode
// would give, and every error is still reported by the full decode.

// fullyDecoded are the types that are always decoded by jsonformat: the
// ones Entries maps to a clinical category, Patients (records), and those
// Entries reads to complete other entries (Medication codes, Provenance
// lineage). Bundles are opened, never skimmed.
var fullyDecoded = map[string]bool{
	"Observation":         true,
	"DiagnosticReport":    true,
	"MedicationStatement": true,
	"MedicationRequest":   true,
	"MedicationDispense":  true,
	"AllergyIntolerance":  true,
	"Condition":           true,
	"Procedure":           true,
	"Immunization":        true,
	"Encounter":           true,
	"ServiceRequest":      true,
	"DocumentReference":   true,
	"Composition":         true,
	"Patient":             true,
	"Medication":          true,
	"Provenance":          true,
	"Bundle":              true,
}

// skimType is what the skim knows of one R4 resource type.
type skimType struct {
	// status maps each code of the type's status element to itself, as
	// [codeOf] renders it; nil when the type has no coded status.
	status map[string]string
	// statusOther is true when the type has a status element that is not
	// a code with a required value set: the skim leaves such a resource
	// to jsonformat when it has a status.
	statusOther bool
}

// skimTypes returns the R4 resource types that may be skimmed, read from
// the descriptor of ContainedResource.
var skimTypes = sync.OnceValue(func() map[string]*skimType {
	out := map[string]*skimType{}
	cr := (&bcrpb.ContainedResource{}).ProtoReflect().Descriptor()
	fields := cr.Oneofs().Get(0).Fields()
	for i := range fields.Len() {
		md := fields.Get(i).Message()
		if md == nil || fullyDecoded[string(md.Name())] {
			continue
		}
		st := &skimType{}
		if f := md.Fields().ByName("status"); f != nil {
			st.status, st.statusOther = statusCodes(f)
		}
		out[string(md.Name())] = st
	}
	return out
})

// statusCodes lists the codes of a status field whose message holds an
// enum "value" (as [codeOf] reads it); other is true for any other kind
// of status field.
func statusCodes(f protoreflect.FieldDescriptor) (codes map[string]string, other bool) {
	if f.IsList() || f.Message() == nil {
		return nil, true
	}
	vf := f.Message().Fields().ByName("value")
	if vf == nil || vf.Kind() != protoreflect.EnumKind {
		return nil, true
	}
	codes = map[string]string{}
	vals := vf.Enum().Values()
	for i := range vals.Len() {
		ev := vals.Get(i)
		if ev.Number() == 0 {
			continue // INVALID_UNINITIALIZED
		}
		c := enumCode(ev)
		codes[c] = c
	}
	return codes, false
}

// skim reads a resource of a type Entries does not map without decoding
// it. A skimmed resource keeps raw: the caller must not modify it. ok is false when the resource must go to jsonformat: its type is
// mapped or unknown, or one of the elements read is not what jsonformat
// would accept without question.
func skim(raw []byte) (r *Resource, ok bool) {
	if !utf8.Valid(raw) {
		return nil, false
	}
	var (
		rt, id, status, version, lastUpdated, source string
		hasStatus, bad                               bool
	)
	s := &scanner{data: raw}
	// skip skips a value the skim does not read, checking its syntax.
	skip := func() error {
		if !s.value() {
			return errScan
		}
		return nil
	}
	// str reads a non-empty JSON string value; anything else (null, a
	// number, an object, "") is left to jsonformat.
	str := func(dst *string) error {
		if s.peek() != '"' {
			bad = true
			return skip()
		}
		start := s.pos
		if !s.validString() {
			return errScan
		}
		v := raw[start+1 : s.pos-1]
		switch {
		case len(v) == 0:
			bad = true // let jsonformat judge an empty value
		case bytes.IndexByte(v, '\\') >= 0:
			if json.Unmarshal(raw[start:s.pos], dst) != nil {
				bad = true
			}
		default:
			*dst = string(v)
		}
		return nil
	}
	// A key read twice is left to jsonformat, which keeps the last value
	// of a key but also the last meta object as a whole.
	var seen uint8
	once := func(bit uint8) {
		if seen&bit != 0 {
			bad = true
		}
		seen |= bit
	}
	err := s.validObject(func(key []byte) error {
		switch string(key) {
		case "resourceType":
			once(1)
			return str(&rt)
		case "id":
			once(2)
			return str(&id)
		case "status":
			once(4)
			hasStatus = true
			return str(&status)
		case "meta":
			once(8)
			if s.peek() != '{' {
				bad = true
				break
			}
			return s.validObject(func(key []byte) error {
				switch string(key) {
				case "versionId":
					once(16)
					return str(&version)
				case "lastUpdated":
					once(32)
					return str(&lastUpdated)
				case "source":
					once(64)
					return str(&source)
				}
				if odd(key) {
					bad = true
				}
				return skip()
			})
		default:
			if odd(key) {
				bad = true
			}
		}
		return skip()
	})
	if s.ws(); err == nil && s.pos != len(raw) {
		err = errScan // bytes after the resource
	}
	if err != nil || bad {
		return nil, false
	}
	st := skimTypes()[rt]
	if st == nil || (id != "" && !validID(id)) || (version != "" && !validID(version)) {
		return nil, false
	}
	r = &Resource{Type: rt, ID: id, Version: version, MetaSource: source}
	if hasStatus {
		if st.statusOther {
			return nil, false
		}
		c, known := st.status[status]
		if !known {
			return nil, false
		}
		r.status = c
	}
	if lastUpdated != "" {
		t, ok := parseInstant(lastUpdated)
		if !ok {
			return nil, false
		}
		r.LastUpdated = t
	}
	r.raw = raw
	return r, true
}

// odd reports whether a key could be one the skim reads, written in a way
// jsonformat also accepts (it lower-cases the first letter: "Status") or
// escaped. Such a resource is left to jsonformat.
func odd(key []byte) bool {
	if bytes.IndexByte(key, '\\') >= 0 {
		return true
	}
	k := key
	if len(k) > 0 && k[0] == '_' {
		k = k[1:]
	}
	return len(k) > 0 && k[0] >= 'A' && k[0] <= 'Z'
}

// validID reports whether s matches the R4 id pattern [A-Za-z0-9\-\.]{1,64}.
func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// parseInstant reads an R4 instant ("2020-06-01T10:00:00Z", with an
// optional fraction of at most six digits and an offset) as jsonformat
// does, returning it in UTC. ok is false for anything else, including
// valid instants the skim does not handle (finer fractions, years
// jsonformat stores without their fraction).
func parseInstant(s string) (time.Time, bool) {
	// 2006-01-02T15:04:05 is 19 bytes; then .f{1,6}, then Z or ±hh:mm.
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	for _, i := range []int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, false
		}
	}
	rest := s[19:]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 || n > 7 {
			return time.Time{}, false
		}
		rest = rest[n:]
	}
	switch {
	case rest == "Z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
		strings.Trim(rest[1:3]+rest[4:], "0123456789") == "" &&
		(rest[1:3] < "14" || rest[1:] == "14:00") && rest[4] <= '5':
	default:
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	// jsonformat drops the fraction of an instant whose microseconds
	// overflow an int64 in nanoseconds (before 1678, after 2261).
	if err != nil || t.Unix() <= math.MinInt64/int64(time.Second) || t.Unix() >= math.MaxInt64/int64(time.Second) {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// validObject is [scanner.object] checking the syntax of the keys too;
// field must consume and check the value.
func (s *scanner) validObject(field func(key []byte) error) error { return s.members(true, field) }

// value skips one JSON value and reports whether it is valid JSON, as
// encoding/json checks it (UTF-8 is checked apart): the skim checks
// syntax in the pass that reads the elements it needs.
func (s *scanner) value() bool {
	switch s.peek() {
	case '"':
		return s.validString()
	case '{':
		s.pos++
		if s.peek() == '}' {
			s.pos++
			return true
		}
		for {
			if s.peek() != '"' || !s.validString() || s.peek() != ':' {
				return false
			}
			s.pos++
			if !s.value() {
				return false
			}
			switch s.peek() {
			case ',':
				s.pos++
			case '}':
				s.pos++
				return true
			default:
				return false
			}
		}
	case '[':
		s.pos++
		if s.peek() == ']' {
			s.pos++
			return true
		}
		for {
			if !s.value() {
				return false
			}
			switch s.peek() {
			case ',':
				s.pos++
			case ']':
				s.pos++
				return true
			default:
				return false
			}
		}
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		return s.number()
	}
}

func (s *scanner) literal(lit string) bool {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
		return false
	}
	s.pos += len(lit)
	return true
}

// validString skips a string at s.pos, checking its escapes and that it
// holds no control character.
func (s *scanner) validString() bool {
	s.pos++ // opening quote
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if s.pos+1 >= len(s.data) {
				return false
			}
			switch s.data[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				if s.pos+6 > len(s.data) {
					return false
				}
				for _, h := range s.data[s.pos+2 : s.pos+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				s.pos += 6
			default:
				return false
			}
		default:
			s.pos++
		}
	}
	return false
}

// number skips a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	d := s.data
	i := s.pos
	digits := func() bool {
		start := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(d) && d[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	s.pos = i
	return true
}
