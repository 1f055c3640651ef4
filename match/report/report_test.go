package report_test

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/match/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// hostile is a comparison name a model file could carry.
const hostile = `<script>alert("x")</script> & 'co'` + "\x01\xff"

// fixturePage is a synthetic page: a hand-built trained model with a
// hostile comparison name, a warning, a dependent comparison, a histogram
// and two explained pairs (one with a term-frequency adjustment).
func fixturePage() *report.Page {
	m := &match.Model{Version: 1, Prior: 1e-4, Threshold: 0.5,
		Comparisons: []match.Comparison{
			{Name: "given name", Field: "given", Levels: []match.Level{
				{Label: "null", Kind: match.LevelNull}, {Label: "exact", Kind: match.LevelExact, M: 0.9, U: 0.01},
				{Label: "swapped with family", Kind: match.LevelSwap, M: 0.01, U: 0.0001}, {Label: "else", Kind: match.LevelElse, M: 0.09, U: 0.9899}}},
			{Name: hostile, Field: "email", Given: "given", Levels: []match.Level{
				{Label: "null", Kind: match.LevelNull}, {Label: "exact <b>", Kind: match.LevelExact, M: 0.8, U: 0.001, UGiven: 0.05},
				{Label: "else", Kind: match.LevelElse, M: 0.2, U: 0.999}}},
		},
		Training: &match.TrainingSummary{Records: 1000, RandomPairs: 100000, CandidatePairs: 5321, EMIterations: 12, Converged: true,
			Comparisons: []match.ComparisonReport{
				{Name: "given name", Pairs: 412, Levels: []match.LevelReport{
					{Label: "exact", M: 0.9, U: 0.01, Weight: 6.49, MFrom: match.EstimateEM, UFrom: match.EstimateRandom},
					{Label: "swapped with family", M: 0.01, U: 0.0001, Weight: 6.64, MFrom: match.EstimatePrior, UFrom: match.EstimateRandom},
					{Label: "else", M: 0.09, U: 0.9899, Weight: -3.46, MFrom: match.EstimateEM, UFrom: match.EstimateRandom}},
					Warnings: []string{"too few pairs swapped: m kept its prior"}},
				{Name: hostile, Given: "given", Pairs: 380, Levels: []match.LevelReport{
					{Label: "exact <b>", M: 0.8, U: 0.001, Weight: 9.64, MFrom: match.EstimateAnchored, UFrom: match.EstimateRandom, UGiven: 0.05, WeightGiven: 4.0},
					{Label: "else", M: 0.2, U: 0.999, Weight: -2.32, MFrom: match.EstimateAnchored, UFrom: match.EstimateRandom}}},
			},
			Warnings: []string{"EM ran on 5321 pairs & <stopped>"},
		}}
	h := &match.WeightHistogram{Min: -20, Width: 0.5, Counts: make([]int64, 70)}
	for k := range h.Counts {
		h.Counts[k] = int64(1 + (k*37)%500)
	}
	e1 := match.Explanation{Prior: -13.29, Comparisons: []match.ComparisonExplanation{
		{Name: "given name", Level: "exact", LevelIndex: 1, Weight: 6.49, TermFrequency: -1.25},
		{Name: hostile, Level: "else", LevelIndex: 2, Weight: -2.32}}, Grade: match.GradeCertainlyNot}
	e2 := match.Explanation{Prior: -13.29, Comparisons: []match.ComparisonExplanation{
		{Name: "given name", Level: "exact", LevelIndex: 1, Weight: 6.49},
		{Name: hostile, Level: "exact <b>", LevelIndex: 1, Weight: 9.64}}, Grade: match.GradeProbable}
	for _, e := range []*match.Explanation{&e1, &e2} {
		e.Weight = e.Prior
		for _, c := range e.Comparisons {
			e.Weight += c.Weight + c.TermFrequency
		}
		e.Probability = match.Probability(e.Weight)
	}
	return &report.Page{Title: "carelens link: a.csv & <b>.csv", Model: m, Weights: h,
		WeightsNote: "All 5321 scored candidate pairs.",
		Pairs:       []report.Pair{{Label: "a/1 vs b/2", Explanation: e1}, {Label: "a/3 vs b/4", Explanation: e2, SameCluster: true}}}
}

func render(t *testing.T, p *report.Page) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, report.WriteHTML(&b, p))
	return b.String()
}

// element is a parsed SVG element with its attributes.
type element struct {
	name  string
	attrs map[string]string
}

