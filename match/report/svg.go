package report

import (
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/carelens/carelens/match"
)

// Colours and font, as presentation attributes (no style element).
const (
	colPositive = "#2b7a4b"
	colNegative = "#b23b32"
	colPrior    = "#6b6b6b"
	colTotal    = "#2f4b7c"
	colAxis     = "#444444"
	colGrid     = "#dddddd"
	colWarn     = "#9a5b00"
	fontAttrs   = `font-family="system-ui, sans-serif" font-size="11"`
)

// maxLabelRunes bounds a label drawn in a chart; the full text is in the
// element's title and in the page's tables.
const maxLabelRunes = 46

// esc escapes s for XML and HTML text and attributes: characters XML
// cannot carry become U+FFFD, and max > 0 cuts s to max runes.
func esc(s string, max int) string {
	var b strings.Builder
	n := 0
	for i, r := range s {
		if max > 0 && n == max {
			if i < len(s) {
				b.WriteRune('…')
			}
			break
		}
		n++
		if !xmlChar(r) { // invalid UTF-8 already reads as U+FFFD
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return html.EscapeString(b.String())
}

// xmlChar reports whether XML 1.0 allows r in text.
func xmlChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// num formats a coordinate or value with d decimals, without "-0".
func num(v float64, d int) string {
	s := strconv.FormatFloat(v, 'f', d, 64)
	if strings.Trim(s, "-0.") == "" {
		return strconv.FormatFloat(0, 'f', d, 64)
	}
	return s
}

// scale maps [lo, hi] onto [x0, x1].
type scale struct{ lo, hi, x0, x1 float64 }

func (s scale) at(v float64) float64 {
	if s.hi <= s.lo {
		return s.x0
	}
	return s.x0 + (v-s.lo)/(s.hi-s.lo)*(s.x1-s.x0)
}

// niceStep returns a round tick step giving about n ticks over span.
func niceStep(span float64, n int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, f := range []float64{1, 2, 5, 10} {
		if f*p >= raw {
			return f * p
		}
	}
	return 10 * p
}

// svgOpen writes the root element with its accessible title and
// description.
func svgOpen(b *strings.Builder, w, h float64, class, title, desc string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" class="%s" width="%s" height="%s" viewBox="0 0 %s %s" role="img" %s>`+"\n",
		class, num(w, 0), num(h, 0), num(w, 0), num(h, 0), fontAttrs)
	fmt.Fprintf(b, "<title>%s</title>\n<desc>%s</desc>\n", esc(title, 0), esc(desc, 0))
}

// weightAxis draws a weight axis with ticks along y from x.lo to x.hi.
func weightAxis(b *strings.Builder, x scale, y, gridTop float64, label string) {
	fmt.Fprintf(b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", num(x.x0, 1), num(y, 1), num(x.x1, 1), num(y, 1), colAxis)
	step := niceStep(x.hi-x.lo, 8)
	for v := math.Ceil(x.lo/step) * step; v <= x.hi+1e-9; v += step {
		px := x.at(v)
		fmt.Fprintf(b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", num(px, 1), num(gridTop, 1), num(px, 1), num(y, 1), colGrid)
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`+"\n", num(px, 1), num(y+13, 1), num(v, 0))
	}
	fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`+"\n", num((x.x0+x.x1)/2, 1), num(y+27, 1), esc(label, 0))
}

// levelRow is one bar of the level-weights chart.
type levelRow struct {
	comparison, label string
	weight, given     float64 // given: weight when the Given field agrees (hasGiven)
	hasGiven          bool
	m, u              float64
	mFrom, uFrom      string
}

// levelGroup is one comparison of the level-weights chart.
type levelGroup struct {
	name     string
	rows     []levelRow
	warnings []string
}

// levelGroups reads the levels from the training report, or from the
// model's parameters when it was not trained on this data.
func levelGroups(m *match.Model) []levelGroup {
	var gs []levelGroup
	if t := m.Training; t != nil && len(t.Comparisons) > 0 {
		for _, c := range t.Comparisons {
			g := levelGroup{name: c.Name, warnings: c.Warnings}
			if c.Given != "" {
				g.name += " (depends on " + c.Given + ")"
			}
			for _, l := range c.Levels {
				g.rows = append(g.rows, levelRow{comparison: c.Name, label: l.Label, weight: l.Weight, given: l.WeightGiven,
					hasGiven: l.UGiven > 0, m: l.M, u: l.U, mFrom: string(l.MFrom), uFrom: string(l.UFrom)})
			}
			gs = append(gs, g)
		}
		return gs
	}
	for _, c := range m.Comparisons {
		g := levelGroup{name: c.Name}
		for _, l := range c.Levels {
			if l.Kind == match.LevelNull {
				continue
			}
			r := levelRow{comparison: c.Name, label: l.Label, m: l.M, u: l.U, mFrom: "as loaded", uFrom: "as loaded"}
			if l.M > 0 && l.U > 0 {
				r.weight = math.Log2(l.M / l.U)
			}
			if l.UGiven > 0 && l.M > 0 {
				r.given, r.hasGiven = math.Log2(l.M/l.UGiven), true
			}
			g.rows = append(g.rows, r)
		}
		gs = append(gs, g)
	}
	return gs
}

// WriteLevelWeights draws the weight of every level of every comparison
// of m (the null level, which carries none, left out) as a horizontal bar
// chart: agreement to the right in green, disagreement to the left in red.
// Each bar says how m and u were estimated; a level whose m kept its
// prior is drawn pale with a dashed outline; a tick marks the weight when
// the field the comparison depends on agrees; training's warnings follow
// their comparison. Each bar has class "level".
func WriteLevelWeights(w io.Writer, m *match.Model) error {
	gs := levelGroups(m)
	const (
		rowH, top, labelX, barX0, barX1, valueX, estX, width = 17.0, 40.0, 8.0, 300.0, 640.0, 648.0, 700.0, 1060.0
	)
	lo, hi := 0.0, 0.0
	rows := 0
	for _, g := range gs {
		rows += 1 + len(g.rows) + len(g.warnings)
		for _, r := range g.rows {
			lo, hi = min(lo, r.weight), max(hi, r.weight)
			if r.hasGiven {
				lo, hi = min(lo, r.given), max(hi, r.given)
			}
		}
	}
	lo, hi = math.Floor(lo-0.5), math.Ceil(hi+0.5)
	x := scale{lo, hi, barX0, barX1}
	height := top + float64(rows)*rowH + 40
	var b strings.Builder
	svgOpen(&b, width, height, "level-weights", "Weight of each comparison level",
		"Match weight log2(m/u) of every level; bars to the right are evidence for the same person, to the left against.")
	fmt.Fprintf(&b, `<text x="%s" y="14" font-weight="bold">comparison and level</text>`+"\n", num(labelX, 0))
	fmt.Fprintf(&b, `<text x="%s" y="14" font-weight="bold">weight (bits)</text>`+"\n", num(barX0, 0))
	fmt.Fprintf(&b, `<text x="%s" y="14" font-weight="bold">m from / u from</text>`+"\n", num(estX, 0))
	fmt.Fprintf(&b, `<text x="%s" y="28" fill="%s">pale, dashed: m kept its prior (too little evidence); | weight when the field it depends on agrees</text>`+"\n", num(barX0, 0), colPrior)
	y := top
	for _, g := range gs {
		fmt.Fprintf(&b, `<text class="comparison" x="%s" y="%s" font-weight="bold">%s</text>`+"\n", num(labelX, 0), num(y+12, 1), esc(g.name, 2*maxLabelRunes))
		y += rowH
		for _, r := range g.rows {
			x0, x1 := x.at(0), x.at(r.weight)
			fill := colPositive
			if r.weight < 0 {
				fill = colNegative
				x0, x1 = x1, x0
			}
			extra := ""
			if r.mFrom == string(match.EstimatePrior) {
				extra = fmt.Sprintf(` fill-opacity="0.45" stroke="%s" stroke-dasharray="3 2"`, fill)
			}
			fmt.Fprintf(&b, `<text x="%s" y="%s">%s</text>`+"\n", num(labelX+12, 0), num(y+12, 1), esc(r.label, maxLabelRunes))
			fmt.Fprintf(&b, `<rect class="level" x="%s" y="%s" width="%s" height="12" fill="%s"%s><title>%s: %s, weight %s (m %s from %s, u %s from %s)</title></rect>`+"\n",
				num(x0, 1), num(y+2, 1), num(max(x1-x0, 0.5), 1), fill, extra,
				esc(r.comparison, 0), esc(r.label, 0), num(r.weight, 2), fmtProb(r.m), esc(r.mFrom, 0), fmtProb(r.u), esc(r.uFrom, 0))
			if r.hasGiven {
				gx := x.at(r.given)
				fmt.Fprintf(&b, `<line class="given" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"><title>weight %s when the field it depends on agrees</title></line>`+"\n",
					num(gx, 1), num(y, 1), num(gx, 1), num(y+16, 1), colAxis, num(r.given, 2))
			}
			fmt.Fprintf(&b, `<text x="%s" y="%s">%s</text>`+"\n", num(valueX, 0), num(y+12, 1), num(r.weight, 2))
			fmt.Fprintf(&b, `<text x="%s" y="%s" fill="%s">%s / %s</text>`+"\n", num(estX, 0), num(y+12, 1), colPrior, esc(r.mFrom, 30), esc(r.uFrom, 30))
			y += rowH
		}
		for _, wn := range g.warnings {
			fmt.Fprintf(&b, `<text class="warning" x="%s" y="%s" fill="%s">⚠ %s</text>`+"\n", num(labelX+12, 0), num(y+12, 1), colWarn, esc(wn, 150))
			y += rowH
		}
	}
	zx := x.at(0)
	fmt.Fprintf(&b, `<line class="zero" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", num(zx, 1), num(top, 1), num(zx, 1), num(y, 1), colAxis)
	weightAxis(&b, x, y+4, y+4, "weight log2(m/u), bits")
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// fmtProb formats a probability compactly.
func fmtProb(p float64) string { return strconv.FormatFloat(p, 'g', 3, 64) }

// maxBars bounds the histogram's bars; finer histograms are merged.
const maxBars = 160

// WriteHistogram draws h, the scored pairs by match weight, as bars on a
// logarithmic count scale (non-matches outnumber matches by orders of
// magnitude), with the threshold thrW (a weight, in bits) marked by a
// vertical line of class "threshold". Bars have class "bin".
func WriteHistogram(w io.Writer, h *match.WeightHistogram, thrW float64) error {
	if h == nil || len(h.Counts) == 0 || h.Width <= 0 {
		return fmt.Errorf("report: empty weight histogram")
	}
	merge := (len(h.Counts) + maxBars - 1) / maxBars
	width := h.Width * float64(merge)
	counts := make([]int64, (len(h.Counts)+merge-1)/merge)
	for k, c := range h.Counts {
		counts[k/merge] += c
	}
	var peak int64
	for _, c := range counts {
		peak = max(peak, c)
	}
	hMax := h.Min + width*float64(len(counts))
	lo, hi := math.Floor(min(h.Min, thrW-1)), math.Ceil(max(hMax, thrW+1))
	const (
		W, H, left, right, top, bottom = 820.0, 280.0, 64.0, 800.0, 20.0, 220.0
	)
	x := scale{lo, hi, left, right}
	logMax := math.Log10(float64(peak) + 1)
	yOf := func(c int64) float64 {
		if logMax == 0 {
			return bottom
		}
		return bottom - math.Log10(float64(c)+1)/logMax*(bottom-top)
	}
	var b strings.Builder
	svgOpen(&b, W, H, "weight-histogram", "Scored pairs by match weight",
		fmt.Sprintf("%d scored candidate pairs by match weight in bins of %s bits; the threshold is %s bits.", h.Total(), num(width, 2), num(thrW, 2)))
	for p := int64(1); p <= peak; p *= 10 {
		py := yOf(p)
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", num(left, 0), num(py, 1), num(right, 0), num(py, 1), colGrid)
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end">%s</text>`+"\n", num(left-4, 0), num(py+4, 1), strconv.FormatInt(p, 10))
		if p > math.MaxInt64/10 {
			break
		}
	}
	fmt.Fprintf(&b, `<text x="12" y="%s" transform="rotate(-90 12 %s)" text-anchor="middle">pairs (log scale)</text>`+"\n", num((top+bottom)/2, 0), num((top+bottom)/2, 0))
	for k, c := range counts {
		if c == 0 {
			continue
		}
		a := h.Min + width*float64(k)
		x0, x1 := x.at(a), x.at(a+width)
		fill := colNegative
		if a >= thrW {
			fill = colPositive
		}
		py := yOf(c)
		fmt.Fprintf(&b, `<rect class="bin" x="%s" y="%s" width="%s" height="%s" fill="%s"><title>weight %s to %s: %d pairs</title></rect>`+"\n",
			num(x0, 2), num(py, 2), num(max(x1-x0-0.5, 0.5), 2), num(bottom-py, 2), fill, num(a, 1), num(a+width, 1), c)
	}
	weightAxis(&b, x, bottom, top, "match weight, bits (log2 odds)")
	tx := x.at(thrW)
	fmt.Fprintf(&b, `<line class="threshold" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2" stroke-dasharray="5 3"><title>threshold %s bits (probability %s)</title></line>`+"\n",
		num(tx, 1), num(top-8, 1), num(tx, 1), num(bottom, 1), colTotal, num(thrW, 2), fmtProb(match.Probability(thrW)))
	fmt.Fprintf(&b, `<text x="%s" y="%s" fill="%s">threshold %s</text>`+"\n", num(tx+4, 1), num(top-2, 1), colTotal, num(thrW, 2))
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// step is one bar of a waterfall.
type step struct {
	label, class string
	start, end   float64
}

// waterfallSteps lists the prior, each comparison's weight (with its
// term-frequency adjustment) and the total.
func waterfallSteps(e *match.Explanation) []step {
	s := []step{{label: "prior", class: "prior", start: 0, end: e.Prior}}
	cum := e.Prior
	for _, c := range e.Comparisons {
		d := c.Weight + c.TermFrequency
		label := c.Name + ": " + c.Level
		if c.TermFrequency != 0 {
			label += " (term frequency " + num(c.TermFrequency, 2) + ")"
		}
		s = append(s, step{label: label, class: "step", start: cum, end: cum + d})
		cum += d
	}
	return append(s, step{label: "total", class: "total", start: 0, end: e.Weight})
}

// WriteWaterfall draws e as a waterfall: the prior, then each comparison's
// weight (term-frequency adjustment included) added in model order, to
// the total, with the threshold thrW (bits) as a vertical line of class
// "threshold". Every bar carries data-start and data-end, its weights in
// bits, so that the chain can be checked: each step starts where the
// previous ended and the total ends at e.Weight.
func WriteWaterfall(w io.Writer, e *match.Explanation, thrW float64) error {
	steps := waterfallSteps(e)
	lo, hi := min(0, thrW), max(0, thrW)
	for _, s := range steps {
		lo, hi = min(lo, s.start, s.end), max(hi, s.start, s.end)
	}
	lo, hi = math.Floor(lo-1), math.Ceil(hi+1)
	const (
		rowH, top, labelX, barX0, barX1, valueX, width = 18.0, 24.0, 8.0, 330.0, 740.0, 748.0, 800.0
	)
	x := scale{lo, hi, barX0, barX1}
	height := top + float64(len(steps))*rowH + 40
	desc := fmt.Sprintf("Prior %s bits plus %d comparisons gives %s bits (probability %s) against a threshold of %s bits.",
		num(e.Prior, 2), len(e.Comparisons), num(e.Weight, 2), fmtProb(e.Probability), num(thrW, 2))
	if e.Constraint != "" {
		desc += " Constraint: " + e.Constraint + "."
	}
	var b strings.Builder
	svgOpen(&b, width, height, "waterfall", "How the pair's match weight adds up", desc)
	y := top
	for k, s := range steps {
		x0, x1 := x.at(min(s.start, s.end)), x.at(max(s.start, s.end))
		fill := colPositive
		switch {
		case s.class == "prior":
			fill = colPrior
		case s.class == "total":
			fill = colTotal
		case s.end < s.start:
			fill = colNegative
		}
		weight := "font-weight=\"normal\""
		if s.class == "total" {
			weight = "font-weight=\"bold\""
		}
		fmt.Fprintf(&b, `<text x="%s" y="%s" %s>%s</text>`+"\n", num(labelX, 0), num(y+13, 1), weight, esc(s.label, 2*maxLabelRunes-30))
		fmt.Fprintf(&b, `<rect class="%s" data-start="%s" data-end="%s" x="%s" y="%s" width="%s" height="13" fill="%s"><title>%s: %s</title></rect>`+"\n",
			s.class, num(s.start, 3), num(s.end, 3), num(x0, 1), num(y+2, 1), num(max(x1-x0, 0.5), 1), fill, esc(s.label, 0), num(s.end-s.start, 2))
		if k > 0 && k < len(steps)-1 {
			px := x.at(s.start)
			fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-dasharray="2 2"/>`+"\n", num(px, 1), num(y-3, 1), num(px, 1), num(y+2, 1), colAxis)
		}
		v := s.end - s.start
		if s.class == "total" {
			v = s.end
		}
		fmt.Fprintf(&b, `<text x="%s" y="%s" %s>%s</text>`+"\n", num(valueX, 0), num(y+13, 1), weight, num(v, 2))
		y += rowH
	}
	zx := x.at(0)
	fmt.Fprintf(&b, `<line class="zero" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", num(zx, 1), num(top, 1), num(zx, 1), num(y, 1), colAxis)
	tx := x.at(thrW)
	fmt.Fprintf(&b, `<line class="threshold" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2" stroke-dasharray="5 3"><title>threshold %s bits</title></line>`+"\n",
		num(tx, 1), num(top-10, 1), num(tx, 1), num(y, 1), colTotal, num(thrW, 2))
	fmt.Fprintf(&b, `<text x="%s" y="%s" fill="%s">threshold %s</text>`+"\n", num(tx+4, 1), num(top-4, 1), colTotal, num(thrW, 2))
	weightAxis(&b, x, y+4, y+4, "cumulative match weight, bits")
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
