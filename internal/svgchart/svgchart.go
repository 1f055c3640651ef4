package svgchart

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/fnv"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults applied when the corresponding [Options] field is zero.
const (
	DefaultWidth     = 640 // in SVG user units (CSS pixels at 100 %)
	DefaultHeight    = 260
	DefaultMaxPoints = 500
)

// Limits that keep a chart legible and its output bounded.
const (
	// MinWidth and MinHeight are the smallest sizes a chart is drawn at;
	// smaller requested sizes are raised to them.
	MinWidth  = 240
	MinHeight = 160
	// MaxWidth and MaxHeight are the largest; larger requests are lowered.
	MaxWidth  = 4000
	MaxHeight = 2000
	// MaxTextRunes is the longest any one string (title, unit, label) is
	// written; longer strings are cut and end in "…".
	MaxTextRunes = 200
)

// Palette: the NHS identity colours the chart uses, exported so the
// viewer's HTML can match them.
const (
	ColorBlue      = "#005eb8" // line and in-range markers
	ColorText      = "#212b32" // all text
	ColorSecondary = "#4c6272" // axes
	ColorGrid      = "#d8dde0" // grid lines
	ColorRed       = "#d5281b" // out-of-range and conflict markers
	ColorBand      = "#e8edee" // reference-range band
	ColorWhite     = "#ffffff"
)

var (
	// ErrNoPoints is returned for a series without points.
	ErrNoPoints = errors.New("svgchart: series has no points")
	// ErrInvalidPoint is wrapped by errors about one point: a NaN or
	// infinite value or a zero time. The message names the point's index,
	// never its value or label.
	ErrInvalidPoint = errors.New("svgchart: invalid point")
	// ErrInvalidRange is returned when Low or High is not finite, or Low
	// is above High.
	ErrInvalidRange = errors.New("svgchart: invalid reference range")
)

// Point is one result.
type Point struct {
	// Time is when the result was taken (its effective time). It must not
	// be the zero time.
	Time time.Time
	// Value is the result in the series' unit. It must be finite.
	Value float64
	// Label says where the result came from, typically the names of the
	// sources that hold it; it goes into the marker's tooltip.
	Label string
	// Conflict marks a result on which sources disagree; it is drawn as a
	// hollow red diamond.
	Conflict bool
}

// Series is one test's results over time.
type Series struct {
	// Title names the test, for example "HbA1c".
	Title string
	// Unit is the unit of every value, for example "mmol/mol".
	Unit string
	// Points are the results, in any order; Render sorts a copy by time.
	Points []Point
	// Low and High bound the reference range. Either may be nil; when
	// both are nil no band is drawn and no result is out of range.
	Low, High *float64
}

// Options sizes a chart. The zero value, and a nil *Options, give the
// defaults.
type Options struct {
	// Width and Height are the chart's size in SVG user units; zero means
	// DefaultWidth and DefaultHeight. They are clamped to
	// [MinWidth, MaxWidth] and [MinHeight, MaxHeight]. A narrow chart
	// whose legend wraps onto several lines is made taller than asked,
	// so that the plot keeps a legible height.
	Width, Height int
	// MaxPoints caps the markers drawn; zero means DefaultMaxPoints.
	MaxPoints int
	// ID prefixes the ids of the chart's <title> and <desc>, which its
	// aria-labelledby refers to. Give each chart on a page its own ID;
	// empty means an id derived from the series, stable across renders.
	// Characters other than ASCII letters, digits, '-' and '_' are dropped.
	ID string
	// Location is the time zone dates are shown in; nil means UTC.
	Location *time.Location
}

// HTML renders s like [Render] and returns it as template.HTML, ready for
// an html/template action. The content is safe to mark as HTML because
// every string in it has been escaped by Render.
func HTML(s Series, o *Options) (template.HTML, error) {
	var b strings.Builder
	if err := Render(&b, s, o); err != nil {
		return "", err
	}
	return template.HTML(b.String()), nil //nolint:gosec // built and escaped by Render
}

