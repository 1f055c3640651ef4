package source_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/carelens/carelens/examples/fhirsource"
	"github.com/carelens/carelens/source"
)

// exampleBundle is a small synthetic GP record: one patient, one result.
const exampleBundle = `{"resourceType":"Bundle","type":"collection","entry":[
 {"resource":{"resourceType":"Patient","id":"p1",
   "identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9990000042"}],
   "name":[{"family":"Example","given":["Sam"]}],"birthDate":"1990-05-05"}},
 {"resource":{"resourceType":"Observation","id":"o1","status":"final",
   "code":{"coding":[{"system":"http://loinc.org","code":"718-7","display":"Haemoglobin"}]},
   "subject":{"reference":"Patient/p1"},"effectiveDateTime":"2025-01-02",
   "valueQuantity":{"value":131,"unit":"g/L","system":"http://unitsofmeasure.org","code":"g/L"}}}]}`

// Example asks a source the way the viewer does: find the patient, then
// fetch everything the source holds for them. The source here is the
// example FHIR server over a bundle held in memory, so nothing is
// written to disk; source.OpenStore would answer from the Store directly.
func Example() {
	st, err := source.NewStore([]source.File{{Name: "gp.json", Data: []byte(exampleBundle)}})
	if err != nil {
		panic(err)
	}
	srv, err := fhirsource.New(st, &fhirsource.Options{Name: "GP practice"})
	if err != nil {
		panic(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()

	gp, err := source.Open(source.Config{ID: "gp", Kind: "gp", Type: source.TypeFHIR, BaseURL: ts.URL}, nil)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	recs, err := gp.Search(ctx, source.Query{NHSNumber: "9990000042"})
	if err != nil {
		panic(err)
	}
	for _, r := range recs {
		fmt.Println("found", r.Source, r.ID)
	}
	b, err := gp.Everything(ctx, recs[0].ID)
	if err != nil {
		panic(err)
	}
	for _, e := range b.Entries() {
		fmt.Println(e.Display, e.Value.Value, e.Value.Unit, "from", e.Lineage.Tags()[0].Source)
	}
	// Output:
	// found gp p1
	// Haemoglobin 131 g/L from gp
}
