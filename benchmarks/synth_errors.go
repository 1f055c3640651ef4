package benchmarks

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// errKind names one error of the error model; errSet is a set of them.
type errKind uint

const (
	errGivenTypo errKind = iota
	errFamilyTypo
	errNickname
	errNameSwap
	errFamilyChange
	errDateTransposed
	errYearOffByOne
	errPlaceholderName
	errPlaceholderDate
	errMissingNHS
	errNHSTypo
	errNHSOther
	errMissingGiven
	errMissingFamily
	errMissingDate
	errMissingSex
	errMissingAddress
	errMoved
	errMissingPhone
	errMissingEmail
	numErrKinds
)

var errKindNames = [numErrKinds]string{
	"GivenTypo", "FamilyTypo", "Nickname", "NameSwap", "FamilyChange", "DateTransposed", "YearOffByOne",
	"PlaceholderName", "PlaceholderDate", "MissingNHS", "NHSTypo", "NHSOther", "MissingGiven", "MissingFamily",
	"MissingDate", "MissingSex", "MissingAddress", "Moved", "MissingPhone", "MissingEmail",
}

// String returns the name of the ErrorRates field for k.
func (k errKind) String() string { return errKindNames[k] }

type errSet uint32

func (s errSet) has(k errKind) bool { return s&(1<<k) != 0 }
func (s *errSet) add(k errKind)     { *s |= 1 << k }

// Field positions in a source record, as in SourceHeader.
const (
	fRecordID = iota
	fNHS
	fGiven
	fFamily
	fBirth
	fSex
	fAddress
	fPostcode
	fPhone
	fEmail
)

