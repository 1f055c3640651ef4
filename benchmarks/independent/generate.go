package independent

import (
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/carelens/carelens/nhsnumber"
)

// Params sets one cohort. The zero value of a field is not a default:
// Setting fills every field.
type Params struct {
	People      int     // people in the population (records are about 2.3 per person)
	Sources     int     // 3 (gp, hospital, community) or 4 (and ambulance)
	NHSCoverage float64 // share of records that carry the person's NHS number
	ErrorRate   float64 // base rate of typos, date slips and wrong values
	GivenNames  int     // given names per sex in use (at most the list's length)
	FamilyNames int     // family names in use (the list, then compounds)
	Zipf        float64 // exponent of name frequency by rank: 1/(rank+1)^Zipf
	Seed        uint64
}

// Name is a short label for the setting, used for subtests and file names.
func (p Params) Name() string {
	return fmt.Sprintf("n%d-src%d-nhs%02.0f-err%02.0f-vocab%d", p.People, p.Sources, p.NHSCoverage*100, p.ErrorRate*100, p.FamilyNames)
}

// Field is a column of a generated source file.
type Field int

// The fields every source may write, in column order.
const (
	FID Field = iota
	FNHS
	FGiven
	FFamily
	FBirthDate
	FSex
	FAddress
	FTown
	FPostcode
	FPhone
	FEmail
	nFields
)

var fieldNames = [nFields]string{"id", "nhs", "given", "family", "birth_date", "sex", "address", "town", "postcode", "phone", "email"}

func (f Field) String() string { return fieldNames[f] }

// sourceSpec is how one organisation writes its extract.
type sourceSpec struct {
	name     string
	prefix   string          // record id prefix
	header   [nFields]string // column names; "" = the source has no such column
	presence float64         // share of people registered here
	dup      float64         // share of this source's people registered twice
	date     func(y, m, d int) string
	phoneFmt func(digits string) string
	sexLong  bool // "Male"/"Female" rather than "M"/"F"
	upper    int  // 0 as entered, 1 family name in capitals, 2 both names in capitals
	townIn   bool // town appended to the address line
	pcNoGap  bool // postcode written without its space
	emailP   float64
	phoneP   float64
	landline bool // prefers the household's landline to the person's mobile
}

var sourceSpecs = []sourceSpec{
	{
		name: "gp", prefix: "G",
		header:   [nFields]string{"patient_id", "nhs_number", "forename", "surname", "dob", "sex", "address_line_1", "town", "postcode", "phone", "email"},
		presence: 0.93, dup: 0.005,
		date:     func(y, m, d int) string { return fmt.Sprintf("%02d/%02d/%04d", d, m, y) },
		phoneFmt: func(s string) string { return s[:5] + " " + s[5:] },
		emailP:   0.6, phoneP: 0.8,
	},
	{
		name: "hospital", prefix: "RX",
		header:   [nFields]string{"mrn", "nhs_no", "first_name", "last_name", "date_of_birth", "gender", "address1", "city", "post_code", "mobile", "email_address"},
		presence: 0.6, dup: 0.02,
		date:     func(y, m, d int) string { return fmt.Sprintf("%04d-%02d-%02d", y, m, d) },
		phoneFmt: func(s string) string { return "+44 " + s[1:5] + " " + s[5:] },
		sexLong:  true, upper: 1, pcNoGap: true,
		emailP: 0.4, phoneP: 0.7,
	},
	{
		name: "community", prefix: "C",
		header:   [nFields]string{"client_id", "nhs", "given_name", "family_name", "birth_date", "sex", "street_address", "", "postcode", "telephone", ""},
		presence: 0.4, dup: 0.01,
		date:     func(y, m, d int) string { return fmt.Sprintf("%04d%02d%02d", y, m, d) },
		phoneFmt: func(s string) string { return s },
		upper:    2, townIn: true,
		phoneP: 0.75, landline: true,
	},
	{
		name: "ambulance", prefix: "A",
		header:   [nFields]string{"record_id", "nhsnumber", "firstname", "lastname", "birthdate", "gender", "address", "locality", "pcode", "contact_number", ""},
		presence: 0.3, dup: 0.01,
		date:     func(y, m, d int) string { return fmt.Sprintf("%d/%d/%04d", d, m, y) },
		phoneFmt: func(s string) string { return "(" + s[:5] + ") " + s[5:8] + " " + s[8:] },
		sexLong:  true,
		phoneP:   0.6,
	},
}

