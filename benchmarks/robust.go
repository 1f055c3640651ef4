package benchmarks

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/carelens/carelens/nhsnumber"

	"github.com/carelens/carelens/match"
)

// RobustProfile describes one cohort of the robustness sweep: a generator
// written apart from [Synth] (its own name vocabulary, formats and error
// model), so that the matcher's defaults are tried on data they were not
// shaped on. Each knob varies one property the issue names: vocabulary
// size and skew, namesakes, twins, identifier coverage, e-mails derived
// from names, date formats per source, missingness and size.
type RobustProfile struct {
	// Name labels the profile in reports.
	Name string
	// People is the number of distinct people.
	People int
	// GivenNames and FamilyNames are the vocabulary sizes; Skew is the
	// Zipf exponent of name frequencies (0 uniform, 1.2 steep).
	GivenNames, FamilyNames int
	Skew                    float64
	// Namesakes is the share of people who copy the given name, family
	// name, sex and birth date of another, unrelated person.
	Namesakes float64
	// Twins is the share of people who are the second of a twin pair:
	// same family name, birth date, address and phone, another given name.
	Twins float64
	// NHS is the share of records that carry the person's NHS number.
	NHS float64
	// Email is the share of adults with an e-mail address; EmailFromName
	// the share of those built from the person's names.
	Email, EmailFromName float64
	// Phone is the share of people with a phone number.
	Phone float64
	// Address is the share of records with an address and postcode.
	Address float64
	// DateFormats are the birth-date formats of the sources, one per
	// source: "iso" (yyyy-mm-dd), "dmy" (dd/mm/yyyy), "mdy" (mm/dd/yyyy)
	// or "compact" (yyyymmdd). Empty means iso, dmy, compact.
	DateFormats []string
	// Missing is the chance that any one of given name, family name,
	// birth date, sex, phone and e-mail is left out of a record.
	Missing float64
	// Errors scales the typo, swap, transposition and move rates; zero
	// means 1.
	Errors float64
	// Seed selects the cohort.
	Seed uint64
}

// RobustProfiles returns the sweep's profiles at the given number of
// people. Each differs from "baseline" in one or two properties.
func RobustProfiles(people int) []RobustProfile {
	base := RobustProfile{Name: "baseline", People: people, GivenNames: 400, FamilyNames: 2000, Skew: 1,
		Namesakes: 0.01, Twins: 0.02, NHS: 0.95, Email: 0.6, EmailFromName: 0.5, Phone: 0.8, Address: 0.95,
		Missing: 0.02, Seed: 13}
	with := func(name string, f func(p *RobustProfile)) RobustProfile {
		p := base
		p.Name = name
		f(&p)
		return p
	}
	return []RobustProfile{
		base,
		// The failure of the issue: a small, steep vocabulary, many
		// namesakes and twins, e-mails made of the name, one date format
		// per source, ~9% of records without NHS number.
		with("steep-names", func(p *RobustProfile) {
			p.GivenNames, p.FamilyNames, p.Skew = 150, 400, 1.2
			p.Namesakes, p.Twins, p.NHS, p.EmailFromName = 0.05, 0.04, 0.91, 1
		}),
		with("flat-names", func(p *RobustProfile) { p.GivenNames, p.FamilyNames, p.Skew = 3000, 20000, 0.3 }),
		with("namesakes", func(p *RobustProfile) { p.Namesakes = 0.15 }),
		with("twins", func(p *RobustProfile) { p.Twins = 0.12 }),
		with("nhs-50", func(p *RobustProfile) { p.NHS = 0.5 }),
		with("nhs-0", func(p *RobustProfile) { p.NHS = 0 }),
		with("email-from-name", func(p *RobustProfile) { p.Email, p.EmailFromName = 0.9, 1 }),
		with("dates-mdy", func(p *RobustProfile) { p.DateFormats = []string{"dmy", "mdy", "iso"} }),
		with("missing", func(p *RobustProfile) { p.Missing = 0.15 }),
		with("noisy", func(p *RobustProfile) { p.Errors = 3 }),
		// Names and birth dates only: no identifier, no contact, no address.
		with("names-dob-only", func(p *RobustProfile) { p.NHS, p.Email, p.Phone, p.Address = 0, 0, 0, 0 }),
	}
}

