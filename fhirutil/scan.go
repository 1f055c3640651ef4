package fhirutil

import (
	"bytes"
	"encoding/json"
	"errors"
)

// This file holds the splitter's scanner: one pass over a Bundle that
// finds each entry's fullUrl and the bytes of its resource, without
// decoding anything else. encoding/json would scan the bundle three times
// (validity check, decode, skipping each raw resource); the scanner does
// it once, so the serial part of Decode stays small. It checks structure
// only (brackets, strings, commas and colons); each resource's bytes are
// then checked in full by jsonformat on a worker.

var errScan = errors.New("malformed JSON")

// scanner walks data; pos is the next byte to read.
type scanner struct {
	data []byte
	pos  int
}

func (s *scanner) ws() {
	for s.pos < len(s.data) {
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
		for s.pos < len(s.data) {
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
		for s.pos < len(s.data) {
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

// scannedEntry is one Bundle entry found by scanBundle.
type scannedEntry struct {
	index    int
	fullURL  string
	resource []byte // nil when the entry has none
}

// scanTop reads the top-level object of data: its resourceType, and for a
// Bundle its entries. rest is what follows the object (non-empty for
// NDJSON).
func scanTop(data []byte) (resourceType string, entries []scannedEntry, rest []byte, err error) {
	s := &scanner{data: data}
	err = s.object(func(key []byte) error {
		switch string(key) {
		case "resourceType":
			if s.peek() != '"' {
				_, err := s.skip()
				return err
			}
			v, err := s.str()
			resourceType = string(v)
			return err
		case "entry":
			if s.peek() != '[' {
				_, err := s.skip()
				return err
			}
			return s.array(func(i int) error {
				e := scannedEntry{index: i}
				if s.peek() != '{' {
					_, err := s.skip()
					return err
				}
				err := s.object(func(key []byte) error {
					switch string(key) {
					case "fullUrl":
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
						v, err := s.skip()
						if !bytes.Equal(v, []byte("null")) {
							e.resource = v
						}
						return err
					}
					_, err := s.skip()
					return err
				})
				entries = append(entries, e)
				return err
			})
		}
		_, err := s.skip()
		return err
	})
	if err != nil {
		return "", nil, nil, err
	}
	return resourceType, entries, data[s.pos:], nil
}

// compactJSON returns src without the whitespace between JSON tokens.
// Pretty-printed bundles (Synthea writes them) are more than half
// indentation, and jsonformat re-reads a resource's bytes once per nesting
// level, so handing it compact bytes saves it most of that reading.
// Whitespace between two literal characters ("tr ue", "1 2") is kept, so
// invalid JSON stays invalid. src is not modified; the result is a new
// slice.
func compactJSON(src []byte) []byte {
	dst := make([]byte, 0, len(src))
	inString := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		if inString {
			dst = append(dst, c)
			switch c {
			case '\\':
				if i+1 < len(src) {
					i++
					dst = append(dst, src[i])
				}
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			j := i + 1
			for j < len(src) && (src[j] == ' ' || src[j] == '\t' || src[j] == '\n' || src[j] == '\r') {
				j++
			}
			if len(dst) > 0 && j < len(src) && literal(dst[len(dst)-1]) && literal(src[j]) {
				dst = append(dst, ' ')
			}
			i = j - 1
		case '"':
			inString = true
			dst = append(dst, c)
		default:
			dst = append(dst, c)
		}
	}
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
