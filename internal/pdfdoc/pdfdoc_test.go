package pdfdoc

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// created is the fixed creation date of every test document.
var created = time.Date(2025, 2, 11, 14, 30, 0, 0, time.UTC)

// sampleHeader is what the viewer prints on every page. All names and
// numbers are synthetic.
var sampleHeader = []string{
	"Zoë O'Brien-Łukasz   NHS number 943 476 5919   Born 14 March 1958 (66 years)",
	"Printed 11 February 2025 14:30 by Dr Amal Rahman (GP practice)",
	"Sources: Riverside GP practice, Northgate acute hospital, Eastfield community service",
}

// sample is a record page as the viewer would print it: notices, a
// summary, results and a long merged timeline with conflicts.
func sample(timelineRows int) *Doc {
	d := &Doc{
		Title:   "Patient record: summary and timeline",
		Header:  sampleHeader,
		Footer:  "CareLens shared record view. Printed copy of the record as shown on screen, with the filters applied; it is not updated.",
		Created: created,
		Notices: []Notice{
			{Kind: Error, Text: "Northgate acute hospital did not answer within 3 s; its data is not shown."},
			{Kind: Warning, Text: "Eastfield community service data was last updated 9 days ago (limit 7 days)."},
			{Kind: Info, Text: "2 items withheld by the source's sharing policy."},
		},
		Sections: []Section{
			{
				Heading: "Problems", Columns: []string{"Since", "Problem", "Status"}, Widths: []float64{1, 4, 1.2},
				Rows: []Row{
					{Cells: []string{"2011", "Type 2 diabetes mellitus", "Active"}, Sources: "GP, Hospital"},
					{Cells: []string{"2016", "Essential hypertension", "Active"}, Sources: "GP"},
					{Cells: []string{"2019", "Chronic kidney disease stage 3a", "Active"}, Sources: "GP, Hospital"},
				},
			},
			{
				Heading: "Medications", Columns: []string{"Medicine", "Dose", "Started"}, Widths: []float64{3, 3, 1.3},
				Rows: []Row{
					{Cells: []string{"Metformin 500 mg tablets", "1 tablet twice a day with food", "2011-06-02"}, Sources: "GP"},
					{Cells: []string{"Ramipril 5 mg capsules", "1 capsule once a day", "2016-09-14"}, Sources: "GP, Hospital"},
					{Cells: []string{"Atorvastatin 20 mg tablets", "GP: 1 tablet at night; Hospital: 2 tablets at night", "2017-01-20"},
						Flag: "CONFLICT", Sources: "GP, Hospital"},
				},
			},
			{
				Heading: "Allergies", Columns: []string{"Substance", "Reaction", "Recorded"}, Widths: []float64{2, 3, 1},
				Rows: []Row{{Cells: []string{"Penicillin", "Rash, urticaria", "1987"}, Sources: "GP, Hospital, Community"}},
			},
			{
				Heading: "Recent results",
				Text:    []string{"Trend charts are shown on screen; latest values are listed here."},
				Columns: []string{"Date", "Test", "Value", "Reference range"}, Widths: []float64{1, 2, 1.2, 1.2},
				Rows: []Row{
					{Cells: []string{"2025-02-11", "HbA1c", "48 mmol/mol", "20–41"}, Flag: "HIGH", Sources: "GP"},
					{Cells: []string{"2025-01-30", "eGFR", "GP: 57 mL/min/1.73m²; Hospital: 61 mL/min/1.73m²", "≥ 60"},
						Flag: "CONFLICT", Sources: "GP, Hospital"},
					{Cells: []string{"2025-01-30", "Potassium", "4.6 mmol/L", "3.5–5.3"}, Sources: "Hospital"},
				},
			},
		},
	}
	tl := Section{
		Heading: "Timeline",
		Columns: []string{"Date", "Category", "Item", "Value"},
		Widths:  []float64{1.2, 1.4, 3, 2.2},
	}
	cats := []string{"Result", "Medication", "Encounter", "Procedure", "Note", "Immunisation"}
	for i := range timelineRows {
		item := fmt.Sprintf("ITEM%04d consultation", i)
		value := "recorded"
		switch i % 9 {
		case 3:
			item += " with a long free-text note that must wrap onto several lines rather than be cut off or run into the next column"
		case 5:
			value = "GP: 5.1 mmol/L; Hospital: 5.6 mmol/L"
		case 7:
			value = "Übersicht Ärztin Zoë naïve café — “quoted” 12 µg ±2 °C"
		}
		row := Row{
			Cells:   []string{time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -3*i).Format("2006-01-02"), cats[i%len(cats)], item, value},
			Sources: []string{"GP", "GP, Hospital", "Community"}[i%3],
		}
		if i%9 == 5 {
			row.Flag = "CONFLICT"
		}
		tl.Rows = append(tl.Rows, row)
	}
	d.Sections = append(d.Sections, tl)
	return d
}

