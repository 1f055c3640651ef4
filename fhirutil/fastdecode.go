package fhirutil

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/fhir/go/jsonformat"
	apb "github.com/google/fhir/go/proto/google/fhir/proto/annotations_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// This file holds the fast decoder: CareLens's own reader of R4 JSON into
// the same google/fhir protos jsonformat builds, for resources of common
// shape. jsonformat reads every object into a map of raw messages,
// re-reads each value, sets fields by reflection and then walks the whole
// message again to check its primitives; on a viewer page (three sources
// answering $everything) that was about 70% of the viewer's CPU. The fast
// decoder reads the bytes once, driven by the proto descriptors, and
// checks each primitive as it sets it, as jsonformat's parsing and its
// primitive validation would.
//
// It accepts only what it is sure of: a resource whose resourceType is
// its first key, keys spelled exactly as R4 names them, values of the
// JSON type their element takes, and the primitive types below. Anything
// else (an extension, a contained resource, a primitive's "_" element, a
// null, an empty string, array or object, an escaped key, a time, a
// dateTime it does not parse the way jsonformat does, a choice given
// twice, a key given twice) makes it give up, and jsonformat decodes the
// resource and reports whatever is wrong with it. So a resource the fast
// decoder accepts is one jsonformat accepts, and its proto is the one
// jsonformat builds: fastdecode_test.go checks both, over the test data,
// the generated cohort and a fuzzer.

// fastKind is how the fast decoder reads an element of one proto message
// type.
type fastKind uint8

const (
	fastUnsupported fastKind = iota
	fastObject               // a complex type or backbone element
	fastReference            // Reference: an object, then jsonformat's normalisation
	fastString               // String: at most 1 MiB, no control characters but tab, LF, CR
	fastText                 // Markdown, Xhtml, string-valued codes: any string
	fastRegex                // Code, Id, Oid, Uuid: the type's value regex
	fastURI                  // Uri, Url, Canonical: a string url.Parse accepts
	fastBoolean
	fastInteger
	fastPositiveInt
	fastUnsignedInt
	fastDecimal
	fastDate
	fastDateTime
	fastInstant
	fastBase64
	fastEnumCode // a code bound to a required value set, held as an enum
)

// fastField is the target of one JSON key: a field, or (for a choice
// element such as valueQuantity) a field and the choice's member.
type fastField struct {
	fd     protoreflect.FieldDescriptor
	choice protoreflect.FieldDescriptor
	typ    atomic.Pointer[fastType] // of the value, once looked up
}

// valueType returns what the decoder knows of the field's value type.
func (f *fastField) valueType() *fastType {
	if t := f.typ.Load(); t != nil {
		return t
	}
	fd := f.fd
	if f.choice != nil {
		fd = f.choice
	}
	if fd.Message() == nil {
		return &fastType{} // a scalar: never in R4 JSON
	}
	t := fastTypeOf(fd.Message())
	f.typ.Store(t)
	return t
}

// fastType is what the fast decoder knows of one message type.
type fastType struct {
	kind   fastKind
	typ    protoreflect.MessageType
	fields map[string]*fastField              // fastObject, fastReference
	value  protoreflect.FieldDescriptor       // the "value" field of a primitive
	match  func(string) bool                  // fastRegex, fastDecimal: the type's value pattern
	enum   protoreflect.EnumDescriptor        // fastEnumCode
	codes  map[string]protoreflect.EnumNumber // fastEnumCode: original codes
	// str builds a core string-valued primitive without reflection;
	// nil for other types.
	str func(string) protoreflect.Message
}

// fastTypes caches fastType by message descriptor. The set of R4 message
// types is fixed, so the cache is bounded; it holds no input.
var fastTypes sync.Map // protoreflect.MessageDescriptor -> *fastType

// maxFastString is jsonformat's bound on a String (longer ones are an
// error there; here they go to jsonformat to be reported).
const maxFastString = 1 << 20

func fastTypeOf(d protoreflect.MessageDescriptor) *fastType {
	if t, ok := fastTypes.Load(d); ok {
		return t.(*fastType)
	}
	t := newFastType(d)
	actual, _ := fastTypes.LoadOrStore(d, t)
	return actual.(*fastType)
}

const r4core = "google.fhir.r4.core."

