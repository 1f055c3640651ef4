package fhirutil_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/provenance"
)

// Decode a Bundle into tagged timeline entries and identity records. The
// bad Observation is reported, without its values, and skipped; the rest
// is kept.
func ExampleDecode() {
	bundle := `{"resourceType":"Bundle","type":"searchset","entry":[
	  {"resource":{"resourceType":"Patient","id":"p1","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}],
	    "name":[{"use":"official","family":"Smith","given":["Ann"]}],"birthDate":"1970-01"}},
	  {"resource":{"resourceType":"Observation","id":"o1","meta":{"versionId":"3"},"status":"final",
	    "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
	    "code":{"coding":[{"system":"http://loinc.org","code":"718-7"}],"text":"Haemoglobin"},
	    "effectiveDateTime":"2024-03-01T09:30:00Z","valueQuantity":{"value":131,"code":"g/L"}}},
	  {"resource":{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"Sodium"},"effectiveDateTime":"2024-03-01T09:30:00"}}
	]}`
	b, err := fhirutil.Decode([]byte(bundle), &fhirutil.Options{
		Source:    provenance.Source{ID: "gp-y01234", Kind: provenance.KindGP},
		Retrieved: time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		panic(err)
	}
	for _, e := range b.Entries() {
		fmt.Println(e.Category, e.Time.Format(time.RFC3339), e.Display, e.Value.Value, e.Value.Unit, e.Lineage)
	}
	for _, r := range b.Patients() {
		fmt.Println(r.Key(), r.Family, r.BirthDate, r.NHSNumber)
	}
	for _, is := range b.Issues {
		fmt.Println(is)
	}
	// Output:
	// result 2024-03-01T09:30:00Z Haemoglobin 131 g/L [gp-y01234:Observation/o1/_history/3]
	// gp-y01234/p1 Smith 1970-01 9434765919
	// fhirutil: entry[2] Observation/o2: Observation.effectiveDateTime: time without offset (resource skipped)
}

// Lenient mode keeps a resource despite an element R4 does not define.
func ExampleOptions_lenient() {
	obs := `{"resourceType":"Observation","id":"o","status":"final","code":{"text":"Sodium"},"triggeredBy":[{"type":"reflex"}]}`
	b, _ := fhirutil.Decode([]byte(obs), &fhirutil.Options{Lenient: true})
	fmt.Println(len(b.Resources), b.Issues[0])
	// Output:
	// 1 fhirutil: Observation/o: Observation.triggeredBy: unknown field (dropped, resource kept)
}

// ParseMatchRequest reads a Patient/$match body; MatchResponse writes the
// searchset with scores and grades.
func ExampleParseMatchRequest() {
	req, err := fhirutil.ParseMatchRequest([]byte(`{"resourceType":"Parameters","parameter":[
	  {"name":"resource","resource":{"resourceType":"Patient","name":[{"family":"Smith","given":["Ann"]}],"birthDate":"1970-01-02"}},
	  {"name":"count","valueInteger":5}]}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(req.Record.Family, req.Record.Given, req.Record.BirthDate, req.Count)
	out, _ := fhirutil.MatchResponse([]fhirutil.Candidate{{Record: req.Record, Score: 0.93, Grade: "probable"}})
	fmt.Println(strings.Contains(string(out), `"score":0.93`), strings.Contains(string(out), `"valueCode":"probable"`))
	// Output:
	// Smith [Ann] 1970-01-02 5
	// true true
}
