package fhirutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/provenance"
)

// asMap decodes JSON into a generic map for structural checks.
func asMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func TestLinkedPatients(t *testing.T) {
	recs := []match.Record{
		{Source: "gp", ID: "1", Family: "Smith", Given: []string{"Ann"}, NHSNumber: "9434765919"},
		{Source: "hosp", ID: "A/9", Family: "Smith", Given: []string{"Anne"}},
		{Source: "hosp", ID: "A-10", Family: "Smith"},
	}
	tests := []struct {
		name       string
		replacedBy map[string]string
		want       map[string][]string // record key -> link types in order
	}{
		{"all seealso", nil, map[string][]string{"gp/1": {"seealso", "seealso"}, "hosp/A/9": {"seealso", "seealso"}, "hosp/A-10": {"seealso", "seealso"}}},
		{"merged record", map[string]string{"hosp/A-10": "hosp/A/9"},
			map[string][]string{"gp/1": {"seealso", "seealso"}, "hosp/A/9": {"seealso", "replaces"}, "hosp/A-10": {"replaced-by"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := LinkedPatients(recs, tc.replacedBy)
			require.NoError(t, err)
			b, err := Decode(out, &Options{Validate: true})
			require.NoError(t, err)
			require.NoError(t, b.Err())
			require.Len(t, b.Patients(), 3)
			m := asMap(t, out)
			entries := m["entry"].([]any)
			urls := map[string]string{}
			for i, r := range recs {
				urls[entries[i].(map[string]any)["fullUrl"].(string)] = r.Key()
			}
			for i, r := range recs {
				p := entries[i].(map[string]any)["resource"].(map[string]any)
				var types []string
				for _, l := range p["link"].([]any) {
					lm := l.(map[string]any)
					types = append(types, lm["type"].(string))
					other := lm["other"].(map[string]any)["reference"].(string)
					assert.NotEqual(t, r.Key(), urls[other], "no self link")
					assert.NotEmpty(t, urls[other], "links point at entries of the bundle")
				}
				assert.Equal(t, tc.want[r.Key()], types, r.Key())
			}
			assert.NotContains(t, entries[1].(map[string]any)["resource"], "id", "A/9 is not a valid FHIR id")
		})
	}
}

func TestMatchResponse(t *testing.T) {
	cands := []Candidate{
		{Record: match.Record{Source: "s", ID: "low", Family: "A"}, Score: 0.2, Grade: match.GradePossible},
		{Record: match.Record{Source: "s", ID: "high", Family: "B"}, Score: 0.99, Grade: match.GradeCertain},
		{Record: match.Record{Source: "s", ID: "over", Family: "C"}, Score: 1.7, Grade: match.GradeProbable},
	}
	out, err := MatchResponse(cands)
	require.NoError(t, err)
	m := asMap(t, out)
	assert.Equal(t, "searchset", m["type"])
	assert.EqualValues(t, 3, m["total"])
	var ids []string
	var scores []float64
	for _, e := range m["entry"].([]any) {
		em := e.(map[string]any)
		ids = append(ids, em["resource"].(map[string]any)["id"].(string))
		s := em["search"].(map[string]any)
		assert.Equal(t, "match", s["mode"])
		scores = append(scores, s["score"].(float64))
		ext := s["extension"].([]any)[0].(map[string]any)
		assert.Equal(t, MatchGradeURL, ext["url"])
		assert.Contains(t, []string{"certain", "probable", "possible"}, ext["valueCode"])
	}
	assert.Equal(t, []string{"over", "high", "low"}, ids)
	assert.Equal(t, []float64{1, 0.99, 0.2}, scores, "scores are clamped to [0,1] and descending")

	empty, err := MatchResponse(nil)
	require.NoError(t, err)
	assert.NotContains(t, asMap(t, empty), "entry", "no match is an empty searchset")
}

func TestParseMatchRequest(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    MatchRequest
		wantErr error
	}{
		{
			name: "parameters",
			in: `{"resourceType":"Parameters","parameter":[
			  {"name":"resource","resource":{"resourceType":"Patient","id":"q","name":[{"family":"Smith","given":["Ann"]}],"birthDate":"1970-01-02",
			    "identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}]}},
			  {"name":"onlyCertainMatches","valueBoolean":true},{"name":"count","valueInteger":3}]}`,
			want: MatchRequest{Record: match.Record{ID: "q", Given: []string{"Ann"}, Family: "Smith", BirthDate: "1970-01-02", NHSNumber: "9434765919"},
				OnlyCertainMatches: true, Count: 3},
		},
		{
			name: "bare patient, incomplete and with an unknown element",
			in:   `{"resourceType":"Patient","name":[{"family":"Smith"}],"gender":"f"}`,
			want: MatchRequest{Record: match.Record{Family: "Smith"}},
		},
		{name: "no resource", in: `{"resourceType":"Parameters","parameter":[{"name":"count","valueInteger":3}]}`, wantErr: ErrInvalidMatchRequest},
		{name: "not a patient", in: `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Basic","code":{"text":"x"}}}]}`, wantErr: ErrNotPatient},
		{name: "other type", in: `{"resourceType":"Basic","code":{"text":"x"}}`, wantErr: ErrInvalidMatchRequest},
		{name: "not json", in: `nope`, wantErr: ErrInvalidMatchRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMatchRequest([]byte(tc.in))
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			got.Record = normalise(got.Record)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestAuditEvent(t *testing.T) {
	at := time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)
	tests := []struct {
		name        string
		a           Access
		wantOutcome string
		entities    int
	}{
		{"success", Access{User: "u1", Org: "RR8", Role: "doctor", Patient: "Patient/123", Sources: []string{"gp", "hosp"}, Time: at}, "0", 3},
		{"failure, enterprise id", Access{User: "u1", Patient: "EMPI:42", Err: errors.New("x"), Time: at}, "8", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := AuditEventJSON(tc.a)
			require.NoError(t, err)
			b, err := Decode(out, &Options{Validate: true})
			require.NoError(t, err)
			require.NoError(t, b.Err())
			require.Empty(t, b.Issues, "valid R4 with validation")
			m := asMap(t, out)
			assert.Equal(t, "AuditEvent", m["resourceType"])
			assert.Equal(t, "R", m["action"])
			assert.Equal(t, tc.wantOutcome, m["outcome"])
			assert.Equal(t, "2025-02-03T04:05:06Z", m["recorded"])
			assert.Len(t, m["entity"], tc.entities)
			agents := m["agent"].([]any)
			assert.Equal(t, true, agents[0].(map[string]any)["requestor"])
		})
	}
}

func TestFormatTime(t *testing.T) {
	tm := time.Date(2019, 6, 1, 10, 30, 5, 250e6, time.FixedZone("x", 3600))
	tests := []struct {
		p    int
		want string
	}{
		{0, ""}, {1, "2019"}, {2, "2019-06"}, {3, "2019-06-01"}, {4, "2019-06-01T09:30:05Z"}, {5, "2019-06-01T09:30:05Z"}, {6, "2019-06-01T09:30:05.25Z"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, FormatTime(tm, mergePrecision(tc.p)))
	}
}

// TestOutputGolden pins what CareLens writes for fixed inputs: a small
// timeline with Provenance, linked Patients, a $match response and an
// AuditEvent (testdata/out/*.golden.json; -update rewrites them).
func TestOutputGolden(t *testing.T) {
	at := time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)
	ann := match.Record{Source: "gp", ID: "p1", Given: []string{"Ann"}, Family: "Smith", BirthDate: "1970-01-02", Sex: "female",
		NHSNumber: "9434765919", Postcode: "LS1 1AA", Town: "Leeds", Address: []string{"1 High St"}, Phone: "0113 000 0000"}
	anne := match.Record{Source: "hospital", ID: "H42", Given: []string{"Anne"}, Family: "Smith", BirthDate: "1970-01-02",
		Identifiers: []match.Identifier{{System: "https://hospital.example/mrn", Value: "H42"}}}
	in := `{"resourceType":"Bundle","type":"collection","entry":[
	  {"fullUrl":"urn:uuid:0d7c1f5e-8a8e-4f55-9a43-4b1b2b0c0001","resource":{"resourceType":"Observation","id":"o1","meta":{"versionId":"2"},"status":"final",
	    "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
	    "code":{"coding":[{"system":"http://loinc.org","code":"718-7","display":"Hemoglobin"}],"text":"Haemoglobin"},
	    "effectiveDateTime":"2024-03-01T09:30:00Z","valueQuantity":{"value":131,"unit":"g/L","system":"http://unitsofmeasure.org","code":"g/L"}}},
	  {"resource":{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p1"},"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
	    "code":{"coding":[{"system":"http://snomed.info/sct","code":"195967001","display":"Asthma"}]},"onsetDateTime":"2001"}},
	  {"resource":{"resourceType":"MedicationStatement","id":"m1","status":"active","subject":{"reference":"Patient/p1"},
	    "medicationCodeableConcept":{"text":"Salbutamol 100 micrograms inhaler"},"effectiveDateTime":"2024-02",
	    "dosage":[{"text":"2 puffs when required","doseAndRate":[{"doseQuantity":{"value":2,"unit":"puff"}}]}]}}]}`
	b, err := Decode([]byte(in), &Options{Source: provenance.Source{ID: "gp"}, Retrieved: at})
	require.NoError(t, err)
	require.NoError(t, b.Err())
	entries := b.Entries()
	entries[1].Lineage = entries[1].Lineage.Union(provenance.Of(provenance.Tag{Source: "hospital", ResourceType: "Condition", ResourceID: "hc9", Version: "1"}))

	timeline, err := TimelineBundle(entries, &TimelineOptions{
		Sources: []provenance.Source{{ID: "gp", Org: "Y01234", Kind: provenance.KindGP, Name: "High Street Surgery"},
			{ID: "hospital", Org: "RR8", Kind: provenance.KindHospital, Name: "Leeds Teaching Hospitals"}},
		Patient: &ann, Recorded: at,
	})
	require.NoError(t, err)
	linked, err := LinkedPatients([]match.Record{ann, anne}, nil)
	require.NoError(t, err)
	matched, err := MatchResponse([]Candidate{{Record: anne, Score: 0.81, Grade: match.GradeProbable}, {Record: ann, Score: 0.999, Grade: match.GradeCertain}})
	require.NoError(t, err)
	audit, err := AuditEventJSON(Access{User: "u-77", Org: "RR8", Role: "doctor", Patient: "Patient/p1", Sources: []string{"gp", "hospital"}, Time: at})
	require.NoError(t, err)
	for name, out := range map[string][]byte{"timeline": timeline, "linked-patients": linked, "match-response": matched, "audit-event": audit} {
		t.Run(name, func(t *testing.T) {
			var v any
			require.NoError(t, json.Unmarshal(out, &v))
			golden(t, filepath.Join("out", name+".golden.json"), v)
		})
	}
}