// zipfTable draws indexes 0..n-1 with weight 1/(i+1)^s.
type zipfTable struct{ cum []float64 }

func newZipf(n int, s float64) zipfTable {
	z := zipfTable{cum: make([]float64, n)}
	t := 0.0
	for i := range n {
		t += 1 / math.Pow(float64(i+1), s)
		z.cum[i] = t
	}
	return z
}

func (z zipfTable) pick(r *rand.Rand) int {
	x := r.Float64() * z.cum[len(z.cum)-1]
	lo, hi := 0, len(z.cum)-1
	for lo < hi {
		m := (lo + hi) / 2
		if z.cum[m] < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

var (
	robustOnsets = []string{"b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w",
		"br", "ch", "cl", "dr", "fl", "gr", "sh", "st", "th", "tr", ""}
	robustVowels = []string{"a", "e", "i", "o", "u", "ai", "ea", "ie", "oo", "ou", "y"}
	robustCodas  = []string{"", "", "n", "r", "l", "s", "th", "ck", "nd", "rt", "ll", "tt", "m", "x"}
)

// robustVocab makes n distinct pronounceable names of 2 or 3 syllables.
func robustVocab(r *rand.Rand, n int, ends []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, n)
	for len(out) < n {
		var b strings.Builder
		k := 2 + r.IntN(2)
		for range k {
			b.WriteString(robustOnsets[r.IntN(len(robustOnsets))])
			b.WriteString(robustVowels[r.IntN(len(robustVowels))])
		}
		b.WriteString(robustCodas[r.IntN(len(robustCodas))])
		if len(ends) > 0 && r.IntN(3) == 0 {
			b.WriteString(ends[r.IntN(len(ends))])
		}
		s := b.String()
		if len(s) < 3 || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, strings.ToUpper(s[:1])+s[1:])
	}
	return out
}

type robustPerson struct {
	given, family    string
	female           bool
	y, m, d          int
	nhs              string
	house, street    string
	town, postcode   string
	phone, email     string
	emailFromName    bool
	namesakeOf, twin int
}

