package fhirutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// This file holds the splitter's scanner: one pass over a Bundle that
// finds each entry's fullUrl and the bytes of its resource, without
// decoding anything else. encoding/json would scan the bundle three times
// (validity check, decode, skipping each raw resource); the scanner does
// it once, so the serial part of Decode stays small. It checks structure
// only (brackets, strings, commas and colons); each resource's bytes are
// then checked in full by jsonformat on a worker.

var errScan = errors.New("malformed JSON")

// scanner walks data; pos is the next byte to read. With r set (see
// [Stream]), data is a window on r: the scanner reads more when it needs
// it (fill), and its user drops what it is done with (discard).
type scanner struct {
	data  []byte
	pos   int
	r     io.Reader
	off   int64 // offset in the input of data[0]
	lines int   // newlines before data[0]
	rerr  error // the error that ended r (io.EOF at its end)
}

// fill reads more of r into data and reports whether data grew. Slices of
// data stay valid: fill only appends (moving data when it grows).
func (s *scanner) fill() bool {
	for s.r != nil && s.rerr == nil {
		if len(s.data) == cap(s.data) {
			s.data = slices.Grow(s.data, max(len(s.data), 256<<10))
		}
		n, err := s.r.Read(s.data[len(s.data):cap(s.data)])
		s.data = s.data[:len(s.data)+n]
		if err != nil {
			s.rerr = err
		}
		if n > 0 {
			return true
		}
	}
	return false
}

// discard drops the bytes before pos. Slices of them must no longer be
// in use: the window is reused.
func (s *scanner) discard() {
	s.lines += bytes.Count(s.data[:s.pos], []byte{'\n'})
	n := copy(s.data, s.data[s.pos:])
	s.off += int64(s.pos)
	s.data, s.pos = s.data[:n], 0
}

func (s *scanner) ws() {
	for s.pos < len(s.data) || s.fill() {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		return errScan
	}
	s.pos++
	return nil
}

// str reads a string and returns its raw content (escapes not decoded).
func (s *scanner) str() ([]byte, error) {
	if err := s.expect('"'); err != nil {
		return nil, err
	}
	start := s.pos
	for {
		// Jump to the next quote (IndexByte is vectorised); it closes
		// the string unless an odd number of backslashes escapes it.
		i := bytes.IndexByte(s.data[s.pos:], '"')
		if i < 0 {
			s.pos = len(s.data)
			if s.fill() {
				continue
			}
			return nil, errScan
		}
		s.pos += i + 1
		bs := 0
		for j := s.pos - 2; j >= start && s.data[j] == '\\'; j-- {
			bs++
		}
		if bs%2 == 0 {
			return s.data[start : s.pos-1], nil
		}
	}
}

// skip skips one value and returns its bytes.
func (s *scanner) skip() ([]byte, error) {
	c := s.peek()
	start := s.pos
	switch c {
	case '"':
		_, err := s.str()
		return s.data[start:s.pos], err
	case '{', '[':
		depth := 0
		for s.pos < len(s.data) || s.fill() {
			switch s.data[s.pos] {
			case '"':
				if _, err := s.str(); err != nil {
					return nil, err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.pos++
					return s.data[start:s.pos], nil
				}
			}
			s.pos++
		}
		return nil, errScan
	case 0, '}', ']', ',', ':':
		return nil, errScan
	default: // number, true, false, null
		for s.pos < len(s.data) || s.fill() {
			switch s.data[s.pos] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return s.data[start:s.pos], nil
			}
			s.pos++
		}
		return s.data[start:s.pos], nil
	}
}

// object calls field for each member of an object; field must consume
// the value.
func (s *scanner) object(field func(key []byte) error) error { return s.members(false, field) }

// members reads an object, calling field for each member. With checkKeys
// the keys' string syntax is checked too (see validObject).
func (s *scanner) members(checkKeys bool, field func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		var key []byte
		if checkKeys {
			if s.peek() != '"' {
				return errScan
			}
			start := s.pos
			if !s.validString() {
				return errScan
			}
			key = s.data[start+1 : s.pos-1]
		} else {
			k, err := s.str()
			if err != nil {
				return err
			}
			key = k
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return errScan
		}
	}
}

// array calls elem for each element of an array; elem must consume it.
func (s *scanner) array(elem func(i int) error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.pos++
		return nil
	}
	for i := 0; ; i++ {
		if err := elem(i); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return errScan
		}
	}
}

// scannedEntry is one Bundle entry found by scanTop.
type scannedEntry struct {
	index    int
	offset   int // where resource starts in the scanned bytes
	fullURL  string
	resource []byte // nil when the entry has none
	// dup is the first key the entry repeats ("resource"), with its
	// offset; "" when none.
	dup       string
	dupOffset int
}

