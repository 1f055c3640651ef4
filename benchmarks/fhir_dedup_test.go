package benchmarks

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/internal/shareddata"
	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/provenance"
)

// fhirCopy is how source "b" holds one entry of source "a".
type fhirCopy struct {
	a, b    string // resource ids in a and in b
	changed bool   // b's value differs: a conflict, not a duplicate
	content bool   // the entry has a time and codes or text: mergeable by content
}

// unitMoves are the other units a second system writes a value in
// (factor from a's unit to b's), with the decimals it keeps.
var unitMoves = map[string]struct {
	unit     string
	factor   float64
	decimals int
}{
	"g/dL": {"g/L", 10, 1}, "kg": {"[lb_av]", 1 / 0.45359237, 2}, "cm": {"[in_i]", 1 / 2.54, 2},
	"mm[Hg]": {"kPa", 1 / 7.50061683, 2}, "mg/dL": {"mg/L", 10, 1},
}

// glucose LOINC codes, converted to mmol/L through the molar mass.
var glucoseCodes = map[string]bool{"2339-0": true, "2345-7": true}

// secondSource makes source b from source a's entries by the changes a
// second system makes: other code systems (a local lab code for LOINC, a
// Read-style code for SNOMED CT, recorded in the rules as a map), other
// units, times to the day or moved within the hour, some values changed
// (true conflicts) and some entries missing. The rules returned hold only
// the code maps and glucose's molar mass; the copies come from the FHIR
// data, not from the rules.
func secondSource(rng *rand.Rand, a []merge.Entry) ([]merge.Entry, []fhirCopy, *merge.Rules) {
	rs := &merge.Rules{Analytes: nil}
	var b []merge.Entry
	var copies []fhirCopy
	concepts := map[string]bool{}
	for _, e := range a {
		tg := e.Lineage.Tags()[0]
		c := fhirCopy{a: tg.ResourceID, b: "b-" + tg.ResourceID,
			content: e.Precision != merge.PrecisionUnknown && (len(e.Codes) > 0 || e.Text != "")}
		if rng.Float64() < 0.15 {
			continue // b does not hold it
		}
		x := e
		x.Lineage = provenance.Of(provenance.Tag{Source: "b", ResourceType: tg.ResourceType, ResourceID: c.b})
		x.Codes = nil
		for _, cd := range e.Codes {
			other := cd
			switch cd.System {
			case fhirutil.LOINCSystem:
				other = merge.Code{System: "https://lab.example/local", Code: "L" + cd.Code, Display: strings.ToUpper(cd.Display)}
			case "http://snomed.info/sct":
				other = merge.Code{System: "http://read.info/readv2", Code: "R" + cd.Code, Display: cd.Display}
			}
			if other != cd && rng.IntN(4) > 0 { // a map exists for three codes in four
				if id := cd.System + "|" + cd.Code; !concepts[id] {
					concepts[id] = true
					rs.Concepts = append(rs.Concepts, merge.Concept{ID: id, Codes: []merge.Code{cd, other}})
					if glucoseCodes[cd.Code] {
						rs.Analytes = append(rs.Analytes, merge.Analyte{Concept: id, MolarMass: 180.16})
					}
				}
				cd = other
			}
			x.Codes = append(x.Codes, cd)
		}
		if e.Value != nil {
			q := *e.Value
			if mv, ok := unitMoves[q.Unit]; ok && rng.IntN(2) == 0 {
				if q.Unit == "mg/dL" && slices.ContainsFunc(e.Codes, func(cd merge.Code) bool { return glucoseCodes[cd.Code] }) {
					mv.unit, mv.factor, mv.decimals = "mmol/L", 10/180.16, 1
				}
				p := math.Pow(10, float64(mv.decimals))
				q.Value, q.Unit = math.Round(q.Value*mv.factor*p)/p, mv.unit
			}
			if rng.Float64() < 0.08 {
				q.Value = math.Round(q.Value*1.25*10+10) / 10 // another value
				c.changed = true
			}
			x.Value = &q
		}
		if x.Precision >= merge.PrecisionMinute {
			if rng.IntN(2) == 0 {
				x.Time, x.Precision = x.Time.Truncate(24*time.Hour), merge.PrecisionDay // filed to the day
			} else {
				x.Time = x.Time.Add(time.Duration(rng.IntN(91)-45) * time.Minute).Truncate(time.Minute)
				x.Precision = merge.PrecisionMinute
			}
		}
		b = append(b, x)
		copies = append(copies, c)
	}
	return b, copies, rs
}

// fhirScore is the accuracy of one merge against the copies' truth.
type fhirScore struct {
	entries, truePairs, predPairs, tp int
	silent                            int // a changed copy merged with its original
	distinct                          int // two resources of one source in one merged entry
	conflicts, flagged, flaggedFHIR   int // changed copies; flagged in the timeline; in the FHIR output
	contentless, contentlessMerged    int // copies of items without a time or codes and text
}

func (s *fhirScore) add(o fhirScore) {
	s.entries += o.entries
	s.truePairs += o.truePairs
	s.predPairs += o.predPairs
	s.tp += o.tp
	s.silent += o.silent
	s.distinct += o.distinct
	s.conflicts += o.conflicts
	s.flagged += o.flagged
	s.flaggedFHIR += o.flaggedFHIR
	s.contentless += o.contentless
	s.contentlessMerged += o.contentlessMerged
}