// parseSVGs parses every <svg> block of page on its own with encoding/xml
// and returns each block's elements.
func parseSVGs(t *testing.T, page string) [][]element {
	t.Helper()
	var out [][]element
	for rest := page; ; {
		i := strings.Index(rest, "<svg")
		if i < 0 {
			break
		}
		j := strings.Index(rest[i:], "</svg>")
		require.Positive(t, j, "unterminated svg")
		block := rest[i : i+j+len("</svg>")]
		rest = rest[i+j:]
		d := xml.NewDecoder(strings.NewReader(block))
		var els []element
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			require.NoError(t, err, "svg block must be well-formed XML")
			if se, ok := tok.(xml.StartElement); ok {
				e := element{name: se.Name.Local, attrs: map[string]string{}}
				for _, a := range se.Attr {
					e.attrs[a.Name.Local] = a.Value
				}
				els = append(els, e)
			}
		}
		out = append(out, els)
	}
	return out
}

func byClass(els []element, class string) []element {
	var out []element
	for _, e := range els {
		if e.attrs["class"] == class {
			out = append(out, e)
		}
	}
	return out
}

func TestWriteHTML(t *testing.T) {
	p := fixturePage()
	page := render(t, p)

	t.Run("whole page is well-formed XML", func(t *testing.T) {
		d := xml.NewDecoder(strings.NewReader(page))
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
		}
	})
	t.Run("self-contained", func(t *testing.T) {
		for _, bad := range []string{"<script", "src=", "href=", "url(", "@import"} {
			assert.NotContains(t, page, bad)
		}
		assert.Contains(t, page, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;co&#39;\uFFFD\uFFFD",
			"a hostile comparison name is escaped and its control and invalid bytes replaced")
	})

	svgs := parseSVGs(t, page)
	require.Len(t, svgs, 4, "level weights, histogram, one waterfall per pair")

	t.Run("one bar per level", func(t *testing.T) {
		want := 0
		for _, c := range p.Model.Training.Comparisons {
			want += len(c.Levels)
		}
		assert.Len(t, byClass(svgs[0], "level"), want)
		assert.Len(t, byClass(svgs[0], "given"), 1, "one level has a weight given its field")
	})
	t.Run("histogram with threshold", func(t *testing.T) {
		assert.Len(t, byClass(svgs[1], "bin"), len(p.Weights.Counts))
		require.Len(t, byClass(svgs[1], "threshold"), 1)
	})
	t.Run("waterfall sums to the total", func(t *testing.T) {
		for k, pr := range p.Pairs {
			els := svgs[2+k]
			require.Len(t, byClass(els, "threshold"), 1)
			steps := append(byClass(els, "prior"), byClass(els, "step")...)
			require.Len(t, steps, 1+len(pr.Explanation.Comparisons))
			at := 0.0
			for _, s := range steps {
				assert.InDelta(t, at, attrFloat(t, s, "data-start"), 0.002, "each step starts where the previous ended")
				at = attrFloat(t, s, "data-end")
			}
			assert.InDelta(t, pr.Explanation.Weight, at, 0.01, "the steps add up to the explanation's total")
			total := byClass(els, "total")
			require.Len(t, total, 1)
			assert.InDelta(t, pr.Explanation.Weight, attrFloat(t, total[0], "data-end"), 0.002)
		}
	})

	golden := filepath.Join("testdata", "report.golden.html")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(page), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test -update to create the golden file")
	if string(want) != page {
		require.NoError(t, os.WriteFile(filepath.Join(t.ArtifactDir(), "report.html"), []byte(page), 0o644))
		t.Errorf("page differs from %s (go test ./match/report -update refreshes it; output in the artifact dir)", golden)
	}
}

func attrFloat(t *testing.T, e element, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(e.attrs[name], 64)
	require.NoError(t, err, "%s=%q", name, e.attrs[name])
	return v
}

func TestWriteHTMLWithoutTrainingOrWeights(t *testing.T) {
	m := match.DefaultModel(nil)
	page := render(t, &report.Page{Model: m, WeightsNote: "train does not score pairs here"})
	svgs := parseSVGs(t, page)
	require.Len(t, svgs, 1, "level weights only")
	want := 0
	for _, c := range m.Comparisons {
		want += len(c.Levels) - 1 // the null level carries no weight
	}
	assert.Len(t, byClass(svgs[0], "level"), want)
	assert.Contains(t, page, "parameters as loaded")
	assert.Contains(t, page, "train does not score pairs here")
	assert.Regexp(t, regexp.MustCompile(`(?s)^<!DOCTYPE html>.*</html>\n$`), page)
}

func TestWriteHistogramEmpty(t *testing.T) {
	assert.Error(t, report.WriteHistogram(io.Discard, &match.WeightHistogram{}, 0))
}
