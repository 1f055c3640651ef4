package match

import (
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"
)

// DateRange is a range of dates, both ends included. A partial date (a
// year, or a year and month) is inside when any day it could be is.
type DateRange struct {
	From, To Date
}

// DefaultEarliestBirthDate is the default start of
// [PrepareOptions.BirthDates]: no living patient was born earlier.
var DefaultEarliestBirthDate = Date{Year: 1880, Month: 1, Day: 1}

// contains reports whether d may lie in r.
func (r DateRange) contains(d Date) bool {
	hiM, hiD := d.Month, d.Day
	if hiM == 0 {
		hiM = 12
	}
	if hiD == 0 {
		hiD = 31
	}
	latest := uint32(d.Year*10000 + hiM*100 + hiD)
	return latest >= r.From.packed() && d.packed() <= r.To.packed()
}

// String writes the range as "1880-2026" when it starts on 1 January and
// ends on 31 December or today (the default), and as
// "1880-01-01..2026-06-30" otherwise.
func (r DateRange) String() string {
	if r.From.Month == 1 && r.From.Day == 1 && (r.To.Month == 12 && r.To.Day == 31 || r.To == today()) {
		return fmt.Sprintf("%d-%d", r.From.Year, r.To.Year)
	}
	return fmt.Sprintf("%04d-%02d-%02d..%04d-%02d-%02d", r.From.Year, r.From.Month, r.From.Day, r.To.Year, r.To.Month, r.To.Day)
}

// today returns the current date (local time).
func today() Date {
	y, m, d := time.Now().Date()
	return Date{Year: y, Month: int(m), Day: d}
}

// withDefaults fills a zero From with [DefaultEarliestBirthDate] and a zero
// To with today.
func (r DateRange) withDefaults() DateRange {
	if r.From.IsZero() {
		r.From = DefaultEarliestBirthDate
	}
	if r.To.IsZero() {
		r.To = today()
	}
	if r.From.Month == 0 {
		r.From.Month = 1
	}
	if r.From.Day == 0 {
		r.From.Day = 1
	}
	if r.To.Month == 0 {
		r.To.Month = 12
	}
	if r.To.Day == 0 {
		r.To.Day = daysIn(r.To.Year, r.To.Month)
	}
	return r
}

// DateOrder says how a source writes dates with the year last: day first
// (dd/mm/yyyy, the UK and most of the world) or month first (mm/dd/yyyy,
// the US). It decides only values both orders can read (01/02/2003).
type DateOrder uint8

// Date orders.
const (
	// DateOrderAuto decides a source's order from its own unambiguous
	// values: a value whose first part is above 12 proves day first, one
	// whose second part is above 12 proves month first. With no proof
	// either way the source is read day first; with proof both ways, by
	// the majority, and the report says the source is mixed.
	DateOrderAuto DateOrder = iota
	// DayFirst reads 01/02/2003 as 1 February 2003.
	DayFirst
	// MonthFirst reads 01/02/2003 as 2 January 2003.
	MonthFirst
	// YearFirst says the source writes the year first (2003-02-01,
	// 2003/02/01, 20030201): a value with the year last does not follow
	// the source's convention and is read as invalid, not guessed.
	YearFirst
)

// ParseDateOrder reads a date order as a flag or query gives it: dmy
// ([DayFirst]), mdy ([MonthFirst]), ymd ([YearFirst]), or auto or ""
// ([DateOrderAuto]); case and surrounding spaces do not matter.
func ParseDateOrder(s string) (DateOrder, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return DateOrderAuto, nil
	case "dmy":
		return DayFirst, nil
	case "mdy":
		return MonthFirst, nil
	case "ymd":
		return YearFirst, nil
	}
	return DateOrderAuto, fmt.Errorf("match: date order %q: want dmy, mdy, ymd or auto", s)
}

// ParseDateIn reads one date written in order, as [ParseDate] does
// (formats, placeholders, the 1880-2100 range): [MonthFirst] reads
// 04/05/1988 as 5 April, [DayFirst] and [DateOrderAuto] as 4 May, and
// [YearFirst] refuses it as [DateInvalid]. A value only one order can read
// (25/12/1990, 12/25/1990) is read that way unless the order is
// YearFirst. It is the reader for a date a person types in a query, whose
// order the person states; [Date.ISO] writes the result for storage.
func ParseDateIn(s string, order DateOrder) (Date, DateStatus) {
	return readBirthDate(s, order, DateRange{From: Date{1880, 1, 1}, To: Date{2100, 12, 31}})
}