// Address is where a household lives.
type Address struct {
	Number       int
	Street, Town string
	Postcode     string
	Landline     string // 11 digits, or ""
	townIdx      int
}

// Line is the first address line.
func (a Address) Line() string { return strconv.Itoa(a.Number) + " " + a.Street }

// Person is one member of the population, as they are (before any source
// writes them down).
type Person struct {
	ID, Household int
	Female        bool
	Given, Family string
	Maiden        string // birth family name of a woman who took her partner's; "" otherwise
	Year, Month   int
	Day           int
	NHS           string
	Mobile        string
	Email         string
	Home          Address
	Old           *Address // previous address a source may still hold; nil if none
	Twin          int      // the twin's person id, or -1
}

// Record is one row of one source file, as written, with the variations
// applied to it.
type Record struct {
	Source string
	Person int
	Values [nFields]string
	Notes  []string // what differs from the person: "moved", "maiden", "nickname", "typo-given", "dob-swap", "no-nhs", ...
	dob    [3]int   // the birth date written (year, month, day), zero if none
}

// ID is the record id.
func (r *Record) ID() string { return r.Values[FID] }

// Has reports whether the record carries note n.
func (r *Record) Has(n string) bool { return slices.Contains(r.Notes, n) }

// Cohort is a generated population and what the sources hold about it.
type Cohort struct {
	Params  Params
	People  []Person
	Records []Record
	specs   []sourceSpec
}

// zipf draws ranks 0..n-1 with probability proportional to 1/(rank+1)^s.
type zipf struct{ cum []float64 }

func newZipf(n int, s float64) zipf {
	z := zipf{cum: make([]float64, n)}
	t := 0.0
	for i := range n {
		t += 1 / math.Pow(float64(i+1), s)
		z.cum[i] = t
	}
	for i := range z.cum {
		z.cum[i] /= t
	}
	return z
}

func (z zipf) draw(r *rand.Rand) int {
	return min(sort.SearchFloat64s(z.cum, r.Float64()), len(z.cum)-1)
}

// vocabulary builds the family-name list of size n: the written list, then
// stem+ending compounds in a fixed shuffled order.
func familyVocabulary(n int) []string {
	out := slices.Clone(familyNames)
	if n <= len(out) {
		return out[:n]
	}
	var extra []string
	for _, s := range familyStems {
		for _, e := range familyEndings {
			extra = append(extra, s+e)
		}
	}
	rand.New(rand.NewPCG(7, 11)).Shuffle(len(extra), func(i, j int) { extra[i], extra[j] = extra[j], extra[i] })
	for _, e := range extra {
		if len(out) == n {
			break
		}
		if !slices.Contains(familyNames, e) {
			out = append(out, e)
		}
	}
	return out
}

