package benchmarks

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/carelens/carelens/nhsnumber"
)

// referenceYear is the year of the cohort's "today" (1 January): ages and
// the under-one placeholder rule are relative to it, so output does not
// depend on the clock.
const referenceYear = 2025

// NHS numbers: the generator draws numbers from the ranges issued in
// England, 400 000 000 0–499 999 999 9 and 600 000 000 0–708 800 001 9.
// Each block of ten numbers sharing their first eight digits has at least
// nine nine-digit prefixes with a valid check digit (weight 2 on the ninth
// digit makes the ten sums distinct modulo 11); leaving out at most one
// repdigit, at least eight remain, so block b, slot s (s < 8) names one
// number. An affine permutation of the person index picks the slot, so
// every person has a distinct number and none is drawn twice.
const (
	nhsBlocks1  = 10_000_000              // blocks 40000000..49999999
	nhsBlocks   = nhsBlocks1 + 10_880_000 // then 60000000..70879999
	nhsSlots    = 8
	nhsCapacity = nhsBlocks * nhsSlots
	nhsMul      = 1_000_003 // prime, coprime to nhsCapacity (2^10·3^2·5^4·29)
)

// Hash tags separating the independent deterministic streams.
const (
	tagPerson uint64 = iota + 1
	tagRecord
	tagTwin
	tagLook
	tagNHS
	tagIDs
	tagShuffle
)

// mix is the splitmix64 finaliser, used to derive seeds and decisions.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// unit maps a hash of (seed, tag, i) to [0,1).
func unit(seed, tag, i uint64) float64 {
	return float64(mix(mix(seed^tag<<56)^i)>>11) / (1 << 53)
}

// person is one clean identity: the truth every source record is a noisy
// copy of.
type person struct {
	idx                 int
	female              bool
	group               uint8
	given, family       string
	year, month, day    int
	nhs                 [10]byte
	house, town, postal string
	phone               string // digits, "" when none
	phoneCode           int    // length of the dialling code for landlines
	email               string
}

func (p *person) age() int { return referenceYear - 1 - p.year }

// generator holds the tables, the derived seeds and reusable random
// sources. It is not safe for concurrent use.
type generator struct {
	r       resolved
	t       *tables
	nhsOff  uint64
	pcg     *rand.PCG
	rnd     *rand.Rand
	ids     []idPerm
	counter []uint64
}

func newGenerator(r resolved) (*generator, error) {
	t, err := loadTables()
	if err != nil {
		return nil, err
	}
	pcg := rand.NewPCG(0, 0)
	g := &generator{r: r, t: t, pcg: pcg, rnd: rand.New(pcg), nhsOff: mix(r.seed^tagNHS) % nhsCapacity}
	for s := range r.sources {
		k := mix(r.seed ^ tagIDs ^ uint64(s+1)<<32)
		g.ids = append(g.ids, idPerm{k: [4]uint64{mix(k), mix(k + 1), mix(k + 2), mix(k + 3)}})
	}
	g.counter = make([]uint64, len(r.sources))
	return g, nil
}

// seedRand reseeds the shared random source for stream (tag, a, b).
func (g *generator) seedRand(tag, a, b uint64) *rand.Rand {
	g.pcg.Seed(mix(g.r.seed^tag<<56^a), mix(b^tag))
	return g.rnd
}

// nhsOf returns the NHS number of person i.
func (g *generator) nhsOf(i int) [10]byte {
	q := (nhsMul*uint64(i) + g.nhsOff) % nhsCapacity
	b, slot := q/nhsSlots, int(q%nhsSlots)
	blk := 40_000_000 + b
	if b >= nhsBlocks1 {
		blk = 60_000_000 + (b - nhsBlocks1)
	}
	var out [10]byte
	first8 := strconv.AppendUint(nil, blk, 10)
	copy(out[:8], first8)
	for d := range 10 {
		out[8] = byte('0' + d)
		c, ok := nhsnumber.CheckDigit(string(out[:9]))
		if !ok {
			continue
		}
		out[9] = c
		if repdigit(out[:]) {
			continue
		}
		if slot == 0 {
			return out
		}
		slot--
	}
	panic("benchmarks: NHS block with fewer than eight numbers") // impossible, see nhsSlots
}

func repdigit(b []byte) bool {
	for _, c := range b[1:] {
		if c != b[0] {
			return false
		}
	}
	return true
}

// twinPair reports whether persons 2k and 2k+1 are twins.
func (g *generator) twinPair(k int) bool {
	return 2*k+1 < g.r.people && unit(g.r.seed, tagTwin, uint64(k)) < g.r.twinRate
}

func (g *generator) isTwin(i int) bool { return g.twinPair(i / 2) }

