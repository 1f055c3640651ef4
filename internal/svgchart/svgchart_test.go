package svgchart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 9, 30, 0, 0, time.UTC) }

// hba1c is a realistic series: two sources, one disagreement, some
// results above the reference range.
func hba1c() Series {
	return Series{
		Title: "HbA1c", Unit: "mmol/mol",
		Low: new(20.0), High: new(41.0),
		Points: []Point{
			{Time: day(2019, 3, 1), Value: 53, Label: "GP practice"},
			{Time: day(2020, 2, 14), Value: 49, Label: "GP practice, Acute hospital"},
			{Time: day(2021, 6, 3), Value: 44, Label: "Acute hospital"},
			{Time: day(2022, 11, 21), Value: 39, Label: "GP practice"},
			{Time: day(2023, 9, 8), Value: 41, Label: "GP practice; Acute hospital says 46", Conflict: true},
			{Time: day(2025, 2, 11), Value: 48, Label: "GP practice, Community service"},
		},
	}
}

func potassiumSameDay() Series {
	s := Series{Title: "Potassium", Unit: "mmol/L", Low: new(3.5), High: new(5.3)}
	for i, v := range []float64{5.9, 5.6, 5.1, 4.6, 4.4, 3.3, 3.9} {
		s.Points = append(s.Points, Point{Time: time.Date(2024, 5, 2, 6+2*i, 15, 0, 0, time.UTC), Value: v, Label: "Acute hospital"})
	}
	return s
}

func narrow() Series {
	s := hba1c()
	s.Title = "Haemoglobin A1c (IFCC standardised), venous sample"
	s.Points = append(s.Points, Point{Time: day(2024, 4, 4), Value: 18, Label: "Community service"})
	return s
}

func hostile() Series {
	return Series{
		Title: `</title><script>alert("t")</script>`,
		Unit:  `"><svg onload=alert(1)>`,
		Points: []Point{
			{Time: day(2024, 1, 1), Value: 1, Label: "<![CDATA[x]]> & ' \" \x00\x01\x1b \xff\xfe end"},
			{Time: day(2024, 2, 1), Value: 2, Label: "]]><!-- --><?xml?>&amp;&#0;", Conflict: true},
		},
	}
}

type golden struct {
	name   string
	s      Series
	o      *Options
	reason string
}

func goldenCases() []golden {
	many := Series{Title: "eGFR", Unit: "mL/min/1.73m2", Low: new(60.0)}
	for i := range 1200 {
		many.Points = append(many.Points, Point{
			Time:  day(2020, 1, 1).Add(time.Duration(i) * 36 * time.Hour),
			Value: 75 - float64(i)/40 + float64(i%7),
			Label: "Acute hospital",
		})
	}
	return []golden{
		{name: "hba1c", s: hba1c()},
		{name: "one_point", s: Series{Title: "Cholesterol", Unit: "mmol/L", Points: []Point{{Time: day(2024, 7, 1), Value: 4.2}}},
			reason: "one point sits in the middle of padded axes"},
		{name: "equal_values", s: Series{Title: "Sodium", Unit: "mmol/L", Low: new(133.0), High: new(146.0), Points: []Point{
			{Time: day(2023, 1, 1), Value: 140}, {Time: day(2023, 6, 1), Value: 140}, {Time: day(2024, 1, 1), Value: 140}}}},
		{name: "equal_times", s: Series{Title: "Weight", Unit: "kg", Points: []Point{
			{Time: day(2024, 3, 3), Value: 81.2, Label: "GP practice"},
			{Time: day(2024, 3, 3), Value: 83.0, Label: "Community service", Conflict: true}}},
			reason: "two sources disagree on the same day"},
		{name: "same_day_hours", s: potassiumSameDay(), o: &Options{Width: 480, Height: 220}},
		{name: "huge_values", s: Series{Title: "Viral load", Unit: "copies/mL", Points: []Point{
			{Time: day(2022, 1, 1), Value: 1e300}, {Time: day(2023, 1, 1), Value: -math.MaxFloat64}, {Time: day(2024, 1, 1), Value: math.MaxFloat64}}},
			reason: "the value span overflows float64; axes fall back to lo, mid, hi"},
		{name: "small_values", s: Series{Title: "Troponin", Unit: "ug/L", High: new(0.00004), Points: []Point{
			{Time: day(2024, 1, 1), Value: 0.00001}, {Time: day(2024, 1, 2), Value: 0.00009}, {Time: day(2024, 1, 3), Value: 0.00002}}}},
		{name: "narrow", s: narrow(), o: &Options{Width: 100, Height: 100},
			reason: "raised to the minimum size; the legend wraps and the title is cut"},
		{name: "hostile", s: hostile(), o: &Options{ID: `x" onload="y`}},
		{name: "capped", s: many, o: &Options{MaxPoints: 60}, reason: "only the latest 60 of 1200 are drawn"},
	}
}