// Render writes s as an <svg> element to w. It validates s first and
// writes nothing when s is invalid; the output is written with a single
// Write call.
func Render(w io.Writer, s Series, o *Options) error {
	c, err := newChart(s, o)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	c.write(&b)
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("svgchart: write: %w", err)
	}
	return nil
}

// status is a point's place relative to the reference range.
type status int

const (
	inRange status = iota
	above
	below
)

// chart is a validated series with its layout.
type chart struct {
	s        Series
	all      []Point // every point, sorted by time
	shown    []Point // the most recent MaxPoints of all
	loc      *time.Location
	id       string
	w, h     float64
	plotL    float64 // plot area, in user units
	plotR    float64
	plotT    float64
	plotB    float64
	tmin     float64 // time axis domain, Unix seconds
	tmax     float64
	vmin     float64 // value axis domain
	vmax     float64
	vticks   []float64
	vstep    float64
	tticks   []time.Time
	tlayout  string
	kinds    [4]bool // marker kinds present: circle, up, down, diamond
	legend   []legendItem
	outCount int
	confl    int
}

func newChart(s Series, o *Options) (*chart, error) {
	var opt Options
	if o != nil {
		opt = *o
	}
	if len(s.Points) == 0 {
		return nil, ErrNoPoints
	}
	for i, p := range s.Points {
		switch {
		case math.IsNaN(p.Value) || math.IsInf(p.Value, 0):
			return nil, fmt.Errorf("%w: point %d: value is not finite", ErrInvalidPoint, i)
		case p.Time.IsZero():
			return nil, fmt.Errorf("%w: point %d: zero time", ErrInvalidPoint, i)
		}
	}
	for _, b := range []*float64{s.Low, s.High} {
		if b != nil && (math.IsNaN(*b) || math.IsInf(*b, 0)) {
			return nil, fmt.Errorf("%w: bound is not finite", ErrInvalidRange)
		}
	}
	if s.Low != nil && s.High != nil && *s.Low > *s.High {
		return nil, fmt.Errorf("%w: low is above high", ErrInvalidRange)
	}
	if opt.Width == 0 {
		opt.Width = DefaultWidth
	}
	if opt.Height == 0 {
		opt.Height = DefaultHeight
	}
	if opt.MaxPoints <= 0 {
		opt.MaxPoints = DefaultMaxPoints
	}
	c := &chart{
		s:   s,
		loc: cmp.Or(opt.Location, time.UTC),
		w:   float64(min(max(opt.Width, MinWidth), MaxWidth)),
		h:   float64(min(max(opt.Height, MinHeight), MaxHeight)),
	}
	c.s.Title, c.s.Unit = clip(s.Title), clip(s.Unit)
	c.all = slices.Clone(s.Points)
	for i := range c.all {
		c.all[i].Label = clip(c.all[i].Label)
	}
	slices.SortStableFunc(c.all, func(a, b Point) int { return a.Time.Compare(b.Time) })
	c.shown = c.all[max(0, len(c.all)-opt.MaxPoints):]
	c.id = sanitizeID(opt.ID)
	if c.id == "" {
		c.id = derivedID(s)
	}
	c.layout()
	return c, nil
}

// sanitizeID keeps the characters that are safe in an XML id and an
// IDREF list.
func sanitizeID(id string) string {
	id = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return -1
	}, id)
	if len(id) > 64 {
		id = id[:64]
	}
	if id != "" && (id[0] < 'A' || id[0] > 'z' || (id[0] > 'Z' && id[0] < 'a')) {
		id = "c" + id // ids start with a letter
	}
	return id
}

// derivedID hashes what distinguishes one series from another, so two
// different charts on a page get different ids without help.
func derivedID(s Series) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%d", s.Title, s.Unit, len(s.Points))
	for _, p := range s.Points {
		fmt.Fprintf(h, "\x00%d\x00%x", p.Time.UnixNano(), math.Float64bits(p.Value))
	}
	return fmt.Sprintf("svgchart-%016x", h.Sum64())
}