// ISO writes the date as YYYY-MM-DD, or YYYY-MM or YYYY when partial, and
// "" when zero.
func (d Date) ISO() string {
	switch {
	case d.IsZero():
		return ""
	case d.Month == 0:
		return fmt.Sprintf("%04d", d.Year)
	case d.Day == 0:
		return fmt.Sprintf("%04d-%02d", d.Year, d.Month)
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

// InferDateOrder decides the order of a source's dates from its values as
// [DateOrderAuto] describes: [MonthFirst] when more values only month
// first reads than only day first reads, [DayFirst] otherwise (and when no
// value shows the order). It returns the counts it decided from.
func InferDateOrder(values iter.Seq[string]) (order DateOrder, dayFirst, monthFirst, ambiguous int) {
	var s sourceDates
	for v := range values {
		s.add(v)
	}
	return s.order(), s.dayFirst, s.monthFirst, s.ambiguous
}

// String names the order as the report writes it.
func (o DateOrder) String() string {
	switch o {
	case DayFirst:
		return "day first (dd/mm/yyyy)"
	case MonthFirst:
		return "month first (mm/dd/yyyy)"
	case YearFirst:
		return "year first (yyyy-mm-dd)"
	}
	return "auto"
}

// sourceDates is the evidence one source's year-last dates give of their
// order, and the order chosen.
type sourceDates struct {
	dayFirst, monthFirst, ambiguous int
	set                             DateOrder // from PrepareOptions.DateOrders
}

// order decides the source's order from the evidence.
func (s *sourceDates) order() DateOrder {
	switch {
	case s.set != DateOrderAuto:
		return s.set
	case s.monthFirst > s.dayFirst:
		return MonthFirst
	}
	return DayFirst
}

// add counts what one raw birth date proves about its source's order.
func (s *sourceDates) add(raw string) {
	a, b, _, ok := splitDMY(strings.TrimSpace(raw))
	switch {
	case !ok || a == 0 || b == 0 || a > 31 || b > 31:
	case a > 12 && b <= 12:
		s.dayFirst++
	case b > 12 && a <= 12:
		s.monthFirst++
	case a <= 12 && b <= 12 && a != b:
		s.ambiguous++ // a == b reads the same either way
	}
}

// learnDateOrders counts, per source, what the records' birth dates prove
// about the source's date order, and returns each source's order.
func (p *preparer) learnDateOrders(recs []Record) map[string]DateOrder {
	p.dateMu.Lock()
	defer p.dateMu.Unlock()
	last := ""
	var cur *sourceDates
	for i := range recs {
		r := &recs[i]
		if r.BirthDate == "" {
			continue
		}
		if cur == nil || r.Source != last {
			cur, last = p.sourceDatesLocked(r.Source), r.Source
		}
		cur.add(r.BirthDate)
	}
	out := make(map[string]DateOrder, len(p.dates))
	for src, s := range p.dates {
		out[src] = s.order()
	}
	return out
}

// sourceDatesLocked returns the evidence of source, adding it; p.dateMu
// must be held.
func (p *preparer) sourceDatesLocked(src string) *sourceDates {
	s := p.dates[src]
	if s == nil {
		s = &sourceDates{set: p.opts.DateOrders[src]}
		p.dates[src] = s
	}
	return s
}

// dateOrderOf counts one record's birth date and returns its source's
// order, for records prepared one at a time.
func (p *preparer) dateOrderOf(r *Record) DateOrder {
	p.dateMu.Lock()
	defer p.dateMu.Unlock()
	s := p.sourceDatesLocked(r.Source)
	s.add(r.BirthDate)
	return s.order()
}

// parseBirthDate reads a birth date in its source's order and checks it
// against the plausible range.
func (p *preparer) parseBirthDate(s string, order DateOrder) (Date, DateStatus) {
	return readBirthDate(s, order, p.opts.BirthDates)
}

// readBirthDate reads a birth date written in order and checks it against
// rng. It is the one birth-date reader: the preparer, and through it the
// identity index's scorers and safety evidence, use it.
func readBirthDate(s string, order DateOrder, rng DateRange) (Date, DateStatus) {
	if order == YearFirst {
		if _, _, _, yearLast := splitDMY(strings.TrimSpace(s)); yearLast {
			return Date{}, DateInvalid
		}
	}
	d, st := parseDate(s, order == MonthFirst)
	if st == DateOK && !rng.contains(d) {
		return d, DateOutOfRange
	}
	return d, st
}

// DataReport says what preparing the records set aside, per field, and
// how each source's ambiguous dates were read. It holds no PHI: field and
// source names and counts.
type DataReport struct {
	// Records is how many records were prepared.
	Records int `json:"records"`
	// BirthDates is the plausible range of birth dates used, as
	// [DateRange.String] writes it.
	BirthDates string `json:"birthDates"`
	// Fields count the values set aside, per field; fields with nothing
	// set aside are left out.
	Fields []FieldReport `json:"fields,omitempty"`
	// DateOrders say, per source that writes dates with the year last,
	// how its ambiguous values were read and why.
	DateOrders []SourceDateOrder `json:"dateOrders,omitempty"`
}

// FieldReport counts one field's values that were present but treated as
// missing.
type FieldReport struct {
	Field string `json:"field"`
	// Invalid values could not be read (a date that does not exist, an
	// NHS number that fails its check digit).
	Invalid int `json:"invalid,omitempty"`
	// Placeholder values are defaults that say nothing (1900-01-01, BABY).
	Placeholder int `json:"placeholder,omitempty"`
	// OutOfRange values are real dates outside [DataReport.BirthDates].
	OutOfRange int `json:"outOfRange,omitempty"`
}

// SourceDateOrder is how one source's dates with the year last were read.
type SourceDateOrder struct {
	Source string `json:"source"`
	// Order is the order ambiguous values were read in.
	Order string `json:"order"`
	// Set is true when [PrepareOptions.DateOrders] fixed the order.
	Set bool `json:"set,omitempty"`
	// DayFirst and MonthFirst count the values only that order can read;
	// Ambiguous those both orders can.
	DayFirst   int `json:"dayFirst"`
	MonthFirst int `json:"monthFirst"`
	Ambiguous  int `json:"ambiguous"`
}

// Report returns what the preparer has set aside so far and the date
// order it chose per source.
func (p *preparer) Report() DataReport {
	r := DataReport{Records: p.Len(), BirthDates: p.opts.BirthDates.String()}
	add := func(field string, invalid, placeholder, outOfRange int64) {
		if invalid+placeholder+outOfRange > 0 {
			r.Fields = append(r.Fields, FieldReport{Field: field, Invalid: int(invalid),
				Placeholder: int(placeholder), OutOfRange: int(outOfRange)})
		}
	}
	add(FieldGiven.String()+"/"+FieldFamily.String(), 0, p.issues[issueNamePlaceholder].Load(), 0)
	add(FieldBirthDate.String(), p.issues[issueDateInvalid].Load(), p.issues[issueDatePlaceholder].Load(), p.issues[issueDateRange].Load())
	add(FieldNHSNumber.String(), p.issues[issueNHSInvalid].Load(), 0, 0)
	p.dateMu.Lock()
	for src, s := range p.dates {
		if s.dayFirst+s.monthFirst+s.ambiguous == 0 && s.set == DateOrderAuto {
			continue
		}
		r.DateOrders = append(r.DateOrders, SourceDateOrder{Source: src, Order: s.order().String(),
			Set: s.set != DateOrderAuto, DayFirst: s.dayFirst, MonthFirst: s.monthFirst, Ambiguous: s.ambiguous})
	}
	p.dateMu.Unlock()
	slices.SortFunc(r.DateOrders, func(a, b SourceDateOrder) int { return strings.Compare(a.Source, b.Source) })
	return r
}

// Lines returns the report in plain words, one finding a line, for a
// command to print. Nothing is left out: a value set aside is always
// said.
func (r *DataReport) Lines() []string {
	var out []string
	for _, f := range r.Fields {
		name := strings.ReplaceAll(f.Field, "_", " ")
		if f.OutOfRange > 0 {
			out = append(out, fmt.Sprintf("%d records: %s outside %s, treated as missing", f.OutOfRange, name, r.BirthDates))
		}
		if f.Invalid > 0 {
			out = append(out, fmt.Sprintf("%d records: %s invalid, treated as missing", f.Invalid, name))
		}
		if f.Placeholder > 0 {
			out = append(out, fmt.Sprintf("%d records: %s a placeholder, treated as missing", f.Placeholder, name))
		}
	}
	for _, s := range r.DateOrders {
		how := "chosen by option"
		switch {
		case s.Set:
		case s.DayFirst > 0 && s.MonthFirst > 0:
			how = fmt.Sprintf("MIXED: %d values only day first reads, %d only month first reads; the majority decides, check the source", s.DayFirst, s.MonthFirst)
		case s.DayFirst+s.MonthFirst == 0:
			how = "no value shows the order; day first is the default"
		default:
			how = fmt.Sprintf("%d values only day first reads, %d only month first reads", s.DayFirst, s.MonthFirst)
		}
		out = append(out, fmt.Sprintf("source %s: %d ambiguous dates read %s (%s)", s.Source, s.Ambiguous, s.Order, how))
	}
	return out
}

// preparer issue counters.
const (
	issueNamePlaceholder = iota
	issueDateInvalid
	issueDatePlaceholder
	issueDateRange
	issueNHSInvalid
	numIssues
)

// count adds one prepared record's flags to the issue counters.
func (p *preparer) count(flags uint8) {
	if flags == 0 {
		return
	}
	for _, c := range [...]struct {
		flag  uint8
		issue int
	}{{flagPlaceholderName, issueNamePlaceholder}, {flagBadDate, issueDateInvalid},
		{flagPlaceholderDate, issueDatePlaceholder}, {flagDateRange, issueDateRange}, {flagBadNHS, issueNHSInvalid}} {
		if flags&c.flag != 0 {
			p.issues[c.issue].Add(1)
		}
	}
}