// scannedTop is what scanTop reads of a document.
type scannedTop struct {
	resourceType string
	id           string // the top-level id, when a plain string
	next         string // the url of the link whose relation is "next" (a searchset's next page)
	entries      []scannedEntry
	// dups are the keys the top-level object repeats.
	dups []dupKey
	// rest is what follows the object (non-empty for NDJSON).
	rest []byte
}

// links reads a top-level "link" array into t.next: the url of the link
// whose relation is "next". A caller paging through a searchset needs nothing
// else from the Bundle, so it need not decode it a second time.
func (s *scanner) links(t *scannedTop) error {
	if s.peek() != '[' {
		_, err := s.skip()
		return err
	}
	return s.array(func(int) error {
		if s.peek() != '{' {
			_, err := s.skip()
			return err
		}
		// Copies: a streaming scanner may move its buffer between values.
		var rel, url string
		err := s.object(func(key []byte) error {
			k := string(key)
			if (k == "relation" || k == "url") && s.peek() == '"' {
				v, err := s.str()
				if k == "relation" {
					rel = string(v)
				} else {
					url = string(v)
				}
				return err
			}
			_, err := s.skip()
			return err
		})
		if err != nil || rel != "next" {
			return err
		}
		if !strings.Contains(url, `\`) {
			t.next = url
			return nil
		}
		// An escaped url ("https:\/\/..." is valid JSON): unescape it.
		return json.Unmarshal([]byte(`"`+url+`"`), &t.next)
	})
}

// scanError locates a syntax error found by scanTop.
type scanError struct {
	offset int64
	entry  int  // the entry being read or last read, or -1
	after  bool // entry was read whole
	eof    bool
}

func (e *scanError) Error() string {
	var b strings.Builder
	if e.eof {
		b.WriteString("unexpected end of input at byte ")
	} else {
		b.WriteString("syntax error at byte ")
	}
	b.WriteString(strconv.FormatInt(e.offset, 10))
	if e.entry >= 0 {
		if e.after {
			b.WriteString(" after entry[")
		} else {
			b.WriteString(" in entry[")
		}
		b.WriteString(strconv.Itoa(e.entry))
		b.WriteByte(']')
	}
	return b.String()
}

// scanTop reads the top-level object of data: its resourceType, and for a
// Bundle its entries.
func scanTop(data []byte) (scannedTop, error) {
	var t scannedTop
	s := &scanner{data: data}
	err := s.top(&t, func(e scannedEntry) error {
		t.entries = append(t.entries, e)
		return nil
	})
	t.rest = data[s.pos:]
	return t, err
}

// top reads the top-level object: its resourceType and repeated keys
// into t, and each entry, as it is read, to entry. Entries are numbered
// in input order across "entry" arrays (a repeated key). A syntax error
// is a *scanError.
func (s *scanner) top(t *scannedTop, entry func(scannedEntry) error) error {
	n, cur, done := 0, -1, false
	var keys []string
	err := s.object(func(key []byte) error {
		if k := string(key); slices.Contains(keys, k) {
			if len(t.dups) < maxDups {
				t.dups = append(t.dups, dupKey{offset: int(s.off) + s.pos, path: elementOrUnknown(key)})
			}
		} else if len(keys) < linearKeys {
			keys = append(keys, k)
		}
		switch string(key) {
		case "resourceType":
			if s.peek() != '"' {
				_, err := s.skip()
				return err
			}
			v, err := s.str()
			t.resourceType = string(v)
			return err
		case "id":
			if s.peek() != '"' {
				_, err := s.skip()
				return err
			}
			v, err := s.str()
			if bytes.IndexByte(v, '\\') < 0 {
				t.id = string(v)
			}
			return err
		case "link":
			return s.links(t)
		case "entry":
			if s.peek() != '[' {
				_, err := s.skip()
				return err
			}
			err := s.array(func(int) error {
				cur, done = n, false
				e := scannedEntry{index: n}
				n++
				if s.peek() != '{' {
					_, err := s.skip()
					return err
				}
				var seen uint8
				once := func(bit uint8, name string) {
					if seen&bit != 0 && e.dup == "" {
						e.dup, e.dupOffset = name, int(s.off)+s.pos
					}
					seen |= bit
				}
				err := s.object(func(key []byte) error {
					switch string(key) {
					case "fullUrl":
						once(1, "fullUrl")
						if s.peek() == '"' {
							start := s.pos
							v, err := s.str()
							e.fullURL = string(v)
							if err == nil && bytes.IndexByte(v, '\\') >= 0 {
								// Rare: an escaped URL ("https:\/\/..."); decode it.
								e.fullURL = ""
								_ = json.Unmarshal(s.data[start:s.pos], &e.fullURL)
							}
							return err
						}
					case "resource":
						once(2, "resource")
						s.peek()
						e.offset = int(s.off) + s.pos
						v, err := s.skip()
						if !bytes.Equal(v, []byte("null")) {
							e.resource = v
						}
						return err
					}
					_, err := s.skip()
					return err
				})
				if err != nil {
					return err
				}
				done = true
				return entry(e)
			})
			if err == nil {
				cur = -1
			}
			return err
		}
		_, err := s.skip()
		return err
	})
	if err != nil {
		if _, ok := errors.AsType[*scanError](err); ok {
			return err
		}
		if errors.Is(err, errScan) {
			return &scanError{offset: s.off + int64(s.pos), entry: cur, after: done, eof: s.pos >= len(s.data)}
		}
	}
	return err
}

// MaxDepth is how deeply objects and arrays may nest in an input, counted
// from its outermost value: {"a":[{}]} is 3 deep, and the resources of a
// Bundle start 4 deep (the Bundle, entry, the entry, the resource). R4
// resources in practice nest less than 20 deep (the shared Synthea and
// HL7 example files: at most 11, Bundle included). A resource nested
// deeper is skipped, in lenient mode too, with an [ErrTooDeep] issue
// naming its location, the element under which it nests and the byte
// offset, before jsonformat sees it.
//
// The limit exists because jsonformat holds a copy of an element's bytes
// at each level it is nested in: a 220 KB Patient with extensions 4,900
// deep took 2 GB to decode. The cap also bounds the nesting of Bundles
// in Bundles.
const MaxDepth = 64

// MaxNestedBytes bounds the memory jsonformat needs for one resource
// within [MaxDepth]: the largest sum, over an object or array and every
// object and array enclosing it, of their sizes in bytes (whitespace
// stripped). jsonformat holds about this much at once (a 20 MB string 92
// levels deep, 1.8 GB nested, took 1.96 GB). A flat resource counts
// about its own size, a resource of size S whose bulk sits d levels deep
// about d×S: 128 MiB admits a 25 MB attachment in a DocumentReference
// (content[0].attachment.data is 5 deep). A resource over the limit is
// skipped with [ErrTooDeep]; a nested Bundle over it is opened and its
// entries decoded one by one.
const MaxNestedBytes = 128 << 20

// shape is what the prescan finds in one resource's bytes.
type shape struct {
	// tooDeep is the offset of the first bracket past MaxDepth, or -1;
	// under is the path of the top-level element it sits in.
	tooDeep int
	under   string
	// nested is the largest sum of the sizes of an object or array and
	// of those enclosing it, in compacted bytes (see MaxNestedBytes).
	nested int64
	// dups are the first repeated keys found (at most maxDups), and
	// ndups how many there are in all.
	dups  []dupKey
	ndups int
}

// dupKey is a key repeated in one object: the byte offset of the
// repeat and its JSON path without the resource type ("name[0].given").
type dupKey struct {
	offset int
	path   string
}

// maxDups bounds the repeated keys reported per resource.
const maxDups = 8

// frame is one open object or array during the prescan.
type frame struct {
	start int   // offset of the bracket in the compacted output
	inner int64 // largest nested bytes of a child
	obj   bool
	key   []byte // the current key of an object (raw, escapes kept)
	index int    // the current element of an array
	k0    int    // first of the object's keys in prescanner.keys
	set   map[string]struct{}
}

// prescanner checks a resource's shape before jsonformat decodes it. It
// is reused through a pool: its stack and key slab keep their capacity.
type prescanner struct {
	frames []frame
	keys   [][]byte
}

var prescanners = sync.Pool{New: func() any { return &prescanner{frames: make([]frame, 0, MaxDepth+1)} }}

// linearKeys is how many keys an object's duplicate check compares one by
// one before it switches to a set.
const linearKeys = 16

// prescan is the one pass over a resource's bytes before it is decoded:
// it measures the nesting (MaxDepth counted from base, the depth of the
// containers enclosing the resource in the input, and MaxNestedBytes),
// finds repeated keys, and, when dst is not nil, appends the bytes
// without the whitespace between tokens to dst (see compactJSON). It
// stops at the first bracket past MaxDepth. Invalid JSON is not
// reported here: jsonformat rejects it.
func prescan(src []byte, base int, dst []byte) ([]byte, shape) {
	p := prescanners.Get().(*prescanner)
	defer func() {
		clear(p.frames[:cap(p.frames)]) // drop references to src
		clear(p.keys[:cap(p.keys)])
		p.frames, p.keys = p.frames[:0], p.keys[:0]
		prescanners.Put(p)
	}()
	sh := shape{tooDeep: -1}
	out := 0 // length of the compacted output, whether or not it is kept
	emit := func(c byte) {
		if dst != nil {
			dst = append(dst, c)
		}
		out++
	}
	var last byte // the last byte emitted
	expectKey, inKey, keyEscaped := false, false, false
	keyStart := 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			j := i + 1
			for j < len(src) && (src[j] == ' ' || src[j] == '\t' || src[j] == '\n' || src[j] == '\r') {
				j++
			}
			// Whitespace between two literal characters ("tr ue", "1 2")
			// is kept, so invalid JSON stays invalid.
			if out > 0 && j < len(src) && literal(last) && literal(src[j]) {
				emit(' ')
				last = ' '
			}
			i = j - 1
			continue
		case '"':
			// A string: copy it to its closing quote.
			start := i
			inKey = expectKey && len(p.frames) > 0 && p.frames[len(p.frames)-1].obj
			keyStart, keyEscaped = i+1, false
			emit(c)
			for i++; i < len(src); i++ {
				c = src[i]
				emit(c)
				if c == '\\' {
					keyEscaped = true
					if i+1 < len(src) {
						i++
						emit(src[i])
					}
					continue
				}
				if c == '"' {
					break
				}
			}
			if inKey && i < len(src) {
				p.key(src[keyStart:i], keyEscaped, start, &sh)
			}
			expectKey, inKey = false, false
			last = '"'
			continue
		case '{', '[':
			if base+len(p.frames)+1 > MaxDepth {
				sh.tooDeep = i
				if len(p.frames) > 0 && p.frames[0].obj {
					sh.under = elementOrUnknown(p.frames[0].key)
				}
				return dst, sh
			}
			p.frames = append(p.frames, frame{start: out, obj: c == '{', k0: len(p.keys)})
			expectKey = c == '{'
		case '}', ']':
			if n := len(p.frames); n > 0 {
				f := &p.frames[n-1]
				best := int64(out+1-f.start) + f.inner
				p.keys = p.keys[:f.k0]
				*f = frame{}
				p.frames = p.frames[:n-1]
				if n > 1 {
					parent := &p.frames[n-2]
					parent.inner = max(parent.inner, best)
				} else {
					sh.nested = max(sh.nested, best)
				}
			}
			expectKey = false
		case ',':
			if n := len(p.frames); n > 0 {
				if p.frames[n-1].obj {
					expectKey = true
				} else {
					p.frames[n-1].index++
				}
			}
		}
		emit(c)
		last = c
	}
	return dst, sh
}

// key records an object's key and notes it when the object already has
// it. raw is the key as written; offset is its opening quote.
func (p *prescanner) key(raw []byte, escaped bool, offset int, sh *shape) {
	f := &p.frames[len(p.frames)-1]
	f.key = raw
	dup := false
	switch {
	case f.set == nil && !escaped && len(p.keys)-f.k0 < linearKeys:
		for _, k := range p.keys[f.k0:] {
			if string(k) == string(raw) {
				dup = true
				break
			}
		}
		if !dup {
			p.keys = append(p.keys, raw)
		}
	default:
		if f.set == nil {
			// Many keys, or an escaped one: compare decoded keys in a set.
			f.set = make(map[string]struct{}, 2*linearKeys)
			for _, k := range p.keys[f.k0:] {
				f.set[string(k)] = struct{}{}
			}
			p.keys = p.keys[:f.k0]
		}
		k := string(raw)
		if escaped {
			if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &k); err != nil {
				return // invalid escape: jsonformat rejects the resource
			}
		}
		if _, dup = f.set[k]; !dup {
			f.set[k] = struct{}{}
		}
	}
	if !dup {
		return
	}
	sh.ndups++
	if len(sh.dups) < maxDups {
		sh.dups = append(sh.dups, dupKey{offset: offset, path: p.path()})
	}
}

// path renders the JSON path to the current key, as jsonformat writes
// paths but without the resource type: "name[0].given". Keys that are
// not element names are written "?": they could be input data.
func (p *prescanner) path() string {
	var b strings.Builder
	for _, f := range p.frames {
		if f.obj {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(elementOrUnknown(f.key))
		} else {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(f.index))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// elementOrUnknown returns key when it is an element name, else "?".
func elementOrUnknown(key []byte) string {
	if elementName.Match(key) {
		return string(key)
	}
	return "?"
}

// compactJSON returns src without the whitespace between JSON tokens.
// Pretty-printed bundles (Synthea writes them) are more than half
// indentation, and jsonformat re-reads a resource's bytes once per nesting
// level, so handing it compact bytes saves it most of that reading.
// Whitespace between two literal characters ("tr ue", "1 2") is kept, so
// invalid JSON stays invalid. src is not modified; the result is a new
// slice. Nesting past MaxDepth is cut short: use prescan to check it.
func compactJSON(src []byte) []byte {
	dst, _ := prescan(src, 0, make([]byte, 0, len(src)))
	return dst
}

// literal reports whether c can be part of a number or a true, false or
// null literal (or of invalid input that must stay invalid).
func literal(c byte) bool {
	switch c {
	case '{', '}', '[', ']', ',', ':', '"':
		return false
	}
	return true
}
