package fhirutil

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/internal/shareddata"
	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/provenance"
)

// TestEntriesGolden maps the HL7 examples and one Synthea bundle to
// entries and compares with testdata/entries/*.golden.json.
func TestEntriesGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(shareddata.Path(t, "fhir", "hl7-r4-examples"), "*.json"))
	if !testing.Short() {
		files = append(files, filepath.Join(shareddata.Path(t, "fhir", "synthea-r4"), "Kermit_Trantow_f1a650a5-737e-4fd7-828e-03c3348b9524.json"))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := Decode(readFile(t, f), &Options{Source: provenance.Source{ID: "src"}, Retrieved: testNow})
			require.NoError(t, err)
			entries := b.Entries()
			if len(entries) == 0 {
				return
			}
			golden(t, filepath.Join("entries", strings.TrimSuffix(filepath.Base(f), ".json")+".golden.json"), entries)
		})
	}
}

func TestEntryCategories(t *testing.T) {
	tests := []struct {
		name, in string
		want     merge.Category
	}{
		{"lab observation", `{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"code":{"text":"Hb"}}`, merge.CategoryResult},
		{"vital signs", `{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"text":"BP"}}`, merge.CategoryObservation},
		{"uncategorised observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"}}`, merge.CategoryObservation},
		{"report", `{"resourceType":"DiagnosticReport","status":"final","code":{"text":"FBC"}}`, merge.CategoryReport},
		{"statement", `{"resourceType":"MedicationStatement","status":"active","medicationCodeableConcept":{"text":"x"},"subject":{"reference":"Patient/p"}}`, merge.CategoryMedication},
		{"request", `{"resourceType":"MedicationRequest","status":"active","intent":"order","medicationCodeableConcept":{"text":"x"},"subject":{"reference":"Patient/p"}}`, merge.CategoryMedication},
		{"dispense", `{"resourceType":"MedicationDispense","status":"completed","medicationCodeableConcept":{"text":"x"}}`, merge.CategoryMedication},
		{"allergy", `{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/p"}}`, merge.CategoryAllergy},
		{"condition", `{"resourceType":"Condition","subject":{"reference":"Patient/p"}}`, merge.CategoryProblem},
		{"procedure", `{"resourceType":"Procedure","status":"completed","subject":{"reference":"Patient/p"}}`, merge.CategoryProcedure},
		{"immunization", `{"resourceType":"Immunization","status":"completed","vaccineCode":{"text":"x"},"patient":{"reference":"Patient/p"},"occurrenceDateTime":"2020"}`, merge.CategoryImmunisation},
		{"encounter", `{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"}}`, merge.CategoryEncounter},
		{"referral", `{"resourceType":"ServiceRequest","status":"active","intent":"order","subject":{"reference":"Patient/p"}}`, merge.CategoryReferral},
		{"letter", `{"resourceType":"DocumentReference","status":"current","type":{"coding":[{"system":"http://loinc.org","code":"18842-5"}]},"content":[{"attachment":{"title":"x"}}]}`, merge.CategoryDocument},
		{"progress note", `{"resourceType":"DocumentReference","status":"current","type":{"coding":[{"system":"http://loinc.org","code":"11506-3"}]},"content":[{"attachment":{"title":"x"}}]}`, merge.CategoryNote},
		{"composition", `{"resourceType":"Composition","status":"final","type":{"text":"x"},"date":"2020-01-01","author":[{"display":"a"}],"title":"t"}`, merge.CategoryDocument},
		{"other", `{"resourceType":"Claim","status":"active"}`, merge.CategoryOther},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Decode([]byte(tc.in), nil)
			require.NoError(t, err)
			require.NoError(t, b.Err())
			es := b.Entries()
			require.Len(t, es, 1)
			assert.Equal(t, tc.want, es[0].Category)
		})
	}
}

// claimed returns the fields of an entry that survive a write to FHIR
// and a read back, for comparison.
func claimed(e merge.Entry) merge.Entry {
	e.Lineage = provenance.Lineage{}
	e.Conflict = 0
	if e.Category == merge.CategoryOther {
		e.Status, e.Display, e.Codes = "", "", nil // written as Basic
		e.Time, e.Precision = time.Time{}, merge.PrecisionUnknown
	}
	if len(e.Codes) == 0 {
		e.Codes = nil
	}
	return e
}