// Generate builds the profile's cohort in memory: the records (sources
// "s0", "s1", ...) and each record's person label.
func (p RobustProfile) Generate() ([]match.Record, []string) {
	r := rand.New(rand.NewPCG(p.Seed, uint64(p.People)))
	formats := p.DateFormats
	if len(formats) == 0 {
		formats = []string{"iso", "dmy", "compact"}
	}
	errs := p.Errors
	if errs == 0 {
		errs = 1
	}
	givenF := robustVocab(r, max(p.GivenNames/2, 2), []string{"a", "ie", "elle"})
	givenM := robustVocab(r, max(p.GivenNames/2, 2), []string{"o", "er", "an"})
	family := robustVocab(r, max(p.FamilyNames, 2), []string{"son", "ton", "ley", "field", "well"})
	streets := robustVocab(r, 300, nil)
	towns := robustVocab(r, 60, nil)
	zg, zf := newZipf(len(givenF), p.Skew), newZipf(len(family), p.Skew)
	zs, zt := newZipf(len(streets), 0.8), newZipf(len(towns), 0.8)
	domains := []string{"example.com", "example.org", "example.net", "mail.example.co.uk"}

	newAddress := func(q *robustPerson) {
		q.house = strconv.Itoa(1 + r.IntN(180))
		q.street = streets[zs.pick(r)] + []string{" Road", " Street", " Lane", " Avenue", " Close"}[r.IntN(5)]
		ti := zt.pick(r)
		q.town = towns[ti]
		q.postcode = fmt.Sprintf("%c%c%d %d%c%c", 'A'+ti%26, 'A'+ti/26%26, 1+r.IntN(20), r.IntN(10), 'A'+r.IntN(26), 'A'+r.IntN(26))
	}
	// An e-mail address is one mailbox: a provider does not give an
	// address already taken to someone else, who gets another number
	// instead. Without this, unrelated namesakes born in one year shared
	// "given.family98@…" (a 1,000,000-record run of nhs-0: 1,730
	// false-merge pairs, most of them such pairs; a family sharing one
	// mailbox is another matter, which this generator does not model).
	taken := map[string]bool{}
	claim := func(addr string) string {
		if addr == "" {
			return ""
		}
		local, dom, _ := strings.Cut(addr, "@")
		for taken[addr] {
			local += strconv.Itoa(r.IntN(10))
			addr = local + "@" + dom
		}
		taken[addr] = true
		return addr
	}
	newEmail := func(q *robustPerson) {
		q.email, q.emailFromName = "", false
		if 2025-q.y < 16 || r.Float64() >= p.Email {
			return
		}
		g, f := strings.ToLower(q.given), strings.ToLower(q.family)
		dom := domains[r.IntN(len(domains))]
		if r.Float64() < p.EmailFromName {
			q.emailFromName = true
			var local string
			switch r.IntN(5) {
			case 0:
				local = g + "." + f + strconv.Itoa(r.IntN(100))
			case 1:
				local = g + f + strconv.Itoa(q.y%100)
			case 2:
				local = g[:1] + f + strconv.Itoa(r.IntN(1000))
			case 3:
				local = f + "." + g
			default:
				local = g + "_" + f + strconv.Itoa(q.y)
			}
			q.email = local + "@" + dom
			return
		}
		q.email = fmt.Sprintf("%s%d@%s", robustVocab(r, 1, nil)[0], r.IntN(10000), dom)
		q.email = strings.ToLower(q.email)
	}
	people := make([]robustPerson, p.People)
	for i := range people {
		q := &people[i]
		q.namesakeOf, q.twin = -1, -1
		q.female = r.IntN(2) == 0
		pickGiven := func() string {
			if q.female {
				return givenF[zg.pick(r)]
			}
			return givenM[zg.pick(r)]
		}
		q.given = pickGiven()
		q.family = family[zf.pick(r)]
		q.y, q.m, q.d = 1930+r.IntN(95), 1+r.IntN(12), 1+r.IntN(28)
		newAddress(q)
		if i > 0 && r.Float64() < p.Twins && people[i-1].twin < 0 {
			t := &people[i-1]
			q.twin, t.twin = i-1, i
			q.family, q.y, q.m, q.d = t.family, t.y, t.m, t.d
			q.house, q.street, q.town, q.postcode = t.house, t.street, t.town, t.postcode
			for q.given == t.given {
				q.given = pickGiven()
			}
		} else if i > 0 && r.Float64() < p.Namesakes {
			j := r.IntN(i)
			o := &people[j]
			q.namesakeOf = j
			q.given, q.family, q.female, q.y, q.m, q.d = o.given, o.family, o.female, o.y, o.m, o.d
		}
		if r.Float64() < p.Phone {
			q.phone = fmt.Sprintf("07%d%08d", 4+r.IntN(6), r.IntN(100_000_000))
			if q.twin >= 0 && r.IntN(2) == 0 {
				q.phone = people[q.twin].phone
			}
		}
		newEmail(q)
		q.email = claim(q.email)
		for {
			first9 := fmt.Sprintf("%d%08d", 4+r.IntN(3), r.IntN(100_000_000))
			if c, ok := nhsnumber.CheckDigit(first9); ok {
				q.nhs = first9 + string(c)
				break
			}
		}
	}
	presence := []float64{0.9, 0.55, 0.4, 0.5}
	var recs []match.Record
	var ent []string
	for i := range people {
		q := &people[i]
		for s := range formats {
			if r.Float64() >= presence[s%len(presence)] {
				continue
			}
			rec := p.record(r, q, errs, formats[s], newAddress)
			rec.Source, rec.ID = "s"+strconv.Itoa(s), fmt.Sprintf("s%d-%d", s, len(recs))
			recs = append(recs, rec)
			ent = append(ent, strconv.Itoa(i))
		}
	}
	return recs, ent
}

