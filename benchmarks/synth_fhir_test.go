package benchmarks

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/provenance"
)

// fhirBundle is one emitted bundle with its truth.
type fhirBundle struct {
	p     FHIRPatient
	data  []byte
	facts []bundleFact
}

// genFHIR generates a cohort in memory with its per-resource truth.
func genFHIR(t testing.TB, o FHIROptions) ([]fhirBundle, FHIRStats) {
	t.Helper()
	var out []fhirBundle
	st, err := synthFHIR(t.Context(), o, func(p FHIRPatient, b []byte, facts []bundleFact) error {
		out = append(out, fhirBundle{p, bytes.Clone(b), slices.Clone(facts)})
		return nil
	})
	require.NoError(t, err)
	return out, st
}

// TestSynthFHIRBundles decodes a cohort strictly, checks what fhirutil
// reads from it, then merges each person's sources with the cohort's rules
// and scores the merge against the generator's truth.
func TestSynthFHIRBundles(t *testing.T) {
	people := 200
	if testing.Short() {
		people = 60
	}
	bundles, st := genFHIR(t, FHIROptions{People: people, Seed: 5, ConflictRate: 0.06})
	require.NotEmpty(t, bundles)
	batches := make([]*fhirutil.Batch, len(bundles))
	for i, b := range bundles {
		batch, err := fhirutil.Decode(b.data, &fhirutil.Options{Source: provenance.Source{ID: b.p.Source}, Retrieved: FHIRReferenceNow, Workers: 1})
		require.NoError(t, err)
		batches[i] = batch
	}
	t.Run("strict R4", func(t *testing.T) { checkDecoded(t, bundles, batches, st) })
	t.Run("merge", func(t *testing.T) { checkMerge(t, bundles, batches, st) })
}

func checkDecoded(t *testing.T, bundles []fhirBundle, batches []*fhirutil.Batch, st FHIRStats) {
	now := FHIRReferenceNow
	cats := map[merge.Category]int{}
	gpNotes, loinc, maxHbA1c := 0, 0, 0
	nhsWritten := 0
	for i, b := range bundles {
		batch := batches[i]
		require.Empty(t, batch.Issues, "%s/%s decodes strictly without issues", b.p.Source, b.p.PatientID)
		require.Equal(t, b.p.Resources, len(batch.Resources))

		recs := batch.Patients()
		require.Len(t, recs, 1)
		assert.Equal(t, b.p.PatientID, recs[0].ID)
		if recs[0].NHSNumber != "" {
			nhsWritten++
			assert.Len(t, recs[0].NHSNumber, 10, "NHS numbers are written as ten digits")
		}

		entries := batch.Entries()
		require.Len(t, entries, len(b.facts))
		hba1c := 0
		for i, e := range entries {
			assert.Equal(t, b.facts[i].id, e.Lineage.Tags()[0].ResourceID, "truth follows the bundle's order")
			assert.NotEqual(t, merge.CategoryOther, e.Category)
			assert.False(t, e.Time.IsZero(), "every entry has a time")
			assert.True(t, e.Time.Before(now), "every entry is before now")
			cats[e.Category]++
			if e.Category == merge.CategoryNote && b.p.Source == "gp" {
				gpNotes++
			}
			for _, c := range e.Codes {
				if c.System == fhirutil.LOINCSystem && e.Category == merge.CategoryResult {
					loinc++
				}
			}
			if e.Display == "HbA1c" || strings.Contains(e.Display, "A1c") || strings.Contains(e.Display, "Glycated") {
				hba1c++
			}
		}
		maxHbA1c = max(maxHbA1c, hba1c)
	}
	t.Logf("bundles=%d resources=%d facts=%d shared=%d copies=%d conflicts=%d categories=%v",
		len(bundles), st.TotalResources, st.Facts, st.SharedFacts, st.Copies, st.Conflicts, cats)
	for _, c := range []merge.Category{merge.CategoryResult, merge.CategoryObservation, merge.CategoryMedication,
		merge.CategoryAllergy, merge.CategoryProblem, merge.CategoryProcedure, merge.CategoryImmunisation,
		merge.CategoryEncounter, merge.CategoryNote, merge.CategoryDocument} {
		assert.Positive(t, cats[c], "category %s generated", c)
	}
	assert.Positive(t, gpNotes, "the practice writes consultation notes")
	assert.Positive(t, loinc, "results carry LOINC codes")
	assert.GreaterOrEqual(t, maxHbA1c, 6, "some people have an HbA1c series to chart")
	assert.Greater(t, nhsWritten, len(bundles)*3/4)
	assert.Positive(t, st.Conflicts)
	perPerson := float64(st.TotalResources) / float64(st.PeopleWithRecords)
	assert.Greater(t, perPerson, 30.0, "tens to a few hundred resources per person")
	assert.Less(t, perPerson, 400.0)
}