// Generate builds the cohort p describes; the same p gives the same cohort.
//
// The population is built household by household: a single adult, a
// couple, a couple with children or a lone parent with children, at one
// address with, for some, a shared landline. Given names are drawn by sex
// and family names by rank with a Zipf curve over a vocabulary of the size
// p sets, so unrelated people often share a full name, and among many
// people a birth date too. A woman in a couple usually took her partner's
// family name, keeping her birth name as Maiden. 3.5% of births are twins
// (same family name, birth date and address, different given names). 12%
// of households have moved: a source may still hold the old address,
// postcode and landline. People have an NHS number with a valid modulus-11
// check digit, usually a mobile, and usually an e-mail address made from
// their name (isla.elliott39@...), unique in the population.
//
// Each person is registered at each source with that source's probability
// (at least one), some twice at one source. Per record: the NHS number is
// present with probability p.NHSCoverage; one source may hold the maiden
// name (35% of such women), one a nickname (20% of those who have one),
// one the old address (everyone in a moved household); typos (insertion,
// deletion, transposition, keyboard slip, OCR confusion such as rn/m or
// cl/d) hit names at p.ErrorRate and other fields less often; birth dates
// have day and month transposed (0.3 × ErrorRate, when both are <= 12) or a
// digit slip (0.2 × ErrorRate); fields go missing at fixed small rates.
// Sources differ in columns, date format (dd/mm/yyyy, yyyy-mm-dd, yyyymmdd,
// d/m/yyyy), phone format, capitals and postcode spacing.
func Generate(p Params) *Cohort {
	r := rand.New(rand.NewPCG(p.Seed, 0x1dea))
	c := &Cohort{Params: p, specs: sourceSpecs[:p.Sources]}
	male := maleGiven[:min(p.GivenNames, len(maleGiven))]
	female := femaleGiven[:min(p.GivenNames, len(femaleGiven))]
	fams := familyVocabulary(p.FamilyNames)
	zm, zf, zs := newZipf(len(male), p.Zipf), newZipf(len(female), p.Zipf), newZipf(len(fams), p.Zipf)
	given := func(female bool, avoid []string) string {
		for range 50 {
			var g string
			if female {
				g = femaleGiven[zf.draw(r)]
			} else {
				g = maleGiven[zm.draw(r)]
			}
			if !slices.Contains(avoid, g) {
				return g
			}
		}
		return fmt.Sprintf("%s%c", avoid[0], 'a'+r.IntN(26)) // vocabulary too small for distinct siblings
	}
	family := func() string { return fams[zs.draw(r)] }
	usedNHS := map[string]bool{}
	nhs := func() string {
		for {
			first := fmt.Sprintf("%d%08d", 4+r.IntN(4), r.IntN(100_000_000))
			if d, ok := nhsnumber.CheckDigit(first); ok {
				s := first + string(rune('0'+d))
				if d > 9 {
					s = first + string(rune(d))
				}
				if nhsnumber.Valid(s) && !usedNHS[s] {
					usedNHS[s] = true
					return s
				}
			}
		}
	}
	pcUsed := map[string]bool{}
	address := func(townIdx int) Address {
		if townIdx < 0 {
			townIdx = newZipf(len(towns), 0.8).draw(r)
		}
		t := towns[townIdx]
		a := Address{
			Number: 1 + r.IntN(120),
			Street: streetNames[r.IntN(len(streetNames))] + " " + streetKinds[r.IntN(len(streetKinds))],
			Town:   t.name, townIdx: townIdx,
		}
		for {
			a.Postcode = fmt.Sprintf("%s%d %d%c%c", t.area, 1+r.IntN(28), r.IntN(10), 'A'+r.IntN(26), 'A'+r.IntN(26))
			if !pcUsed[a.Postcode] || r.IntN(4) == 0 { // several households share a postcode
				pcUsed[a.Postcode] = true
				break
			}
		}
		if r.Float64() < 0.45 {
			a.Landline = fmt.Sprintf("01%d%07d", 100+r.IntN(900), r.IntN(10_000_000))[:11]
		}
		return a
	}
	usedEmail := map[string]bool{}
	email := func(g, f string, year int) string {
		clean := func(s string) string {
			return strings.Map(func(r rune) rune {
				if unicode.IsLetter(r) {
					return unicode.ToLower(r)
				}
				return -1
			}, s)
		}
		g, f = clean(g), clean(f)
		var local string
		switch r.IntN(5) {
		case 0:
			local = g + "." + f
		case 1:
			local = g + f
		case 2:
			local = g[:1] + "." + f
		case 3:
			local = g + "_" + f
		default:
			local = f + "." + g
		}
		switch r.IntN(3) {
		case 0:
			local += strconv.Itoa(year % 100)
		case 1:
			local += strconv.Itoa(1 + r.IntN(99))
		}
		dom := emailDomains[newZipf(len(emailDomains), 1).draw(r)]
		e := local + "@" + dom
		for n := 2; usedEmail[e]; n++ {
			e = local + strconv.Itoa(n) + "@" + dom
		}
		usedEmail[e] = true
		return e
	}
	add := func(h int, female bool, g, f string, y, m, d int, home Address, old *Address) int {
		pp := Person{ID: len(c.People), Household: h, Female: female, Given: g, Family: f, Year: y, Month: m, Day: d, NHS: nhs(), Home: home, Old: old, Twin: -1}
		if r.Float64() < 0.85 && y <= 2012 {
			pp.Mobile = fmt.Sprintf("07%d%08d", 4+r.IntN(6), r.IntN(100_000_000))
		}
		if r.Float64() < 0.8 && y <= 2010 {
			pp.Email = email(g, f, y)
		}
		c.People = append(c.People, pp)
		return pp.ID
	}
	date := func(y int) (int, int, int) {
		m := 1 + r.IntN(12)
		return y, m, 1 + r.IntN(daysIn(y, m))
	}
	for h := 0; len(c.People) < p.People; h++ {
		home := address(-1)
		var old *Address
		if r.Float64() < 0.12 {
			town := -1
			if r.IntN(2) == 0 {
				town = home.townIdx
			}
			o := address(town)
			old = &o
		}
		fam := family()
		kind := r.Float64()
		var mother, motherYear = -1, 0
		switch {
		case kind < 0.30: // one adult
			f := r.IntN(2) == 0
			y, m, d := date(1930 + r.IntN(75))
			add(h, f, given(f, nil), fam, y, m, d, home, old)
			continue
		default: // couple, or lone mother, and maybe children
			y, m, d := date(1935 + r.IntN(68))
			motherYear = y
			var maiden string
			if kind < 0.88 { // a couple
				my, mm, md := date(clamp(y+r.IntN(9)-3, 1930, 2004))
				add(h, false, given(false, nil), fam, my, mm, md, home, old)
				if r.Float64() < 0.75 {
					maiden = family()
				}
			}
			if maiden == fam {
				maiden = ""
			}
			famW := fam
			if maiden == "" && kind < 0.88 && r.Float64() < 0.3 {
				famW = family() // kept her own name
			}
			mother = add(h, true, given(true, nil), famW, y, m, d, home, old)
			c.People[mother].Maiden = maiden
			if kind < 0.55 {
				continue // no children
			}
		}
		var names []string
		for range 1 + r.IntN(3) {
			cy := motherYear + 20 + r.IntN(21)
			if cy > 2024 {
				cy = 2005 + r.IntN(20)
			}
			y, m, d := date(cy)
			f1 := r.IntN(2) == 0
			g1 := given(f1, names)
			names = append(names, g1)
			a := add(h, f1, g1, fam, y, m, d, home, old)
			if r.Float64() < 0.035 {
				f2 := f1
				if r.IntN(3) == 0 {
					f2 = !f1
				}
				g2 := given(f2, names)
				names = append(names, g2)
				b := add(h, f2, g2, fam, y, m, d, home, old)
				c.People[a].Twin, c.People[b].Twin = b, a
			}
		}
	}
	c.People = c.People[:p.People]
	for i := range c.People {
		if t := c.People[i].Twin; t >= p.People {
			c.People[i].Twin = -1
		}
	}
	c.records(r)
	return c
}