// record makes one source record of p, drawing formatting and errors from
// r, and reports which errors it applied.
func (g *generator) record(r *rand.Rand, s int, p *person) ([10]string, errSet) {
	prof := &g.r.profiles[s]
	e := &prof.Errors
	var rec [10]string
	var applied errSet
	id, err := g.recordID(s)
	if err != nil {
		// Capacity is checked up front (People ≤ nhsCapacity < idSpace
		// records per copy); reaching this is a programming error.
		panic(err)
	}
	rec[fRecordID] = id

	// Names.
	given, family := p.given, p.family
	if r.Float64() < e.PlaceholderName {
		applied.add(errPlaceholderName)
		if p.age() < 1 {
			given = "BABY"
		} else {
			given, family = "UNKNOWN", "UNKNOWN"
		}
	} else {
		u := r.Float64()
		switch {
		case u < e.MissingGiven:
			given = ""
			applied.add(errMissingGiven)
		case u < e.MissingGiven+e.Nickname:
			if alias := g.t.nicknames[given]; len(alias) > 0 {
				given = alias[r.IntN(len(alias))]
				applied.add(errNickname)
			}
		case u < e.MissingGiven+e.Nickname+e.GivenTypo:
			given = typo(r, given)
			applied.add(errGivenTypo)
		}
		u = r.Float64()
		switch {
		case u < e.MissingFamily:
			family = ""
			applied.add(errMissingFamily)
		case u < e.MissingFamily+e.FamilyChange:
			if p.female && p.age() >= 18 {
				family = g.newFamily(r, family)
				applied.add(errFamilyChange)
			}
		case u < e.MissingFamily+e.FamilyChange+e.FamilyTypo:
			family = typo(r, family)
			applied.add(errFamilyTypo)
		}
		if r.Float64() < e.NameSwap && given != "" && family != "" {
			given, family = family, given
			applied.add(errNameSwap)
		}
	}
	upperCase := r.Float64() < prof.UpperCase
	if upperCase {
		given, family = strings.ToUpper(given), strings.ToUpper(family)
	}
	rec[fGiven], rec[fFamily] = given, family

	// Birth date.
	y, m, d := p.year, p.month, p.day
	u := r.Float64()
	switch {
	case u < e.PlaceholderDate:
		y, m, d = 1900, 1, 1
		applied.add(errPlaceholderDate)
	case u < e.PlaceholderDate+e.MissingDate:
		y = 0
		applied.add(errMissingDate)
	case u < e.PlaceholderDate+e.MissingDate+e.DateTransposed:
		if d <= 12 && d != m {
			m, d = d, m
			applied.add(errDateTransposed)
		}
	case u < e.PlaceholderDate+e.MissingDate+e.DateTransposed+e.YearOffByOne:
		if r.IntN(2) == 0 {
			y--
		} else {
			y++
		}
		if m == 2 && d == 29 && daysIn(y) == 365 {
			d = 28
		}
		applied.add(errYearOffByOne)
	}
	if y != 0 {
		rec[fBirth] = formatDate(y, m, d)
	}

	// Sex.
	if r.Float64() < e.MissingSex {
		applied.add(errMissingSex)
	} else if p.female {
		rec[fSex] = "F"
	} else {
		rec[fSex] = "M"
	}

	// NHS number.
	nhs := p.nhs
	u = r.Float64()
	switch {
	case u < e.MissingNHS:
		applied.add(errMissingNHS)
	case u < e.MissingNHS+e.NHSTypo:
		nhs = nhsTypo(r, nhs)
		applied.add(errNHSTypo)
	case u < e.MissingNHS+e.NHSTypo+e.NHSOther:
		if g.r.people > 1 {
			other := (p.idx + 1 + r.IntN(g.r.people-1)) % g.r.people
			if g.isTwin(p.idx) && r.IntN(2) == 0 {
				other = p.idx ^ 1 // a twin's number: the classic mix-up
			}
			nhs = g.nhsOf(other)
			applied.add(errNHSOther)
		}
	}
	if !applied.has(errMissingNHS) {
		if r.Float64() < prof.SpacedNHS {
			rec[fNHS] = string(nhs[:3]) + " " + string(nhs[3:6]) + " " + string(nhs[6:])
		} else {
			rec[fNHS] = string(nhs[:])
		}
	}

	// Address, postcode, phone.
	house, town, postal, phone, code := p.house, p.town, p.postal, p.phone, p.phoneCode
	u = r.Float64()
	switch {
	case u < e.MissingAddress:
		house, postal = "", ""
		applied.add(errMissingAddress)
	case u < e.MissingAddress+e.Moved:
		var q person
		g.address(r, &q, town)
		house, town, postal = q.house, q.town, q.postal
		if code > 0 && r.IntN(2) == 0 {
			phone = "" // the old landline went with the old home
		}
		applied.add(errMoved)
	}
	if house != "" {
		addr := house + ", " + town
		if r.Float64() < abbreviateAddress {
			addr = abbreviateStreet(addr)
		}
		if upperCase {
			addr = strings.ToUpper(addr)
		}
		rec[fAddress] = addr
		if r.Float64() < 0.05 {
			postal = strings.ReplaceAll(postal, " ", "")
		}
		rec[fPostcode] = postal
	}
	if phone != "" && r.Float64() < e.MissingPhone {
		phone = ""
		applied.add(errMissingPhone)
	}
	if phone != "" {
		rec[fPhone] = formatPhone(r, phone, code)
	}
	if p.email != "" {
		if r.Float64() < e.MissingEmail {
			applied.add(errMissingEmail)
		} else {
			rec[fEmail] = p.email
		}
	}
	return rec, applied
}

// abbreviateAddress is the probability that a record abbreviates the
// street kind ("Church Rd" for "Church Road"): formatting, not an error.
const abbreviateAddress = 0.2

// streetAbbreviations are the usual UK short forms of street kinds.
var streetAbbreviations = map[string]string{
	"Road": "Rd", "Street": "St", "Avenue": "Ave", "Lane": "Ln", "Drive": "Dr", "Close": "Cl",
	"Crescent": "Cres", "Gardens": "Gdns", "Terrace": "Terr", "Place": "Pl", "Court": "Ct", "Grove": "Gr",
}

// abbreviateStreet abbreviates the street kind, the last word before the
// town ("12 Church Road, Leeds" → "12 Church Rd, Leeds"); other addresses
// are returned unchanged.
func abbreviateStreet(addr string) string {
	i := strings.LastIndexByte(addr, ',')
	if i < 0 {
		return addr
	}
	street := addr[:i]
	j := strings.LastIndexByte(street, ' ')
	short, ok := streetAbbreviations[street[j+1:]]
	if !ok {
		return addr
	}
	return street[:j+1] + short + addr[i:]
}

