package match

import (
	"strings"
	"unicode/utf8"
)

// foldRune maps common accented Latin letters to their unaccented ASCII
// lower-case base; it returns 0 for runes it does not know.
func foldRune(r rune) rune {
	switch {
	case r >= 'a' && r <= 'z':
		return r
	case r >= 'A' && r <= 'Z':
		return r + 'a' - 'A'
	case r >= '0' && r <= '9':
		return r
	}
	switch r {
	case 'à', 'á', 'â', 'ã', 'ä', 'å', 'ā', 'ă', 'ą', 'À', 'Á', 'Â', 'Ã', 'Ä', 'Å', 'Ā', 'Ă', 'Ą':
		return 'a'
	case 'ç', 'ć', 'č', 'Ç', 'Ć', 'Č':
		return 'c'
	case 'ď', 'đ', 'Ď', 'Đ', 'ð', 'Ð':
		return 'd'
	case 'è', 'é', 'ê', 'ë', 'ē', 'ė', 'ę', 'ě', 'È', 'É', 'Ê', 'Ë', 'Ē', 'Ė', 'Ę', 'Ě':
		return 'e'
	case 'ğ', 'Ğ':
		return 'g'
	case 'ì', 'í', 'î', 'ï', 'ī', 'į', 'ı', 'Ì', 'Í', 'Î', 'Ï', 'Ī', 'Į', 'İ':
		return 'i'
	case 'ł', 'ľ', 'Ł', 'Ľ':
		return 'l'
	case 'ñ', 'ń', 'ň', 'Ñ', 'Ń', 'Ň':
		return 'n'
	case 'ò', 'ó', 'ô', 'õ', 'ö', 'ø', 'ō', 'ő', 'Ò', 'Ó', 'Ô', 'Õ', 'Ö', 'Ø', 'Ō', 'Ő':
		return 'o'
	case 'ř', 'Ř':
		return 'r'
	case 'ś', 'š', 'ş', 'Ś', 'Š', 'Ş':
		return 's'
	case 'ß':
		return 's' // expanded to "ss" by foldText
	case 'ť', 'ţ', 'Ť', 'Ţ':
		return 't'
	case 'ù', 'ú', 'û', 'ü', 'ū', 'ů', 'ű', 'ų', 'Ù', 'Ú', 'Û', 'Ü', 'Ū', 'Ů', 'Ű', 'Ų':
		return 'u'
	case 'ý', 'ÿ', 'Ý', 'Ÿ':
		return 'y'
	case 'ź', 'ż', 'ž', 'Ź', 'Ż', 'Ž':
		return 'z'
	case 'æ', 'Æ':
		return 'a' // expanded to "ae" by foldText
	case 'œ', 'Œ':
		return 'o' // expanded to "oe" by foldText
	}
	return 0
}

// foldText lower-cases s, strips accents, drops apostrophes and turns every
// other non-alphanumeric run into a single space. The result has no leading
// or trailing space. It is idempotent. keepHyphen keeps '-' as a separator
// distinct from a space (as '-').
func foldText(s string, keepHyphen bool) string {
	clean := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == ' ' && i > 0 && i < len(s)-1 && s[i-1] != ' ') {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := make([]byte, 0, len(s))
	space := false
	for _, r := range s {
		if r == '\'' || r == '’' || r == '`' || r == utf8.RuneError {
			continue
		}
		if keepHyphen && r == '-' {
			// Collapse "a - b" into "a-b"; a trailing hyphen is removed below.
			space = false
			if n := len(b); n > 0 && b[n-1] == ' ' {
				b = b[:n-1]
			}
			if n := len(b); n > 0 && b[n-1] != '-' {
				b = append(b, '-')
			}
			continue
		}
		f := foldRune(r)
		if f == 0 {
			space = true
			continue
		}
		if space && len(b) > 0 && b[len(b)-1] != '-' {
			b = append(b, ' ')
		}
		space = false
		b = utf8.AppendRune(b, f)
		switch r {
		case 'ß':
			b = append(b, 's')
		case 'æ', 'Æ', 'œ', 'Œ':
			b = append(b, 'e')
		}
	}
	return strings.TrimRight(string(b), "- ")
}