func newFastType(d protoreflect.MessageDescriptor) *fastType {
	t := &fastType{value: d.Fields().ByName("value")}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(d.FullName())
	if err != nil {
		return t
	}
	t.typ = mt
	kind := proto.GetExtension(d.Options(), apb.E_StructureDefinitionKind).(apb.StructureDefinitionKindValue)
	if kind == apb.StructureDefinitionKindValue_KIND_PRIMITIVE_TYPE {
		// jsonformat picks a primitive's reading by its short name.
		switch d.Name() {
		case "String":
			t.kind = fastString
			t.str = func(s string) protoreflect.Message { return (&dtpb.String{Value: s}).ProtoReflect() }
		case "Markdown":
			t.kind = fastText
			t.str = func(s string) protoreflect.Message { return (&dtpb.Markdown{Value: s}).ProtoReflect() }
		case "Xhtml":
			t.kind = fastText
			t.str = func(s string) protoreflect.Message { return (&dtpb.Xhtml{Value: s}).ProtoReflect() }
		case "Code", "Id", "Oid", "Uuid":
			t.kind, t.match = fastRegex, valueMatcher(d)
			switch d.Name() {
			case "Code":
				t.str = func(s string) protoreflect.Message { return (&dtpb.Code{Value: s}).ProtoReflect() }
			case "Id":
				t.str = func(s string) protoreflect.Message { return (&dtpb.Id{Value: s}).ProtoReflect() }
			}
		case "Uri":
			t.kind = fastURI
			t.str = func(s string) protoreflect.Message { return (&dtpb.Uri{Value: s}).ProtoReflect() }
		case "Url", "Canonical":
			t.kind = fastURI
		case "Boolean":
			t.kind = fastBoolean
		case "Integer":
			t.kind = fastInteger
		case "PositiveInt":
			t.kind = fastPositiveInt
		case "UnsignedInt":
			t.kind = fastUnsignedInt
		case "Decimal":
			t.kind, t.match = fastDecimal, valueMatcher(d)
		case "Date":
			t.kind = fastDate
		case "DateTime":
			t.kind = fastDateTime
		case "Instant":
			t.kind = fastInstant
		case "Base64Binary":
			t.kind = fastBase64
		}
		if t.kind != fastUnsupported {
			if string(d.FullName()) != r4core+string(d.Name()) || (t.match == nil && (t.kind == fastRegex || t.kind == fastDecimal)) {
				t.kind = fastUnsupported // a short name shared with another type
			}
			return t
		}
		if proto.HasExtension(d.Options(), apb.E_FhirValuesetUrl) && t.value != nil &&
			t.value.Kind() == protoreflect.StringKind && !t.value.IsList() {
			// A code of a value set too large for an enum (a MIME type, a
			// language): jsonformat keeps the string as it is.
			t.kind = fastText
			return t
		}
		if proto.HasExtension(d.Options(), apb.E_FhirValuesetUrl) &&
			t.value != nil && t.value.Kind() == protoreflect.EnumKind && !t.value.IsList() {
			// jsonformat reads such a code by its enum name (upper case,
			// dashes as underscores), else by the original code the enum
			// value records.
			t.kind, t.enum = fastEnumCode, t.value.Enum()
			t.codes = map[string]protoreflect.EnumNumber{}
			vals := t.enum.Values()
			for i := range vals.Len() {
				ev := vals.Get(i)
				if orig, ok := proto.GetExtension(ev.Options(), apb.E_FhirOriginalCode).(string); ok && orig != "" {
					if _, dup := t.codes[orig]; !dup {
						t.codes[orig] = ev.Number()
					}
				}
			}
		}
		return t
	}
	switch d.FullName() {
	case r4core + "Extension", r4core + "ContainedResource", "google.protobuf.Any":
		return t
	}
	if kind != apb.StructureDefinitionKindValue_KIND_COMPLEX_TYPE && kind != apb.StructureDefinitionKindValue_KIND_RESOURCE &&
		kind != apb.StructureDefinitionKindValue_KIND_UNKNOWN {
		return t
	}
	t.kind = fastObject
	ref := proto.HasExtension(d.Options(), apb.E_FhirReferenceType)
	if ref {
		t.kind = fastReference
	}
	t.fields = map[string]*fastField{}
	fields := d.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if ref && f.ContainingOneof() != nil && f.JSONName() != "reference" {
			continue // the typed ids jsonformat fills in from "reference"
		}
		if f.Message() != nil && proto.HasExtension(f.Message().Options(), apb.E_IsChoiceType) {
			members := f.Message().Fields()
			for j := range members.Len() {
				c := members.Get(j)
				name := c.JSONName()
				t.fields[f.JSONName()+strings.ToUpper(name[:1])+name[1:]] = &fastField{fd: f, choice: c}
			}
			continue
		}
		t.fields[f.JSONName()] = &fastField{fd: f}
	}
	return t
}