func (c *chart) status(v float64) status {
	switch {
	case c.s.High != nil && v > *c.s.High:
		return above
	case c.s.Low != nil && v < *c.s.Low:
		return below
	}
	return inRange
}

// Layout constants, in user units.
const (
	titleBand     = 30 // visible title above the plot
	legendBand    = 42 // date labels and legend below the plot
	minLeftAxis   = 44 // value labels left of the plot
	charWidth     = 7  // a generous average glyph width at fontSize
	rightPad      = 20
	minPlotHeight = 90
	fontSize      = 12
	markerSize    = 4.5
)

func (c *chart) layout() {
	for _, p := range c.all {
		if c.status(p.Value) != inRange {
			c.outCount++
		}
		if p.Conflict {
			c.confl++
		}
	}
	for _, p := range c.shown {
		c.kinds[c.markerKind(p)] = true
	}
	lines := c.layoutLegend()
	c.plotT = titleBand
	if len(c.shown) < len(c.all) {
		c.plotT += 16 // caption line
	}
	below := legendBand + float64(lines-1)*legendLineH
	c.h = max(c.h, c.plotT+minPlotHeight+below) // a wrapped legend grows the chart, not shrinks the plot
	c.plotB = c.h - below

	// Value domain: every shown point and the reference range.
	lo, hi := c.shown[0].Value, c.shown[0].Value
	for _, p := range c.shown {
		lo, hi = min(lo, p.Value), max(hi, p.Value)
	}
	for _, b := range []*float64{c.s.Low, c.s.High} {
		if b != nil {
			lo, hi = min(lo, *b), max(hi, *b)
		}
	}
	nt := max(2, int((c.plotB-c.plotT)/40))
	c.vmin, c.vmax, c.vstep, c.vticks = valueTicks(lo, hi, nt)

	// The value labels decide the left margin.
	widest := 0
	for _, v := range c.vticks {
		widest = max(widest, len(formatTick(v, c.vstep)))
	}
	c.plotL = max(minLeftAxis, float64(widest)*charWidth+12)
	c.plotR = c.w - rightPad

	// Time domain.
	t0, t1 := c.shown[0].Time, c.shown[len(c.shown)-1].Time
	c.tticks, c.tlayout, c.tmin, c.tmax = timeTicks(t0, t1, c.loc, max(2, int((c.plotR-c.plotL)/90)))
}

// markerKind is the marker a point is drawn with: 0 in range, 1 above, 2
// below, 3 conflict (which wins over the range status).
func (c *chart) markerKind(p Point) int {
	switch {
	case p.Conflict:
		return 3
	case c.status(p.Value) == above:
		return 1
	case c.status(p.Value) == below:
		return 2
	}
	return 0
}

// x maps a time to the plot's horizontal axis.
func (c *chart) x(t time.Time) float64 {
	return c.plotL + (c.plotR-c.plotL)*frac(unixSeconds(t), c.tmin, c.tmax)
}

// y maps a value to the plot's vertical axis (larger values higher).
func (c *chart) y(v float64) float64 {
	return c.plotB - (c.plotB-c.plotT)*frac(v, c.vmin, c.vmax)
}

// frac is (v-lo)/(hi-lo), computed on halves so that it cannot overflow
// for values near ±MaxFloat64, and clamped to [0,1].
func frac(v, lo, hi float64) float64 {
	d := hi/2 - lo/2
	if d <= 0 {
		return 0.5
	}
	f := (v/2 - lo/2) / d
	return min(max(f, 0), 1)
}

func unixSeconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// svg is a small writer of escaped SVG.
type svg struct{ b *bytes.Buffer }

func (s svg) raw(parts ...string) {
	for _, p := range parts {
		s.b.WriteString(p)
	}
}

// text writes t escaped for element content or a quoted attribute value.
func (s svg) text(t string) {
	_ = xml.EscapeText(s.b, []byte(t))
}

// clip cuts t to MaxTextRunes runes.
func clip(t string) string { return clipRunes(t, MaxTextRunes) }