// nameTitles are honorifics dropped from names.
var nameTitles = map[string]bool{
	"mr": true, "mrs": true, "ms": true, "miss": true, "mx": true, "dr": true, "prof": true,
	"rev": true, "revd": true, "sir": true, "dame": true, "lady": true, "lord": true, "master": true,
	"fr": true, "sr": false, // "sr" is a suffix (senior) unless first
}

// nameSuffixes are generational suffixes: kept apart as a discriminator.
var nameSuffixes = map[string]string{
	"jr": "jr", "jnr": "jr", "junior": "jr", "sr": "sr", "snr": "sr", "senior": "sr",
	"ii": "ii", "iii": "iii", "iv": "iv", "2nd": "ii", "3rd": "iii",
}

// normName is a parsed personal name.
type normName struct {
	given       []string // forename first; placeholders removed
	family      string   // whole family name, parts joined by single spaces
	parts       []string // family name parts (hyphen and space separated)
	suffix      string
	placeholder bool // a placeholder was removed
}

// isPlaceholderGiven reports whether a folded given name (or run of given
// names) is a placeholder such as BABY GIRL or UNKNOWN, including forms such
// as "twin 2" and "baby1".
func isPlaceholderGiven(s string) bool {
	if isPlaceholder("given", s) {
		return true
	}
	t := strings.TrimRight(s, "0123456789 ")
	return t != s && isPlaceholder("given", t) || hasPlaceholderPrefix("given-prefix", s)
}

// parseName normalises given and family name parts.
func parseName(given []string, family string) normName {
	var n normName
	var toks []string
	for _, g := range given {
		toks = append(toks, strings.Fields(strings.ReplaceAll(foldText(g, false), "-", " "))...)
	}
	// titles at the front, suffixes anywhere
	out := toks[:0]
	for i, t := range toks {
		if i == 0 && (nameTitles[t] || t == "sr" && len(toks) > 1) && len(toks) > 1 {
			continue
		}
		if s, ok := nameSuffixes[t]; ok && i > 0 {
			n.suffix = s
			continue
		}
		out = append(out, t)
	}
	toks = out
	if len(toks) > 0 && isPlaceholderGiven(strings.Join(toks, " ")) {
		n.placeholder = true
		toks = nil
	}
	for len(toks) > 0 && isPlaceholderGiven(toks[0]) {
		// "baby jane": drop the placeholder word, keep the name after it.
		n.placeholder = true
		toks = toks[1:]
	}
	n.given = toks

	f := foldText(family, true)
	ftoks := strings.FieldsFunc(f, func(r rune) bool { return r == ' ' || r == '-' })
	fo := ftoks[:0]
	for i, t := range ftoks {
		if s, ok := nameSuffixes[t]; ok && i > 0 {
			n.suffix = s
			continue
		}
		fo = append(fo, t)
	}
	ftoks = fo
	whole := strings.Join(ftoks, "")
	if len(n.given) == 1 && isPlaceholder("whole-name", n.given[0]+" "+whole) ||
		len(n.given) == 0 && n.placeholder && len(toks) == 0 && isPlaceholder("whole-name", "baby "+whole) {
		n.given = nil // John Doe, Jane Doe, Baby Doe: no name at all
		n.placeholder = true
		whole, ftoks = "", nil
	}
	if isPlaceholder("family", whole) || hasPlaceholderPrefix("family-prefix", whole) {
		n.placeholder = true
		ftoks = nil
		whole = ""
	}
	n.family = whole
	if len(ftoks) > 1 {
		n.parts = ftoks
	}
	return n
}