// valueMatcher returns the check of a primitive's value regex (from its
// descriptor, as jsonformat reads it), by hand for the patterns of Code,
// Id and Decimal, which are in every resource; nil when it has none.
func valueMatcher(d protoreflect.MessageDescriptor) func(string) bool {
	re, _ := proto.GetExtension(d.Options(), apb.E_ValueRegex).(string)
	switch re {
	case "":
		return nil
	case `[^\s]+(\s[^\s]+)*`:
		return isCode
	case `[A-Za-z0-9\-\.]{1,64}`:
		return validID
	case `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`:
		return isDecimal
	}
	return regexp.MustCompile("^" + re + "$").MatchString
}

// isCode is the R4 code pattern [^\s]+(\s[^\s]+)*, with \s as Go's
// regexp reads it ([\t\n\f\r ]): no leading, trailing or doubled space.
func isCode(s string) bool {
	space := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }
	if s == "" || space(s[0]) || space(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if space(s[i]) && space(s[i-1]) {
			return false
		}
	}
	return true
}

// isDecimal is the R4 decimal pattern -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func isDecimal(s string) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, n = i+1, n+1
		}
		return n
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// fastResourceTypes maps a resourceType to its ContainedResource field.
var fastResourceTypes = sync.OnceValue(func() map[string]protoreflect.FieldDescriptor {
	out := map[string]protoreflect.FieldDescriptor{}
	od := (&bcrpb.ContainedResource{}).ProtoReflect().Descriptor().Oneofs().Get(0)
	for i := range od.Fields().Len() {
		f := od.Fields().Get(i)
		if f.Message() != nil && f.Message().Name() != "Bundle" {
			out[string(f.Message().Name())] = f
		}
	}
	return out
})

// fastDecoder reads one resource.
type fastDecoder struct {
	data []byte
	pos  int
}

// fastDecode decodes raw, one R4 resource, as jsonformat's strict
// unmarshaller without extended validation would; ok is false when it
// is not sure it would, and raw must then go to jsonformat. No object of
// raw may repeat a key (prescan finds those): the decoder does not look.
func fastDecode(raw []byte) (cr *bcrpb.ContainedResource, ok bool) {
	if !utf8.Valid(raw) {
		return nil, false
	}
	d := &fastDecoder{data: raw}
	if !d.byte('{') {
		return nil, false
	}
	key, ok := d.key()
	if !ok || string(key) != "resourceType" {
		return nil, false
	}
	rt, ok := d.string()
	if !ok {
		return nil, false
	}
	f := fastResourceTypes()[rt]
	if f == nil {
		return nil, false
	}
	cr = &bcrpb.ContainedResource{}
	m := cr.ProtoReflect().Mutable(f).Message()
	if d.peek() == '}' {
		d.pos++
	} else if !d.byte(',') || !d.members(m, fastTypeOf(m.Descriptor())) {
		return nil, false
	}
	if d.pos != len(d.data) {
		return nil, false
	}
	return cr, true
}

func (d *fastDecoder) peek() byte {
	for d.pos < len(d.data) {
		switch c := d.data[d.pos]; c {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return c
		}
	}
	return 0
}

func (d *fastDecoder) byte(c byte) bool {
	if d.peek() != c {
		return false
	}
	d.pos++
	return true
}

// rawString reads a JSON string with no escapes and returns its bytes.
func (d *fastDecoder) rawString() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	start := d.pos
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return d.data[start : d.pos-1], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
		d.pos++
	}
	return nil, false
}

// key reads an object key and its colon.
func (d *fastDecoder) key() ([]byte, bool) {
	k, ok := d.rawString()
	if !ok || !d.byte(':') {
		return nil, false
	}
	return k, true
}