func (p RobustProfile) record(r *rand.Rand, q *robustPerson, errs float64, format string, newAddress func(*robustPerson)) match.Record {
	chance := func(x float64) bool { return r.Float64() < x }
	typo := func(s string) string {
		if len(s) < 3 {
			return s
		}
		b := []byte(s)
		i := 1 + r.IntN(len(b)-1)
		switch r.IntN(3) {
		case 0:
			b[i] = byte('a' + r.IntN(26))
		case 1:
			b = append(b[:i], b[i+1:]...)
		default:
			if i < len(b)-1 {
				b[i], b[i+1] = b[i+1], b[i]
			}
		}
		return string(b)
	}
	g, f := q.given, q.family
	if chance(0.03 * errs) {
		g = typo(g)
	}
	if chance(0.03 * errs) {
		f = typo(f)
	}
	if chance(0.005 * errs) {
		g, f = f, g
	}
	y, m, d := q.y, q.m, q.d
	switch {
	case chance(0.01 * errs):
		if d <= 12 {
			m, d = d, m
		}
	case chance(0.01 * errs):
		y += 1 - 2*r.IntN(2)
	case chance(0.01 * errs):
		d = 1 + (d+r.IntN(8))%28
	}
	var dob string
	switch format {
	case "dmy":
		dob = fmt.Sprintf("%02d/%02d/%04d", d, m, y)
	case "mdy":
		dob = fmt.Sprintf("%02d/%02d/%04d", m, d, y)
	case "compact":
		dob = fmt.Sprintf("%04d%02d%02d", y, m, d)
	default:
		dob = fmt.Sprintf("%04d-%02d-%02d", y, m, d)
	}
	rec := match.Record{Given: []string{g}, Family: f, BirthDate: dob, Sex: map[bool]string{true: "F", false: "M"}[q.female],
		Phone: q.phone, Email: q.email}
	if chance(0.2) {
		rec.Given[0], rec.Family = strings.ToUpper(g), strings.ToUpper(f)
	}
	a := *q
	if chance(0.08 * errs) {
		newAddress(&a)
	}
	if chance(p.Address) {
		rec.Address = []string{a.house + " " + a.street}
		rec.Town, rec.Postcode = a.town, a.postcode
	}
	if chance(p.NHS) {
		rec.NHSNumber = q.nhs
	}
	if p.Missing > 0 {
		if chance(p.Missing) {
			rec.Given = nil
		}
		if chance(p.Missing) {
			rec.Family = ""
		}
		if chance(p.Missing) {
			rec.BirthDate = ""
		}
		if chance(p.Missing) {
			rec.Sex = ""
		}
		if chance(p.Missing) {
			rec.Phone = ""
		}
		if chance(p.Missing) {
			rec.Email = ""
		}
	}
	return rec
}

// PairCounts compares a clustering with the truth pair by pair: the true
// pairs, the predicted pairs, and those in both.
func PairCounts(entity []string, cluster []int) (truePairs, predicted, both int64) {
	byEnt := map[string]int64{}
	byCl := map[int]int64{}
	byBoth := map[[2]string]int64{}
	for i, e := range entity {
		byEnt[e]++
		byCl[cluster[i]]++
		byBoth[[2]string{e, strconv.Itoa(cluster[i])}]++
	}
	pairs := func(n int64) int64 { return n * (n - 1) / 2 }
	for _, n := range byEnt {
		truePairs += pairs(n)
	}
	for _, n := range byCl {
		predicted += pairs(n)
	}
	for _, n := range byBoth {
		both += pairs(n)
	}
	return truePairs, predicted, both
}

