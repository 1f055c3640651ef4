package match

import (
	"fmt"
	"hash/fnv"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/carelens/carelens/nhsnumber"

	"github.com/antzucaro/matchr"
)

// Field names one normalised value of a prepared record. Comparisons and
// blocking rules refer to fields by name in JSON ([Field.String]); other
// identifiers are the fields "id:<system>".
type Field uint8

// The fields of a prepared record.
const (
	FieldGiven        Field = iota // first given name (forename)
	FieldMiddle                    // second given name
	FieldFamily                    // whole family name
	FieldBirthDate                 // date of birth
	FieldSex                       // administrative sex
	FieldStreetNumber              // house number
	FieldAddress                   // remaining address words, sorted
	FieldTown                      // town, city or suburb
	FieldPostcode                  // postcode, canonical form
	FieldState                     // state or county
	FieldPhone                     // telephone digits
	FieldEmail                     // e-mail address
	FieldNHSNumber                 // valid NHS number
	FieldIdentifier                // first of MaxIdentifiers other-identifier slots
)

// MaxIdentifiers is how many distinct other-identifier systems a
// preparer keeps; identifiers of further systems are ignored.
const MaxIdentifiers = 6

const numFields = int(FieldIdentifier) + MaxIdentifiers

var fieldNames = [...]string{"given", "middle", "family", "birth_date", "sex", "street_number",
	"address", "town", "postcode", "state", "phone", "email", "nhs_number"}

// String returns the field's JSON name, without the identifier system for
// identifier slots.
func (f Field) String() string {
	if int(f) < len(fieldNames) {
		return fieldNames[f]
	}
	return "id#" + strconv.Itoa(int(f-FieldIdentifier))
}

// isStringField reports whether the field's value is a vocabulary id.
func (f Field) isStringField() bool {
	return f != FieldBirthDate && f != FieldSex && f != FieldNHSNumber && int(f) < numFields
}

// Prepared flags.
const (
	flagPlaceholderName uint8 = 1 << iota // a placeholder name was removed
	flagBadDate                           // birth date present but invalid
	flagPlaceholderDate                   // birth date a sentinel default
	flagBadNHS                            // NHS number present but invalid
	flagEmailNameOnly                     // e-mail local part made only of the record's names
	flagDateRange                         // birth date outside PrepareOptions.BirthDates
)

// Prepared is a record normalised once into the compact form the pair loop
// reads: small vocabulary ids, a packed date, the NHS number as an integer.
// It is only meaningful together with the preparer that made it. A zero
// value field means "missing" (absent, placeholder, invalid).
type Prepared struct {
	v      [numFields]uint32 // vocabulary ids by Field (string fields and identifiers)
	fam1   uint32            // first family-name part when multi-part
	fam2   uint32            // last family-name part when multi-part
	famAlt [2]uint32         // family names from OtherNames (maiden, previous)
	dob    uint32            // yyyymmdd, 0 when missing; month/day 0 when partial
	nhs    uint64            // valid NHS number, 0 when missing or invalid
	sex    byte              // 'm', 'f' or 0
	suffix byte              // 'j' junior, 's' senior, digits for ii/iii/iv, 0 none
	flags  uint8
}

// HasNHSNumber reports whether the record has a valid NHS number.
func (p *Prepared) HasNHSNumber() bool { return p.nhs != 0 }

// NHSNumber returns the record's valid NHS number as an integer, or 0.
func (p *Prepared) NHSNumber() uint64 { return p.nhs }

// Flags describe what normalisation noticed, for reporting. They hold no PHI.
func (p *Prepared) flagsReport() preparedFlags {
	return preparedFlags{
		PlaceholderName: p.flags&flagPlaceholderName != 0,
		InvalidDate:     p.flags&flagBadDate != 0,
		PlaceholderDate: p.flags&flagPlaceholderDate != 0,
		InvalidNHS:      p.flags&flagBadNHS != 0,
		OutOfRangeDate:  p.flags&flagDateRange != 0,
	}
}