// parsed is what the tests read back from an SVG.
type parsed struct {
	root        xml.StartElement
	title, desc string
	points      int
	pointTitles []string
	texts       []string
}

// parse decodes out strictly as XML and collects what tests check.
func parse(t *testing.T, out []byte) parsed {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(out))
	d.Strict = true
	var p parsed
	var stack []xml.StartElement
	var inPoint int
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "output is not well-formed XML")
		switch tok := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				p.root = tok.Copy()
			}
			if tok.Name.Local == "g" && attr(tok, "class") == "point" {
				p.points++
				inPoint = len(stack) + 1
			}
			stack = append(stack, tok.Copy())
		case xml.EndElement:
			stack = stack[:len(stack)-1]
			if len(stack) < inPoint {
				inPoint = 0
			}
		case xml.CharData:
			if len(stack) == 0 {
				continue
			}
			s := string(tok)
			switch top := stack[len(stack)-1].Name.Local; {
			case top == "title" && len(stack) == 2:
				p.title += s
			case top == "desc" && len(stack) == 2:
				p.desc += s
			case top == "title" && inPoint > 0:
				p.pointTitles = append(p.pointTitles, s)
			case top == "text":
				p.texts = append(p.texts, s)
			}
		}
	}
	require.NotEmpty(t, p.root.Name.Local)
	return p
}

func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, Render(&b, tc.s, tc.o))
			p := parse(t, b.Bytes())
			assert.Equal(t, "svg", p.root.Name.Local)
			assert.Equal(t, "img", attr(p.root, "role"))
			assert.NotEmpty(t, p.title)
			assert.NotEmpty(t, p.desc)
			assert.NotContains(t, b.String(), "NaN")
			assert.NotContains(t, b.String(), "Inf")
			assert.NotContains(t, b.String(), "style=", "CSP: no inline style")

			path := filepath.Join("testdata", tc.name+".svg")
			if *update {
				require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
				return
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -update to create %s", path)
			if !assert.Equal(t, string(want), b.String(), "golden %s differs (%s); go test -update refreshes it", path, tc.reason) {
				_ = os.WriteFile(filepath.Join(t.ArtifactDir(), tc.name+".svg"), b.Bytes(), 0o644)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, Render(&b, hba1c(), nil))
	p := parse(t, b.Bytes())
	assert.Equal(t, "HbA1c (mmol/mol)", p.title)
	assert.Equal(t, "HbA1c, 6 results from 1 March 2019 to 11 February 2025, latest 48 mmol/mol on 11 February 2025. "+
		"Lowest 39, highest 53. Reference range 20 to 41 mmol/mol; 4 results outside it. Sources disagree on 1 result.", p.desc)
	require.Len(t, p.pointTitles, 6)
	assert.Equal(t, "1 March 2019: 53 mmol/mol, above the reference range (GP practice)", p.pointTitles[0])
	assert.Equal(t, "8 September 2023: 41 mmol/mol; sources disagree (GP practice; Acute hospital says 46)", p.pointTitles[4])
	id := attr(p.root, "aria-labelledby")
	assert.Regexp(t, `^svgchart-[0-9a-f]{16}-title svgchart-[0-9a-f]{16}-desc$`, id)
}