// TestSynthFHIRValidates runs jsonformat's extended validation (required
// elements, reference target types) over a few bundles.
func TestSynthFHIRValidates(t *testing.T) {
	bundles, _ := genFHIR(t, FHIROptions{People: 15, Seed: 8})
	for _, b := range bundles {
		batch, err := fhirutil.Decode(b.data, &fhirutil.Options{Validate: true, Retrieved: FHIRReferenceNow, Workers: 1})
		require.NoError(t, err)
		for _, is := range batch.Issues {
			assert.Fail(t, "validation issue", "%s/%s: %v", b.p.Source, b.p.PatientID, is)
		}
	}
}

// checkMerge merges each person's sources (a source's bundles as one
// sorted stream) with the cohort's rules and scores the merge against the
// truth: which resources are one fact, which copies disagree.
func checkMerge(t *testing.T, bundles []fhirBundle, batches []*fhirutil.Batch, st FHIRStats) {
	byPerson := map[string][]int{}
	var people []string
	for i, b := range bundles {
		if _, ok := byPerson[b.p.PersonID]; !ok {
			people = append(people, b.p.PersonID)
		}
		byPerson[b.p.PersonID] = append(byPerson[b.p.PersonID], i)
	}
	opts := &merge.Options{Rules: st.Rules}
	var sc dedupScore
	persons := 0
	for _, pid := range people {
		fact := map[string]int32{} // source/resource id → fact
		conflictCopy := map[int32]bool{}
		conflicting := map[string]bool{}
		streams := map[string][]merge.Entry{}
		var sources []string
		for _, bi := range byPerson[pid] {
			b, batch := bundles[bi], batches[bi]
			if _, ok := streams[b.p.Source]; !ok {
				sources = append(sources, b.p.Source)
			}
			streams[b.p.Source] = append(streams[b.p.Source], batch.Entries()...)
			for _, f := range b.facts {
				fact[b.p.Source+"/"+f.id] = f.fact
				if f.conflict {
					conflictCopy[f.fact] = true
					conflicting[b.p.Source+"/"+f.id] = true
				}
			}
		}
		eng, err := merge.Compile(opts)
		require.NoError(t, err)
		var srcs [][]merge.Entry
		for _, s := range sources {
			eng.Sort(streams[s])
			srcs = append(srcs, streams[s])
		}
		tl, err := eng.MergeSlices(srcs)
		require.NoError(t, err)
		persons++

		key := func(e merge.Entry) string { tg := e.Lineage.Tags()[0]; return tg.Source + "/" + tg.ResourceID }
		perFact := map[int32]int{}
		for _, s := range srcs {
			for _, e := range s {
				perFact[fact[key(e)]]++
			}
		}
		for f, n := range perFact {
			if conflictCopy[f] {
				// The disagreeing copy must not merge with the fact: its
				// pairs with the other holders are not true pairs.
				n--
				sc.conflictCopies++
			}
			sc.truePairs += n * (n - 1) / 2
		}
		flagged := map[int32]bool{}
		for i, e := range tl.All() {
			var members []merge.Entry
			for m := range tl.Members(i) {
				members = append(members, m)
			}
			for a := range members {
				for b := a + 1; b < len(members); b++ {
					sc.predPairs++
					ka, kb := key(members[a]), key(members[b])
					switch {
					case fact[ka] != fact[kb]:
					case conflicting[ka] || conflicting[kb]:
						sc.silentConflicts++
					default:
						sc.tp++
					}
				}
			}
			if e.Conflict != 0 {
				for _, m := range members {
					if conflicting[key(m)] {
						flagged[fact[key(m)]] = true
					}
				}
			}
		}
		sc.flagged += len(flagged)
	}
	t.Logf("people=%d truePairs=%d predicted=%d tp=%d precision=%.4f recall=%.4f planted conflicts=%d flagged=%d silent=%d",
		persons, sc.truePairs, sc.predPairs, sc.tp, sc.precision(), sc.recall(), sc.conflictCopies, sc.flagged, sc.silentConflicts)
	require.Positive(t, sc.truePairs)
	require.Positive(t, sc.conflictCopies)
	assert.GreaterOrEqual(t, sc.precision(), 0.995)
	assert.GreaterOrEqual(t, sc.recall(), 0.99)
	assert.Zero(t, sc.silentConflicts, "a disagreeing copy was merged with the fact it disagrees with")
	assert.Equal(t, sc.conflictCopies, sc.flagged, "every planted disagreement is a flagged conflict")
}