func render(t testing.TB, d *Doc) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, Render(&b, d))
	return b.Bytes()
}

// pdftotext extracts the text of each page, or skips the test when
// pdftotext (Debian's poppler-utils) is not installed.
func pdftotext(t *testing.T, pdf []byte) []string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext not on PATH (apt-get install poppler-utils); skipping the text check")
	}
	in := filepath.Join(t.TempDir(), "doc.pdf")
	require.NoError(t, os.WriteFile(in, pdf, 0o600))
	out, err := exec.CommandContext(t.Context(), bin, "-enc", "UTF-8", in, "-").Output()
	require.NoError(t, err)
	pages := strings.Split(string(out), "\f")
	if pages[len(pages)-1] == "" || strings.TrimSpace(pages[len(pages)-1]) == "" {
		pages = pages[:len(pages)-1]
	}
	return pages
}

// printable is what s looks like after Render's cp1252 translation,
// written independently of it: Latin-1 letters and cp1252's extra
// punctuation print, everything else beyond ASCII becomes '?'.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 {
			return r
		}
		if strings.ContainsRune("ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõö÷øùúûüýþÿ€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ¡¢£¤¥¦§¨©ª«¬®¯°±²³´µ¶·¸¹º»¼½¾¿", r) {
			return r
		}
		return '?'
	}, s)
}

var spaces = regexp.MustCompile(`\s+`)

func TestEveryPageHasHeaderAndAllRowsAppear(t *testing.T) {
	d := sample(180)
	pages := pdftotext(t, render(t, d))
	require.Greater(t, len(pages), 3, "the sample spans several pages")
	all := spaces.ReplaceAllString(strings.Join(pages, " "), " ")

	for i, p := range pages {
		flat := spaces.ReplaceAllString(p, " ")
		assert.Contains(t, flat, d.Title, "page %d", i+1)
		for _, h := range d.Header {
			assert.Contains(t, flat, spaces.ReplaceAllString(printable(h), " "), "page %d header", i+1)
		}
		assert.Contains(t, flat, fmt.Sprintf("Page %d of %d", i+1, len(pages)))
		if i > 0 && strings.Contains(flat, "ITEM") {
			for _, c := range []string{"Date", "Category", "Item", "Value", "Sources", "Flag"} {
				assert.Contains(t, flat, c, "page %d repeats the column headings", i+1)
			}
		}
	}
	assert.Contains(t, all, "Zoë O'Brien-?ukasz", "cp1252 letters print, others become ?")
	for _, s := range d.Sections {
		assert.Contains(t, all, s.Heading)
		for j, row := range s.Rows {
			for _, cell := range append(append([]string{}, row.Cells...), row.Flag, row.Sources) {
				for w := range strings.FieldsSeq(printable(cell)) {
					assert.Contains(t, all, w, "section %q row %d", s.Heading, j)
				}
			}
		}
	}
	for i := range 180 {
		assert.Contains(t, all, fmt.Sprintf("ITEM%04d", i))
	}
	for _, n := range d.Notices {
		assert.Contains(t, all, n.Kind.String()+": ")
	}
}

