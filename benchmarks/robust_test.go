package benchmarks

import (
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/match"
)

var (
	robustPeople = flag.Int("robust.people", 0, "people per robustness profile (default 5000, 2000 with -short)")
	robustSeed   = flag.Uint64("robust.seed", 0, "cohort seed for the robustness sweep (0: each profile's own)")
)

// knownGaps are the profiles that do not meet the issue 13 targets with
// the defaults, with what is missing; their F1 is reported, not asserted
// (false merges always are).
var knownGaps = map[string]string{
	"names-dob-only": "by default a pair is never linked on name and birth date alone, so recall is 0; " +
		"the run with LinkOptions.UniqueNameDOB below is the explicit option for such files. " +
		"No name-frequency rule meets both targets here: the planted namesakes (1% of people) are identical " +
		"on every field present, and with UniqueNameDOB 5 of 5 (5,000 people) and 31 of 32 (20,000) " +
		"false-merge pairs join such records; a 100 times stricter frequency cap still leaves 0.111% at 20,000",
}

// TestRobustness trains with defaults on every profile of the sweep and
// reports F1 and the false-merge share (false-merge pairs over true
// pairs) per profile, beside the ceiling computed from the truth
// ([RecallCeiling]: the best recall, and F1 at precision 1, any linker
// can reach when different people are identical on every field present).
// The names-dob-only profile is also run with LinkOptions.UniqueNameDOB.
func TestRobustness(t *testing.T) {
	// Two sizes by default: at 1,000 people one false-merge pair is
	// already 0.09% of the true pairs.
	sizes := []int{1000, 5000}
	if testing.Short() {
		sizes = []int{1000, 2000}
	}
	if *robustPeople != 0 {
		sizes = []int{*robustPeople}
	}
	for _, n := range sizes {
		t.Run(strconv.Itoa(n), func(t *testing.T) { robustness(t, n) })
	}
}

// robustness is TestRobustness at n people.
func robustness(t *testing.T, n int) {
	for _, p := range RobustProfiles(n) {
		if *robustSeed != 0 {
			p.Seed = *robustSeed
		}
		t.Run(p.Name, func(t *testing.T) {
			recs, ent := p.Generate()
			ceil, exact := RecallCeiling(recs, ent), ExactRecallCeiling(recs, ent)
			run := func(label string, o *match.LinkOptions) (f1, fm float64) {
				start := time.Now()
				res, err := match.Link(t.Context(), recs, o)
				require.NoError(t, err)
				tp, pred, both := PairCounts(ent, res.Cluster)
				prec, rec := ratio(both, pred), ratio(both, tp)
				f1 = harmonic(prec, rec)
				fm = float64(pred-both) / float64(max(tp, 1))
				t.Logf("%-16s records=%d true_pairs=%d P=%.4f R=%.4f F1=%.4f false_merges=%d (%.3f%% of true pairs; %d of records identical on every field) ceiling R=%.4f F1=%.4f (agreeing records only: R=%.4f F1=%.4f) %.1fs",
					label, len(recs), tp, prec, rec, f1, pred-both, 100*fm, IndistinguishableFalseMerges(recs, ent, res.Cluster),
					ceil, harmonic(1, ceil), exact, harmonic(1, exact), time.Since(start).Seconds())
				if os.Getenv("CARELENS_DEBUG_ROBUST") != "" {
					logModel(t, res.Model)
					logFalseMerges(t, recs, ent, res, 5)
				}
				return f1, fm
			}
			f1, fm := run(p.Name, nil)
			assert.Less(t, fm, 0.001, "false-merge pairs must stay below 0.1%% of true pairs")
			if gap, ok := knownGaps[p.Name]; ok {
				t.Logf("known gap, not asserted: %s", gap)
			} else {
				// Every other profile carries an identifier or a contact
				// field on most records: the 0.97 holds (nhs-0,
				// the lowest, at 0.9765-0.9778 over seeds 13, 7 and 29
				// and 2,000 to 20,000 people).
				assert.GreaterOrEqual(t, f1, 0.97, "issue 13: F1 >= 0.97 where most records carry an identifier or contact field")
				assert.Greater(t, f1, harmonic(1, ceil)-0.05, "F1 far below the ceiling")
			}
			if p.Name == "names-dob-only" {
				// Only names, birth dates and sex: the explicit option,
				// measured, not asserted. Its safety argument (see
				// match.LinkOptions.UniqueNameDOB) bounds namesakes by
				// chance; this profile plants 1% namesakes (same name,
				// sex and birth date), far above chance, and the option
				// then merges 0.09-0.39% of true pairs' worth of
				// different people (2,000 to 20,000 people): above the
				// 0.1% limit. That is why it is not the default and
				// why the default keeps recall at 0 here. Measured
				// variants (F1 / false-merge share at 5,000 and 20,000
				// people): the frequency cap maxExpectedNamesakes at
				// 0.0001: 0.753/0.075%, 0.682/0.111%; at 0.001:
				// 0.838/0.094%, 0.799/0.134%; at 0.01 (the option) and
				// above: 0.847/0.094%, 0.847/0.148%; also linking one
				// typo in name or birth date: 0.911/0.433%,
				// 0.910/0.874%.
				f1u, fm := run(p.Name+"+unique", &match.LinkOptions{UniqueNameDOB: true})
				t.Logf("UniqueNameDOB (explicit option, not a default): false merges %.3f%% of true pairs; "+
					"F1 %.4f is %.4f below the ceiling for linking only records that agree, %.4f below the ceiling (issue 13 asks 0.02)",
					100*fm, f1u, harmonic(1, exact)-f1u, harmonic(1, ceil)-f1u)
				t.Logf("default kept off on files with only names and birth dates: the safety checklist (M11) forbids linking on name " +
					"and birth date alone, and the option's false merges join records identical on every field present, which no rule can avoid " +
					"(training warns on such files and names the option)")
			}
		})
	}
}

