package match

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// datedRecord is a generated record with the birth date it was written
// from: the oracle the prepared date is checked against.
type datedRecord struct {
	rec  Record
	true Date
}

// writeDate writes d in one of the formats sources use.
func writeDate(d Date, format string) string {
	switch format {
	case "dmy":
		return fmt.Sprintf("%02d/%02d/%04d", d.Day, d.Month, d.Year)
	case "mdy":
		return fmt.Sprintf("%02d/%02d/%04d", d.Month, d.Day, d.Year)
	case "mdy-dash":
		return fmt.Sprintf("%d-%d-%04d", d.Month, d.Day, d.Year)
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

// datedRecords writes n random birth dates from the years [y0, y1) per
// source, each source in its own format.
func datedRecords(seed uint64, n, y0, y1 int, formats map[string]string) []datedRecord {
	r := rand.New(rand.NewPCG(seed, 1))
	var out []datedRecord
	for _, src := range []string{"a", "b", "c", "d"} {
		f, ok := formats[src]
		if !ok {
			continue
		}
		for i := range n {
			d := Date{Year: y0 + r.IntN(y1-y0), Month: 1 + r.IntN(12), Day: 1 + r.IntN(28)}
			if isSentinelDate(d) {
				d.Day = 2
			}
			out = append(out, datedRecord{rec: Record{Source: src, ID: fmt.Sprint(i), Given: []string{"Ann"},
				Family: "Lee", BirthDate: writeDate(d, f)}, true: d})
		}
	}
	return out
}

func recordsOf(ds []datedRecord) []Record {
	out := make([]Record, len(ds))
	for i := range ds {
		out[i] = ds[i].rec
	}
	return out
}

// TestDateOrderPerSource checks every prepared birth date against the
// date the generator wrote: each source is read in the order it uses,
// ambiguous values included, and the report's counts match those
// computed from the true dates.
func TestDateOrderPerSource(t *testing.T) {
	formats := map[string]string{"a": "dmy", "b": "mdy", "c": "iso", "d": "mdy-dash"}
	ds := datedRecords(7, 400, 1930, 2020, formats)
	p := newPreparer(&PrepareOptions{BirthDates: DateRange{To: Date{2025, 12, 31}}})
	prep := p.PrepareAll(recordsOf(ds))
	for i := range ds {
		require.Equal(t, ds[i].true.packed(), prep[i].dob, "record %s/%s", ds[i].rec.Source, ds[i].rec.ID)
	}
	// The oracle: what each source's true dates prove about its order.
	want := map[string]*SourceDateOrder{}
	for _, d := range ds {
		f := formats[d.rec.Source]
		if f == "iso" {
			continue
		}
		w := want[d.rec.Source]
		if w == nil {
			w = &SourceDateOrder{Source: d.rec.Source, Order: MonthFirst.String()}
			if f == "dmy" {
				w.Order = DayFirst.String()
			}
			want[d.rec.Source] = w
		}
		switch {
		case d.true.Day == d.true.Month: // reads the same either way
		case d.true.Day <= 12:
			w.Ambiguous++
		case f == "dmy":
			w.DayFirst++
		default:
			w.MonthFirst++
		}
	}
	rep := p.Report()
	require.Len(t, rep.DateOrders, 3, "the iso source writes no year-last dates")
	for _, got := range rep.DateOrders {
		assert.Equal(t, *want[got.Source], got)
	}
	assert.Empty(t, rep.Fields, "nothing set aside")
	lines := strings.Join(rep.Lines(), "\n")
	assert.Contains(t, lines, "source b: ")
	assert.Contains(t, lines, "read month first (mm/dd/yyyy)")
}

func TestDateOrderOptionAndMixed(t *testing.T) {
	tests := []struct {
		name   string
		dates  []string
		orders map[string]DateOrder
		want   Date // of the first date
		order  DateOrder
		line   string
		reason string
	}{
		{name: "no evidence", dates: []string{"01/02/2003", "03/04/1990"}, want: Date{2003, 2, 1}, order: DayFirst,
			line: "no value shows the order; day first is the default"},
		{name: "one proof", dates: []string{"01/02/2003", "03/25/1990"}, want: Date{2003, 1, 2}, order: MonthFirst,
			reason: "25 cannot be a month, so the source writes the month first"},
		{name: "option wins", dates: []string{"01/02/2003", "03/25/1990"}, orders: map[string]DateOrder{"s": DayFirst},
			want: Date{2003, 2, 1}, order: DayFirst, line: "chosen by option"},
		{name: "mixed", dates: []string{"01/02/2003", "25/03/1990", "26/03/1990", "03/27/1990"}, want: Date{2003, 2, 1},
			order: DayFirst, line: "MIXED: 2 values only day first reads, 1 only month first reads"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs := make([]Record, len(tc.dates))
			for i, d := range tc.dates {
				recs[i] = Record{Source: "s", ID: fmt.Sprint(i), BirthDate: d}
			}
			p := newPreparer(&PrepareOptions{DateOrders: tc.orders})
			prep := p.PrepareAll(recs)
			assert.Equal(t, tc.want.packed(), prep[0].dob, tc.reason)
			rep := p.Report()
			require.Len(t, rep.DateOrders, 1)
			assert.Equal(t, tc.order.String(), rep.DateOrders[0].Order)
			assert.Contains(t, strings.Join(rep.Lines(), "\n"), tc.line)

			// One record at a time, the order is decided from the
			// source's values seen so far.
			q := newPreparer(&PrepareOptions{DateOrders: tc.orders})
			for i := range recs[1:] {
				q.Prepare(&recs[i+1])
			}
			first := q.Prepare(&recs[0])
			assert.Equal(t, tc.want.packed(), first.dob, tc.reason)
		})
	}
}

// TestBirthDateRange checks that dates outside the plausible range are
// set aside, counted and reported, never silently, and that a historical
// file can widen the range.
func TestBirthDateRange(t *testing.T) {
	ds := datedRecords(11, 500, 1700, 2000, map[string]string{"a": "iso", "b": "dmy"})
	early := 0
	for _, d := range ds {
		if d.true.Year < 1880 {
			early++
		}
	}
	require.Positive(t, early)
	recs := append(recordsOf(ds),
		Record{Source: "a", ID: "x1", BirthDate: "1900-01-01"},
		Record{Source: "a", ID: "x2", BirthDate: "1984-02-30"},
		Record{Source: "a", ID: "x3", BirthDate: "2999-05-01"})

	p := newPreparer(nil)
	prep := p.PrepareAll(recs)
	rep := p.Report()
	require.Len(t, rep.Fields, 1)
	assert.Equal(t, FieldReport{Field: "birth_date", Invalid: 1, Placeholder: 1, OutOfRange: early + 1}, rep.Fields[0])
	for i, d := range ds {
		if d.true.Year < 1880 {
			assert.Zero(t, prep[i].dob, "treated as missing")
			assert.True(t, prep[i].flagsReport().OutOfRangeDate)
		} else {
			assert.Equal(t, d.true.packed(), prep[i].dob)
		}
	}
	y := today().Year
	assert.Contains(t, rep.Lines(), fmt.Sprintf("%d records: birth date outside 1880-%d, treated as missing", early+1, y))
	assert.Contains(t, rep.Lines(), "1 records: birth date invalid, treated as missing")
	assert.Contains(t, rep.Lines(), "1 records: birth date a placeholder, treated as missing")

	hist := newPreparer(&PrepareOptions{BirthDates: DateRange{From: Date{Year: 1600}, To: Date{Year: 2000}}})
	prep = hist.PrepareAll(recs)
	for i, d := range ds {
		assert.Equal(t, d.true.packed(), prep[i].dob)
	}
	rep = hist.Report()
	assert.Equal(t, "1600-2000", rep.BirthDates)
	assert.Equal(t, []FieldReport{{Field: "birth_date", Invalid: 1, Placeholder: 1, OutOfRange: 1}}, rep.Fields)
}

func TestDateRangeContains(t *testing.T) {
	r := DateRange{From: Date{1880, 3, 1}, To: Date{2000, 6, 15}}.withDefaults()
	tests := []struct {
		d    Date
		want bool
	}{
		{Date{1880, 3, 1}, true},
		{Date{1880, 2, 28}, false},
		{Date{1880, 0, 0}, true},
		{Date{1880, 2, 0}, false},
		{Date{2000, 6, 15}, true},
		{Date{2000, 6, 16}, false},
		{Date{2000, 6, 0}, true},
		{Date{2000, 0, 0}, true},
		{Date{2001, 0, 0}, false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, r.contains(tc.d), "%v", tc.d)
	}
}

func TestParseDateOrder(t *testing.T) {
	for in, want := range map[string]DateOrder{"": DateOrderAuto, "auto": DateOrderAuto, "dmy": DayFirst,
		" MDY ": MonthFirst, "ymd": YearFirst} {
		got, err := ParseDateOrder(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"dym", "us", "d/m/y"} {
		_, err := ParseDateOrder(bad)
		assert.Error(t, err, bad)
	}
}

// TestParseDateIn reads random dates written in each order back in that
// order: the written date is the oracle, ambiguous values included.
func TestParseDateIn(t *testing.T) {
	ds := datedRecords(11, 300, 1900, 2020, map[string]string{"a": "dmy", "b": "mdy", "c": "iso", "d": "mdy-dash"})
	orders := map[string]DateOrder{"a": DayFirst, "b": MonthFirst, "c": YearFirst, "d": MonthFirst}
	for _, d := range ds {
		got, st := ParseDateIn(d.rec.BirthDate, orders[d.rec.Source])
		require.Equal(t, DateOK, st, d.rec.BirthDate)
		require.Equal(t, d.true, got, "%s read %s", d.rec.BirthDate, orders[d.rec.Source])
		require.Equal(t, fmt.Sprintf("%04d-%02d-%02d", d.true.Year, d.true.Month, d.true.Day), got.ISO())
	}
	// Issue 16's query: 04/05/1988 from a US source is 5 April 1988.
	got, st := ParseDateIn("04/05/1988", MonthFirst)
	require.Equal(t, DateOK, st)
	assert.Equal(t, "1988-04-05", got.ISO())
	got, _ = ParseDateIn("04/05/1988", DateOrderAuto)
	assert.Equal(t, "1988-05-04", got.ISO(), "auto keeps the day-first default for one ambiguous value")
	_, st = ParseDateIn("04/05/1988", YearFirst)
	assert.Equal(t, DateInvalid, st, "a year-last value in a year-first source is not guessed")
	got, _ = ParseDateIn("1988-04", YearFirst)
	assert.Equal(t, "1988-04", got.ISO())
	_, st = ParseDateIn("31/02/1988", MonthFirst)
	assert.Equal(t, DateInvalid, st)
}

func TestInferDateOrder(t *testing.T) {
	us := []string{"04/05/1988", "12/25/1990", "01/02/2003", "1975-06-07", ""}
	order, df, mf, amb := InferDateOrder(slices.Values(us))
	assert.Equal(t, MonthFirst, order)
	assert.Equal(t, []int{0, 1, 2}, []int{df, mf, amb})
	order, _, _, _ = InferDateOrder(slices.Values([]string{"04/05/1988"}))
	assert.Equal(t, DayFirst, order, "no evidence: the day-first default")
}

// TestYearFirstSourceFlagsYearLastDates: a source set to ymd reads its
// year-first dates and counts a year-last one as invalid.
func TestYearFirstSourceFlagsYearLastDates(t *testing.T) {
	p := newPreparer(&PrepareOptions{DateOrders: map[string]DateOrder{"s": YearFirst}})
	recs := []Record{{Source: "s", ID: "1", Family: "Lee", BirthDate: "1988-04-05"},
		{Source: "s", ID: "2", Family: "Lee", BirthDate: "04/05/1988"}}
	prep := p.PrepareAll(recs)
	assert.Equal(t, Date{1988, 4, 5}.packed(), prep[0].dob)
	assert.Zero(t, prep[1].dob)
	rep := p.Report()
	lines := strings.Join(rep.Lines(), "\n")
	assert.Contains(t, lines, "1 records: birth date invalid")
	assert.Contains(t, lines, "year first (yyyy-mm-dd)")
}