func TestRowsAreNotSplit(t *testing.T) {
	d := sample(180)
	pages := pdftotext(t, render(t, d))
	// Every timeline row's first and last words are on the same page.
	for _, row := range d.Sections[len(d.Sections)-1].Rows {
		item := row.Cells[2]
		id := strings.Fields(item)[0]
		last := strings.Fields(item)[len(strings.Fields(item))-1]
		for _, p := range pages {
			if strings.Contains(p, id) {
				assert.Contains(t, p, last, "row %s is on one page", id)
			}
		}
	}
}

func TestHugeRowIsSplitAtLines(t *testing.T) {
	long := strings.Repeat("word ", 3000) + "LASTWORD"
	d := &Doc{Title: "T", Header: []string{"H1"}, Created: created, Sections: []Section{{
		Heading: "S", Columns: []string{"A", "B"},
	}}}
	// Enough short rows first that the huge one starts on a continuation
	// page of the table, below the repeated headings.
	for i := range 80 {
		d.Sections[0].Rows = append(d.Sections[0].Rows, Row{Cells: []string{fmt.Sprint("short", i), "x"}})
	}
	d.Sections[0].Rows = append(d.Sections[0].Rows, Row{Cells: []string{"first", long}, Flag: "CONFLICT"}, Row{Cells: []string{"after", "x"}})
	pages := pdftotext(t, render(t, d))
	require.Greater(t, len(pages), 1)
	assert.Less(t, len(pages), 10, "the huge row takes the pages it needs, no more")
	all := strings.Join(pages, " ")
	assert.Contains(t, all, "LASTWORD")
	assert.Contains(t, all, "after")
	assert.Equal(t, 3000, strings.Count(all, "word"), "no line lost at a break")
	for i, p := range pages {
		assert.Contains(t, p, "H1", "page %d", i+1)
	}
	assert.Contains(t, strings.Join(pages[1:], ""), "(row continued from the previous page)")
}

func TestLongUnbrokenTextWraps(t *testing.T) {
	tok := strings.Repeat("X", 400)
	d := &Doc{Header: []string{tok}, Created: created, Sections: []Section{{Columns: []string{"A", "B", "C"}, Rows: []Row{{Cells: []string{tok, "b", "c"}}}}}}
	pages := pdftotext(t, render(t, d))
	assert.Equal(t, 2*400, strings.Count(strings.Join(pages, ""), "X"), "every character is printed, in header and cell")
}

func TestDeterministicAndGolden(t *testing.T) {
	a := render(t, sample(60))
	b := render(t, sample(60))
	require.Equal(t, a, b, "same input, same bytes")
	assert.True(t, bytes.HasPrefix(a, []byte("%PDF-1.")))

	path := filepath.Join("testdata", "sample.pdf")
	if *update {
		require.NoError(t, os.WriteFile(path, a, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "go test -update creates %s", path)
	if !bytes.Equal(want, a) {
		_ = os.WriteFile(filepath.Join(t.ArtifactDir(), "sample.pdf"), a, 0o644)
		t.Errorf("%s differs (output written to the artifact dir); go test -update refreshes it", path)
	}
}

func TestInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    *Doc
		want error
	}{
		{name: "nil", d: nil, want: ErrNilDoc},
		{name: "rows without columns", d: &Doc{Sections: []Section{{Rows: []Row{{Cells: []string{"a"}}}}}}, want: ErrShape},
		{name: "too many cells", d: &Doc{Sections: []Section{{Columns: []string{"a"}, Rows: []Row{{Cells: []string{"a", "b"}}}}}}, want: ErrShape},
		{name: "widths count", d: &Doc{Sections: []Section{{Columns: []string{"a", "b"}, Widths: []float64{1}}}}, want: ErrShape},
		{name: "zero width", d: &Doc{Sections: []Section{{Columns: []string{"a"}, Widths: []float64{0}}}}, want: ErrShape},
		{name: "too many pages", d: &Doc{Sections: []Section{{Text: []string{strings.Repeat("line\n", 80*MaxPages)}}}}, want: ErrTooManyPages},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := Render(&b, tc.d)
			require.ErrorIs(t, err, tc.want)
			assert.Zero(t, b.Len(), "nothing written")
		})
	}
}