// preparedFlags report values that normalisation set aside.
type preparedFlags struct {
	PlaceholderName bool // a placeholder name (BABY, UNKNOWN...) was dropped
	InvalidDate     bool // the birth date could not be read or does not exist
	PlaceholderDate bool // the birth date is a default such as 1900-01-01
	InvalidNHS      bool // an NHS number was given but failed validation
	OutOfRangeDate  bool // the birth date is outside PrepareOptions.BirthDates
}

// vocab interns the distinct normalised values of one field group. ids
// start at 1; 0 is "missing". strs is append-only, so a snapshot of the
// slice header stays valid while more values are added. Counts are updated
// with atomic adds under mu and read atomically.
type vocab struct {
	mu     sync.Mutex
	ids    map[string]uint32
	strs   []string
	hash   []uint64
	count  []uint32   // occurrences in the main role (given; or the field)
	count2 []uint32   // occurrences as a family name (name vocabulary only)
	phon   []uint32   // names: id of the Double Metaphone code in phonCodes
	canon  []aliasSet // names: ids of the alias-table groups the name is in
	total  atomic.Uint64
	total2 atomic.Uint64
	names  bool
	codes  *vocab // names: vocabulary of phonetic codes
}

func newVocab(names bool) *vocab {
	v := &vocab{ids: map[string]uint32{"": 0}, strs: []string{""}, hash: []uint64{0},
		count: []uint32{0}, names: names}
	if names {
		v.count2 = []uint32{0}
		v.phon = []uint32{0}
		v.canon = []aliasSet{{}}
		v.codes = newVocab(false)
	}
	return v
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// internLocked returns the id of s, adding it; v.mu must be held.
func (v *vocab) internLocked(s string) uint32 {
	if s == "" {
		return 0
	}
	if id, ok := v.ids[s]; ok {
		return id
	}
	id := uint32(len(v.strs))
	s = strings.Clone(s)
	v.ids[s] = id
	v.strs = append(v.strs, s)
	v.hash = append(v.hash, hashString(s))
	v.count = append(v.count, 0)
	if v.names {
		v.count2 = append(v.count2, 0)
		p, _ := matchr.DoubleMetaphone(s)
		v.codes.mu.Lock()
		v.phon = append(v.phon, v.codes.internLocked(p))
		v.codes.mu.Unlock()
		v.canon = append(v.canon, aliasSet{})
		var set aliasSet
		set[0] = id // a name is in its own group
		for k, g := range aliasGroups[s] {
			if k+1 == maxAliasGroups {
				break
			}
			if g == s {
				continue
			}
			set[k+1] = v.internLocked(g)
		}
		v.canon[id] = set
	}
	return id
}

// add interns s and counts one occurrence in role 1 (main) or 2 (family).
func (v *vocab) addLocked(s string, role int) uint32 {
	id := v.internLocked(s)
	if id == 0 {
		return 0
	}
	if role == 2 {
		atomic.AddUint32(&v.count2[id], 1)
		v.total2.Add(1)
	} else if role == 1 {
		atomic.AddUint32(&v.count[id], 1)
		v.total.Add(1)
	}
	return id
}

// vocabView is a read-only snapshot of a vocabulary for scoring.
type vocabView struct {
	strs          []string
	hash          []uint64
	count, count2 []uint32
	phon          []uint32
	canon         []aliasSet
	codeHash      []uint64 // names: hashes of the phonetic codes
	v             *vocab
}

func (v *vocab) view() vocabView {
	v.mu.Lock()
	defer v.mu.Unlock()
	vv := vocabView{strs: v.strs, hash: v.hash, count: v.count, count2: v.count2,
		phon: v.phon, canon: v.canon, v: v}
	if v.codes != nil {
		v.codes.mu.Lock()
		vv.codeHash = v.codes.hash
		v.codes.mu.Unlock()
	}
	return vv
}

// PrepareOptions configure a preparer. The zero value works.
type PrepareOptions struct {
	// SharedValueLimit is how many records may share a phone number,
	// e-mail address or identifier before the value is treated as shared
	// (a care home's phone, a family e-mail) and carries no weight and
	// makes no blocking key. Zero means DefaultSharedValueLimit.
	SharedValueLimit int
	// BirthDates is the plausible range of birth dates: a date outside it
	// is treated as missing and counted in preparer.Report. A zero From
	// means DefaultEarliestBirthDate (1880-01-01), which suits living
	// patients; a zero To means today. A historical file sets an earlier
	// From.
	BirthDates DateRange
	// DateOrders fix, per source ([Record.Source]), how dates written with
	// the year last and both first parts at most 12 (01/02/2003) are
	// read. A source not listed, or listed as DateOrderAuto, is read in
	// the order its own unambiguous values show (see [DateOrderAuto]).
	DateOrders map[string]DateOrder
}

// DefaultSharedValueLimit is the default [PrepareOptions.SharedValueLimit].
const DefaultSharedValueLimit = 20

// preparer normalises records into [Prepared] form, one at a time or in
// batches, growing its vocabularies and term-frequency tables as it goes.
// It is safe for concurrent use. Ids it hands out are stable for its
// lifetime but not across processes: persist the raw [Record], never a
// Prepared.
type preparer struct {
	opts   PrepareOptions
	vocabs [numFields]*vocab // names share one vocabulary; see newPreparer
	out    *vocab            // postcode outward parts

	sysMu   sync.Mutex
	systems []string // identifier system per slot
	n       atomic.Uint64

	dateMu sync.Mutex
	dates  map[string]*sourceDates // per source: evidence of its date order
	issues [numIssues]atomic.Int64 // values set aside, for Report
}

// newPreparer returns an empty preparer; o may be nil.
func newPreparer(o *PrepareOptions) *preparer {
	p := &preparer{}
	if o != nil {
		p.opts = *o
	}
	if p.opts.SharedValueLimit <= 0 {
		p.opts.SharedValueLimit = DefaultSharedValueLimit
	}
	p.opts.BirthDates = p.opts.BirthDates.withDefaults()
	p.dates = map[string]*sourceDates{}
	names := newVocab(true)
	for f := range Field(numFields) {
		switch f {
		case FieldGiven, FieldMiddle, FieldFamily:
			p.vocabs[f] = names
		case FieldBirthDate, FieldSex, FieldNHSNumber:
		default:
			p.vocabs[f] = newVocab(false)
		}
	}
	p.out = newVocab(false)
	return p
}

// Len returns how many records the preparer has prepared.
func (p *preparer) Len() int { return int(p.n.Load()) }

// IdentifierSystems returns the identifier systems seen so far, in slot order.
func (p *preparer) IdentifierSystems() []string {
	p.sysMu.Lock()
	defer p.sysMu.Unlock()
	return append([]string(nil), p.systems...)
}

// identifierSlot returns the slot of system, assigning one; -1 when full.
func (p *preparer) identifierSlot(system string) int {
	p.sysMu.Lock()
	defer p.sysMu.Unlock()
	for i, s := range p.systems {
		if s == system {
			return i
		}
	}
	if len(p.systems) == MaxIdentifiers {
		return -1
	}
	p.systems = append(p.systems, system)
	return len(p.systems) - 1
}

// normRecord is a record's normalised strings before interning.
type normRecord struct {
	s      [numFields]string
	fam1   string
	fam2   string
	famAlt [2]string
	dob    uint32
	nhs    uint64
	sex    byte
	suffix byte
	flags  uint8
	out    string
}

func (p *preparer) normalise(r *Record, nr *normRecord, order DateOrder) {
	given, family := r.Given, r.Family
	if len(given) == 0 && family == "" && r.FullName != "" {
		given, family = splitFullName(r.FullName)
	}
	n := parseName(given, family)
	if n.placeholder {
		nr.flags |= flagPlaceholderName
	}
	if len(n.given) > 0 {
		nr.s[FieldGiven] = n.given[0]
	}
	if len(n.given) > 1 {
		nr.s[FieldMiddle] = n.given[1]
	}
	nr.s[FieldFamily] = n.family
	if len(n.parts) > 1 {
		nr.fam1, nr.fam2 = n.parts[0], n.parts[len(n.parts)-1]
	}
	k := 0
	for _, o := range r.OtherNames {
		if k == len(nr.famAlt) {
			break
		}
		if f := parseName(nil, o.Family).family; f != "" && f != n.family {
			nr.famAlt[k] = f
			k++
		}
	}
	switch n.suffix {
	case "jr":
		nr.suffix = 'j'
	case "sr":
		nr.suffix = 's'
	case "ii":
		nr.suffix = '2'
	case "iii":
		nr.suffix = '3'
	case "iv":
		nr.suffix = '4'
	}
	d, st := p.parseBirthDate(r.BirthDate, order)
	switch st {
	case DateOK:
		nr.dob = d.packed()
	case DateInvalid:
		nr.flags |= flagBadDate
	case DatePlaceholder:
		nr.flags |= flagPlaceholderDate
	case DateOutOfRange:
		nr.flags |= flagDateRange
	}
	nr.sex = normSex(r.Sex)
	nr.s[FieldStreetNumber], nr.s[FieldAddress] = normAddress(r.Address)
	nr.s[FieldTown] = foldText(r.Town, false)
	nr.s[FieldState] = foldText(r.State, false)
	nr.s[FieldPostcode], nr.out = NormalisePostcode(r.Postcode)
	nr.s[FieldPhone] = NormalisePhone(r.Phone)
	nr.s[FieldEmail] = NormaliseEmail(r.Email)
	if e := nr.s[FieldEmail]; e != "" && emailNameOnly(e, n, int(nr.dob/10000)) {
		nr.flags |= flagEmailNameOnly
	}
	if r.NHSNumber != "" {
		if nhsnumber.Valid(r.NHSNumber) {
			v, _ := strconv.ParseUint(nhsnumber.Normalise(r.NHSNumber), 10, 64)
			nr.nhs = v
		} else {
			nr.flags |= flagBadNHS
		}
	}
	for _, id := range r.Identifiers {
		v := normIdentifier(id.Value)
		if v == "" {
			continue
		}
		if slot := p.identifierSlot(id.System); slot >= 0 && nr.s[int(FieldIdentifier)+slot] == "" {
			nr.s[int(FieldIdentifier)+slot] = v
		}
	}
}

// intern fills out from nr for the fields whose vocabulary is v (locked by
// the caller).
func (p *preparer) internField(f Field, nr *normRecord, out *Prepared) {
	v := p.vocabs[f]
	switch f {
	case FieldGiven:
		out.v[f] = v.addLocked(nr.s[f], 1)
	case FieldMiddle:
		out.v[f] = v.addLocked(nr.s[f], 0)
	case FieldFamily:
		out.v[f] = v.addLocked(nr.s[f], 2)
		out.fam1 = v.internLocked(nr.fam1)
		out.fam2 = v.internLocked(nr.fam2)
		for k, f := range nr.famAlt {
			out.famAlt[k] = v.internLocked(f)
		}
	default:
		out.v[f] = v.addLocked(nr.s[f], 1)
	}
}

func (p *preparer) copyScalars(nr *normRecord, out *Prepared) {
	out.dob, out.nhs, out.sex, out.suffix, out.flags = nr.dob, nr.nhs, nr.sex, nr.suffix, nr.flags
	p.count(nr.flags)
}

// Prepare normalises one record, adds its values to the vocabularies and
// term-frequency tables, and returns its prepared form. Its birth date
// counts towards its source's date order, which is decided from the
// source's values seen so far.
func (p *preparer) Prepare(r *Record) Prepared {
	var nr normRecord
	p.normalise(r, &nr, p.dateOrderOf(r))
	var out Prepared
	p.copyScalars(&nr, &out)
	names := p.vocabs[FieldGiven]
	names.mu.Lock()
	for _, f := range []Field{FieldGiven, FieldMiddle, FieldFamily} {
		p.internField(f, &nr, &out)
	}
	names.mu.Unlock()
	for f := FieldStreetNumber; int(f) < numFields; f++ {
		if !f.isStringField() {
			continue
		}
		v := p.vocabs[f]
		v.mu.Lock()
		p.internField(f, &nr, &out)
		v.mu.Unlock()
	}
	p.out.mu.Lock()
	p.out.addLocked(nr.out, 1)
	p.out.mu.Unlock()
	p.n.Add(1)
	return out
}

// PrepareAll prepares records in a batch using every core. The result is
// the same as calling preparer.Prepare on each record in order, except
// that each source's date order (see [DateOrderAuto]) is decided from the
// whole batch (and earlier ones) before any of its dates is read.
func (p *preparer) PrepareAll(recs []Record) []Prepared {
	// Assign identifier slots in record order first, so that concurrent
	// normalisation cannot make slot order depend on scheduling.
	last := ""
	for i := range recs {
		for _, id := range recs[i].Identifiers {
			if id.System != last && strings.TrimSpace(id.Value) != "" {
				p.identifierSlot(id.System)
				last = id.System
			}
		}
	}
	orders := p.learnDateOrders(recs)
	nrs := make([]normRecord, len(recs))
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	chunk := (len(recs) + workers - 1) / max(workers, 1)
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(recs))
		if lo >= hi {
			break
		}
		wg.Go(func() {
			last, order := "", DayFirst
			for i := lo; i < hi; i++ {
				if src := recs[i].Source; i == lo || src != last {
					last, order = src, orders[src]
				}
				p.normalise(&recs[i], &nrs[i], order)
			}
		})
	}
	wg.Wait()
	out := make([]Prepared, len(recs))
	// One goroutine per vocabulary, each walking records in order, so ids
	// are deterministic.
	var groups [][]Field
	groups = append(groups, []Field{FieldGiven, FieldMiddle, FieldFamily})
	for f := FieldStreetNumber; int(f) < numFields; f++ {
		if f.isStringField() {
			groups = append(groups, []Field{f})
		}
	}
	sem := make(chan struct{}, workers)
	for _, g := range groups {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			v := p.vocabs[g[0]]
			v.mu.Lock()
			defer v.mu.Unlock()
			for i := range nrs {
				for _, f := range g {
					p.internField(f, &nrs[i], &out[i])
				}
			}
		})
	}
	wg.Go(func() {
		p.out.mu.Lock()
		defer p.out.mu.Unlock()
		for i := range nrs {
			p.out.addLocked(nrs[i].out, 1)
			p.copyScalars(&nrs[i], &out[i])
		}
	})
	wg.Wait()
	p.n.Add(uint64(len(recs)))
	return out
}

