package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/carelens/carelens/match"
)

// Page is what one report shows. Only Model is required.
type Page struct {
	// Title heads the page ("carelens link: gp.csv, hospital.csv").
	Title string
	// Model is the model whose training report and weights are shown.
	Model *match.Model
	// Threshold is the match probability at or above which pairs link;
	// zero means the model's.
	Threshold float64
	// Weights are the scored pairs by match weight. When nil the
	// histogram is left out and WeightsNote says why.
	Weights *match.WeightHistogram
	// WeightsNote says which pairs Weights counts, or why there are none.
	WeightsNote string
	// Pairs are the explained pairs, each drawn as a waterfall.
	Pairs []Pair
}

// Pair is one explained pair.
type Pair struct {
	// Label names the pair by record keys ("gp/g1 vs hospital/h1"),
	// never by record values.
	Label string
	// Explanation is the pair's explanation ([match.Scorer.Explain]).
	Explanation match.Explanation
	// SameCluster says whether linking put the two records together.
	SameCluster bool
}

// pageStyle is the page's only style: tables and spacing. The charts
// carry their own presentation attributes.
const pageStyle = `body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1000px}
table{border-collapse:collapse;font-size:13px;margin:.5em 0 1em}
th,td{border-bottom:1px solid #ddd;padding:2px 8px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.warn{color:#9a5b00}
svg{display:block;margin:.5em 0;max-width:100%;height:auto}`

// WriteHTML writes p as one self-contained HTML page: no script and no
// external asset, every chart an inline SVG. The page is also well-formed
// XML. It holds no PHI beyond the pair labels the caller gives.
func WriteHTML(w io.Writer, p *Page) error {
	if p == nil || p.Model == nil {
		return fmt.Errorf("report: no model")
	}
	m := p.Model
	thr := p.Threshold
	if thr <= 0 {
		thr = m.EffectiveThreshold()
	}
	thrW := match.Weight(thr)
	title := p.Title
	if title == "" {
		title = "CareLens matching report"
	}
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n")
	fmt.Fprintf(&b, "<title>%s</title>\n<style>\n%s\n</style>\n</head>\n<body>\n<h1>%s</h1>\n", esc(title, 0), pageStyle, esc(title, 0))
	writeSummary(&b, m, thr, thrW)

	b.WriteString("<h2>Weight of each level</h2>\n")
	if err := WriteLevelWeights(&b, m); err != nil {
		return err
	}
	writeLevelTable(&b, m)

	b.WriteString("<h2>Scored pairs by match weight</h2>\n")
	if p.WeightsNote != "" {
		fmt.Fprintf(&b, "<p>%s</p>\n", esc(p.WeightsNote, 0))
	}
	if p.Weights != nil && len(p.Weights.Counts) > 0 {
		if err := WriteHistogram(&b, p.Weights, thrW); err != nil {
			return err
		}
	} else if p.WeightsNote == "" {
		b.WriteString("<p>No scored pairs to show.</p>\n")
	}

	if len(p.Pairs) > 0 {
		b.WriteString("<h2>Explained pairs</h2>\n")
	}
	for _, pr := range p.Pairs {
		e := &pr.Explanation
		fmt.Fprintf(&b, "<h3>%s</h3>\n<p>total %s bits, probability %s, grade %s; same cluster: %t",
			esc(pr.Label, 0), num(e.Weight, 2), esc(fmt.Sprintf("%.6f", e.Probability), 0), esc(string(e.Grade), 0), pr.SameCluster)
		if e.Constraint != "" {
			fmt.Fprintf(&b, "; constraint: %s", esc(e.Constraint, 0))
		}
		b.WriteString("</p>\n")
		if err := WriteWaterfall(&b, e, thrW); err != nil {
			return err
		}
	}

	if t := m.Training; t != nil && t.Data != nil {
		if lines := t.Data.Lines(); len(lines) > 0 {
			b.WriteString("<h2>Data set aside and date orders</h2>\n<ul>\n")
			for _, l := range lines {
				fmt.Fprintf(&b, "<li>%s</li>\n", esc(l, 0))
			}
			b.WriteString("</ul>\n")
		}
	}
	b.WriteString("</body>\n</html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// writeSummary writes the training summary line and the model-wide
// warnings.
func writeSummary(b *strings.Builder, m *match.Model, thr, thrW float64) {
	guard := "on"
	if m.NoTwinGuard {
		guard = "OFF"
	}
	t := m.Training
	if t == nil {
		fmt.Fprintf(b, "<p>Model not trained on this data: parameters as loaded. Prior %s, threshold %s (%s bits), twins guard %s.</p>\n",
			fmtProb(m.Prior), fmtProb(thr), num(thrW, 2), guard)
		return
	}
	conv := "converged"
	if !t.Converged {
		conv = "not converged"
	}
	fmt.Fprintf(b, "<p>Trained on %d records: %d random pairs, %d candidate pairs, prior %s, EM %d iterations (%s); threshold %s (%s bits); twins guard %s.</p>\n",
		t.Records, t.RandomPairs, t.CandidatePairs, fmtProb(m.Prior), t.EMIterations, conv, fmtProb(thr), num(thrW, 2), guard)
	if len(t.Warnings) > 0 {
		b.WriteString("<ul class=\"warn\">\n")
		for _, wn := range t.Warnings {
			fmt.Fprintf(b, "<li>warning: %s</li>\n", esc(wn, 0))
		}
		b.WriteString("</ul>\n")
	}
}

// writeLevelTable writes the chart's figures as a table.
func writeLevelTable(b *strings.Builder, m *match.Model) {
	b.WriteString("<table>\n<tr><th>comparison</th><th>level</th><th>m</th><th>u</th><th>weight</th><th>weight given</th><th>m from</th><th>u from</th></tr>\n")
	for _, g := range levelGroups(m) {
		for _, r := range g.rows {
			given := ""
			if r.hasGiven {
				given = num(r.given, 2)
			}
			fmt.Fprintf(b, "<tr><td>%s</td><td>%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td>%s</td><td>%s</td></tr>\n",
				esc(g.name, 0), esc(r.label, 0), fmtProb(r.m), fmtProb(r.u), num(r.weight, 2), given, esc(r.mFrom, 0), esc(r.uFrom, 0))
		}
		for _, wn := range g.warnings {
			fmt.Fprintf(b, "<tr class=\"warn\"><td>%s</td><td colspan=\"7\">warning: %s</td></tr>\n", esc(g.name, 0), esc(wn, 0))
		}
	}
	b.WriteString("</table>\n")
}