// newFamily returns a married name: a new surname, or old and new joined
// by a hyphen.
func (g *generator) newFamily(r *rand.Rand, old string) string {
	var n string
	for range 10 {
		n = g.t.surnames.names[g.t.surnames.pick(r)]
		if n != old {
			break
		}
	}
	if n == old {
		n = "Newman"
	}
	if r.Float64() < 0.3 && old != "" {
		return old + "-" + n
	}
	return n
}

func formatDate(y, m, d int) string {
	b := make([]byte, 0, 10)
	b = strconv.AppendInt(b, int64(y), 10)
	b = append(b, '-', byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10))
	return string(b)
}

// formatPhone writes a UK number in one of the ways people write it:
// "07700 900123", "07700900123", "+44 7700 900123", "0113 496 0123".
func formatPhone(r *rand.Rand, digits string, code int) string {
	if code == 0 { // mobile
		switch u := r.Float64(); {
		case u < 0.5:
			return digits[:5] + " " + digits[5:]
		case u < 0.8:
			return digits
		default:
			return "+44 " + digits[1:5] + " " + digits[5:]
		}
	}
	if r.Float64() < 0.3 {
		return digits
	}
	local := digits[code:]
	switch len(local) {
	case 7:
		return digits[:code] + " " + local[:3] + " " + local[3:]
	case 8:
		return digits[:code] + " " + local[:4] + " " + local[4:]
	}
	return digits[:code] + " " + local
}

// qwerty lists, for each lower-case letter, the keys next to it; typos
// favour them as real keying errors do.
var qwerty = [26]string{
	"qwsz", "vghn", "xdfv", "serfcx", "wsdr", "drtgvc", "ftyhbv", "gyujnb", "ujko", "huikmn",
	"jiolm", "kop", "njk", "bhjm", "iklp", "ol", "wa", "edft", "awedxz", "rfgy",
	"yhji", "cfgb", "qase", "zsdc", "tghu", "asx",
}

// typo makes one keying error in s: insert, delete, substitute (a
// neighbouring key) or transpose two adjacent different letters. The
// result always differs from s (an empty s gains one letter). Capitals are
// kept where s had them.
func typo(r *rand.Rand, s string) string {
	b := []byte(s)
	if len(b) == 0 {
		return string(rune('a' + r.IntN(26)))
	}
	for range 8 {
		var out []byte
		switch op := r.IntN(4); {
		case op == 0: // insert a neighbour of the letter before
			i := r.IntN(len(b) + 1)
			c := neighbour(r, b[max(i-1, 0)])
			out = append(append(append(out, b[:i]...), c), b[i:]...)
		case op == 1 && len(b) > 2: // delete
			i := r.IntN(len(b))
			out = append(append(out, b[:i]...), b[i+1:]...)
		case op == 2 && len(b) > 1: // transpose
			i := r.IntN(len(b) - 1)
			if b[i] == b[i+1] {
				continue
			}
			out = append(out, b...)
			out[i], out[i+1] = out[i+1], out[i]
			if i == 0 { // keep the capital at the front
				out[0], out[1] = upper(out[0]), lower(out[1])
			}
		default: // substitute
			i := r.IntN(len(b))
			out = append(out, b...)
			c := neighbour(r, b[i])
			if isUpper(b[i]) {
				c = upper(c)
			}
			out[i] = c
		}
		if o := string(out); o != s && !strings.EqualFold(o, s) {
			return o
		}
	}
	// Fall back to appending a letter: always a change.
	return s + string(neighbour(r, b[len(b)-1]))
}

func neighbour(r *rand.Rand, c byte) byte {
	c = lower(c)
	if c < 'a' || c > 'z' {
		return byte('a' + r.IntN(26))
	}
	n := qwerty[c-'a']
	return n[r.IntN(len(n))]
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 32
	}
	return c
}
func lower(c byte) byte {
	if isUpper(c) {
		return c + 32
	}
	return c
}

// nhsTypo changes one digit or swaps two adjacent different digits. The
// modulus-11 check with distinct weights catches both, so the result is
// always an invalid NHS number.
func nhsTypo(r *rand.Rand, n [10]byte) [10]byte {
	if r.Float64() < 0.4 {
		for range 10 {
			i := r.IntN(9)
			if n[i] != n[i+1] {
				n[i], n[i+1] = n[i+1], n[i]
				return n
			}
		}
	}
	i := r.IntN(10)
	n[i] = byte('0' + (int(n[i]-'0')+1+r.IntN(9))%10)
	return n
}
