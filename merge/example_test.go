package merge_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/provenance"
)

// The hospital and the GP both hold one haemoglobin result, under different
// codes and units; the out-of-hours service reports another value at the
// same time. Rules, loaded as data, say the codes are one concept.
func Example() {
	rules, err := merge.LoadRules(strings.NewReader(`{"concepts":[{"id":"haemoglobin","codes":[
		{"system":"http://loinc.org","code":"718-7"},
		{"system":"https://gp.example/codes","code":"HB"}]}]}`))
	if err != nil {
		panic(err)
	}
	at := time.Date(2024, 3, 4, 10, 30, 0, 0, time.UTC)
	hb := func(src, system, code string, at time.Time, prec merge.Precision, v float64, unit string) []merge.Entry {
		return []merge.Entry{{
			Category: merge.CategoryResult, Time: at, Precision: prec,
			Codes: []merge.Code{{System: system, Code: code}}, Display: "Haemoglobin",
			Value:   &merge.Quantity{Value: v, Unit: unit},
			Lineage: provenance.Of(provenance.Tag{Source: src, ResourceType: "Observation", ResourceID: "1"}),
		}}
	}
	tl, err := merge.MergeSlices([][]merge.Entry{
		hb("hospital", "http://loinc.org", "718-7", at, merge.PrecisionMinute, 135, "g/L"),
		hb("gp", "https://gp.example/codes", "HB", at.Truncate(24*time.Hour).AddDate(0, 0, 1), merge.PrecisionDay, 13.5, "g/dL"),
		hb("ooh", "http://loinc.org", "718-7", at.Add(time.Hour), merge.PrecisionMinute, 128, "g/L"),
	}, &merge.Options{Rules: rules, Priority: []string{"hospital"}})
	if err != nil {
		panic(err)
	}
	for _, e := range tl.Entries {
		fmt.Println(e.Display, e.Value.Value, e.Value.Unit, e.Lineage.Sources(), "conflict", e.Conflict)
	}
	noHospital, _ := tl.Without("hospital")
	for _, e := range noHospital.Entries {
		fmt.Println(e.Display, e.Value.Value, e.Value.Unit, e.Lineage.Sources(), "conflict", e.Conflict)
	}
	// Output:
	// Haemoglobin 135 g/L [gp hospital] conflict 1
	// Haemoglobin 128 g/L [ooh] conflict 1
	// Haemoglobin 128 g/L [ooh] conflict 1
	// Haemoglobin 13.5 g/dL [gp] conflict 1
}