// RecallCeiling returns the highest pair recall any linker can reach
// without a false merge, computed from the truth alone (no linker is
// run). A linker decides on what the records hold; so when two records of
// different people, c and d, hold exactly what a true pair's a and b hold
// (every field, case and date format aside: [recordKey]), it must decide
// (a, b) and (c, d) alike, and linking the true pair links the false one.
// A true pair is within reach when no such pair of different people
// exists, which is so exactly when a's key and b's key each belong to
// records of one person only (if another person's c shares a's key, (c, b)
// is such a pair). The ceiling is the share of true pairs within reach.
// It is an upper bound: a typo that makes two namesakes' records differ
// counts as telling them apart, though no linker could tell which of the
// two the mistyped record belongs to.
func RecallCeiling(recs []match.Record, entity []string) float64 {
	return ceiling(recs, entity, false)
}

// ExactRecallCeiling is [RecallCeiling] for a linker that links only
// records agreeing exactly (case and date format aside) on every field
// both hold, a field missing from one record being no disagreement: the
// share of true pairs within reach whose two records so agree. On a file
// of names and birth dates alone it bounds what linking on an exact,
// unique name and birth date (match.LinkOptions' UniqueNameDOB) can
// reach; the gap to RecallCeiling is the true pairs with a typo, which
// only a linker willing to link nearly equal names and dates could reach.
func ExactRecallCeiling(recs []match.Record, entity []string) float64 {
	return ceiling(recs, entity, true)
}

func ceiling(recs []match.Record, entity []string, exact bool) float64 {
	owners := map[string]map[string]bool{}
	keys := make([]string, len(recs))
	fields := make([][]string, len(recs))
	for i := range recs {
		fields[i] = recordFields(&recs[i])
		keys[i] = strings.Join(fields[i], "|")
		if owners[keys[i]] == nil {
			owners[keys[i]] = map[string]bool{}
		}
		owners[keys[i]][entity[i]] = true
	}
	byEnt := map[string][]int{}
	for i, e := range entity {
		byEnt[e] = append(byEnt[e], i)
	}
	var total, reachable int64
	for _, idx := range byEnt {
		for x := range idx {
			for y := x + 1; y < len(idx); y++ {
				total++
				a, b := keys[idx[x]], keys[idx[y]]
				if len(owners[a]) == 1 && len(owners[b]) == 1 && (!exact || agree(fields[idx[x]], fields[idx[y]])) {
					reachable++
				}
			}
		}
	}
	if total == 0 {
		return 1
	}
	return float64(reachable) / float64(total)
}

// recordKey is a record's every field, case and date format aside: two
// records with one key cannot be told apart.
func recordKey(r *match.Record) string { return strings.Join(recordFields(r), "|") }

// recordFields are the fields of [recordKey], in a fixed order, "" where
// missing.
func recordFields(r *match.Record) []string {
	d, st := match.ParseDate(r.BirthDate)
	dob := ""
	if st == match.DateOK {
		dob = fmt.Sprint(d)
	}
	f := []string{strings.Join(r.Given, " "), r.Family, dob, r.Sex,
		strings.Join(r.Address, " "), r.Town, r.Postcode, r.Phone, r.Email, r.NHSNumber}
	for i := range f {
		f[i] = strings.ToUpper(f[i])
	}
	return f
}

// agree reports whether two records' fields are equal wherever both are
// present.
func agree(a, b []string) bool {
	for i := range a {
		if a[i] != "" && b[i] != "" && a[i] != b[i] {
			return false
		}
	}
	return true
}

// IndistinguishableFalseMerges counts the false-merge pairs of a
// clustering whose two records are identical on every field present (see
// [RecallCeiling]): merges no linker can avoid without refusing the
// true pairs that look the same.
func IndistinguishableFalseMerges(recs []match.Record, entity []string, cluster []int) int64 {
	byCl := map[int][]int{}
	for i, c := range cluster {
		byCl[c] = append(byCl[c], i)
	}
	var n int64
	for _, idx := range byCl {
		for x := range idx {
			for y := x + 1; y < len(idx); y++ {
				a, b := idx[x], idx[y]
				if entity[a] != entity[b] && recordKey(&recs[a]) == recordKey(&recs[b]) {
					n++
				}
			}
		}
	}
	return n
}