func TestFewerCellsThanColumns(t *testing.T) {
	d := &Doc{Created: created, Sections: []Section{{Columns: []string{"a", "b", "c"}, Rows: []Row{{Cells: []string{"only"}}, {}}}}}
	pages := pdftotext(t, render(t, d))
	assert.Contains(t, pages[0], "only")
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestWriteError(t *testing.T) {
	assert.ErrorContains(t, Render(failWriter{}, sample(1)), "pdfdoc: write: closed")
}

func TestNoticeKindString(t *testing.T) {
	assert.Equal(t, "Information", Info.String())
	assert.Equal(t, "Warning", Warning.String())
	assert.Equal(t, "Error", Error.String())
	assert.Equal(t, "Information", NoticeKind(42).String())
}

func FuzzRender(f *testing.F) {
	f.Add("Zoë O'Brien-Łukasz", "NHS 943 476 5919", "Atorvastatin (20 mg)\n\\) Tj", "CONFLICT", "GP, Hospital", 0.5)
	f.Add("", "\x00\r\n\t\xff", "\u202e\U0001F600 \u0301e", "", "", 3.0)
	f.Add(strings.Repeat("W", 300), strings.Repeat("a ", 200), strings.Repeat("(", 100), strings.Repeat("F", 60), "x", 100.0)
	f.Fuzz(func(t *testing.T, title, header, cell, flag, sources string, width float64) {
		if !(width > 0) || width > 1e6 {
			width = 1
		}
		d := &Doc{
			Title: title, Header: []string{header, title}, Footer: cell, Created: created,
			Notices: []Notice{{Kind: NoticeKind(len(flag) % 4), Text: cell}},
			Sections: []Section{{Heading: header, Text: []string{cell}, Columns: []string{title, header}, Widths: []float64{width, 1},
				Rows: []Row{{Cells: []string{cell, header}, Flag: flag, Sources: sources}, {Cells: []string{cell}}}}},
		}
		var b bytes.Buffer
		require.NoError(t, Render(&b, d))
		require.True(t, bytes.HasPrefix(b.Bytes(), []byte("%PDF-1.")))
		require.True(t, bytes.HasSuffix(b.Bytes(), []byte("%%EOF\n")))
	})
}

func BenchmarkRender(b *testing.B) {
	for _, n := range []int{50, 1000} {
		d := sample(n)
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var buf bytes.Buffer
				_ = Render(&buf, d)
			}
		})
	}
}

// TestFirstRowStaysWithHeadings moves a table's headings down the page
// one row at a time (by the rows of a table before it), with a first row
// of several lines: wherever the headings land, that row is never split
// from them or across pages; headings and row move to the next page
// together.
func TestFirstRowStaysWithHeadings(t *testing.T) {
	multi := "FIRSTWORD " + strings.Repeat("wrapping words fill the cell ", 12) + "ENDWORD"
	for n := 30; n < 75; n++ {
		d := &Doc{Title: "T", Header: []string{"H1"}, Created: created, Sections: []Section{
			{Heading: "Filler", Columns: []string{"A", "B"}},
			{Heading: "Second", Columns: []string{"Item", "Value"}, Rows: []Row{{Cells: []string{multi, "x"}}, {Cells: []string{"next", "y"}}}},
		}}
		for i := range n {
			d.Sections[0].Rows = append(d.Sections[0].Rows, Row{Cells: []string{fmt.Sprint("filler", i), "x"}})
		}
		pages := pdftotext(t, render(t, d))
		for i, p := range pages {
			assert.NotContains(t, p, "(row continued", "n=%d page %d", n, i+1)
			if strings.Contains(p, "FIRSTWORD") {
				assert.Contains(t, p, "ENDWORD", "n=%d: the first row is on one page", n)
				assert.Contains(t, p, "Second", "n=%d: with its headings", n)
			}
		}
	}
}