// splitFullName splits an unstructured full name. "FAMILY, Given Middle" is
// read family-first; otherwise the last word is the family name.
func splitFullName(full string) (given []string, family string) {
	if before, after, ok := strings.Cut(full, ","); ok {
		return strings.Fields(after), strings.TrimSpace(before)
	}
	f := strings.Fields(full)
	// Drop trailing suffixes before choosing the family name.
	end := len(f)
	for end > 1 {
		if _, ok := nameSuffixes[foldText(f[end-1], false)]; ok {
			end--
			continue
		}
		break
	}
	if end == 0 {
		return nil, ""
	}
	if end == 1 {
		return nil, f[0]
	}
	return append(f[:end-1:end-1], f[end:]...), f[end-1]
}

// Date is a parsed date of birth: Year, Month and Day, with Month or Day
// zero when the source gave only a year or a year and month.
type Date struct {
	Year  int
	Month int
	Day   int
}

// IsZero reports whether d holds no date.
func (d Date) IsZero() bool { return d.Year == 0 }

// packed returns d as yyyymmdd.
func (d Date) packed() uint32 { return uint32(d.Year*10000 + d.Month*100 + d.Day) }

// DateStatus says what [ParseDate] made of its input.
type DateStatus uint8

// Date statuses.
const (
	// DateMissing means the input was empty.
	DateMissing DateStatus = iota
	// DateOK means the input was a real, plausible date (possibly partial).
	DateOK
	// DateInvalid means the input could not be read as a date, or named a
	// day that does not exist; it is flagged, never guessed.
	DateInvalid
	// DatePlaceholder means a default or sentinel date such as 1900-01-01;
	// it carries no weight and is never a blocking key.
	DatePlaceholder
	// DateOutOfRange means a real date outside the plausible range of
	// birth dates (see [PrepareOptions.BirthDates]); it is treated as
	// missing, and a preparer counts it.
	DateOutOfRange
)

func daysIn(y, m int) int {
	switch m {
	case 1, 3, 5, 7, 8, 10, 12:
		return 31
	case 4, 6, 9, 11:
		return 30
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	}
	return 0
}

func atoiN(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// ParseDate reads a birth date in the common formats: YYYYMMDD, YYYY-MM-DD
// (also with '/' or '.', and an ISO time suffix), DD/MM/YYYY (also with '-'
// or '.'; read as MM/DD/YYYY only when the first part cannot be a month's
// day order otherwise, that is when the second part is above 12), and the
// FHIR partial forms YYYY and YYYY-MM. A day that does not exist is
// DateInvalid, not corrected. Sentinel defaults (1900-01-01, 1901-01-01,
// 1800-01-01, 1899-12-31, 0001-01-01, 9999-12-31) are DatePlaceholder; a
// year before 1880 or after 2100 is DateOutOfRange.
//
// ParseDate reads one value on its own. A preparer reads a source's
// ambiguous values (01/02/2003) in the order the source's unambiguous
// values show, and checks the range set by [PrepareOptions.BirthDates].
func ParseDate(s string) (Date, DateStatus) {
	d, st := parseDate(s, false)
	if st == DateOK && !(DateRange{From: Date{1880, 1, 1}, To: Date{2100, 12, 31}}).contains(d) {
		return d, DateOutOfRange
	}
	return d, st
}

// splitDMY splits a date written with the year last (dd/mm/yyyy or
// mm/dd/yyyy, with '/', '-' or '.'), returning its first two parts;
// ok is false for any other form.
func splitDMY(s string) (a, b, y int, ok bool) {
	sep := strings.IndexAny(s, "-/.")
	if sep != 1 && sep != 2 {
		return 0, 0, 0, false
	}
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '/' || r == '.' })
	if len(parts) != 3 || len(parts[2]) != 4 || len(parts[1]) > 2 {
		return 0, 0, 0, false
	}
	a, ok = atoiN(parts[0])
	if ok {
		b, ok = atoiN(parts[1])
	}
	if ok {
		y, ok = atoiN(parts[2])
	}
	return a, b, y, ok
}