func TestHostileTextIsEscaped(t *testing.T) {
	s := hostile()
	var b bytes.Buffer
	require.NoError(t, Render(&b, s, &Options{ID: `x" onload="y`}))
	out := b.String()
	p := parse(t, b.Bytes())
	for _, bad := range []string{"<script", "<svg onload", "<![CDATA[", "<!--", "<?xml", "onload=\""} {
		assert.NotContains(t, out, bad)
	}
	assert.Equal(t, s.Title+" ("+s.Unit+")", p.title, "the title reads back exactly")
	assert.Equal(t, "xonloady-title xonloady-desc", attr(p.root, "aria-labelledby"))
	require.Len(t, p.pointTitles, 2)
	assert.Contains(t, p.pointTitles[0], "<![CDATA[x]]> & ' \"")
	assert.Contains(t, p.pointTitles[0], "\uFFFD", "control and invalid bytes become U+FFFD")
	assert.Contains(t, p.pointTitles[1], "]]><!-- --><?xml?>&amp;&#0;")
}

func TestLongTextIsClipped(t *testing.T) {
	s := hba1c()
	s.Points[0].Label = strings.Repeat("Ł", 5000)
	var b bytes.Buffer
	require.NoError(t, Render(&b, s, nil))
	p := parse(t, b.Bytes())
	assert.Less(t, len([]rune(p.pointTitles[0])), MaxTextRunes+80)
	assert.Contains(t, p.pointTitles[0], "Ł…")
}

func TestPointCountAndCap(t *testing.T) {
	for _, tc := range []struct {
		name      string
		n, max    int
		wantShown int
	}{
		{name: "one", n: 1, wantShown: 1},
		{name: "under default cap", n: 300, wantShown: 300},
		{name: "default cap", n: 5000, wantShown: DefaultMaxPoints},
		{name: "own cap", n: 100, max: 10, wantShown: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Series{Title: "eGFR", Unit: "mL/min"}
			for i := range tc.n {
				s.Points = append(s.Points, Point{Time: day(2000, 1, 1).Add(time.Duration(i) * time.Hour), Value: float64(i % 90), Label: "GP"})
			}
			var b bytes.Buffer
			require.NoError(t, Render(&b, s, &Options{MaxPoints: tc.max}))
			p := parse(t, b.Bytes())
			assert.Equal(t, tc.wantShown, p.points)
			assert.Contains(t, p.desc, fmt.Sprintf("%d result", tc.n))
			if tc.wantShown < tc.n {
				assert.Contains(t, p.desc, fmt.Sprintf("Showing the latest %d of %d results", tc.wantShown, tc.n))
				assert.Contains(t, p.texts, fmt.Sprintf("Showing the latest %d of %d results", tc.wantShown, tc.n))
			}
			assert.Less(t, b.Len(), 400*tc.wantShown+20000, "output is bounded by the points drawn")
		})
	}
}

func TestAxesContainAllPoints(t *testing.T) {
	cases := []Series{hba1c(), potassiumSameDay(), hostile()}
	for _, g := range goldenCases() {
		cases = append(cases, g.s)
	}
	cases = append(cases, Series{Title: "Tiny", Points: []Point{{Time: day(2024, 1, 1), Value: 5e-324}, {Time: day(1900, 1, 1), Value: 1e-320}}},
		Series{Title: "Negative", Points: []Point{{Time: day(2024, 1, 1), Value: -3}, {Time: day(2024, 1, 1), Value: -3}}},
		Series{Title: "Centuries", Points: []Point{{Time: time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC), Value: 1}, {Time: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), Value: 2}}})
	for _, s := range cases {
		t.Run(s.Title, func(t *testing.T) {
			c, err := newChart(s, nil)
			require.NoError(t, err)
			for _, p := range c.shown {
				assert.LessOrEqual(t, c.vmin, p.Value)
				assert.GreaterOrEqual(t, c.vmax, p.Value)
				ts := unixSeconds(p.Time)
				assert.LessOrEqual(t, c.tmin, ts)
				assert.GreaterOrEqual(t, c.tmax, ts)
				x, y := c.x(p.Time), c.y(p.Value)
				assert.True(t, finite(x, y))
				assert.True(t, c.plotL <= x && x <= c.plotR && c.plotT <= y && y <= c.plotB, "marker inside the plot")
			}
			require.NotEmpty(t, c.vticks)
			require.NotEmpty(t, c.tticks)
			for _, v := range c.vticks {
				assert.True(t, c.vmin <= v && v <= c.vmax, "value tick %v in [%v, %v]", v, c.vmin, c.vmax)
			}
		})
	}
}