// emailNameOnly reports whether the local part of a normalised e-mail
// address is made only of the record's own names (whole, or the given
// name's initial), its birth year (four digits or the last two) and
// separators: isla.elliott@, ielliott@, elliott.isla@, isla_elliott1998@.
// Two such addresses agree whenever the names and birth year do (two
// namesakes born the same year write the same one), so their agreement is
// not evidence beyond the names and birth date; an address with anything
// else in it (other digits, a nickname, another word) is.
func emailNameOnly(email string, n normName, year int) bool {
	at := strings.LastIndexByte(email, '@')
	if at <= 0 {
		return false
	}
	rest := email[:at]
	var toks []string
	for _, g := range n.given {
		toks = append(toks, strings.ReplaceAll(g, " ", ""))
	}
	toks = append(toks, n.family)
	toks = append(toks, n.parts...)
	if len(toks) == 0 {
		return false
	}
	if year > 0 {
		toks = append(toks, strconv.Itoa(year), fmt.Sprintf("%02d", year%100))
	}
	for rest != "" {
		switch rest[0] {
		case '.', '_', '-', '+':
			rest = rest[1:]
			continue
		}
		best := 0
		for _, t := range toks {
			if len(t) > best && strings.HasPrefix(rest, t) {
				best = len(t)
			}
		}
		if best == 0 && len(n.given) > 0 && n.given[0] != "" && rest[0] == n.given[0][0] {
			best = 1 // an initial
		}
		if best == 0 {
			return false
		}
		rest = rest[best:]
	}
	return true
}