// TestTimelineRoundTrip: entries -> TimelineBundle -> Decode -> entries
// keeps each entry's claimed fields, and every entry is followed by a
// Provenance naming its target, its source resources and its sources.
func TestTimelineRoundTrip(t *testing.T) {
	var entries []merge.Entry
	for _, f := range testFiles(t) {
		b, err := Decode(readFile(t, f), &Options{Source: provenance.Source{ID: "gp-" + strings.ToLower(filepath.Base(f)[:3])}, Retrieved: testNow})
		require.NoError(t, err)
		entries = append(entries, b.Entries()...)
	}
	// A merged entry carries the tags of two sources.
	entries[0].Lineage = entries[0].Lineage.Union(provenance.Of(provenance.Tag{Source: "hospital", ResourceType: "AllergyIntolerance", ResourceID: "h1", Version: "2"}))
	pt := &match.Record{Source: "golden", ID: "p1", Given: []string{"Ann"}, Family: "Smith", BirthDate: "1970-01-02"}
	out, err := TimelineBundle(entries, &TimelineOptions{
		Sources:  []provenance.Source{{ID: "hospital", Org: "RR8", Kind: provenance.KindHospital, Name: "Leeds Teaching Hospitals"}},
		Patient:  pt,
		Recorded: testNow,
	})
	require.NoError(t, err)

	b, err := Decode(out, &Options{Source: provenance.Source{ID: "carelens"}, Validate: true})
	require.NoError(t, err)
	require.NoError(t, b.Err())
	require.Len(t, b.Resources, 1+2*len(entries))
	assert.Equal(t, "Patient", b.Resources[0].Type)
	back := b.Entries()
	var got []merge.Entry
	for i, e := range back {
		if i%2 == 0 {
			// The lineage comes back from the Provenance: every original
			// tag less its times, beside the tag of the bundle itself.
			j := i / 2
			want := []provenance.Tag{}
			for _, tag := range entries[j].Lineage.Tags() {
				tag.Asserted, tag.Retrieved = time.Time{}, time.Time{}
				want = append(want, tag)
			}
			own := e.Lineage.Filter(func(s string) bool { return s == "carelens" }).Tags()
			require.Len(t, own, 1, "the bundle's own tag")
			want = append(want, own[0])
			assert.Equal(t, provenance.Of(want...).Tags(), e.Lineage.Tags(), "entry %d lineage", j)
			got = append(got, claimed(e))
		} else {
			assert.Equal(t, "Provenance", e.Display)
		}
	}
	require.Len(t, got, len(entries))
	for i := range entries {
		want := claimed(entries[i])
		if want.Category == merge.CategoryNote && !hasNoteCode(want.Codes) {
			want.Codes = append(want.Codes, merge.Code{System: LOINCSystem, Code: "34109-9", Display: "Note"})
		}
		if want.Category == merge.CategoryDocument || want.Category == merge.CategoryNote {
			if want.Precision < merge.PrecisionSecond {
				want.Time, want.Precision = time.Time{}, merge.PrecisionUnknown // DocumentReference.date is an instant
			}
			if s := status("DocumentReference", want.Status, ""); s == "" {
				want.Status = "current"
			}
		}
		if want.Display == "" && want.Category != merge.CategoryOther {
			want.Display = string(want.Category) // text written when a concept has nothing else
		}
		got[i].Status = cmpStatus(want, got[i])
		assert.Equal(t, want, got[i], "entry %d (%s)", i, entries[i].Lineage)
	}

	// Provenance: read it as JSON.
	var bundle struct {
		Entry []struct {
			FullURL  string         `json:"fullUrl"`
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	require.NoError(t, json.Unmarshal(out, &bundle))
	for i, e := range entries {
		res, prov := bundle.Entry[1+2*i], bundle.Entry[2+2*i]
		require.Equal(t, "Provenance", prov.Resource["resourceType"])
		target := prov.Resource["target"].([]any)[0].(map[string]any)["reference"]
		assert.Equal(t, res.FullURL, target)
		assert.Len(t, prov.Resource["entity"], e.Lineage.Len())
		for _, ent := range prov.Resource["entity"].([]any) {
			assert.Equal(t, "source", ent.(map[string]any)["role"])
		}
		assert.Len(t, prov.Resource["agent"], len(e.Lineage.Sources()))
	}
	first := bundle.Entry[2].Resource
	js, _ := json.Marshal(first)
	assert.Contains(t, string(js), `"value":"RR8"`, "the hospital agent is its ODS code")
	assert.Contains(t, string(js), `AllergyIntolerance/h1/_history/2`)
}

// cmpStatus returns got's status, or want's when want's status is one R4
// cannot carry for the written type (the written default then comes back).
func cmpStatus(want, got merge.Entry) string {
	rt := map[merge.Category]string{
		merge.CategoryResult: "Observation", merge.CategoryObservation: "Observation", merge.CategoryReport: "DiagnosticReport",
		merge.CategoryMedication: "MedicationStatement", merge.CategoryAllergy: "AllergyIntolerance", merge.CategoryProblem: "Condition",
		merge.CategoryProcedure: "Procedure", merge.CategoryImmunisation: "Immunization", merge.CategoryEncounter: "Encounter",
		merge.CategoryReferral: "ServiceRequest", merge.CategoryDocument: "DocumentReference", merge.CategoryNote: "DocumentReference",
	}[want.Category]
	if rt == "" || status(rt, want.Status, "") == "" {
		return want.Status
	}
	return got.Status
}

func mergePrecision(p int) merge.Precision { return merge.Precision(p) }
