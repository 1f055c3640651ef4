package benchmarks_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/carelens/carelens/benchmarks"
	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/provenance"
)

// ExampleSynthFHIR generates a small cohort in memory, as the viewer's demo
// does, and reads one bundle back with fhirutil.
func ExampleSynthFHIR() {
	held := map[string][]byte{} // source/patient id → bundle, never on disk
	var first benchmarks.FHIRPatient
	st, err := benchmarks.SynthFHIR(context.Background(), benchmarks.FHIROptions{People: 20, Seed: 1},
		func(p benchmarks.FHIRPatient, bundle []byte) error {
			if len(held) == 0 {
				first = p
			}
			held[p.Source+"/"+p.PatientID] = bytes.Clone(bundle) // bundle is reused after emit
			return nil
		})
	if err != nil {
		panic(err)
	}
	b, err := fhirutil.Decode(held[first.Source+"/"+first.PatientID], &fhirutil.Options{Source: provenance.Source{ID: first.Source}})
	if err != nil {
		panic(err)
	}
	fmt.Println("bundles:", len(held) == st.Bundles["gp"]+st.Bundles["hospital"]+st.Bundles["community"])
	fmt.Println("issues:", len(b.Issues))
	fmt.Println("patient is the record:", b.Patients()[0].ID == first.PatientID)
	fmt.Println("clinical entries:", len(b.Entries()) == first.Resources-1)
	fmt.Println("rules concepts:", len(st.Rules.Concepts) > 100)
	// Output:
	// bundles: true
	// issues: 0
	// patient is the record: true
	// clinical entries: true
	// rules concepts: true
}