// lookalikeOf returns the earlier, unrelated person whose name, sex and
// birth date person i copies, or -1. Whether a person is drawn as a
// lookalike depends only on a hash of its index, so the source found here
// is always a plain person whose clean data is its base draw. Among the
// first eight plain people found looking back, the first with a common
// surname (one of the head of surnames.csv) is preferred, since it is
// common names that collide; the search looks back at most 64 people, so
// the cost stays constant whatever the rate.
func (g *generator) lookalikeOf(i int) int {
	drawn := func(k int) bool { return unit(g.r.seed, tagLook, uint64(k)) < g.r.lookalikeRate }
	if g.isTwin(i) || !drawn(i) {
		return -1
	}
	first, plain := -1, 0
	j := i - 1 - int(mix(g.r.seed^tagLook^uint64(i))%1000)
	for steps := 0; j >= 0 && steps < 64 && plain < 8; j, steps = j-1, steps+1 {
		if g.isTwin(j) || drawn(j) {
			continue
		}
		if first < 0 {
			first = j
		}
		plain++
		if g.commonSurname(j) {
			return j
		}
	}
	return first
}

// commonSurname reports whether person j's base surname is in the head of
// the surname table.
func (g *generator) commonSurname(j int) bool {
	p := g.base(j)
	return g.t.isHeadSurname(p.family)
}

// ageBands are relative sizes of the ten-year age bands 0–9 .. 90–99,
// roughly the UK population pyramid.
var ageBands = [...]float64{11.5, 11.5, 12.5, 13.5, 12.5, 13.5, 11, 9, 4.5, 1}

// base draws person i with no relation to anyone else.
func (g *generator) base(i int) person {
	r := g.seedRand(tagPerson, uint64(i), uint64(i))
	p := person{idx: i, female: r.Float64() < 0.51}
	u := r.Float64() * 101
	band := 0
	for band < len(ageBands)-1 && u >= ageBands[band] {
		u -= ageBands[band]
		band++
	}
	age := band*10 + r.IntN(10)
	p.year = referenceYear - 1 - age
	d := time.Date(p.year, 1, 1+r.IntN(daysIn(p.year)), 0, 0, 0, 0, time.UTC)
	p.month, p.day = int(d.Month()), d.Day()
	k := g.t.surnames.pick(r)
	p.family, p.group = g.t.surnames.names[k], g.t.surnames.group[k]
	p.given = g.pickGiven(r, p.female, p.group, p.year)
	p.nhs = g.nhsOf(i)
	g.address(r, &p, "")
	g.phone(r, &p)
	g.email(r, &p)
	return p
}

func daysIn(year int) int {
	if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		return 366
	}
	return 365
}

// pickGiven draws a given name by sex, naming group and birth decade.
func (g *generator) pickGiven(r *rand.Rand, female bool, group uint8, year int) string {
	sex := 1
	if female {
		sex = 0
	}
	if r.Float64() < givenTailShare {
		t := g.t.givenTail[sex]
		return t.names[t.pick(r)]
	}
	// Loose correlation: most people carry a given name of their surname's
	// tradition, some do not.
	switch {
	case group == groupSA && r.Float64() < 0.2:
		group = groupGen
	case group == groupGen && r.Float64() < 0.02:
		group = groupSA
	}
	d := min(max((year-firstDecade)/10, 0), numDecades-1)
	t := g.t.given[sex][group][d]
	return t.names[t.pick(r)]
}

// address draws a home address; when town is not empty the new address is
// in that town six times out of ten (a move across town), elsewhere
// otherwise.
func (g *generator) address(r *rand.Rand, p *person, town string) {
	ti := -1
	if town != "" && r.Float64() < 0.6 {
		// A town may span several postcode areas (London): pick one.
		n := 0
		for i := range g.t.towns {
			if g.t.towns[i].name == town {
				n++
				if r.IntN(n) == 0 {
					ti = i
				}
			}
		}
	}
	if ti < 0 {
		ti = g.t.townTable.pick(r)
	}
	t := g.t.towns[ti]
	num := 1 + int(r.ExpFloat64()*30)%250
	var b strings.Builder
	if r.Float64() < 0.08 {
		b.WriteString("Flat ")
		b.WriteString(strconv.Itoa(1 + r.IntN(24)))
		b.WriteString(", ")
	}
	b.WriteString(strconv.Itoa(num))
	b.WriteByte(' ')
	if r.Float64() < 0.03 {
		b.WriteString("High Street")
	} else {
		b.WriteString(g.t.streets.names[g.t.streets.pick(r)])
		b.WriteByte(' ')
		b.WriteString(g.t.kinds.names[g.t.kinds.pick(r)])
	}
	p.house, p.town = b.String(), t.name
	const inwardLetters = "ABDEFGHJLNPQRSTUWXYZ"
	district := t.firstDistrict + r.IntN(t.lastDistrict-t.firstDistrict+1)
	pc := make([]byte, 0, 8)
	pc = append(pc, t.area...)
	pc = strconv.AppendInt(pc, int64(district), 10)
	pc = append(pc, ' ', byte('0'+r.IntN(10)), inwardLetters[r.IntN(len(inwardLetters))], inwardLetters[r.IntN(len(inwardLetters))])
	p.postal = string(pc)
}