// clipRunes cuts t to n runes, the last of them "…" when t was longer.
func clipRunes(t string, n int) string {
	if utf8.RuneCountInString(t) <= n {
		return t
	}
	k := 0
	for i := range t {
		if k == n-1 {
			return t[:i] + "…"
		}
		k++
	}
	return t
}

func num(f float64) string {
	return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64)
}

func (c *chart) write(b *bytes.Buffer) {
	s := svg{b}
	s.raw(`<svg xmlns="http://www.w3.org/2000/svg" role="img" class="svgchart"`,
		` width="`, num(c.w), `" height="`, num(c.h), `" viewBox="0 0 `, num(c.w), " ", num(c.h), `"`,
		` aria-labelledby="`, c.id, `-title `, c.id, `-desc"`,
		` font-family="Arial, Helvetica, sans-serif" font-size="`, strconv.Itoa(fontSize), `" fill="`, ColorText, `">`, "\n")
	s.raw(`<title id="`, c.id, `-title">`)
	s.text(c.heading())
	s.raw("</title>\n", `<desc id="`, c.id, `-desc">`)
	s.text(c.summary())
	s.raw("</desc>\n")
	s.raw(`<rect width="100%" height="100%" fill="`, ColorWhite, `"/>`, "\n")

	// Visible title and, when points were left out, a caption.
	s.raw(`<text x="`, num(legendLeft), `" y="18" font-size="14" font-weight="bold">`)
	s.text(clipRunes(c.heading(), int((c.w-legendLeft-rightPad)/9)))
	s.raw("</text>\n")
	if len(c.shown) < len(c.all) {
		s.raw(`<text x="`, num(legendLeft), `" y="36">`)
		s.text(c.caption())
		s.raw("</text>\n")
	}

	c.writeBand(s)
	c.writeAxes(s)
	c.writeLine(s)
	c.writePoints(s)
	c.writeLegend(s)
	s.raw("</svg>\n")
}

func (c *chart) heading() string {
	if c.s.Unit == "" {
		return c.s.Title
	}
	return c.s.Title + " (" + c.s.Unit + ")"
}

func (c *chart) caption() string {
	return fmt.Sprintf("Showing the latest %d of %d results", len(c.shown), len(c.all))
}

// withUnit formats v followed by the series' unit.
func (c *chart) withUnit(v float64) string {
	if c.s.Unit == "" {
		return formatValue(v)
	}
	return formatValue(v) + " " + c.s.Unit
}

