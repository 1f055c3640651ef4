package matchio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Encoding is the character encoding of an input file.
type Encoding string

// Encodings a file may be read in.
const (
	// EncodingAuto reads UTF-8 (with or without a byte order mark) and
	// falls back to Latin-1 when the start of the file is not valid UTF-8;
	// the fallback is reported.
	EncodingAuto Encoding = ""
	// EncodingUTF8 reads UTF-8; a value that is not valid UTF-8 is a bad row.
	EncodingUTF8 Encoding = "utf-8"
	// EncodingLatin1 reads ISO 8859-1, each byte one character.
	EncodingLatin1 Encoding = "latin-1"
)

// ParseEncoding reads an encoding name as a flag gives it: auto, utf-8
// (utf8) or latin-1 (latin1, iso-8859-1).
func ParseEncoding(s string) (Encoding, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return EncodingAuto, nil
	case "utf-8", "utf8":
		return EncodingUTF8, nil
	case "latin-1", "latin1", "iso-8859-1", "iso8859-1":
		return EncodingLatin1, nil
	}
	return "", fmt.Errorf("matchio: encoding %q: want auto, utf-8 or latin-1", s)
}

// delimiters are the field separators sniffing chooses from, in the order
// that breaks a tie.
var delimiters = []rune{',', ';', '\t', '|'}

// ParseDelimiter reads a delimiter as a flag gives it: one of , ; | or
// tab (also "\t"), or their names comma, semicolon, pipe.
func ParseDelimiter(s string) (rune, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return 0, nil
	case ",", "comma":
		return ',', nil
	case ";", "semicolon":
		return ';', nil
	case "|", "pipe":
		return '|', nil
	case "\t", `\t`, "tab":
		return '\t', nil
	}
	return 0, fmt.Errorf("matchio: delimiter %q: want auto, comma, semicolon, tab or pipe", s)
}

// delimiterName names a delimiter for the report.
func delimiterName(d rune) string {
	switch d {
	case ',':
		return "comma"
	case ';':
		return "semicolon"
	case '\t':
		return "tab"
	case '|':
		return "pipe"
	}
	return fmt.Sprintf("%q", d)
}

// Limits on input a stranger controls.
const (
	// MaxLineBytes bounds one line of an input file.
	MaxLineBytes = 1 << 20
	// sniffBytes is how much of a file decides its encoding and delimiter.
	sniffBytes = 64 << 10
)

// ErrLineTooLong is returned for a line longer than [MaxLineBytes].
var ErrLineTooLong = errors.New("matchio: line too long")

// sniffed is what the start of a file shows.
type sniffed struct {
	delim    rune
	delimSet bool // by option, not sniffed
	enc      Encoding
	encSet   bool // by option, not sniffed
	bom      bool
}

var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
)

// sniff reads the start of br, skips a UTF-8 byte order mark, and decides
// the encoding and the delimiter unless opts set them.
func sniff(br *bufio.Reader, opts *Options) (sniffed, error) {
	s := sniffed{delim: opts.Delimiter, delimSet: opts.Delimiter != 0, enc: opts.Encoding, encSet: opts.Encoding != EncodingAuto}
	head, err := br.Peek(sniffBytes)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return s, err
	}
	switch {
	case bytes.HasPrefix(head, bomUTF8):
		s.bom = true
		br.Discard(len(bomUTF8))
		head = head[len(bomUTF8):]
	case bytes.HasPrefix(head, bomUTF16LE), bytes.HasPrefix(head, bomUTF16BE):
		return s, errors.New("file is UTF-16 (byte order mark); save it as UTF-8 CSV")
	}
	if !s.encSet {
		s.enc = EncodingUTF8
		if !validUTF8Prefix(head, len(head) == sniffBytes-len(bomUTF8) || len(head) == sniffBytes) {
			s.enc = EncodingLatin1
		}
	}
	if !s.delimSet {
		s.delim = sniffDelimiter(head)
	}
	return s, nil
}

// validUTF8Prefix reports whether b is valid UTF-8, allowing a rune cut
// short at its end when b is only the start of the file.
func validUTF8Prefix(b []byte, cut bool) bool {
	if utf8.Valid(b) {
		return true
	}
	if !cut {
		return false
	}
	for k := 1; k < utf8.UTFMax && k < len(b); k++ {
		if utf8.Valid(b[:len(b)-k]) {
			return true
		}
	}
	return false
}

// sniffDelimiter chooses, from the header line, the candidate delimiter
// that occurs most often outside quotes; a comma when none occurs.
func sniffDelimiter(head []byte) rune {
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	counts := make([]int, len(delimiters))
	inQuote := false
	for _, c := range head {
		if c == '"' {
			inQuote = !inQuote
			continue
		}
		if inQuote {
			continue
		}
		for i, d := range delimiters {
			if rune(c) == d {
				counts[i]++
			}
		}
	}
	best := 0
	for i := range counts {
		if counts[i] > counts[best] {
			best = i
		}
	}
	return delimiters[best]
}

// latin1Reader decodes ISO 8859-1 to UTF-8.
type latin1Reader struct {
	r   io.Reader
	buf []byte
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	if len(p) < 2 {
		p2 := make([]byte, 2)
		n, err := l.Read(p2)
		if n > len(p) {
			return 0, io.ErrShortBuffer
		}
		return copy(p, p2[:n]), err
	}
	if cap(l.buf) < len(p)/2 {
		l.buf = make([]byte, len(p)/2)
	}
	n, err := l.r.Read(l.buf[:len(p)/2])
	out := p[:0]
	for _, c := range l.buf[:n] {
		out = utf8.AppendRune(out, rune(c))
	}
	return len(out), err
}

// lineLimitReader fails with [ErrLineTooLong] when a line runs past max
// bytes, and counts lines so the error can say where.
type lineLimitReader struct {
	r    io.Reader
	max  int
	run  int // bytes since the last newline
	line int // 1-based line being read
}

func (l *lineLimitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i := 0; i < n; {
		j := bytes.IndexByte(p[i:n], '\n')
		if j < 0 {
			j = n - i
		}
		if l.run+j > l.max {
			return i + l.max - l.run, &lineTooLong{line: l.line}
		}
		l.run += j
		i += j
		if i < n { // at a newline
			l.line++
			l.run = 0
			i++
		}
	}
	return n, err
}

// lineTooLong is the error of a line past [MaxLineBytes].
type lineTooLong struct{ line int }

func (e *lineTooLong) Error() string {
	return fmt.Sprintf("line %d is longer than %d bytes", e.line, MaxLineBytes)
}

func (e *lineTooLong) Unwrap() error { return ErrLineTooLong }
