package pdfdoc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
)

// MaxPages is the most pages Render produces. A Doc that needs more is
// refused with ErrTooManyPages: a partial clinical print is worse than
// none.
const MaxPages = 1000

var (
	// ErrNilDoc is returned by Render for a nil *Doc.
	ErrNilDoc = errors.New("pdfdoc: nil Doc")
	// ErrShape is wrapped by errors about a section whose rows or widths
	// do not match its columns. The message gives section and row
	// indexes, never cell text.
	ErrShape = errors.New("pdfdoc: table shape")
	// ErrTooManyPages is returned when the document would exceed MaxPages.
	ErrTooManyPages = errors.New("pdfdoc: document exceeds the page limit")
)

// NoticeKind says how serious a notice is; it sets the banner's label and
// colour.
type NoticeKind int

// The notice kinds. The zero value is Info.
const (
	Info    NoticeKind = iota // labelled "Information", blue
	Warning                   // labelled "Warning", yellow
	Error                     // labelled "Error", red
)

// String returns the label printed before the notice's text.
func (k NoticeKind) String() string {
	switch k {
	case Warning:
		return "Warning"
	case Error:
		return "Error"
	}
	return "Information"
}

// Notice is a banner printed on the first page, below the header: a
// source that did not answer, items withheld, data past its staleness
// limit.
type Notice struct {
	Kind NoticeKind
	Text string
}

// Doc is a document to print.
type Doc struct {
	// Title is printed in bold at the top of every page and stored as the
	// PDF's title.
	Title string
	// Header lines are printed under the title on every page: the
	// patient's name, NHS number and birth date, the date, the user, the
	// sources. Long lines wrap. The header block takes at most a third of
	// a page; lines beyond that are replaced by a line saying how many
	// were left out.
	Header []string
	// Notices are banners on the first page.
	Notices []Notice
	// Sections follow the notices, in order.
	Sections []Section
	// Footer is printed at the foot of every page, beside "Page N of M".
	Footer string
	// Created is stored as the PDF's creation and modification date. The
	// zero value means the time of rendering; set it for reproducible
	// output.
	Created time.Time
}

// Section is a heading followed by paragraphs and a table, each optional.
type Section struct {
	// Heading is printed in bold above the section.
	Heading string
	// Text holds paragraphs printed before the table.
	Text []string
	// Columns are the table's column headings. A section with Rows must
	// have Columns.
	Columns []string
	// Widths are relative column widths, one per column, each positive;
	// nil means equal widths. The "Flag" and "Sources" columns that Render
	// adds are sized by Render.
	Widths []float64
	// Rows are the table's rows.
	Rows []Row
}

// Row is one table row.
type Row struct {
	// Cells hold the row's text, one per column: no more cells than
	// Columns; missing trailing cells print empty.
	Cells []string
	// Flag, when not empty, marks the row for attention: "CONFLICT" where
	// sources disagree, for example.
	Flag string
	// Sources names the sources the row came from.
	Sources string
}

// Colours, as RGB.
type rgb struct{ r, g, b int }

var (
	colText      = rgb{0x21, 0x2b, 0x32} // #212b32
	colSecondary = rgb{0x4c, 0x62, 0x72} // #4c6272
	colBlue      = rgb{0x00, 0x5e, 0xb8} // #005eb8
	colRed       = rgb{0xd5, 0x28, 0x1b} // #d5281b
	colYellow    = rgb{0xff, 0xeb, 0x3b} // #ffeb3b
	colBorder    = rgb{0xd8, 0xdd, 0xe0} // #d8dde0
	colGreyFill  = rgb{0xf0, 0xf4, 0xf5} // #f0f4f5
	colRedFill   = rgb{0xfb, 0xe9, 0xe7}
	colBlueFill  = rgb{0xe8, 0xf1, 0xf9}
	colYellowFil = rgb{0xff, 0xf9, 0xc4}
)