func TestInvalidInput(t *testing.T) {
	ok := Point{Time: day(2024, 1, 1), Value: 1}
	for _, tc := range []struct {
		name string
		s    Series
		want error
	}{
		{name: "no points", s: Series{Title: "x"}, want: ErrNoPoints},
		{name: "NaN", s: Series{Points: []Point{ok, {Time: ok.Time, Value: math.NaN()}}}, want: ErrInvalidPoint},
		{name: "+Inf", s: Series{Points: []Point{{Time: ok.Time, Value: math.Inf(1)}}}, want: ErrInvalidPoint},
		{name: "-Inf", s: Series{Points: []Point{{Time: ok.Time, Value: math.Inf(-1)}}}, want: ErrInvalidPoint},
		{name: "zero time", s: Series{Points: []Point{{Value: 3}}}, want: ErrInvalidPoint},
		{name: "NaN bound", s: Series{Points: []Point{ok}, Low: new(math.NaN())}, want: ErrInvalidRange},
		{name: "low above high", s: Series{Points: []Point{ok}, Low: new(5.0), High: new(4.0)}, want: ErrInvalidRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := Render(&b, tc.s, nil)
			require.ErrorIs(t, err, tc.want)
			assert.Zero(t, b.Len(), "nothing is written on error")
			_, err = HTML(tc.s, nil)
			assert.ErrorIs(t, err, tc.want)
		})
	}
}

func TestDeterministicAndOrderFree(t *testing.T) {
	s := hba1c()
	a, err := HTML(s, nil)
	require.NoError(t, err)
	b, err := HTML(s, nil)
	require.NoError(t, err)
	assert.Equal(t, a, b, "same input, same bytes")
	// The input's order does not matter once the id is fixed (the
	// derived id hashes the input as given).
	r := s
	r.Points = slices.Clone(s.Points)
	slices.Reverse(r.Points)
	x, err := HTML(s, &Options{ID: "k"})
	require.NoError(t, err)
	y, err := HTML(r, &Options{ID: "k"})
	require.NoError(t, err)
	assert.Equal(t, x, y)
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestWriteError(t *testing.T) {
	assert.ErrorContains(t, Render(failWriter{}, hba1c(), nil), "svgchart: write: closed")
}

func FuzzRender(f *testing.F) {
	f.Add("HbA1c", "mmol/mol", "GP practice", 48.0, int64(1700000000), true)
	f.Add("</title>", "\x00", "\xff", -1e308, int64(-62135596800), false)
	f.Fuzz(func(t *testing.T, title, unit, label string, v float64, sec int64, conflict bool) {
		s := Series{Title: title, Unit: unit, Low: new(0.0), High: new(10.0), Points: []Point{
			{Time: time.Unix(sec, 0), Value: v, Label: label, Conflict: conflict},
			{Time: day(2024, 1, 1), Value: 5, Label: label},
		}}
		var b bytes.Buffer
		err := Render(&b, s, nil)
		if math.IsNaN(v) || math.IsInf(v, 0) || time.Unix(sec, 0).IsZero() {
			require.ErrorIs(t, err, ErrInvalidPoint)
			return
		}
		require.NoError(t, err)
		p := parse(t, b.Bytes())
		assert.Equal(t, 2, p.points)
	})
}

func BenchmarkRender(b *testing.B) {
	for _, n := range []int{10, 500} {
		s := Series{Title: "eGFR", Unit: "mL/min", Low: new(60.0)}
		for i := range n {
			s.Points = append(s.Points, Point{Time: day(2000, 1, 1).Add(time.Duration(i) * 24 * time.Hour), Value: float64(50 + i%30)})
		}
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Render(io.Discard, s, nil)
			}
		})
	}
}
