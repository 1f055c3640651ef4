package independent

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	largePeople = flag.Int("independent.people", 0, "run TestIndependentLarge: the grid at this many people (20000, 200000); pick settings with -run 'TestIndependentLarge/NAME'")
	keepDir     = flag.String("independent.keep", "", "keep each cohort, its clusters and a report under this directory")
)

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// carelens builds the command once per test binary.
func carelens(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "carelens-independent-")
		if binErr == nil {
			binPath, binErr = Build(t.Context(), binDir)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// grid is the settings at one cohort size: NHS coverage 0, 50, 91 and 99%
// at a low and a high error rate with a small, steep name vocabulary and
// four sources; then a large vocabulary, and three sources.
func grid(people int) []Params {
	base := Params{People: people, Sources: 4, GivenNames: 25, FamilyNames: 60, Zipf: 1.1, Seed: 13}
	var out []Params
	for _, nhs := range []float64{0, 0.5, 0.91, 0.99} {
		for _, e := range []float64{0.04, 0.12} {
			p := base
			p.NHSCoverage, p.ErrorRate = nhs, e
			out = append(out, p)
		}
	}
	for _, nhs := range []float64{0, 0.91} {
		p := base
		p.NHSCoverage, p.ErrorRate, p.GivenNames, p.FamilyNames = nhs, 0.12, 120, 600
		out = append(out, p)
	}
	p := base
	p.Sources, p.NHSCoverage, p.ErrorRate = 3, 0.91, 0.04
	return append(out, p)
}

type outcome struct {
	p       Params
	records int
	run     Run
	s       Scores
	d       Diagnosis
}

// evaluate generates p's cohort, links it with carelens link's defaults
// and scores the clusters against the truth file.
func evaluate(t *testing.T, p Params) outcome {
	t.Helper()
	dir := t.TempDir()
	if *keepDir != "" {
		dir = filepath.Join(*keepDir, p.Name())
	}
	c := Generate(p)
	inputs, truthPath, err := c.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	clustersPath, pairsPath := filepath.Join(dir, "clusters.csv"), filepath.Join(dir, "pairs.csv")
	run, err := Link(t.Context(), carelens(t), inputs, clustersPath, pairsPath)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := ReadLabels(truthPath)
	if err != nil {
		t.Fatal(err)
	}
	clusters, err := ReadLabels(clustersPath)
	if err != nil {
		t.Fatal(err)
	}
	linked, err := ReadLinkedPairs(pairsPath)
	if err != nil {
		t.Fatal(err)
	}
	o := outcome{p: p, records: len(c.Records), run: run, s: Score(truth, clusters)}
	o.d = c.Diagnose(truth, clusters, linked, 5)
	if o.s.Unclustered != 0 || o.s.Extra != 0 {
		t.Errorf("clusters file: %d records of the inputs missing, %d not in the inputs", o.s.Unclustered, o.s.Extra)
	}
	report := o.report()
	t.Log("\n" + report)
	if *keepDir != "" {
		if err := os.WriteFile(filepath.Join(dir, "report.txt"), []byte(report), 0o644); err != nil {
			t.Error(err)
		}
	}
	return o
}

func (o outcome) row() string {
	s := o.s
	return fmt.Sprintf("| %d | %d | %d | %d | %.0f%% | %.2f | %d | %.4f | %.4f | %.4f | %d | %.3f%% | %.1f s | %.0f MiB |",
		o.p.People, o.records, o.p.Sources, o.p.FamilyNames, o.p.NHSCoverage*100, o.p.ErrorRate,
		s.TruePairs, s.Precision, s.Recall, s.F1, s.FalseMerges, s.FalseMergeShare*100,
		o.run.Wall.Seconds(), float64(o.run.MaxRSSKiB)/1024)
}

const tableHead = "| people | records | sources | family names | NHS | error | true pairs | P | R | F1 | false-merge pairs | false-merge share | wall | peak RSS |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"

func (o outcome) report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%s\n%s\n%s\n", o.p.Name(), tableHead, o.row(), o.run.Summary)
	fmt.Fprintf(&b, "command: %s\n", strings.Join(o.run.Command, " "))
	fmt.Fprintf(&b, "false-merge pairs by relation (of %d):\n", o.s.FalseMerges)
	for _, m := range o.d.FalseBy {
		fmt.Fprintf(&b, "  %6d  %s\n", m.N, m.Pattern)
	}
	fmt.Fprintf(&b, "worst false merges:\n")
	for _, w := range o.d.WorstFalse {
		fmt.Fprintf(&b, "  %s\n", w)
	}
	fmt.Fprintf(&b, "commonest missed-pair patterns (of %d missed pairs):\n", o.s.Missed)
	for _, m := range o.d.Missed[:min(10, len(o.d.Missed))] {
		fmt.Fprintf(&b, "  %6d  %s\n", m.N, m.Pattern)
	}
	fmt.Fprintf(&b, "miss rate by variation (missed / true pairs with it):\n")
	for _, r := range o.d.MissRate {
		if r.Missed > 0 {
			fmt.Fprintf(&b, "  %-16s %6d / %-7d %.3f\n", r.Note, r.Missed, r.Of, r.MissFraction)
		}
	}
	return b.String()
}

