package match

import (
	"math"
	"strings"
	"unicode"
)

// indexScorer is what the [Index] needs from a matching model: prepare one
// record on its own (independently of any batch), list the blocking-key
// hashes of a prepared record, and score prepared pairs. The index never
// looks inside a prepared value.
type indexScorer interface {
	prepare(r *Record) any
	appendBlockKeys(dst []uint64, p any) []uint64
	// pairScorer returns a scorer able to score the prepared records in
	// need (and any prepared earlier).
	pairScorer(need []any) pairScorer
}

// pairScorer scores a prepared pair: its log2 match weight and probability.
type pairScorer interface {
	score(a, b any) (weight, probability float64)
}

// basicScorer is a small fixed-weight Fellegi–Sunter scorer the index uses
// when it is given no trained model. Its weights are log2 likelihood ratios
// chosen for demographic data with typing errors; its blocking keys are the
// valid NHS number, birth date + family initial + sound, postcode + given
// initial, and birth date + given name prefix (for family name changes).
type basicScorer struct {
	dates *Preparer // reads birth dates by the index's PrepareOptions; nil: defaults
}

// basicPrepared is basicScorer's prepared record.
type basicPrepared struct {
	given, family, middle string
	dob                   Date
	dobOK                 bool
	sex                   byte
	postcode, outward     string
	phone, email          string
	nhs                   string
	number                string // house number, the first token with a digit
}

func (s basicScorer) prepare(r *Record) any {
	p := &basicPrepared{}
	given := r.Given
	family := r.Family
	if len(given) == 0 && family == "" && r.FullName != "" {
		f := strings.Fields(r.FullName)
		if len(f) > 1 {
			given, family = f[:len(f)-1], f[len(f)-1]
		}
	}
	var gs []string
	for _, g := range given {
		gs = append(gs, strings.Fields(foldName(g))...)
	}
	if g := strings.Join(gs, " "); g != "" && !placeholderName(g) {
		p.given = gs[0]
		if len(gs) > 1 {
			p.middle = gs[1]
		}
	}
	if f := foldName(family); !placeholderName(f) {
		p.family = f
	}
	var d Date
	var st DateStatus
	if s.dates != nil {
		d, st = s.dates.parseBirthDate(r.BirthDate, s.dates.dateOrderOf(r))
	} else {
		d, st = readBirthDate(r.BirthDate, DayFirst, DateRange{}.withDefaults())
	}
	if st == DateOK {
		p.dob, p.dobOK = d, true
	}
	switch s := strings.ToLower(strings.TrimSpace(r.Sex)); {
	case strings.HasPrefix(s, "m"):
		p.sex = 'm'
	case strings.HasPrefix(s, "f"):
		p.sex = 'f'
	}
	p.postcode, p.outward = NormalisePostcode(r.Postcode)
	p.phone = NormalisePhone(r.Phone)
	p.email = NormaliseEmail(r.Email)
	if ValidNHSNumber(r.NHSNumber) {
		p.nhs = NormaliseNHSNumber(r.NHSNumber)
	}
	for _, line := range r.Address {
		for f := range strings.FieldsSeq(line) {
			if strings.ContainsAny(f, "0123456789") {
				p.number = strings.ToUpper(f)
				break
			}
		}
		if p.number != "" {
			break
		}
	}
	return p
}

func (basicScorer) pairScorer([]any) pairScorer { return basicScorer{} }

func (basicScorer) appendBlockKeys(dst []uint64, a any) []uint64 {
	p := a.(*basicPrepared)
	var keys [4]string
	ks := basicBlockKeys(keys[:0], p)
	for _, k := range ks {
		dst = append(dst, blockHash(k))
	}
	return dst
}

func basicBlockKeys(dst []string, p *basicPrepared) []string {
	if p.nhs != "" {
		dst = append(dst, "nhs:"+p.nhs)
	}
	if p.dobOK && p.dob.Day != 0 {
		d := p.dob.packed()
		if p.family != "" {
			dst = append(dst, "df:"+itoa(d)+":"+soundexKey(p.family))
		}
		if len(p.given) >= 2 {
			dst = append(dst, "dg:"+itoa(d)+":"+p.given[:2])
		}
	}
	if p.postcode != "" && p.given != "" {
		dst = append(dst, "pg:"+p.postcode+":"+p.given[:1])
	}
	return dst
}

