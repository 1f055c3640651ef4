package fhirutil

import (
	"bytes"
	"cmp"
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/fhir/go/jsonformat"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// maxRepairRounds bounds the lenient retries of one resource. One round
// usually suffices: jsonformat reports every unknown element of a resource
// in one pass, and a second round catches problems hidden behind them.
const maxRepairRounds = 4

// jfIssue is one finding of jsonformat. diag may hold input values and is
// never put into an error message.
type jfIssue struct{ path, details, diag string }

// flatten reads the findings out of a jsonformat error. jsonformat's error
// types live in an internal package, so their exported fields Path,
// Details and Diagnostics are read by reflection; any other error becomes
// one finding without details (its text may quote the input).
func flatten(err error) []jfIssue {
	if err == nil {
		return nil
	}
	v := reflect.ValueOf(err)
	if v.Kind() == reflect.Slice {
		out := make([]jfIssue, 0, v.Len())
		for i := range v.Len() {
			out = append(out, one(v.Index(i)))
		}
		return out
	}
	return []jfIssue{one(v)}
}

func one(v reflect.Value) jfIssue {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return jfIssue{details: "invalid resource"}
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return jfIssue{details: "invalid resource"}
	}
	str := func(name string) string {
		f := v.FieldByName(name)
		if f.IsValid() && f.Kind() == reflect.String {
			return f.String()
		}
		return ""
	}
	is := jfIssue{path: str("Path"), details: str("Details"), diag: str("Diagnostics")}
	if is.details == "" {
		is.details = "invalid resource"
	}
	return is
}