func clamp(v, lo, hi int) int { return max(lo, min(hi, v)) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// records writes every person down at the sources that hold them.
func (c *Cohort) records(r *rand.Rand) {
	usedID := map[string]bool{}
	newID := func(s sourceSpec) string {
		for {
			id := fmt.Sprintf("%s%08d", s.prefix, r.IntN(100_000_000))
			if !usedID[id] {
				usedID[id] = true
				return id
			}
		}
	}
	var at []int
	for i := range c.People {
		pe := &c.People[i]
		at = at[:0]
		for s, spec := range c.specs {
			if r.Float64() < spec.presence {
				at = append(at, s)
			}
		}
		if len(at) == 0 {
			at = append(at, 0)
		}
		pick := func(prob float64) int {
			if len(at) < 2 || r.Float64() >= prob {
				return -1
			}
			return at[r.IntN(len(at))]
		}
		stale, maiden, nick := -1, -1, -1
		if pe.Old != nil {
			stale = pick(1)
		}
		if pe.Maiden != "" {
			maiden = pick(0.35)
		}
		if _, ok := nicknames[pe.Given]; ok {
			nick = pick(0.2)
		}
		for _, s := range at {
			n := 1
			if r.Float64() < c.specs[s].dup {
				n = 2
			}
			for k := range n {
				rec := c.write(r, pe, s, s == stale, s == maiden, s == nick)
				rec.Values[FID] = newID(c.specs[s])
				if k == 1 {
					rec.Notes = append(rec.Notes, "dup")
				}
				c.Records = append(c.Records, rec)
			}
		}
	}
}

// write is person pe as source s writes them.
func (c *Cohort) write(r *rand.Rand, pe *Person, s int, stale, maiden, nick bool) Record {
	spec := c.specs[s]
	e := c.Params.ErrorRate
	rec := Record{Source: spec.name, Person: pe.ID}
	note := func(n string) { rec.Notes = append(rec.Notes, n) }
	chance := func(q float64) bool { return r.Float64() < q }

	if chance(c.Params.NHSCoverage) {
		v := pe.NHS
		if chance(e * 0.1) {
			v = digitSlip(r, v)
			note("nhs-typo")
		}
		if s%2 == 1 {
			v = v[:3] + " " + v[3:6] + " " + v[6:]
		}
		rec.Values[FNHS] = v
	} else {
		note("no-nhs")
	}

	g := pe.Given
	if nick {
		alts := nicknames[g]
		g = alts[r.IntN(len(alts))]
		note("nickname")
	}
	if chance(e) {
		g = typo(r, g)
		note("typo-given")
	}
	if chance(0.004) {
		g = ""
		note("no-given")
	}
	f := pe.Family
	if maiden {
		f = pe.Maiden
		note("maiden")
	}
	if chance(e) {
		f = typo(r, f)
		note("typo-family")
	}
	switch spec.upper {
	case 2:
		g = strings.ToUpper(g)
		f = strings.ToUpper(f)
	case 1:
		f = strings.ToUpper(f)
	}
	rec.Values[FGiven], rec.Values[FFamily] = g, f

	y, m, d := pe.Year, pe.Month, pe.Day
	switch {
	case d <= 12 && d != m && chance(e*0.3):
		m, d = d, m
		note("dob-swap")
	case chance(e * 0.2):
		switch r.IntN(3) {
		case 0:
			d = clamp(d+1-2*r.IntN(2), 1, daysIn(y, m))
		case 1:
			y += 1 - 2*r.IntN(2)
		default:
			y += 10 - 20*r.IntN(2)
		}
		if y > 2025 { // no slip into the future: the other way
			y = 2*pe.Year - y
		}
		note("dob-slip")
	}
	if chance(0.01) {
		note("no-dob")
	} else {
		rec.Values[FBirthDate] = spec.date(y, m, d)
		rec.dob = [3]int{y, m, d}
	}

	if !chance(0.01 + e*0.05) {
		female := pe.Female
		if chance(e * 0.05) {
			female = !female
			note("sex-wrong")
		}
		switch {
		case spec.sexLong && female:
			rec.Values[FSex] = "Female"
		case spec.sexLong:
			rec.Values[FSex] = "Male"
		case female:
			rec.Values[FSex] = "F"
		default:
			rec.Values[FSex] = "M"
		}
	}

	a := pe.Home
	if stale {
		a = *pe.Old
		note("moved")
	}
	if !chance(0.04) {
		line := a.Line()
		if chance(e * 0.5) {
			line = typo(r, line)
			note("typo-address")
		}
		if spec.townIn {
			line += ", " + a.Town
		}
		if spec.upper == 2 {
			line = strings.ToUpper(line)
		}
		rec.Values[FAddress] = line
		if spec.header[FTown] != "" {
			rec.Values[FTown] = a.Town
		}
	} else {
		note("no-address")
	}
	if !chance(0.05) {
		pc := a.Postcode
		if chance(e * 0.3) {
			pc = postcodeSlip(r, pc)
			note("typo-postcode")
		}
		if spec.pcNoGap {
			pc = strings.ReplaceAll(pc, " ", "")
		}
		rec.Values[FPostcode] = pc
	} else {
		note("no-postcode")
	}

	if chance(spec.phoneP) {
		ph := pe.Mobile
		if (spec.landline || ph == "") && a.Landline != "" {
			ph = a.Landline
		}
		if ph != "" {
			if chance(e * 0.3) {
				ph = digitSlip(r, ph)
				note("typo-phone")
			}
			rec.Values[FPhone] = spec.phoneFmt(ph)
		}
	}
	if spec.header[FEmail] != "" && pe.Email != "" && chance(spec.emailP) {
		em := pe.Email
		if chance(e * 0.2) {
			em = typo(r, em)
			note("typo-email")
		}
		rec.Values[FEmail] = em
	}
	return rec
}

// digitSlip changes one digit (not the first) of a string of digits.
func digitSlip(r *rand.Rand, s string) string {
	b := []byte(s)
	i := 1 + r.IntN(len(b)-1)
	b[i] = '0' + byte((int(b[i]-'0')+1+r.IntN(9))%10)
	return string(b)
}

// postcodeSlip changes one character of the inward part.
func postcodeSlip(r *rand.Rand, pc string) string {
	b := []byte(pc)
	i := len(b) - 1 - r.IntN(3)
	if b[i] >= '0' && b[i] <= '9' {
		b[i] = '0' + byte((int(b[i]-'0')+1+r.IntN(9))%10)
	} else {
		b[i] = 'A' + byte((int(b[i]-'A')+1+r.IntN(25))%26)
	}
	return string(b)
}

var keyboard = map[rune]string{
	'q': "wa", 'w': "qes", 'e': "wrd", 'r': "etf", 't': "ryg", 'y': "tuh", 'u': "yij", 'i': "uok", 'o': "ipl", 'p': "ol",
	'a': "qsz", 's': "adwx", 'd': "sfec", 'f': "dgrv", 'g': "fhtb", 'h': "gjyn", 'j': "hkum", 'k': "jli", 'l': "kop",
	'z': "asx", 'x': "zcs", 'c': "xvd", 'v': "cbf", 'b': "vng", 'n': "bmh", 'm': "nj",
}

var ocr = [][2]string{{"rn", "m"}, {"m", "rn"}, {"cl", "d"}, {"d", "cl"}, {"li", "h"}, {"h", "li"}, {"u", "v"}, {"v", "u"}, {"e", "c"}, {"a", "o"}, {"o", "a"}, {"i", "l"}, {"l", "i"}, {"w", "vv"}, {"n", "ri"}}

// typo makes one error a person or a scanner makes: insertion, deletion,
// transposition of neighbours, a keyboard slip or an OCR confusion.
func typo(r *rand.Rand, s string) string {
	rs := []rune(s)
	if len(rs) < 3 {
		return s
	}
	title := unicode.IsUpper(rs[0])
	i := 1 + r.IntN(len(rs)-1) // errors rarely hit the first letter
	lower := unicode.ToLower(rs[i])
	slip := func() rune {
		if n := keyboard[lower]; n != "" {
			return rune(n[r.IntN(len(n))])
		}
		return rune('a' + r.IntN(26))
	}
	switch r.IntN(5) {
	case 0:
		rs = slices.Insert(rs, i, slip())
	case 1:
		rs = slices.Delete(rs, i, i+1)
	case 2:
		if i == len(rs)-1 {
			i--
		}
		rs[i], rs[i+1] = rs[i+1], rs[i]
	case 3:
		rs[i] = slip()
	default:
		low := strings.ToLower(s)
		for _, k := range r.Perm(len(ocr)) {
			o := ocr[k]
			if j := strings.Index(low[1:], o[0]); j >= 0 {
				j++
				return fixCase(s[:j]+o[1]+s[j+len(o[0]):], title)
			}
		}
		rs[i] = slip()
	}
	return fixCase(string(rs), title)
}

func fixCase(s string, title bool) string {
	if title && s != "" {
		rs := []rune(s)
		rs[0] = unicode.ToUpper(rs[0])
		return string(rs)
	}
	return s
}

// Write writes one CSV file per source under dir/sources and the truth to
// dir/truth.csv (source,record_id,person_id,household_id,notes), and
// returns the source files. Rows are shuffled within each file.
func (c *Cohort) Write(dir string) (inputs []string, truth string, err error) {
	if err := os.MkdirAll(filepath.Join(dir, "sources"), 0o755); err != nil {
		return nil, "", err
	}
	r := rand.New(rand.NewPCG(c.Params.Seed, 0xf11e))
	order := r.Perm(len(c.Records))
	for _, spec := range c.specs {
		path := filepath.Join(dir, "sources", spec.name+".csv")
		var rows [][]string
		var head []string
		for f := range nFields {
			if spec.header[f] != "" {
				head = append(head, spec.header[f])
			}
		}
		rows = append(rows, head)
		for _, k := range order {
			rec := &c.Records[k]
			if rec.Source != spec.name {
				continue
			}
			var row []string
			for f := range nFields {
				if spec.header[f] != "" {
					row = append(row, rec.Values[f])
				}
			}
			rows = append(rows, row)
		}
		if err := writeCSV(path, rows); err != nil {
			return nil, "", err
		}
		inputs = append(inputs, path)
	}
	rows := [][]string{{"source", "record_id", "person_id", "household_id", "notes"}}
	for i := range c.Records {
		rec := &c.Records[i]
		rows = append(rows, []string{rec.Source, rec.ID(), strconv.Itoa(rec.Person), strconv.Itoa(c.People[rec.Person].Household), strings.Join(rec.Notes, ";")})
	}
	truth = filepath.Join(dir, "truth.csv")
	return inputs, truth, writeCSV(truth, rows)
}

func writeCSV(path string, rows [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	if err := w.WriteAll(rows); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