// timelineBundleWhole is TimelineBundle as it was before it streamed: the
// whole Bundle built as one proto and marshalled at once. It is the
// oracle for WriteTimelineBundle's bytes.
func timelineBundleWhole(entries []merge.Entry, o *TimelineOptions) ([]byte, error) {
	if o == nil {
		o = &TimelineOptions{}
	}
	recorded := o.Recorded
	if recorded.IsZero() {
		recorded = time.Now()
	}
	sources := make(map[string]provenance.Source, len(o.Sources))
	for _, s := range o.Sources {
		sources[s.ID] = s
	}
	b := &bcrpb.Bundle{Type: &bcrpb.Bundle_TypeCode{Value: cpb.BundleTypeCode_COLLECTION}}
	subject := map[string]any{"display": "patient not identified"}
	if o.Patient != nil {
		cr, err := patientProto(*o.Patient)
		if err != nil {
			return nil, err
		}
		url := urnFor("patient:" + o.Patient.Key())
		b.Entry = append(b.Entry, &bcrpb.Bundle_Entry{FullUrl: &dtpb.Uri{Value: url}, Resource: cr})
		subject = map[string]any{"reference": url}
	}
	urls := make([]string, len(entries))
	for i, e := range entries {
		url := urnFor("entry:" + strconv.Itoa(i) + ":" + e.Lineage.String())
		urls[i] = url
		cr, err := buildResource(entryResource(e, subject))
		if err != nil {
			return nil, fmt.Errorf("fhirutil: timeline entry %d: %w", i, err)
		}
		pr, err := buildResource(provenanceFor(url, e.Lineage, sources, recorded))
		if err != nil {
			return nil, fmt.Errorf("fhirutil: timeline entry %d provenance: %w", i, err)
		}
		b.Entry = append(b.Entry,
			&bcrpb.Bundle_Entry{FullUrl: &dtpb.Uri{Value: url}, Resource: cr},
			&bcrpb.Bundle_Entry{FullUrl: &dtpb.Uri{Value: urnFor("provenance:" + url)}, Resource: pr})
	}
	for _, is := range conflictIssues(entries, urls, o.Conflicts, subject) {
		cr, err := buildResource(is)
		if err != nil {
			return nil, fmt.Errorf("fhirutil: timeline conflict: %w", err)
		}
		id := is["identifier"].([]any)[0].(map[string]any)["value"].(string)
		b.Entry = append(b.Entry, &bcrpb.Bundle_Entry{FullUrl: &dtpb.Uri{Value: urnFor("conflict:" + id)}, Resource: cr})
	}
	return marshal(&bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Bundle{Bundle: b}})
}