// string reads a non-empty JSON string. Of the escapes it reads \" \\ \/
// \n \r \t; any other (a \u escape, \b, \f) is left to jsonformat.
func (d *fastDecoder) string() (string, bool) {
	if !d.byte('"') {
		return "", false
	}
	start := d.pos
	var b []byte // set once an escape is seen
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			s := d.data[start:d.pos]
			d.pos++
			if b != nil {
				s = append(b, s...)
			}
			if len(s) == 0 {
				return "", false
			}
			return string(s), true
		case c < 0x20:
			return "", false
		case c == '\\':
			if d.pos+1 >= len(d.data) {
				return "", false
			}
			var r byte
			switch d.data[d.pos+1] {
			case '"', '\\', '/':
				r = d.data[d.pos+1]
			case 'n':
				r = '\n'
			case 'r':
				r = '\r'
			case 't':
				r = '\t'
			default:
				return "", false
			}
			b = append(append(b, d.data[start:d.pos]...), r)
			d.pos += 2
			start = d.pos
			continue
		}
		d.pos++
	}
	return "", false
}

// number reads a JSON number token and returns its bytes.
func (d *fastDecoder) number() ([]byte, bool) {
	d.peek()
	start := d.pos
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if !('0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			break
		}
		d.pos++
	}
	return d.data[start:d.pos], d.pos > start
}

// members reads the members of an object into m (the opening brace, and
// for a resource its resourceType, already read). The object repeats no
// key (see [fastDecode]).
func (d *fastDecoder) members(m protoreflect.Message, t *fastType) bool {
	for {
		key, ok := d.key()
		if !ok {
			return false
		}
		f := t.fields[string(key)]
		if f == nil {
			return false
		}
		target, fd := m, f.fd
		if f.choice != nil {
			if m.Has(f.fd) {
				return false // the choice already has a value
			}
			target, fd = m.Mutable(f.fd).Message(), f.choice
		}
		if !d.field(target, fd, f.valueType()) {
			return false
		}
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return true
		default:
			return false
		}
	}
}

// field reads the value of fd, of type t, into m.
func (d *fastDecoder) field(m protoreflect.Message, fd protoreflect.FieldDescriptor, t *fastType) bool {
	if !fd.IsList() {
		v, ok := d.value(t)
		if ok {
			m.Set(fd, protoreflect.ValueOfMessage(v))
		}
		return ok
	}
	if !d.byte('[') || d.peek() == ']' {
		return false
	}
	l := m.Mutable(fd).List()
	for {
		v, ok := d.value(t)
		if !ok {
			return false
		}
		l.Append(protoreflect.ValueOfMessage(v))
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return true
		default:
			return false
		}
	}
}

// value reads one value of type t into a new message.
func (d *fastDecoder) value(t *fastType) (protoreflect.Message, bool) {
	switch t.kind {
	case fastUnsupported:
		return nil, false
	case fastObject, fastReference:
		m := t.typ.New()
		if !d.byte('{') || d.peek() == '}' || !d.members(m, t) {
			return nil, false
		}
		if t.kind == fastReference && jsonformat.NormalizeReference(m.Interface()) != nil {
			return nil, false
		}
		return m, true
	case fastBoolean:
		var v bool
		switch {
		case d.literal("true"):
			v = true
		case d.literal("false"):
		default:
			return nil, false
		}
		return (&dtpb.Boolean{Value: v}).ProtoReflect(), true
	case fastInteger, fastPositiveInt, fastUnsignedInt:
		n, ok := d.number()
		if !ok {
			return nil, false
		}
		v, ok := smallInt(n, t.kind == fastInteger)
		switch {
		case !ok:
			return nil, false
		case t.kind == fastInteger:
			return (&dtpb.Integer{Value: int32(v)}).ProtoReflect(), true
		case t.kind == fastUnsignedInt:
			return (&dtpb.UnsignedInt{Value: uint32(v)}).ProtoReflect(), true
		case v == 0:
			return nil, false
		}
		return (&dtpb.PositiveInt{Value: uint32(v)}).ProtoReflect(), true
	case fastDecimal:
		n, ok := d.number()
		if !ok || !t.match(string(n)) {
			return nil, false
		}
		return (&dtpb.Decimal{Value: string(n)}).ProtoReflect(), true
	}
	s, ok := d.string()
	if !ok {
		return nil, false
	}
	switch t.kind {
	case fastString:
		if len(s) >= maxFastString || hasInvalidChar(s) {
			return nil, false
		}
	case fastText:
	case fastRegex:
		if !t.match(s) {
			return nil, false
		}
	case fastURI:
		if !plainURI(s) {
			if _, err := url.Parse(s); err != nil {
				return nil, false
			}
		}
	case fastEnumCode:
		n, ok := t.enumNumber(s)
		if !ok {
			return nil, false
		}
		m := t.typ.New()
		m.Set(t.value, protoreflect.ValueOfEnum(n))
		return m, true
	case fastBase64:
		b, ok := fastBase64Decode(s)
		if !ok {
			return nil, false
		}
		return (&dtpb.Base64Binary{Value: b}).ProtoReflect(), true
	case fastDate:
		v := &dtpb.Date{}
		return v.ProtoReflect(), fastDateValue(s, v)
	case fastDateTime:
		v := &dtpb.DateTime{}
		return v.ProtoReflect(), fastDateTimeValue(s, v)
	case fastInstant:
		v := &dtpb.Instant{}
		return v.ProtoReflect(), fastInstantValue(s, v)
	}
	if t.str != nil {
		return t.str(s), true
	}
	m := t.typ.New()
	m.Set(t.value, protoreflect.ValueOfString(s))
	return m, true
}

