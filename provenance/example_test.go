package provenance_test

import (
	"fmt"

	"github.com/carelens/carelens/provenance"
)

// A haemoglobin result reported by the hospital and again by the GP carries
// both tags; unticking the GP leaves the hospital's.
func ExampleLineage() {
	hosp := provenance.Of(provenance.Tag{Source: "hospital", ResourceType: "Observation", ResourceID: "hb-1"})
	gp := provenance.Of(provenance.Tag{Source: "gp", ResourceType: "Observation", ResourceID: "778"})

	both := hosp.Union(gp)
	fmt.Println(both.Sources(), both.Has("gp"))

	withoutGP := both.Without("gp")
	fmt.Println(withoutGP)
	// Output:
	// [gp hospital] true
	// [hospital:Observation/hb-1]
}

func ExampleSource_Validate() {
	s := provenance.Source{ID: "y01234", Org: "Y01234", Kind: provenance.KindGP, Name: "Church Lane Surgery"}
	fmt.Println(s.Validate())
	fmt.Println(provenance.Source{ID: "x", Kind: "pharmacy"}.Validate())
	// Output:
	// <nil>
	// provenance: invalid source: source "x": unknown kind "pharmacy"
}