func TestSynthFHIRDeterministic(t *testing.T) {
	o := FHIROptions{People: 40, Seed: 3, Sources: []string{"gp", "hospital", "community", "ooh"}}
	a, sa := genFHIR(t, o)
	b, sb := genFHIR(t, o)
	require.Equal(t, len(a), len(b))
	for i := range a {
		require.Equal(t, a[i].p, b[i].p)
		require.True(t, bytes.Equal(a[i].data, b[i].data), "bundle %d differs", i)
	}
	assert.Equal(t, sa.Resources, sb.Resources)
	c, _ := genFHIR(t, FHIROptions{People: 40, Seed: 4, Sources: o.Sources})
	assert.NotEqual(t, a[0].data, c[0].data, "another seed, another cohort")
	assert.Positive(t, sa.Bundles["ooh"], "a source of another name holds records too")

	// Now moves the record: everything stays before it.
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	d, _ := genFHIR(t, FHIROptions{People: 20, Now: now})
	for _, x := range d {
		batch, err := fhirutil.Decode(x.data, &fhirutil.Options{Retrieved: now, Workers: 1})
		require.NoError(t, err)
		for _, e := range batch.Entries() {
			assert.True(t, e.Time.Before(now))
		}
	}
}

// TestSynthFHIRSameDemographicsAsSynth checks that the FHIR cohort's
// records are the CSV cohort's: same ids, same NHS numbers and names.
func TestSynthFHIRSameDemographicsAsSynth(t *testing.T) {
	dir := t.TempDir()
	_, err := Synth(t.Context(), SynthOptions{People: 120, Seed: 21, Out: dir})
	require.NoError(t, err)
	f, err := os.Open(filepath.Join(dir, "hospital.csv"))
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	want := map[string][]string{}
	for _, r := range rows[1:] {
		want[r[fRecordID]] = r
	}
	n := 0
	_, err = SynthFHIR(t.Context(), FHIROptions{People: 120, Seed: 21}, func(p FHIRPatient, b []byte) error {
		if p.Source != "hospital" {
			return nil
		}
		n++
		row, ok := want[p.PatientID]
		require.True(t, ok, "record %s is in the CSV cohort", p.PatientID)
		batch, err := fhirutil.Decode(b, &fhirutil.Options{Workers: 1})
		require.NoError(t, err)
		rec := batch.Patients()[0]
		assert.Equal(t, strings.ReplaceAll(row[fNHS], " ", ""), rec.NHSNumber)
		assert.Equal(t, row[fFamily], rec.Family)
		assert.Equal(t, row[fBirth], rec.BirthDate)
		assert.Equal(t, row[fPostcode], rec.Postcode)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, len(want), n)
}

func TestFHIRRules(t *testing.T) {
	_, st := genFHIR(t, FHIROptions{People: 5})
	rs, err := FHIRRules(nil)
	require.NoError(t, err)
	assert.Equal(t, st.Rules, rs, "the rules depend on the sources only")
	data, err := json.Marshal(rs)
	require.NoError(t, err)
	back, err := merge.LoadRules(bytes.NewReader(data))
	require.NoError(t, err, "rules.json loads as carelens timeline -rules reads it")
	assert.Equal(t, rs, back)
	_, err = FHIRRules([]string{"gp", "gp"})
	assert.ErrorIs(t, err, ErrBadOptions)
}

func TestSynthFHIROptions(t *testing.T) {
	tests := []struct {
		name string
		o    FHIROptions
	}{
		{"negative people", FHIROptions{People: -1}},
		{"bad source", FHIROptions{Sources: []string{"a/b"}}},
		{"negative years", FHIROptions{Years: -1}},
		{"conflict rate above one", FHIROptions{ConflictRate: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SynthFHIR(t.Context(), tc.o, func(FHIRPatient, []byte) error { return nil })
			assert.ErrorIs(t, err, ErrBadOptions)
		})
	}
	stop := errors.New("stop")
	calls := 0
	_, err := SynthFHIR(t.Context(), FHIROptions{People: 10}, func(FHIRPatient, []byte) error { calls++; return stop })
	assert.ErrorIs(t, err, stop, "an emit error stops generation")
	assert.Equal(t, 1, calls)
}

func BenchmarkSynthFHIR(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, err := SynthFHIR(b.Context(), FHIROptions{People: 100}, func(FHIRPatient, []byte) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
}