// TestRecallCeiling computes both ceilings on a file small enough to count
// by hand.
func TestRecallCeiling(t *testing.T) {
	rec := func(given, family, dob string) match.Record {
		return match.Record{Given: []string{given}, Family: family, BirthDate: dob}
	}
	recs := []match.Record{
		rec("Ann", "Lee", "1980-01-02"), rec("Ann", "Lee", "1980-01-02"), // person 1, two identical records
		rec("ANN", "LEE", "02/01/1980"),                                     // person 2, a namesake identical to person 1's records
		rec("Bob", "Hart", "1970-05-06"), rec("Bob", "Hartt", "1970-05-06"), // person 3, a typo
		rec("Cal", "Moss", "1960-07-08"), rec("CAL", "MOSS", "08/07/1960"), // person 4, case and date format
		rec("Dee", "Roe", "1950-09-10"), rec("Dee", "Roe", "1950-09-10"), rec("Dee", "Roe", ""), // person 5, a date missing
	}
	ent := []string{"1", "1", "2", "3", "3", "4", "4", "5", "5", "5"}
	// True pairs: 1 (person 1) + 1 (3) + 1 (4) + 3 (5) = 6. Person 1's
	// pair is out of reach: person 2's record holds what theirs hold. All
	// others are within reach; of them, person 4's and person 5's agree
	// on every field both records hold (the missing date is no
	// disagreement), person 3's do not.
	assert.InDelta(t, 5.0/6, RecallCeiling(recs, ent), 1e-9)
	assert.InDelta(t, 4.0/6, ExactRecallCeiling(recs, ent), 1e-9)
}

// logModel logs each comparison's level weights (debugging aid).
func logModel(t *testing.T, m *match.Model) {
	for _, c := range m.Comparisons {
		var s strings.Builder
		s.WriteString(c.Name + ":")
		for _, l := range c.Levels[1:] {
			s.WriteString(fmt.Sprintf(" %s=%.2f(m=%.3g,u=%.3g)", l.Label, math.Log2(l.M/l.U), l.M, l.U))
		}
		t.Log(s.String())
	}
	t.Logf("prior %.3g noTwinGuard=%v", m.Prior, m.NoTwinGuard)
}

// logFalseMerges logs up to k explanations of linked pairs of different people.
func logFalseMerges(t *testing.T, recs []match.Record, ent []string, res *match.LinkResult, k int) {
	byCl := map[int][]int{}
	for i, c := range res.Cluster {
		byCl[c] = append(byCl[c], i)
	}
	for _, idx := range byCl {
		for x := range idx {
			for y := x + 1; y < len(idx); y++ {
				a, b := idx[x], idx[y]
				if ent[a] == ent[b] || k == 0 {
					continue
				}
				k--
				e := res.Scorer.Explain(&res.Prepared[a], &res.Prepared[b])
				t.Logf("FP %v\n%v\n%s", recs[a], recs[b], e)
			}
		}
	}
}