func itoa(u uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			return string(b[i:])
		}
	}
}

// soundexKey is a 4-character American Soundex code of a folded name.
func soundexKey(s string) string {
	codes := "01230120022455012623010202"
	var out [4]byte
	n := 0
	var last byte
	for i := 0; i < len(s) && n < 4; i++ {
		c := s[i]
		if c < 'a' || c > 'z' {
			continue
		}
		code := codes[c-'a']
		if n == 0 {
			out[0] = c - 'a' + 'A'
			n, last = 1, code
			continue
		}
		if code != '0' && code != last {
			out[n] = code
			n++
		}
		if c != 'h' && c != 'w' {
			last = code
		}
	}
	for n < 4 {
		out[n] = '0'
		n++
	}
	return string(out[:])
}

// basicPrior is log2 of the prior odds that two blocked records match.
const basicPrior = -10.0

func (basicScorer) score(x, y any) (float64, float64) {
	a, b := x.(*basicPrepared), y.(*basicPrepared)
	w := basicPrior
	if a.nhs != "" && b.nhs != "" {
		if a.nhs == b.nhs {
			w += 14
		} else {
			w -= 20
		}
	}
	w += nameWeight(a.family, b.family, 8, 4, -5)
	w += nameWeight(a.given, b.given, 6, 3, -4)
	if a.dobOK && b.dobOK {
		switch da, db := a.dob, b.dob; {
		case da == db:
			w += 9
		case da.Year == db.Year && da.Month == db.Day && da.Day == db.Month:
			w += 4 // day and month transposed
		case da.Year == db.Year && (da.Month == db.Month || da.Day == db.Day):
			w += 1
		case da.Month == db.Month && da.Day == db.Day && absInt(da.Year-db.Year) <= 1:
			w += 2
		default:
			w -= 8
		}
	}
	if a.sex != 0 && b.sex != 0 && a.sex != b.sex {
		w -= 3
	}
	switch {
	case a.postcode == "" || b.postcode == "":
	case a.postcode == b.postcode:
		w += 7
	case a.outward != "" && a.outward == b.outward:
		w += 2
	default:
		w -= 2
	}
	if a.number != "" && b.number != "" {
		if a.number == b.number {
			w += 2
		} else {
			w -= 1
		}
	}
	if a.phone != "" && b.phone != "" {
		if a.phone == b.phone {
			w += 6
		} else {
			w -= 1
		}
	}
	if a.email != "" && b.email != "" {
		if a.email == b.email {
			w += 7
		} else {
			w -= 1
		}
	}
	return w, weightProbability(w)
}

// weightProbability turns a log2 match weight into a probability.
func weightProbability(w float64) float64 {
	o := math.Exp2(w)
	if math.IsInf(o, 1) {
		return 1
	}
	return o / (1 + o)
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func nameWeight(a, b string, exact, close, else_ float64) float64 {
	switch {
	case a == "" || b == "":
		return 0
	case a == b:
		return exact
	case JaroWinkler(a, b) >= 0.92:
		return close
	case CanonicalGivenName(a) == CanonicalGivenName(b):
		return close
	}
	return else_
}

// foldName lower-cases s, keeps letters, digits and spaces (hyphens and
// apostrophes become spaces or vanish) and collapses runs of spaces.
func foldName(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r == '\'':
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		default:
			space = true
		}
	}
	return b.String()
}

// placeholderName reports whether a folded name is a placeholder that says
// nothing about who the person is (newborn and unknown-patient conventions).
func placeholderName(s string) bool {
	if s == "" {
		return false
	}
	t := strings.TrimRight(s, "0123456789 ")
	switch t {
	case "baby", "babygirl", "babyboy", "baby girl", "baby boy", "bg", "bb", "girl", "boy",
		"infant", "newborn", "twin", "twin a", "twin b", "unknown", "unk", "nk", "not known",
		"none", "null", "test", "zztest", "xx", "xxx", "anon", "anonymous", "patient", "trauma",
		"john doe", "jane doe", "doe", "na", "n a":
		return true
	}
	return strings.HasPrefix(s, "baby") || strings.HasPrefix(s, "twin ") ||
		strings.HasPrefix(s, "trauma") || strings.HasPrefix(s, "zztest") || strings.HasPrefix(s, "unknown")
}