// TestWriteTimelineBundleMatchesWhole: the Bundle written a resource at a
// time is byte for byte the one marshalled whole, with and without a
// Patient, with conflicts, for no entries, and for the entries of every
// shared file.
func TestWriteTimelineBundleMatchesWhole(t *testing.T) {
	at := time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)
	ann := match.Record{Source: "gp", ID: "p1", Given: []string{"Ann"}, Family: "Smith", BirthDate: "1970-01-02", NHSNumber: "9434765919"}
	srcs := []provenance.Source{{ID: "src", Org: "Y01234", Kind: provenance.KindGP, Name: "High Street <Surgery> & Co"}}
	inputs := map[string][]merge.Entry{"none": nil}
	for _, f := range testFiles(t) {
		b, err := Decode(readFile(t, f), &Options{Source: srcs[0], Retrieved: at})
		require.NoError(t, err)
		inputs[filepath.Base(f)] = b.Entries()
	}
	conflicted, err := Decode(conflictTimelineBundle(t), &Options{Source: srcs[0], Retrieved: at})
	require.NoError(t, err)
	inputs["conflicts"] = conflicted.Entries()
	for name, entries := range inputs {
		for _, o := range []*TimelineOptions{
			{Sources: srcs, Recorded: at, Conflicts: conflicted.Conflicts()},
			{Sources: srcs, Recorded: at, Patient: &ann},
		} {
			want, err := timelineBundleWhole(entries, o)
			require.NoError(t, err, name)
			var got bytes.Buffer
			require.NoError(t, WriteTimelineBundle(&got, entries, o), name)
			require.Equal(t, string(want), got.String(), name)
			tb, err := TimelineBundle(entries, o)
			require.NoError(t, err)
			require.Equal(t, want, tb, name)
		}
	}
	err = WriteTimelineBundle(failWriter{}, inputs["conflicts"], nil)
	require.ErrorIs(t, err, errDiskFull)
}

var errDiskFull = errors.New("disk full")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errDiskFull }