// phone draws a mobile (most people over 12) or a landline in the
// person's town, or none.
func (g *generator) phone(r *rand.Rand, p *person) {
	switch {
	case p.age() >= 12 && r.Float64() < 0.85:
		b := make([]byte, 0, 11)
		b = append(b, '0', '7', byte('4'+r.IntN(6)))
		for range 8 {
			b = append(b, byte('0'+r.IntN(10)))
		}
		p.phone, p.phoneCode = string(b), 0
	case r.Float64() < 0.3:
		code := ""
		for _, t := range g.t.towns {
			if t.name == p.town {
				code = t.dialling
				break
			}
		}
		b := make([]byte, 0, 11)
		b = append(b, code...)
		b = append(b, byte('2'+r.IntN(8)))
		for len(b) < 11 {
			b = append(b, byte('0'+r.IntN(10)))
		}
		p.phone, p.phoneCode = string(b), len(code)
	default:
		p.phone, p.phoneCode = "", 0
	}
}

var emailDomains = [...]string{"example.com", "example.org", "example.net", "mail.example.co.uk"}

// email derives an address from the person's names for about half of the
// adults, in one of several common shapes. Domains are reserved example
// domains so that no generated address can reach a real mailbox.
func (g *generator) email(r *rand.Rand, p *person) {
	if p.age() < 18 || r.Float64() >= 0.55 {
		p.email = ""
		return
	}
	gv, fm := emailPart(p.given), emailPart(p.family)
	var local string
	switch r.IntN(5) {
	case 0:
		local = gv + "." + fm
	case 1:
		local = gv + fm + strconv.Itoa(p.year%100)
	case 2:
		local = gv[:min(1, len(gv))] + fm
	case 3:
		local = fm + "." + gv[:min(1, len(gv))] + strconv.Itoa(1+r.IntN(99))
	default:
		local = gv + "_" + fm + strconv.Itoa(p.year)
	}
	p.email = local + "@" + emailDomains[r.IntN(len(emailDomains))]
}

func emailPart(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		return "x"
	}
	return b.String()
}

// clean returns person i with twin and lookalike relations applied.
func (g *generator) clean(i int) person {
	if g.isTwin(i) && i%2 == 1 {
		a := g.base(i - 1)
		p := g.base(i)
		r := g.seedRand(tagTwin, uint64(i), 1)
		p.family, p.group, p.year, p.month, p.day = a.family, a.group, a.year, a.month, a.day
		p.house, p.town, p.postal, p.phone, p.phoneCode = a.house, a.town, a.postal, a.phone, a.phoneCode
		for tries := 0; p.given == a.given && tries < 20; tries++ {
			p.given = g.pickGiven(r, p.female, p.group, p.year)
		}
		if p.given == a.given {
			sex := 1
			if p.female {
				sex = 0
			}
			p.given = g.t.givenTail[sex].names[r.IntN(10)]
		}
		g.email(r, &p)
		return p
	}
	if j := g.lookalikeOf(i); j >= 0 {
		q := g.base(j)
		p := g.base(i)
		r := g.seedRand(tagLook, uint64(i), 1)
		p.given, p.family, p.female, p.group = q.given, q.family, q.female, q.group
		p.year, p.month, p.day = q.year, q.month, q.day
		g.email(r, &p)
		return p
	}
	return g.base(i)
}

// personID is the truth id of person i.
func personID(i int) string { return fmt.Sprintf("P%08d", i) }