// knownFailures are the 2,000-person settings on which today's linker
// misses the targets; TestIndependentCohorts skips them with their
// figures rather than hiding them. Each entry says what fails.
var knownFailures = map[string]string{
	// None since 3 December 2026: the household merges this generator
	// found (benchmarks/independent/RESULTS.md) are answered by
	// match.ConstraintHousehold. A setting that fails again is listed here
	// with what fails, never silently dropped.
}

// TestIndependentCohorts links the 2,000-person grid with carelens link's
// defaults, as a new user would, and holds every setting to the issue 13
// safety target, false-merge pairs under 0.1% of true pairs, and the
// settings where most records carry an NHS number (coverage >= 50%) to
// pairwise F1 at least 0.9 too.
func TestIndependentCohorts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs carelens link 11 times")
	}
	start := time.Now()
	var rows []string
	for _, p := range grid(2000) {
		t.Run(p.Name(), func(t *testing.T) {
			o := evaluate(t, p)
			rows = append(rows, o.row())
			var fails []string
			if o.s.FalseMergeShare >= 0.001 {
				fails = append(fails, fmt.Sprintf("false-merge share %.3f%% >= 0.1%% (%d pairs)", o.s.FalseMergeShare*100, o.s.FalseMerges))
			}
			if o.s.F1 < 0.9 && p.NHSCoverage >= 0.5 {
				fails = append(fails, fmt.Sprintf("F1 %.4f < 0.9", o.s.F1))
			}
			why, known := knownFailures[p.Name()]
			switch {
			case len(fails) > 0 && known:
				t.Skipf("KNOWN FAILURE (%s): %s", why, strings.Join(fails, "; "))
			case len(fails) > 0:
				t.Error(strings.Join(fails, "; "))
			case known:
				t.Logf("listed as a known failure (%s) but meets the targets now: take it off knownFailures", why)
			}
		})
	}
	t.Logf("\n%s\n%s\n(%.1f s)", tableHead, strings.Join(rows, "\n"), time.Since(start).Seconds())
}

// TestIndependentLarge runs the grid at -independent.people (skipped
// without it) and reports the same figures; it asserts only that every
// record comes back clustered.
func TestIndependentLarge(t *testing.T) {
	if *largePeople == 0 {
		t.Skip("set -independent.people=N to run the grid at N people")
	}
	var rows []string
	for _, p := range grid(*largePeople) {
		t.Run(p.Name(), func(t *testing.T) {
			rows = append(rows, evaluate(t, p).row())
		})
	}
	t.Logf("\n%s\n%s", tableHead, strings.Join(rows, "\n"))
}