var (
	elementName = regexp.MustCompile(`^_?[A-Za-z][A-Za-z0-9]{0,63}$`)
	// noOffset matches a dateTime with a time of day and no offset.
	noOffset = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$`)
)

// unknownKey returns the element name of an "unknown field" finding, or
// "?" when it does not look like an element name (it would then be input
// data, which must not reach an error message).
func unknownKey(diag string) string {
	k, err := strconv.Unquote(diag)
	if err != nil || !elementName.MatchString(k) {
		return "?"
	}
	return k
}

// foundValue extracts the value jsonformat quotes in `found "..."`.
func foundValue(diag string) string {
	v, ok := strings.CutPrefix(diag, "found ")
	if !ok {
		return ""
	}
	s, err := strconv.Unquote(v)
	if err != nil {
		return ""
	}
	return s
}

// issuesOf turns a jsonformat error into issues. kept says whether the
// resource was kept (validation findings on a decoded resource); repairs
// made in lenient mode come first.
func issuesOf(err error, base ResourceError, kept bool, repairs []*ResourceError) []*ResourceError {
	out := slices.Clip(repairs)
	for _, is := range flatten(err) {
		e := base
		e.Path, e.Detail, e.Kept = is.path, is.details, kept
		switch {
		case is.details == "unknown field":
			e.Path = joinPath(is.path, unknownKey(is.diag))
			e.Err = ErrUnknownElement
		case is.details == "unknown resource type":
			e.Path = ""
			e.Err = ErrUnknownResourceType
		case strings.HasPrefix(is.details, "expected datetime") || strings.HasPrefix(is.details, "expected instant"):
			if noOffset.MatchString(foundValue(is.diag)) {
				e.Err = ErrMissingOffset
				e.Detail = "time without offset"
			} else {
				e.Err = ErrInvalidElement
			}
		case kept:
			e.Err = ErrValidation
		case strings.Contains(is.path, "."):
			e.Err = ErrInvalidElement
		default:
			e.Err = ErrInvalidResource
		}
		out = append(out, &e)
	}
	// jsonformat walks JSON objects in map order: sort for stable output.
	byPath := func(a, b *ResourceError) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Detail, b.Detail))
	}
	slices.SortStableFunc(out[:len(repairs)], byPath)
	slices.SortStableFunc(out[len(repairs):], byPath)
	return out
}

func joinPath(p, k string) string {
	if p == "" {
		return k
	}
	return p + "." + k
}

type decoded struct {
	msg *bcrpb.ContainedResource
	err error
}

// pruned marks an array element removed during a repair round; arrays are
// compacted after the round so that the other findings' indices still
// point at the right elements.
type pruned struct{}

// repair is the lenient path: it decodes raw into a generic map, drops or
// fixes what err points at, and retries, at most maxRepairRounds times.
// It returns the decoded resource and the repairs made, or a stub for an
// unknown resource type, or nothing when the resource cannot be saved.
func repair(u *jsonformat.Unmarshaller, raw []byte, err error, base ResourceError) (*decoded, []*ResourceError, *Resource) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep decimals exactly as written
	if dec.Decode(&m) != nil || m == nil {
		return nil, nil, nil
	}
	var repairs []*ResourceError
	note := func(path, detail string, sentinel error) {
		e := base
		e.Path, e.Detail, e.Kept, e.Err = path, detail, true, sentinel
		repairs = append(repairs, &e)
	}
	for range maxRepairRounds {
		changed := false
		for _, is := range flatten(err) {
			switch is.details {
			case "unknown resource type":
				note("", "unknown resource type", ErrUnknownResourceType)
				return nil, repairs, stubResource(m)
			case "unknown field":
				k, _ := strconv.Unquote(is.diag)
				if parent, ok := locate(m, is.path).(map[string]any); ok {
					if _, has := parent[k]; has {
						delete(parent, k)
						changed = true
						note(joinPath(is.path, unknownKey(is.diag)), "unknown field", ErrUnknownElement)
					}
				}
			default:
				get, set, del, ok := locateSlot(m, is.path)
				if !ok {
					continue
				}
				if s, isStr := get().(string); isStr && noOffset.MatchString(s) {
					if len(s) == len("2006-01-02T15:04") {
						s += ":00"
					}
					set(s + "Z")
					note(is.path, "time without offset", ErrMissingOffset)
				} else {
					del()
					note(is.path, is.details, ErrInvalidElement)
				}
				changed = true
			}
		}
		if !changed {
			return nil, nil, nil
		}
		compact(m)
		fixed, merr := json.Marshal(m)
		if merr != nil {
			return nil, nil, nil
		}
		msg, uerr := u.Unmarshal(fixed)
		if msg != nil {
			return &decoded{msg: msg.(*bcrpb.ContainedResource), err: uerr}, repairs, nil
		}
		err = uerr
	}
	return nil, nil, nil
}

// pathStep is one step of a jsonformat path: a key and its indices.
type pathStep struct {
	key     string
	indices []int
}

// parsePath splits "Patient.contained[0].Patient.name[1].given[0]". The
// first step, the resource type, is dropped.
func parsePath(p string) ([]pathStep, bool) {
	parts := strings.Split(p, ".")
	if len(parts) < 2 {
		return nil, false
	}
	steps := make([]pathStep, 0, len(parts)-1)
	for _, part := range parts[1:] {
		key, rest, _ := strings.Cut(part, "[")
		st := pathStep{key: key}
		if rest != "" {
			for idx := range strings.SplitSeq(strings.TrimSuffix(rest, "]"), "][") {
				n, err := strconv.Atoi(idx)
				if err != nil {
					return nil, false
				}
				st.indices = append(st.indices, n)
			}
		}
		steps = append(steps, st)
	}
	return steps, true
}

// step follows one path step from cur.
func step(cur any, st pathStep) (any, bool) {
	mp, ok := cur.(map[string]any)
	if !ok {
		return nil, false
	}
	next, has := mp[st.key]
	if !has {
		// A contained resource's type appears as a path step.
		if rt, _ := mp["resourceType"].(string); rt == st.key && len(st.indices) == 0 {
			return mp, true
		}
		return nil, false
	}
	for _, i := range st.indices {
		arr, ok := next.([]any)
		if !ok || i < 0 || i >= len(arr) {
			return nil, false
		}
		next = arr[i]
	}
	return next, true
}

// locate returns the value at path p in m, or nil.
func locate(m map[string]any, p string) any {
	if !strings.Contains(p, ".") {
		return m // the resource itself
	}
	steps, ok := parsePath(p)
	if !ok {
		return nil
	}
	var cur any = m
	for _, st := range steps {
		if cur, ok = step(cur, st); !ok {
			return nil
		}
	}
	return cur
}

// locateSlot finds the slot holding the value at p, with accessors to
// read, replace and remove it. The resource itself has no slot.
func locateSlot(m map[string]any, p string) (get func() any, set func(any), del func(), ok bool) {
	steps, ok := parsePath(p)
	if !ok || len(steps) == 0 {
		return nil, nil, nil, false
	}
	var cur any = m
	for _, st := range steps[:len(steps)-1] {
		if cur, ok = step(cur, st); !ok {
			return nil, nil, nil, false
		}
	}
	last := steps[len(steps)-1]
	parent, isMap := cur.(map[string]any)
	if !isMap {
		return nil, nil, nil, false
	}
	v, has := parent[last.key]
	if !has {
		return nil, nil, nil, false
	}
	if len(last.indices) == 0 {
		return func() any { return parent[last.key] },
			func(x any) { parent[last.key] = x },
			func() { delete(parent, last.key) }, true
	}
	for _, i := range last.indices[:len(last.indices)-1] {
		arr, ok := v.([]any)
		if !ok || i < 0 || i >= len(arr) {
			return nil, nil, nil, false
		}
		v = arr[i]
	}
	arr, isArr := v.([]any)
	i := last.indices[len(last.indices)-1]
	if !isArr || i < 0 || i >= len(arr) {
		return nil, nil, nil, false
	}
	return func() any { return arr[i] },
		func(x any) { arr[i] = x },
		func() { arr[i] = pruned{} }, true
}

// compact removes pruned array elements, and the keys of arrays and
// objects left empty (FHIR forbids empty arrays and objects).
func compact(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			c = compact(c)
			if isEmpty(c) {
				delete(x, k)
				continue
			}
			x[k] = c
		}
		return x
	case []any:
		out := x[:0]
		for _, c := range x {
			if _, gone := c.(pruned); gone {
				continue
			}
			out = append(out, compact(c))
		}
		return out
	}
	return v
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	case nil:
		return true
	}
	return false
}

// stubResource keeps what can be read of a resource of a type R4 does not
// define: its type, id and meta.
func stubResource(m map[string]any) *Resource {
	r := &Resource{}
	r.Type, _ = m["resourceType"].(string)
	r.ID, _ = m["id"].(string)
	if meta, ok := m["meta"].(map[string]any); ok {
		r.Version, _ = meta["versionId"].(string)
		r.MetaSource, _ = meta["source"].(string)
		if s, ok := meta["lastUpdated"].(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				r.LastUpdated = t.UTC()
			}
		}
	}
	return r
}