// Geometry, in millimetres and points.
const (
	pageW, pageH  = 210.0, 297.0
	marginX       = 15.0
	marginTop     = 12.0
	marginBottom  = 10.0
	contentW      = pageW - 2*marginX
	padX, padY    = 1.5, 1.2
	ptToMM        = 25.4 / 72
	lineFactor    = 1.32 // line height / font size
	sizeTitle     = 13.0
	sizeHeader    = 9.0
	sizeHeading   = 12.0
	sizeBody      = 9.5
	sizeTable     = 8.5
	sizeFooter    = 7.5
	flagColMax    = 30.0
	maxHeaderFrac = 1.0 / 3
	maxFooterLine = 3
	footerPageW   = 26 // room for "Page 999 of 1000"
	// maxHeadingLines caps a section heading and a column heading; they
	// are labels, and a longer one ends in "…".
	maxHeadingLines = 4
)

func lineH(size float64) float64 { return size * ptToMM * lineFactor }

// Render writes d as a PDF to w. It checks d's shape first and writes
// nothing when it is invalid or when the document would exceed MaxPages;
// the PDF is written with a single Write call.
func Render(w io.Writer, d *Doc) error {
	if d == nil {
		return ErrNilDoc
	}
	if err := check(d); err != nil {
		return err
	}
	r := newRenderer(d)
	if err := r.run(); err != nil {
		return err
	}
	var b bytes.Buffer
	if err := r.pdf.Output(&b); err != nil {
		return fmt.Errorf("pdfdoc: output: %w", err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("pdfdoc: write: %w", err)
	}
	return nil
}

func check(d *Doc) error {
	for i, s := range d.Sections {
		if len(s.Rows) > 0 && len(s.Columns) == 0 {
			return fmt.Errorf("%w: section %d has rows but no columns", ErrShape, i)
		}
		if s.Widths != nil {
			if len(s.Widths) != len(s.Columns) {
				return fmt.Errorf("%w: section %d has %d widths for %d columns", ErrShape, i, len(s.Widths), len(s.Columns))
			}
			for j, w := range s.Widths {
				if !(w > 0) || math.IsInf(w, 0) {
					return fmt.Errorf("%w: section %d width %d is not a positive number", ErrShape, i, j)
				}
			}
		}
		for j, row := range s.Rows {
			if len(row.Cells) > len(s.Columns) {
				return fmt.Errorf("%w: section %d row %d has %d cells for %d columns", ErrShape, i, j, len(row.Cells), len(s.Columns))
			}
		}
	}
	return nil
}

// errPageLimit stops layout once MaxPages is reached.
var errPageLimit = fmt.Errorf("%w (%d)", ErrTooManyPages, MaxPages)

type renderer struct {
	d   *Doc
	pdf *fpdf.Fpdf
	enc *encoder

	header     [][]string // wrapped header lines, encoded
	headerH    float64    // height of the header block
	footer     []string
	bottom     float64 // lowest y content may reach
	y          float64 // current position
	pages      int
	repeatHead func() // redraws a table's column headings on a new page
}

func newRenderer(d *Doc) *renderer {
	pdf := fpdf.New("P", "mm", "A4", "")
	created := d.Created
	if created.IsZero() {
		created = time.Now()
	}
	created = created.UTC()
	pdf.SetCreationDate(created)
	pdf.SetModificationDate(created)
	pdf.SetCatalogSort(true)
	pdf.SetCompression(true)
	pdf.SetProducer("CareLens pdfdoc (codeberg.org/go-pdf/fpdf)", false)
	pdf.SetTitle(d.Title, true)
	pdf.SetLang("en-GB")
	pdf.SetMargins(marginX, marginTop, marginX)
	pdf.SetAutoPageBreak(false, marginBottom)
	pdf.SetCellMargin(0)
	pdf.AliasNbPages("{nb}")
	r := &renderer{d: d, pdf: pdf, enc: newEncoder(pdf)}
	r.prepareFrame()
	pdf.SetHeaderFuncMode(r.drawHeader, false)
	pdf.SetFooterFunc(r.drawFooter)
	return r
}

func (r *renderer) font(style string, size float64, c rgb) {
	r.pdf.SetFont("Helvetica", style, size)
	r.pdf.SetTextColor(c.r, c.g, c.b)
}

func (r *renderer) fill(c rgb) { r.pdf.SetFillColor(c.r, c.g, c.b) }
func (r *renderer) draw(c rgb) { r.pdf.SetDrawColor(c.r, c.g, c.b) }

// prepareFrame wraps the header and footer once; they are the same on
// every page.
func (r *renderer) prepareFrame() {
	budget := pageH * maxHeaderFrac
	h := 0.0
	if r.d.Title != "" {
		r.font("B", sizeTitle, colText)
		lh := lineH(sizeTitle)
		title := capLines(r.wrap(r.enc.line(r.d.Title), contentW), int(budget/2/lh), r.enc.line("…"))
		r.header = append(r.header, title)
		h += float64(len(title)) * lh
	}
	r.font("", sizeHeader, colText)
	lh := lineH(sizeHeader)
	var lines []string
	for _, l := range r.d.Header {
		lines = append(lines, r.wrap(r.enc.line(l), contentW)...)
	}
	if limit := int((budget - h) / lh); len(lines) > limit {
		limit = max(limit, 1)
		lines = capLines(lines, limit, fmt.Sprintf("[%d further header lines not shown]", len(lines)-limit+1))
	}
	if len(lines) > 0 {
		r.header = append(r.header, lines)
		h += float64(len(lines)) * lh
	}
	r.headerH = h + 3 // rule and gap

	r.font("", sizeFooter, colSecondary)
	f := capLines(r.wrap(r.enc.line(r.d.Footer), contentW-footerPageW), maxFooterLine, "[footer shortened]")
	r.footer = f
	r.bottom = pageH - marginBottom - float64(max(len(f), 1))*lineH(sizeFooter) - 2
}

func (r *renderer) drawHeader() {
	y := marginTop
	for i, block := range r.header {
		size, style := sizeHeader, ""
		if i == 0 && r.d.Title != "" {
			size, style = sizeTitle, "B"
		}
		r.font(style, size, colText)
		lh := lineH(size)
		for _, l := range block {
			r.pdf.Text(marginX, y+lh*0.78, l)
			y += lh
		}
	}
	y += 1
	r.draw(colBlue)
	r.pdf.SetLineWidth(0.6)
	r.pdf.Line(marginX, y, pageW-marginX, y)
	r.y = marginTop + r.headerH + 2
}

func (r *renderer) drawFooter() {
	lh := lineH(sizeFooter)
	y := pageH - marginBottom - float64(max(len(r.footer), 1))*lh
	r.draw(colBorder)
	r.pdf.SetLineWidth(0.3)
	r.pdf.Line(marginX, y-1, pageW-marginX, y-1)
	r.font("", sizeFooter, colSecondary)
	for i, l := range r.footer {
		r.pdf.Text(marginX, y+(float64(i)+0.78)*lh, l)
	}
	// {nb} is replaced by the page count when the document is closed, so
	// the page number is left-aligned in a fixed box, not right-aligned.
	r.pdf.Text(pageW-marginX-footerPageW+4, y+0.78*lh, fmt.Sprintf("Page %d of {nb}", r.pdf.PageNo()))
}

// newPage starts a page and, inside a table, repeats its column headings.
func (r *renderer) newPage() error {
	if r.pages >= MaxPages {
		return errPageLimit
	}
	r.pages++
	r.pdf.AddPage()
	if r.repeatHead != nil {
		r.repeatHead()
	}
	return nil
}

// ensure starts a new page unless h more millimetres fit on this one. It
// never breaks at the top of a fresh page, so progress is guaranteed.
func (r *renderer) ensure(h float64) error {
	if r.y+h <= r.bottom || r.atTop() {
		return nil
	}
	return r.newPage()
}

func (r *renderer) atTop() bool { return r.y <= marginTop+r.headerH+2+1e-6 }

func (r *renderer) run() error {
	if err := r.newPage(); err != nil {
		return err
	}
	for _, n := range r.d.Notices {
		if err := r.notice(n); err != nil {
			return err
		}
	}
	for _, s := range r.d.Sections {
		if err := r.section(s); err != nil {
			return err
		}
	}
	if r.pdf.Err() {
		return fmt.Errorf("pdfdoc: layout: %w", r.pdf.Error())
	}
	return nil
}

func (r *renderer) notice(n Notice) error {
	bar, tint := colBlue, colBlueFill
	switch n.Kind {
	case Warning:
		bar, tint = colYellow, colYellowFil
	case Error:
		bar, tint = colRed, colRedFill
	}
	label := n.Kind.String() + ": "
	r.font("", sizeBody, colText)
	lines := r.wrapFirstIndent(r.enc.text(n.Text), contentW-8, r.pdf.GetStringWidth(label)+1)
	lh := lineH(sizeBody)
	for start := 0; start < len(lines); {
		if err := r.ensure(lh + 4); err != nil {
			return err
		}
		k := min(len(lines)-start, max(1, int((r.bottom-r.y-4)/lh)))
		h := float64(k)*lh + 4
		r.fill(tint)
		r.pdf.Rect(marginX, r.y, contentW, h, "F")
		r.fill(bar)
		r.pdf.Rect(marginX, r.y, 2, h, "F")
		for i, l := range lines[start : start+k] {
			x := marginX + 5
			base := r.y + 2 + (float64(i)+0.78)*lh
			if start+i == 0 {
				r.font("B", sizeBody, colText)
				r.pdf.Text(x, base, label)
				x += r.pdf.GetStringWidth(label) + 1
				r.font("", sizeBody, colText)
			}
			r.pdf.Text(x, base, l)
		}
		r.y += h + 2
		start += k
	}
	return nil
}

func (r *renderer) section(s Section) error {
	r.y += 3
	r.font("B", sizeHeading, colText)
	head := capLines(r.wrap(r.enc.line(s.Heading), contentW), maxHeadingLines, r.enc.line("…"))
	hh := float64(len(head)) * lineH(sizeHeading)
	// Keep the heading with what follows: a first paragraph line, or the
	// column headings and the first row.
	var t *tableLayout
	follow := 3 * lineH(sizeBody)
	if len(s.Columns) > 0 {
		t = r.layoutTable(s)
		if len(s.Text) == 0 {
			follow = t.lead()
		}
	}
	if err := r.ensure(hh + 1.5 + follow); err != nil {
		return err
	}
	for _, l := range head {
		r.pdf.Text(marginX, r.y+lineH(sizeHeading)*0.78, l)
		r.y += lineH(sizeHeading)
	}
	r.y += 1.5
	r.font("", sizeBody, colText)
	lh := lineH(sizeBody)
	for _, p := range s.Text {
		for _, l := range r.wrap(r.enc.text(p), contentW) {
			if err := r.ensure(lh); err != nil {
				return err
			}
			r.font("", sizeBody, colText)
			r.pdf.Text(marginX, r.y+lh*0.78, l)
			r.y += lh
		}
		r.y += 1.5
	}
	if t == nil {
		return nil
	}
	return r.table(s, t)
}

// column is one laid-out table column.
type column struct {
	title string
	w     float64
}

func (r *renderer) columns(s Section) (cols []column, hasFlag, hasSources bool) {
	r.font("B", sizeTable, colText)
	flagW := 0.0
	for _, row := range s.Rows {
		if row.Flag != "" {
			hasFlag = true
			flagW = max(flagW, r.pdf.GetStringWidth(r.enc.line(row.Flag)))
		}
		hasSources = hasSources || row.Sources != ""
	}
	avail := contentW
	if hasFlag {
		flagW = min(max(flagW, r.pdf.GetStringWidth("Flag"))+2*padX, flagColMax)
		cols = append(cols, column{title: "Flag", w: flagW})
		avail -= flagW
	}
	weights := s.Widths
	if weights == nil {
		weights = make([]float64, len(s.Columns))
		for i := range weights {
			weights[i] = 1
		}
	}
	total, mean := 0.0, 0.0
	for _, w := range weights {
		total += w
	}
	mean = total / float64(len(weights))
	if hasSources {
		total += mean
	}
	for i, c := range s.Columns {
		cols = append(cols, column{title: r.enc.line(c), w: avail * weights[i] / total})
	}
	if hasSources {
		cols = append(cols, column{title: "Sources", w: avail * mean / total})
	}
	return cols, hasFlag, hasSources
}

// tableLayout is a table laid out before it is drawn: its columns, the
// wrapped headings and cells, and each row's height in lines.
type tableLayout struct {
	cols                []column
	hasFlag, hasSources bool
	headLines           [][]string
	headH               float64
	cells               [][][]string // row, column, line
	lines               []int        // row height in lines
}

// lead is the height of the column headings and the first row: what must
// stay together with the section heading.
func (t *tableLayout) lead() float64 {
	first := 1
	if len(t.lines) > 0 {
		first = t.lines[0]
	}
	return t.headH + float64(first)*lineH(sizeTable) + 2*padY
}

func (r *renderer) layoutTable(s Section) *tableLayout {
	t := &tableLayout{}
	t.cols, t.hasFlag, t.hasSources = r.columns(s)
	lh := lineH(sizeTable)
	r.font("B", sizeTable, colText)
	t.headLines = make([][]string, len(t.cols))
	n := 1
	for i, c := range t.cols {
		t.headLines[i] = capLines(r.wrap(c.title, c.w-2*padX), maxHeadingLines, r.enc.line("…"))
		n = max(n, len(t.headLines[i]))
	}
	t.headH = float64(n)*lh + 2*padY
	t.cells = make([][][]string, len(s.Rows))
	t.lines = make([]int, len(s.Rows))
	for k, row := range s.Rows {
		t.cells[k] = make([][]string, len(t.cols))
		t.lines[k] = 1
		for i := range t.cols {
			var txt, style string
			j := i
			if t.hasFlag {
				j--
			}
			switch {
			case t.hasFlag && i == 0:
				txt, style = r.enc.text(row.Flag), "B"
			case t.hasSources && i == len(t.cols)-1:
				txt = r.enc.text(row.Sources)
			case j < len(row.Cells):
				txt = r.enc.text(row.Cells[j])
			}
			r.font(style, sizeTable, colText)
			t.cells[k][i] = r.wrap(txt, t.cols[i].w-2*padX)
			t.lines[k] = max(t.lines[k], len(t.cells[k][i]))
		}
	}
	return t
}

func (r *renderer) table(s Section, t *tableLayout) error {
	cols, hasFlag, headLines, headH := t.cols, t.hasFlag, t.headLines, t.headH
	lh := lineH(sizeTable)
	r.font("B", sizeBody, colText)
	contHead := capLines(r.wrap(r.enc.line(s.Heading)+" (continued)", contentW), 1, r.enc.line("… (continued)"))[0]
	var headEnd float64 // where rows start below the headings on this page
	drawHead := func(cont bool) {
		if cont {
			r.font("B", sizeBody, colText)
			r.pdf.Text(marginX, r.y+0.78*lineH(sizeBody), contHead)
			r.y += lineH(sizeBody) + 1
		}
		r.font("B", sizeTable, colText)
		r.fill(colGreyFill)
		r.pdf.Rect(marginX, r.y, contentW, headH, "F")
		x := marginX
		for i, c := range cols {
			for j, l := range headLines[i] {
				r.pdf.Text(x+padX, r.y+padY+(float64(j)+0.78)*lh, l)
			}
			x += c.w
		}
		r.y += headH
		headEnd = r.y
		r.draw(colSecondary)
		r.pdf.SetLineWidth(0.4)
		r.pdf.Line(marginX, r.y, pageW-marginX, r.y)
	}
	// The headings need room for the first row below them, or the first
	// row would be split from them.
	if err := r.ensure(t.lead()); err != nil {
		return err
	}
	drawHead(false)
	r.repeatHead = func() { drawHead(true) }
	defer func() { r.repeatHead = nil }()

	for ri, row := range s.Rows {
		cells, nl := t.cells[ri], t.lines[ri]
		// Place it: whole on this page, else whole on the next; only a
		// row taller than a page is split.
		rowH := float64(nl)*lh + 2*padY
		if r.y+rowH > r.bottom && r.y > headEnd+1e-6 {
			if err := r.newPage(); err != nil {
				return err
			}
		}
		for start := 0; start < nl; {
			// The epsilon keeps a row that fits exactly (by the float test
			// above) from losing its last line to rounding.
			room := int((r.bottom-r.y-2*padY)/lh+1e-9) - boolInt(start > 0) // a continuation gives a line to its marker
			k := min(nl-start, max(1, room))
			r.drawRow(cols, cells, start, k, row.Flag != "", hasFlag, start > 0)
			start += k
			if start < nl {
				if err := r.newPage(); err != nil {
					return err
				}
			}
		}
	}
	r.y += 2
	return nil
}

// drawRow draws lines [start, start+k) of one row's wrapped cells; cont
// marks the continuation of a row split across pages, which gets a line
// of its own saying so.
func (r *renderer) drawRow(cols []column, cells [][]string, start, k int, flagged, hasFlag, cont bool) {
	lh := lineH(sizeTable)
	top := r.y + padY
	h := float64(k+boolInt(cont))*lh + 2*padY
	if flagged {
		r.fill(colRedFill)
		r.pdf.Rect(marginX, r.y, contentW, h, "F")
		r.fill(colRed)
		r.pdf.Rect(marginX, r.y, 1.2, h, "F")
	}
	if cont {
		r.font("I", sizeTable, colSecondary)
		r.pdf.Text(marginX+padX+1, top+0.78*lh, "(row continued from the previous page)")
		top += lh
	}
	x := marginX
	for i, c := range cols {
		style, col := "", colText
		if hasFlag && i == 0 {
			style, col = "B", colRed
		}
		r.font(style, sizeTable, col)
		lines := cells[i]
		for j := start; j < start+k && j < len(lines); j++ {
			r.pdf.Text(x+padX, top+(float64(j-start)+0.78)*lh, lines[j])
		}
		x += c.w
	}
	r.y += h
	r.draw(colBorder)
	r.pdf.SetLineWidth(0.2)
	r.pdf.Line(marginX, r.y, pageW-marginX, r.y)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// capLines keeps at most n lines (n >= 1), replacing the last kept one by
// last when lines were dropped.
func capLines(lines []string, n int, last string) []string {
	n = max(n, 1)
	if len(lines) <= n {
		return lines
	}
	return append(lines[:n-1:n-1], last)
}

// wrap breaks encoded text into lines no wider than w in the current
// font: at spaces where it can, inside a word where a word alone is too
// wide, and at every '\n'. It always returns at least one line.
func (r *renderer) wrap(s string, w float64) []string {
	return r.wrapFirstIndent(s, w, 0)
}

// wrapFirstIndent is wrap with the first line indent narrower.
func (r *renderer) wrapFirstIndent(s string, w, indent float64) []string {
	var out []string
	space := r.pdf.GetStringWidth(" ")
	avail := func() float64 {
		if len(out) == 0 {
			return w - indent
		}
		return w
	}
	for para := range strings.SplitSeq(s, "\n") {
		var line strings.Builder
		lw := 0.0
		flush := func() {
			out = append(out, line.String())
			line.Reset()
			lw = 0
		}
		for word := range strings.SplitSeq(para, " ") {
			ww := r.pdf.GetStringWidth(word)
			switch {
			case line.Len() == 0 && ww <= avail():
				line.WriteString(word)
				lw = ww
			case line.Len() > 0 && lw+space+ww <= avail():
				line.WriteByte(' ')
				line.WriteString(word)
				lw += space + ww
			case ww <= w:
				flush()
				line.WriteString(word)
				lw = ww
			default: // a word wider than a line: break it between characters
				if line.Len() > 0 {
					line.WriteByte(' ')
					lw += space
				}
				for i := 0; i < len(word); i++ {
					cw := r.pdf.GetStringWidth(word[i : i+1])
					if line.Len() > 0 && lw+cw > avail() {
						flush()
					}
					line.WriteByte(word[i])
					lw += cw
				}
			}
		}
		flush()
	}
	return out
}
