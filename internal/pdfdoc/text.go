package pdfdoc

import (
	"strings"

	"codeberg.org/go-pdf/fpdf"
)

// encoder turns UTF-8 text into the cp1252 bytes the core Helvetica font
// prints. It is not safe for concurrent use: Render makes one per call.
type encoder struct {
	tr    func(string) string // fpdf's cp1252 translator
	cache map[rune]byte
}

func newEncoder(pdf *fpdf.Fpdf) *encoder {
	return &encoder{tr: pdf.UnicodeTranslatorFromDescriptor("cp1252"), cache: make(map[rune]byte)}
}

// text encodes s keeping line breaks ('\n', and "\r\n" as one).
func (e *encoder) text(s string) string { return e.encode(s, true) }

// line encodes s on one line: line breaks become spaces.
func (e *encoder) line(s string) string { return e.encode(s, false) }

func (e *encoder) encode(s string, keepBreaks bool) string {
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		switch {
		case r == '\r' && i+1 < len(s) && s[i+1] == '\n':
			// the '\n' that follows stands for both
		case r == '\n' || r == '\r':
			if keepBreaks {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		case r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f:
			b.WriteByte('?')
		case r < 0x80:
			b.WriteByte(byte(r))
		default:
			b.WriteByte(e.byteFor(r))
		}
	}
	return b.String()
}

// byteFor is r's cp1252 byte, or '?' when cp1252 has no such character.
// The translator maps what it cannot encode to '.', so a '.' back for a
// rune that is not '.' means "not encodable".
func (e *encoder) byteFor(r rune) byte {
	if c, ok := e.cache[r]; ok {
		return c
	}
	c := byte('?')
	if t := e.tr(string(r)); len(t) == 1 && t[0] >= 0x80 {
		c = t[0]
	}
	e.cache[r] = c
	return c
}