// parseDate is [ParseDate] without the range check. monthFirst says how
// to read a year-last value whose first two parts could each be the month;
// a value only one order can read is read that way whatever monthFirst.
func parseDate(s string, monthFirst bool) (Date, DateStatus) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Date{}, DateMissing
	}
	if i := strings.IndexByte(s, 'T'); i == 10 {
		s = s[:10]
	}
	var y, m, d int
	var ok bool
	sep := strings.IndexAny(s, "-/.")
	switch {
	case sep < 0 && len(s) == 8:
		y, ok = atoiN(s[:4])
		if ok {
			m, ok = atoiN(s[4:6])
		}
		if ok {
			d, ok = atoiN(s[6:])
		}
	case sep < 0 && len(s) == 4:
		y, ok = atoiN(s)
	case sep == 4:
		parts := strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '/' || r == '.' })
		if len(parts) < 2 || len(parts) > 3 || len(parts[0]) != 4 {
			return Date{}, DateInvalid
		}
		y, ok = atoiN(parts[0])
		if ok {
			m, ok = atoiN(parts[1])
		}
		if ok && len(parts) == 3 {
			d, ok = atoiN(parts[2])
			if ok && d == 0 {
				ok = false
			}
		}
		if ok && m == 0 {
			ok = false
		}
	case sep == 1 || sep == 2:
		var a, b int
		a, b, y, ok = splitDMY(s)
		if !ok {
			return Date{}, DateInvalid
		}
		d, m = a, b
		if monthFirst && a <= 12 || b > 12 && a <= 12 {
			d, m = b, a // month first: by the source's order, or because b cannot be a month
		}
		if d == 0 || m == 0 {
			ok = false
		}
	}
	if !ok {
		return Date{}, DateInvalid
	}
	if m < 0 || m > 12 || (m > 0 && (d < 0 || d > daysIn(y, m))) || (m == 0 && d != 0) {
		return Date{}, DateInvalid
	}
	dt := Date{Year: y, Month: m, Day: d}
	if isSentinelDate(dt) {
		return dt, DatePlaceholder
	}
	return dt, DateOK
}

// isSentinelDate reports whether d is a default that systems write when
// the birth date is unknown.
func isSentinelDate(d Date) bool {
	if !(d.Month == 1 && d.Day == 1 || d.Month == 12 && d.Day == 31) {
		return false // every entry is 1 January or 31 December: no lookup for most dates
	}
	return isPlaceholder("date", d.ISO())
}

// NormalisePostcode returns a postcode in canonical form and its outward
// (district) part. A UK postcode becomes upper case with one space before
// the three-character inward code ("sw1a1aa" → "SW1A 1AA", outward "SW1A").
// Anything else (a numeric postcode, a ZIP) is upper-cased with spaces
// removed, and its outward part is all but the last character, a coarse
// district for comparison.
func NormalisePostcode(s string) (canonical, outward string) {
	var b [16]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			continue
		}
		if n == len(b) {
			return "", ""
		}
		b[n] = c
		n++
	}
	if n == 0 {
		return "", ""
	}
	p := b[:n]
	if isUKPostcode(p) {
		out := string(p[:n-3])
		return out + " " + string(p[n-3:]), out
	}
	allSame := true
	for i := 1; i < n; i++ {
		if p[i] != p[0] {
			allSame = false
		}
	}
	if allSame && n > 2 { // 0000, ZZZZ: placeholders
		return "", ""
	}
	if n < 2 {
		return string(p), ""
	}
	return string(p), string(p[:n-1])
}

func isUKPostcode(p []byte) bool {
	n := len(p)
	if n < 5 || n > 7 {
		return false
	}
	letter := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	in := p[n-3:]
	if !digit(in[0]) || !letter(in[1]) || !letter(in[2]) {
		return false
	}
	out := p[:n-3]
	if !letter(out[0]) {
		return false
	}
	// outward: A9, A99, AA9, AA99, A9A, AA9A
	switch len(out) {
	case 2:
		return digit(out[1])
	case 3:
		return digit(out[1]) && (digit(out[2]) || letter(out[2])) || letter(out[1]) && digit(out[2])
	case 4:
		return letter(out[1]) && digit(out[2]) && (digit(out[3]) || letter(out[3]))
	}
	return false
}