// TestRobustNoIdentifierAnchors checks that without any identifier the
// birth date's m is counted on pairs that names and a phone or e-mail
// confirm, not left to EM over name blocks, where namesakes form a "same
// name" class: at 20,000 people of the nhs-0 profile that class put the
// birth date's else weight at the -2 bound and 0.33% of true pairs were
// false merges.
func TestRobustNoIdentifierAnchors(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 people")
	}
	var p RobustProfile
	for _, q := range RobustProfiles(20000) {
		if q.Name == "nhs-0" {
			p = q
		}
	}
	recs, ent := p.Generate()
	res, err := match.Link(t.Context(), recs, nil)
	require.NoError(t, err)
	var dob *match.ComparisonReport
	for i, c := range res.Model.Training.Comparisons {
		if c.Name == "date of birth" {
			dob = &res.Model.Training.Comparisons[i]
		}
	}
	require.NotNil(t, dob)
	els := dob.Levels[len(dob.Levels)-1]
	assert.Equal(t, match.EstimateContact, els.MFrom)
	assert.Less(t, els.Weight, -4.0, "clearly different birth dates weigh strongly against a match")
	tp, pred, both := PairCounts(ent, res.Cluster)
	assert.Less(t, float64(pred-both)/float64(tp), 0.001)
}

var robustDiagnose = flag.String("robust.diagnose", "", "TestRobustMissedReasons: the profile whose missed true pairs are tallied by reason")

// TestRobustMissedReasons tallies, for one profile (-robust.diagnose
// NAME), why each true pair the default link leaves apart is missed: a
// constraint that refused it (above the threshold), its weight below the
// threshold (with the comparisons that did not agree), or neither
// (blocking never made it a candidate, or clustering refused the merge).
// A diagnostic: it asserts only that every missed pair gets one reason.
func TestRobustMissedReasons(t *testing.T) {
	if *robustDiagnose == "" {
		t.Skip("set -robust.diagnose=PROFILE")
	}
	n := cmpOr(*robustPeople, 5000)
	var p *RobustProfile
	for _, q := range RobustProfiles(n) {
		if q.Name == *robustDiagnose {
			p = &q
		}
	}
	require.NotNil(t, p, "no profile %q", *robustDiagnose)
	recs, ent := p.Generate()
	res, err := match.Link(t.Context(), recs, nil)
	require.NoError(t, err)
	thr := match.Weight(res.Model.EffectiveThreshold())
	reasons := map[string]int{}
	missed := 0
	for a := range recs {
		for b := a + 1; b < len(recs); b++ {
			if ent[a] != ent[b] || res.Cluster[a] == res.Cluster[b] {
				continue
			}
			missed++
			e := res.Scorer.Explain(&res.Prepared[a], &res.Prepared[b])
			var why string
			switch {
			case e.Weight >= thr && e.Constraint != "":
				why = "constraint: " + e.Constraint + ";"
			case e.Weight >= thr:
				why = "linkable: not a candidate, or a cluster guard;"
			default:
				why = "below threshold;"
				if e.Constraint != "" {
					why += " also " + e.Constraint + ";"
				}
			}
			// The comparisons that did not agree exactly say which
			// variation cost the pair.
			for _, c := range e.Comparisons {
				if !strings.HasPrefix(c.Level, "exact") {
					why += " " + c.Name + "=" + c.Level
				}
			}
			if reasons[why] == 0 && os.Getenv("CARELENS_DEBUG_ROBUST") != "" {
				t.Logf("example %s\n%v\n%v\n%s", why, recs[a], recs[b], e)
			}
			reasons[why]++
		}
	}
	type kv struct {
		k string
		n int
	}
	var all []kv
	sum := 0
	for k, v := range reasons {
		all = append(all, kv{k, v})
		sum += v
	}
	slices.SortFunc(all, func(x, y kv) int { return y.n - x.n })
	t.Logf("%s: %d missed true pairs", p.Name, missed)
	for _, r := range all[:min(25, len(all))] {
		t.Logf("%5d  %s", r.n, r.k)
	}
	assert.Equal(t, missed, sum)
}

func cmpOr(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}