// scoreFHIR merges a and its second source and scores the timeline, and
// the timeline written as FHIR and read back, against the copies.
func scoreFHIR(t *testing.T, rng *rand.Rand, a []merge.Entry) fhirScore {
	t.Helper()
	b, copies, rs := secondSource(rng, a)
	eng, err := merge.Compile(&merge.Options{Rules: rs})
	require.NoError(t, err)
	eng.Sort(a)
	eng.Sort(b)
	tl, err := eng.MergeSlices([][]merge.Entry{a, b})
	require.NoError(t, err)

	key := func(tg provenance.Tag) string { return tg.Source + "/" + tg.ResourceID }
	truth := map[string]fhirCopy{} // b's key → its copy
	for _, c := range copies {
		truth["b/"+c.b] = c
	}
	sc := fhirScore{entries: len(a) + len(b)}
	where := map[string]int{} // tag key → timeline position
	for i := range tl.Len() {
		var ms []string
		for m := range tl.Members(i) {
			ms = append(ms, key(m.Lineage.Tags()[0]))
			where[key(m.Lineage.Tags()[0])] = i
		}
		for x := range ms {
			for y := x + 1; y < len(ms); y++ {
				sc.predPairs++
				p, q := ms[x], ms[y]
				if strings.HasPrefix(p, "b/") {
					p, q = q, p
				}
				c, ok := truth[q]
				switch {
				case ok && "a/"+c.a == p && !c.changed:
					sc.tp++
				case ok && "a/"+c.a == p:
					sc.silent++
				case p[:2] == q[:2]:
					sc.distinct++
				}
			}
		}
	}
	// The timeline as FHIR, read back: where each source resource is, and
	// the conflict each output entry carries.
	out, err := fhirutil.TimelineBundle(tl.Entries(), &fhirutil.TimelineOptions{Conflicts: tl.Conflicts})
	require.NoError(t, err)
	back, err := fhirutil.Decode(out, &fhirutil.Options{Source: provenance.Source{ID: "carelens"}})
	require.NoError(t, err)
	fhirConflict := map[string]merge.ConflictID{}
	for _, e := range back.Entries() {
		for _, tg := range e.Lineage.Tags() {
			fhirConflict[key(tg)] = e.Conflict
		}
	}
	for _, c := range copies {
		switch {
		case !c.content:
			sc.contentless++
			if where["a/"+c.a] == where["b/"+c.b] {
				sc.contentlessMerged++
			}
		case c.changed:
			sc.conflicts++
			ea, eb := tl.At(where["a/"+c.a]), tl.At(where["b/"+c.b])
			if ea.Conflict != 0 && ea.Conflict == eb.Conflict && ea != eb {
				sc.flagged++
			}
			if fa := fhirConflict["a/"+c.a]; fa != 0 && fa == fhirConflict["b/"+c.b] {
				sc.flaggedFHIR++
			}
		default:
			sc.truePairs++
		}
	}
	return sc
}

// TestFHIRDerivedDedupAccuracy measures de-duplication on duplicates the
// rules were not written from: every HL7 example and Synthea bundle in the
// shared data is source a, and five second sources made from it by
// secondSource are each source b. Reported: precision and recall of the merged
// pairs, disagreements flagged as conflicts in the timeline and in its FHIR
// output, and items without a time or content kept apart.
func TestFHIRDerivedDedupAccuracy(t *testing.T) {
	var total fhirScore
	for _, dir := range []string{"hl7-r4-examples", "synthea-r4"} {
		files, err := filepath.Glob(filepath.Join(shareddata.Path(t, "fhir", dir), "*.json"))
		require.NoError(t, err)
		for i, f := range files {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			batch, err := fhirutil.Decode(data, &fhirutil.Options{Source: provenance.Source{ID: "a"}})
			require.NoError(t, err)
			// Five second sources of each, drawn with other seeds.
			for seed := range uint64(5) {
				if a := batch.Entries(); len(a) > 0 {
					total.add(scoreFHIR(t, rand.New(rand.NewPCG(uint64(i), seed)), a))
				}
			}
		}
	}
	prec := float64(total.tp) / float64(max(total.predPairs, 1))
	rec := float64(total.tp) / float64(max(total.truePairs, 1))
	t.Logf("FHIR-derived duplicates: entries=%d truePairs=%d predicted=%d tp=%d precision=%.4f recall=%.4f "+
		"conflicts flagged %d/%d (FHIR output %d/%d) silently merged=%d distinct items sharing an entry=%d "+
		"untimed/contentless copies kept apart %d/%d",
		total.entries, total.truePairs, total.predPairs, total.tp, prec, rec,
		total.flagged, total.conflicts, total.flaggedFHIR, total.conflicts, total.silent, total.distinct,
		total.contentless-total.contentlessMerged, total.contentless)
	require.Positive(t, total.truePairs)
	require.Positive(t, total.conflicts)
	assert.GreaterOrEqual(t, prec, 0.995, "precision")
	assert.GreaterOrEqual(t, rec, 0.98, "recall")
	assert.Zero(t, total.silent, "a changed copy merged with its original")
	assert.Zero(t, total.distinct, "two resources of one source in one entry")
	assert.Equal(t, total.conflicts, total.flagged, "every disagreement is a conflict")
	assert.Equal(t, total.conflicts, total.flaggedFHIR, "every disagreement is a conflict in the FHIR output")
	assert.Zero(t, total.contentlessMerged, "items without a time or content are never merged by content")
}