// NormalisePhone keeps the digits of a telephone number, turns a UK
// international prefix (+44 or 0044) into the trunk 0, and returns "" for
// numbers too short to identify anyone and for placeholders (one digit
// repeated, 0123456789 and similar runs).
func NormalisePhone(s string) string {
	var b [24]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			if n == len(b) {
				return ""
			}
			b[n] = c
			n++
		}
	}
	p := b[:n]
	switch {
	case n >= 12 && p[0] == '0' && p[1] == '0' && p[2] == '4' && p[3] == '4':
		p = p[3:]
		p[0] = '0'
	case n >= 11 && p[0] == '4' && p[1] == '4' && strings.HasPrefix(strings.TrimSpace(s), "+"):
		p = p[1:]
		p[0] = '0'
	}
	if len(p) < 6 {
		return ""
	}
	same, up, down := true, true, true
	for i := 1; i < len(p); i++ {
		if p[i] != p[0] {
			same = false
		}
		if p[i] != (p[i-1]-'0'+1)%10+'0' {
			up = false
		}
		if p[i] != (p[i-1]-'0'+9)%10+'0' {
			down = false
		}
	}
	// A number that is one digit repeated, or a run, after a trunk 0.
	rest := p
	if rest[0] == '0' && len(rest) > 6 {
		rs := true
		for i := 2; i < len(rest); i++ {
			if rest[i] != rest[1] {
				rs = false
			}
		}
		same = same || rs
	}
	if same || up || down {
		return ""
	}
	return string(p)
}

// NormaliseEmail lower-cases and trims an e-mail address and returns "" for
// anything without a local part and domain or for a placeholder local part
// (none@, noemail@, unknown@, test@...).
func NormaliseEmail(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.ContainsAny(s, " \t") {
		return ""
	}
	if isPlaceholder("email-local", s[:at]) {
		return ""
	}
	return s
}

// normIdentifier normalises an identifier value: upper case, separators
// (space, hyphen, dot, slash) removed. Values of one repeated character are
// placeholders and become "".
func normIdentifier(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			b.WriteByte(c - ('a' - 'A'))
		case c == ' ' || c == '-' || c == '.' || c == '/' || c == '\t':
		default:
			b.WriteByte(c)
		}
	}
	v := b.String()
	if v == "" {
		return ""
	}
	same := true
	for i := 1; i < len(v); i++ {
		if v[i] != v[0] {
			same = false
			break
		}
	}
	if same || isPlaceholder("identifier", v) {
		return ""
	}
	return v
}

// normSex maps a sex or gender value to 'm', 'f' or 0 (unknown).
func normSex(s string) byte {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "m", "male", "man", "1", "boy":
		return 'm'
	case "f", "female", "woman", "2", "girl", "w":
		return 'f'
	}
	return 0
}

// normAddress splits address lines into a house number and the remaining
// words. The words are sorted so that lines given in a different order
// still agree; common street-type abbreviations are expanded.
func normAddress(lines []string) (number, rest string) {
	words := make([]string, 0, 8)
	for _, l := range lines {
		for w := range strings.FieldsSeq(foldText(l, false)) {
			if number == "" && w[0] >= '0' && w[0] <= '9' {
				number = w
				continue
			}
			if e, ok := streetAbbrev[w]; ok {
				w = e
			}
			words = append(words, w)
		}
	}
	if len(words) == 0 {
		return number, ""
	}
	sortStrings(words)
	return number, strings.Join(words, " ")
}

var streetAbbrev = map[string]string{
	"st": "street", "rd": "road", "ave": "avenue", "av": "avenue", "ln": "lane", "dr": "drive",
	"cres": "crescent", "cl": "close", "ct": "court", "pl": "place", "sq": "square", "gdns": "gardens",
	"tce": "terrace", "cct": "circuit", "hwy": "highway", "pde": "parade",
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