func (c *chart) longDate(t time.Time) string {
	return t.In(c.loc).Format("2 January 2006")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// summary is the chart's <desc>: what a sighted reader takes in at a glance.
func (c *chart) summary() string {
	var sb strings.Builder
	first, last := c.all[0], c.all[len(c.all)-1]
	sb.WriteString(cmp.Or(c.s.Title, "Results"))
	sb.WriteString(", ")
	sb.WriteString(plural(len(c.all), "result", "results"))
	if len(c.all) == 1 {
		fmt.Fprintf(&sb, " on %s: %s.", c.longDate(first.Time), c.withUnit(first.Value))
	} else {
		lo, hi := first.Value, first.Value
		for _, p := range c.all {
			lo, hi = min(lo, p.Value), max(hi, p.Value)
		}
		fmt.Fprintf(&sb, " from %s to %s, latest %s on %s. Lowest %s, highest %s.",
			c.longDate(first.Time), c.longDate(last.Time), c.withUnit(last.Value), c.longDate(last.Time),
			formatValue(lo), formatValue(hi))
	}
	if r := c.rangeText(); r != "" {
		fmt.Fprintf(&sb, " Reference range %s; %s outside it.", r, plural(c.outCount, "result", "results"))
	}
	if c.confl > 0 {
		fmt.Fprintf(&sb, " Sources disagree on %s.", plural(c.confl, "result", "results"))
	}
	if len(c.shown) < len(c.all) {
		sb.WriteString(" " + c.caption() + ".")
	}
	return sb.String()
}

func (c *chart) rangeText() string {
	switch {
	case c.s.Low != nil && c.s.High != nil:
		return formatValue(*c.s.Low) + " to " + c.withUnit(*c.s.High)
	case c.s.Low != nil:
		return "at least " + c.withUnit(*c.s.Low)
	case c.s.High != nil:
		return "at most " + c.withUnit(*c.s.High)
	}
	return ""
}

func (c *chart) writeBand(s svg) {
	if c.s.Low == nil && c.s.High == nil {
		return
	}
	top, bot := c.plotT, c.plotB
	if c.s.High != nil {
		top = c.y(*c.s.High)
	}
	if c.s.Low != nil {
		bot = c.y(*c.s.Low)
	}
	s.raw(`<g class="range"><title>`)
	s.text("Reference range " + c.rangeText())
	s.raw(`</title><rect x="`, num(c.plotL), `" y="`, num(top), `" width="`, num(c.plotR-c.plotL),
		`" height="`, num(max(bot-top, 1)), `" fill="`, ColorBand, `"/>`)
	for _, b := range []*float64{c.s.Low, c.s.High} {
		if b != nil {
			y := num(c.y(*b))
			s.raw(`<line x1="`, num(c.plotL), `" x2="`, num(c.plotR), `" y1="`, y, `" y2="`, y,
				`" stroke="`, ColorSecondary, `" stroke-width="1" stroke-dasharray="4 3"/>`)
		}
	}
	s.raw("</g>\n")
}

func (c *chart) writeAxes(s svg) {
	s.raw(`<g class="y-axis" text-anchor="end">`, "\n")
	for _, v := range c.vticks {
		y := num(c.y(v))
		s.raw(`<line x1="`, num(c.plotL), `" x2="`, num(c.plotR), `" y1="`, y, `" y2="`, y,
			`" stroke="`, ColorGrid, `" stroke-width="1"/>`)
		s.raw(`<text x="`, num(c.plotL-6), `" y="`, y, `" dy="4">`)
		s.text(formatTick(v, c.vstep))
		s.raw("</text>\n")
	}
	s.raw("</g>\n")
	s.raw(`<g class="x-axis" text-anchor="middle">`, "\n")
	for _, t := range c.tticks {
		x := num(c.x(t))
		s.raw(`<line x1="`, x, `" x2="`, x, `" y1="`, num(c.plotB), `" y2="`, num(c.plotB+5),
			`" stroke="`, ColorSecondary, `" stroke-width="1"/>`)
		s.raw(`<text x="`, x, `" y="`, num(c.plotB+18), `">`)
		s.text(t.In(c.loc).Format(c.tlayout))
		s.raw("</text>\n")
	}
	s.raw("</g>\n")
	s.raw(`<path d="M`, num(c.plotL), " ", num(c.plotT), "V", num(c.plotB), "H", num(c.plotR),
		`" fill="none" stroke="`, ColorSecondary, `" stroke-width="1"/>`, "\n")
}

func (c *chart) writeLine(s svg) {
	if len(c.shown) < 2 {
		return
	}
	s.raw(`<polyline fill="none" stroke="`, ColorBlue, `" stroke-width="2" stroke-linejoin="round" points="`)
	for i, p := range c.shown {
		if i > 0 {
			s.raw(" ")
		}
		s.raw(num(c.x(p.Time)), ",", num(c.y(p.Value)))
	}
	s.raw(`"/>`, "\n")
}

func (c *chart) writePoints(s svg) {
	s.raw(`<g class="points">`, "\n")
	for _, p := range c.shown {
		st := c.status(p.Value)
		s.raw(`<g class="point">`)
		s.raw("<title>")
		s.text(c.pointTitle(p, st))
		s.raw("</title>")
		kind := c.markerKind(p)
		marker(s, kind, c.x(p.Time), c.y(p.Value))
		s.raw("</g>\n")
	}
	s.raw("</g>\n")
}

func (c *chart) pointTitle(p Point, st status) string {
	t := c.longDate(p.Time) + ": " + c.withUnit(p.Value)
	switch st {
	case above:
		t += ", above the reference range"
	case below:
		t += ", below the reference range"
	}
	if p.Conflict {
		t += "; sources disagree"
	}
	if p.Label != "" {
		t += " (" + p.Label + ")"
	}
	return t
}

// marker draws one of the four marker kinds centred on x, y.
func marker(s svg, kind int, x, y float64) {
	r := markerSize
	switch kind {
	case 0: // in range: filled circle
		s.raw(`<circle cx="`, num(x), `" cy="`, num(y), `" r="`, num(r), `" fill="`, ColorBlue,
			`" stroke="`, ColorWhite, `" stroke-width="1"/>`)
	case 1: // above: triangle pointing up
		s.raw(`<path d="M`, num(x), " ", num(y-r-1), "L", num(x+r+1), " ", num(y+r), "H", num(x-r-1),
			`Z" fill="`, ColorRed, `" stroke="`, ColorWhite, `" stroke-width="1"/>`)
	case 2: // below: triangle pointing down
		s.raw(`<path d="M`, num(x), " ", num(y+r+1), "L", num(x+r+1), " ", num(y-r), "H", num(x-r-1),
			`Z" fill="`, ColorRed, `" stroke="`, ColorWhite, `" stroke-width="1"/>`)
	case 3: // conflict: hollow diamond
		d := r + 2
		s.raw(`<path d="M`, num(x), " ", num(y-d), "L", num(x+d), " ", num(y), "L", num(x), " ", num(y+d),
			"L", num(x-d), " ", num(y), `Z" fill="`, ColorWhite, `" stroke="`, ColorRed, `" stroke-width="2.5"/>`)
	}
}

var legendText = [4]string{"In range", "Above range", "Below range", "Sources disagree"}

// legendItem is one entry of the legend: a marker kind (0–3) or the
// reference-range swatch (kindRange), placed at x, y.
type legendItem struct {
	kind  int
	label string
	x, y  float64
}

const (
	kindRange   = 4
	legendLeft  = 12
	legendLineH = 18
)

// layoutLegend places the legend entries for the marker kinds drawn,
// wrapping onto further lines when the chart is narrow, and returns the
// number of lines used. y is relative to the first line's baseline.
func (c *chart) layoutLegend() int {
	hasRange := c.s.Low != nil || c.s.High != nil
	var items []legendItem
	for k, present := range c.kinds {
		if !present {
			continue
		}
		label := legendText[k]
		if k == 0 && !hasRange {
			label = "Result"
		}
		items = append(items, legendItem{kind: k, label: label})
	}
	if hasRange {
		items = append(items, legendItem{kind: kindRange, label: "Reference range"})
	}
	x, line := float64(legendLeft), 0
	for i := range items {
		w := 18 + float64(len(items[i].label))*charWidth
		if x > legendLeft && x+w > c.w-rightPad {
			x, line = legendLeft, line+1
		}
		items[i].x, items[i].y = x, float64(line*legendLineH)
		x += w + 16
	}
	c.legend = items
	return line + 1
}

func (c *chart) writeLegend(s svg) {
	y0 := c.h - 10 // baseline of the last line
	if n := len(c.legend); n > 0 {
		y0 -= c.legend[n-1].y
	}
	s.raw(`<g class="legend">`, "\n")
	for _, it := range c.legend {
		x, y := it.x, y0+it.y
		if it.kind == kindRange {
			s.raw(`<rect x="`, num(x), `" y="`, num(y-10), `" width="12" height="12" fill="`, ColorBand,
				`" stroke="`, ColorSecondary, `" stroke-width="1" stroke-dasharray="3 2"/>`)
		} else {
			marker(s, it.kind, x+6, y-4)
		}
		s.raw(`<text x="`, num(x+18), `" y="`, num(y), `">`)
		s.text(it.label)
		s.raw("</text>\n")
	}
	s.raw("</g>\n")
}