// plainURI reports whether s is a URI url.Parse is sure to accept: an
// http(s) URL with a plain host and path, or a urn, in a small safe
// alphabet. Coding systems are such URIs; anything else goes through
// url.Parse.
func plainURI(s string) bool {
	rest, ok := strings.CutPrefix(s, "http://")
	if !ok {
		rest, ok = strings.CutPrefix(s, "https://")
	}
	if !ok {
		rest, ok = strings.CutPrefix(s, "urn:")
		if !ok || rest == "" {
			return false
		}
		for i := range len(rest) {
			if c := rest[i]; !(isAlnum(c) || c == '.' || c == '-' || c == ':' || c == '_') {
				return false
			}
		}
		return true
	}
	host, path, _ := strings.Cut(rest, "/")
	if host == "" {
		return false
	}
	for i := range len(host) {
		if c := host[i]; !(isAlnum(c) || c == '.' || c == '-') {
			return false
		}
	}
	for i := range len(path) {
		if c := path[i]; !(isAlnum(c) || c == '.' || c == '-' || c == '_' || c == '~' || c == '/') {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func (d *fastDecoder) literal(lit string) bool {
	d.peek()
	if !bytes.HasPrefix(d.data[d.pos:], []byte(lit)) {
		return false
	}
	d.pos += len(lit)
	return true
}

// smallInt reads -?(0|[1-9][0-9]{0,8}) (no sign for unsigned types): a
// value every integer type holds, written the one way jsonformat and the
// FHIR regexes all accept.
func smallInt(n []byte, signed bool) (int64, bool) {
	neg := false
	if signed && len(n) > 1 && n[0] == '-' {
		neg, n = true, n[1:]
	}
	if len(n) == 0 || len(n) > 9 || (n[0] == '0' && (len(n) > 1 || neg)) {
		return 0, false
	}
	var v int64
	for _, c := range n {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// hasInvalidChar reports a code point below 32 other than tab, LF and CR,
// which jsonformat rejects in a String.
func hasInvalidChar(s string) bool {
	for i := range len(s) {
		if c := s[i]; c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return true
		}
	}
	return false
}

// enumNumber maps a code as jsonformat's UnmarshalCode does. Codes that
// are not ASCII are left to jsonformat (upper-casing differs there).
func (t *fastType) enumNumber(s string) (protoreflect.EnumNumber, bool) {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return 0, false
		}
	}
	if v := t.enum.Values().ByName(protoreflect.Name(strings.ReplaceAll(strings.ToUpper(s), "-", "_"))); v != nil && v.Number() != 0 {
		return v.Number(), true
	}
	n, ok := t.codes[s]
	return n, ok
}

// fastBase64Decode decodes standard base64 with padding and nothing else
// (no spaces, no line breaks: jsonformat reads those as a stride).
func fastBase64Decode(s string) ([]byte, bool) {
	for i := range len(s) {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return nil, false
		}
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil
}

// The FHIR date and time patterns, as jsonformat checks them.
var (
	fastDateRE     = regexp.MustCompile(`^[0-9]{4}(-(0[1-9]|1[0-2])(-(0[0-9]|[1-2][0-9]|3[0-1]))?)?$`)
	fastDateTimeRE = regexp.MustCompile(`^[0-9]{4}(-(0[1-9]|1[0-2])(-(0[0-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$`)
	fastInstantRE  = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])-(0[0-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$`)
)

// fastYearOK bounds the years read here to 1000-9999 (the patterns
// already refuse a sign or a fifth digit): jsonformat's microseconds and
// this reader's agree well inside them, and older dates go to jsonformat.
func fastYearOK(t time.Time) bool { return t.Year() >= 1000 }

// fastDateValue reads a FHIR date in UTC ([TimeZone]) as jsonformat does.
func fastDateValue(s string, v *dtpb.Date) bool {
	if !fastDateRE.MatchString(s) {
		return false
	}
	layout, prec := "2006-01-02", dtpb.Date_DAY
	switch len(s) {
	case 4:
		layout, prec = "2006", dtpb.Date_YEAR
	case 7:
		layout, prec = "2006-01", dtpb.Date_MONTH
	}
	t, err := time.ParseInLocation(layout, s, time.UTC)
	if err != nil || !fastYearOK(t) {
		return false
	}
	v.ValueUs, v.Precision, v.Timezone = t.UnixMicro(), prec, TimeZone
	return true
}

// fastDateTimeValue reads a FHIR dateTime as jsonformat does: a date in
// UTC ([TimeZone]) at its precision, or a time with its offset ("Z" for
// UTC) at second, millisecond (1 to 3 fraction digits) or microsecond
// precision (more).
func fastDateTimeValue(s string, v *dtpb.DateTime) bool {
	if !fastDateTimeRE.MatchString(s) {
		return false
	}
	if len(s) <= 10 {
		var d dtpb.Date
		if !fastDateValue(s, &d) {
			return false
		}
		v.ValueUs, v.Timezone = d.ValueUs, d.Timezone
		switch d.Precision {
		case dtpb.Date_YEAR:
			v.Precision = dtpb.DateTime_YEAR
		case dtpb.Date_MONTH:
			v.Precision = dtpb.DateTime_MONTH
		default:
			v.Precision = dtpb.DateTime_DAY
		}
		return true
	}
	us, tz, digits, ok := fastTime(s)
	if !ok {
		return false
	}
	v.ValueUs, v.Timezone = us, tz
	switch {
	case digits > 3:
		v.Precision = dtpb.DateTime_MICROSECOND
	case digits > 0:
		v.Precision = dtpb.DateTime_MILLISECOND
	default:
		v.Precision = dtpb.DateTime_SECOND
	}
	return true
}

// fastInstantValue reads a FHIR instant as jsonformat does.
func fastInstantValue(s string, v *dtpb.Instant) bool {
	if !fastInstantRE.MatchString(s) {
		return false
	}
	us, tz, digits, ok := fastTime(s)
	if !ok {
		return false
	}
	v.ValueUs, v.Timezone = us, tz
	switch {
	case digits > 3:
		v.Precision = dtpb.Instant_MICROSECOND
	case digits > 0:
		v.Precision = dtpb.Instant_MILLISECOND
	default:
		v.Precision = dtpb.Instant_SECOND
	}
	return true
}

// fastTime parses a date with a time and offset (already matched by a
// pattern) into microseconds, the zone as jsonformat records it ("Z", or
// the offset as ±hh:mm) and the number of fraction digits.
func fastTime(s string) (us int64, tz string, digits int, ok bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !fastYearOK(t) {
		return 0, "", 0, false
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		for j := i + 1; j < len(s) && s[j] >= '0' && s[j] <= '9'; j++ {
			digits++
		}
	}
	if s[len(s)-1] == 'Z' {
		tz = "Z"
	} else {
		_, off := t.Zone()
		sign := "+"
		if off < 0 {
			sign, off = "-", -off
		}
		tz = fmt.Sprintf("%s%02d:%02d", sign, off/3600, off%3600/60)
	}
	return t.Unix()*1e6 + int64(t.Nanosecond()/1000), tz, digits, true
}
