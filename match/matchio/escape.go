package matchio

import (
	"strconv"
	"strings"
	"unicode"
)

// formulaStart reports whether a spreadsheet would read a cell starting
// with c as a formula (=, +, -, @) or strip it (tab, carriage return).
func formulaStart(c byte) bool {
	switch c {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}

// needsQuote reports whether s, after any leading apostrophes, starts the
// way a formula does.
func needsQuote(s string) bool {
	t := strings.TrimLeft(s, "'")
	return t != "" && formulaStart(t[0])
}

// EscapeCSVField makes a value safe to write into a CSV file a person may
// open in a spreadsheet: a value a spreadsheet would run as a formula
// ("=HYPERLINK(...)", "+1", "@SUM") gets one leading apostrophe, and so
// does a value that already starts with apostrophes before such a
// character, so that [UnescapeCSVField] restores every value exactly.
// Numbers the program computes (weights) are not passed through it.
func EscapeCSVField(s string) string {
	if needsQuote(s) {
		return "'" + s
	}
	return s
}

// UnescapeCSVField undoes [EscapeCSVField].
func UnescapeCSVField(s string) string {
	if strings.HasPrefix(s, "'") && needsQuote(s[1:]) {
		return s[1:]
	}
	return s
}

// Printable returns s unchanged when every character in it is graphic or
// a space, and otherwise with the others written as Go escapes (\x1b,
// \u202e), so that an id or column name printed to a terminal cannot move
// the cursor, retitle the window or reorder the text around it.
func Printable(s string) string {
	if !strings.ContainsFunc(s, hidden) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if !hidden(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRuneToASCII(r)
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

// hidden reports whether Printable escapes r: a character that is neither
// graphic nor a space, a bidirectional control, or the replacement
// character (which invalid UTF-8 reads as).
func hidden(r rune) bool {
	return r != ' ' && !unicode.IsGraphic(r) || unicode.Is(unicode.Bidi_Control, r) || r == unicode.ReplacementChar
}