// run generates every person and writes their records.
func (g *generator) run(ctx context.Context, src []io.Writer, truth io.Writer, st *SynthStats) error {
	ns := len(g.r.sources)
	sh := make([]*shuffler, ns)
	for s := range ns {
		sh[s] = newShuffler(src[s], mix(g.r.seed^tagShuffle^uint64(s)))
		if _, err := sh[s].w.Write(appendCSV(nil, SourceHeader[:])); err != nil {
			return fmt.Errorf("benchmarks: synth: %w", err)
		}
	}
	if _, err := truth.Write(appendCSV(nil, TruthHeader)); err != nil {
		return fmt.Errorf("benchmarks: synth: %w", err)
	}
	var line []byte
	var truthRow [3]string
	counts := make([]int, ns)
	st.People = g.r.people
	for i := range g.r.people {
		if i&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		p := g.clean(i)
		pid := personID(i)
		total := 0
		var within int64
		for s := range ns {
			prof := &g.r.profiles[s]
			r := g.seedRand(tagRecord, uint64(i), uint64(s))
			n := 0
			if r.Float64() < prof.Presence {
				n = 1
				if r.Float64() < prof.Duplicate {
					n = 2
				}
			}
			for range n {
				rec, _ := g.record(r, s, &p)
				line = appendCSV(line[:0], rec[:])
				if err := sh[s].add(line); err != nil {
					return err
				}
				truthRow = [3]string{g.r.sources[s], rec[0], pid}
				line = appendCSV(line[:0], truthRow[:])
				if _, err := truth.Write(line); err != nil {
					return fmt.Errorf("benchmarks: synth: %w", err)
				}
			}
			counts[s] += n
			total += n
			within += int64(n * (n - 1) / 2)
		}
		if total > 0 {
			st.PeopleWithRecords++
			all := int64(total * (total - 1) / 2)
			st.TruePairs += all
			st.CrossSourcePairs += all - within
		}
	}
	for s := range ns {
		if err := sh[s].flush(); err != nil {
			return err
		}
		st.Records[g.r.sources[s]] = counts[s]
		st.TotalRecords += counts[s]
	}
	return nil
}

// appendCSV appends one CSV line (RFC 4180 quoting, "\n" terminated).
func appendCSV(dst []byte, fields []string) []byte {
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		if strings.ContainsAny(f, ",\"\r\n") {
			dst = append(dst, '"')
			dst = append(dst, strings.ReplaceAll(f, `"`, `""`)...)
			dst = append(dst, '"')
			continue
		}
		dst = append(dst, f...)
	}
	return append(dst, '\n')
}

// shuffleWindow is how many rows each source holds back to emit in random
// order, so that row order within a file does not follow person order.
const shuffleWindow = 4096

// shuffler writes lines in a locally random order: each new line takes a
// random slot of a fixed window and the line it displaces is written out.
// Memory is bounded by the window, whatever the cohort size.
type shuffler struct {
	w     io.Writer
	slots [][]byte
	n     int
	pcg   *rand.PCG
	r     *rand.Rand
}

func newShuffler(w io.Writer, seed uint64) *shuffler {
	pcg := rand.NewPCG(seed, mix(seed))
	return &shuffler{w: w, slots: make([][]byte, shuffleWindow), pcg: pcg, r: rand.New(pcg)}
}

func (s *shuffler) add(line []byte) error {
	if s.n < len(s.slots) {
		s.slots[s.n] = append(s.slots[s.n][:0], line...)
		s.n++
		return nil
	}
	j := s.r.IntN(len(s.slots))
	if _, err := s.w.Write(s.slots[j]); err != nil {
		return fmt.Errorf("benchmarks: synth: %w", err)
	}
	s.slots[j] = append(s.slots[j][:0], line...)
	return nil
}

func (s *shuffler) flush() error {
	live := s.slots[:s.n]
	s.r.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
	for _, l := range live {
		if _, err := s.w.Write(l); err != nil {
			return fmt.Errorf("benchmarks: synth: %w", err)
		}
	}
	s.n = 0
	return nil
}

// idPerm is a keyed permutation of 0..10^8-1 (a four-round Feistel network
// on 28 bits with cycle walking) that turns a source's record counter into
// a record id that reveals neither the person nor the generation order.
type idPerm struct{ k [4]uint64 }

const idSpace = 100_000_000

func (p idPerm) at(x uint64) uint64 {
	for {
		l, r := x>>14, x&(1<<14-1)
		for _, k := range p.k {
			l, r = r, l^(mix(r^k)&(1<<14-1))
		}
		x = l<<14 | r
		if x < idSpace {
			return x
		}
	}
}

// recordID returns the next record id of source s.
func (g *generator) recordID(s int) (string, error) {
	c := g.counter[s]
	if c >= idSpace {
		return "", fmt.Errorf("%w: more than %d records in source %q", ErrBadOptions, idSpace, g.r.sources[s])
	}
	g.counter[s]++
	id := g.ids[s].at(c)
	b := make([]byte, 0, 12)
	b = append(b, sourcePrefix(g.r.sources[s])...)
	digits := strconv.AppendUint(nil, id, 10)
	for range 8 - len(digits) {
		b = append(b, '0')
	}
	return string(append(b, digits...)), nil
}
