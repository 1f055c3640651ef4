package merge_test

import (
	"fmt"
	"iter"
	"slices"
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
	eng, err := merge.Compile(&merge.Options{Rules: rules, Priority: []string{"hospital"}})
	if err != nil {
		panic(err)
	}
	tl, err := eng.MergeSlices([][]merge.Entry{
		hb("hospital", "http://loinc.org", "718-7", at, merge.PrecisionMinute, 135, "g/L"),
		hb("gp", "https://gp.example/codes", "HB", at.Truncate(24*time.Hour).AddDate(0, 0, 1), merge.PrecisionDay, 13.5, "g/dL"),
		hb("ooh", "http://loinc.org", "718-7", at.Add(time.Hour), merge.PrecisionMinute, 128, "g/L"),
	})
	if err != nil {
		panic(err)
	}
	for _, e := range tl.Entries() {
		fmt.Println(e.Display, e.Value.Value, e.Value.Unit, e.Lineage.Sources(), "conflict", e.Conflict)
	}
	noHospital, _ := tl.Without("hospital")
	for _, e := range noHospital.Entries() {
		fmt.Println(e.Display, e.Value.Value, e.Value.Unit, e.Lineage.Sources(), "conflict", e.Conflict)
	}
	// Output:
	// Haemoglobin 135 g/L [gp hospital] conflict 1
	// Haemoglobin 128 g/L [ooh] conflict 1
	// Haemoglobin 128 g/L [ooh] conflict 1
	// Haemoglobin 13.5 g/dL [gp] conflict 1
}

// Streams from two sources, each sorted, become one stream in timeline
// order; ties in time go to the more trusted source.
func ExampleEngine_Interleave() {
	at := time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)
	e := func(src, id string, t time.Time) merge.Entry {
		return merge.Entry{Category: merge.CategoryEncounter, Time: t, Precision: merge.PrecisionMinute,
			Lineage: provenance.Of(provenance.Tag{Source: src, ResourceType: "Encounter", ResourceID: id})}
	}
	gp := []merge.Entry{e("gp", "1", at), e("gp", "2", at.Add(2*time.Hour))}
	hosp := []merge.Entry{e("hospital", "7", at), e("hospital", "8", at.Add(time.Hour))}
	eng, err := merge.Compile(&merge.Options{Priority: []string{"hospital"}})
	if err != nil {
		panic(err)
	}
	for e, err := range eng.Interleave([]iter.Seq[merge.Entry]{slices.Values(gp), slices.Values(hosp)}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(e.Time.Format("15:04"), e.Lineage)
	}
	// Output:
	// 09:00 [hospital:Encounter/7]
	// 09:00 [gp:Encounter/1]
	// 10:00 [hospital:Encounter/8]
	// 11:00 [gp:Encounter/2]
}

// Golden demographics: each field is chosen by its own rule and carries the
// records it came from.
func ExampleSurvive() {
	pds := provenance.Tag{Source: "pds", ResourceType: "Patient", ResourceID: "9434765919"}
	gp := provenance.Tag{Source: "gp", ResourceType: "Patient", ResourceID: "g-1"}
	g := merge.Survive([]merge.Demographic{
		{Tag: pds, Name: merge.Name{Given: []string{"Ada"}, Family: "Lovelace"}, BirthDate: time.Date(1980, 12, 10, 0, 0, 0, 0, time.UTC),
			Address: merge.Address{City: "Leeds", Postcode: "LS1 1AA"}, Updated: time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Tag: gp, Name: merge.Name{Given: []string{"ADA"}, Family: "LOVELACE"}, BirthDate: time.Date(1980, 12, 10, 0, 0, 0, 0, time.UTC),
			Address: merge.Address{City: "York", Postcode: "YO1 7HH"}, Updated: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)},
	}, &merge.Options{Priority: []string{"pds"}})
	fmt.Println(g.Name.Value.Family, g.Name.Lineage)
	fmt.Println(g.BirthDate.Value.Format(time.DateOnly), g.BirthDate.Lineage)
	fmt.Println(g.Address.Value.City, g.Address.Lineage)
	// Output:
	// Lovelace [gp:Patient/g-1 pds:Patient/9434765919]
	// 1980-12-10 [gp:Patient/g-1 pds:Patient/9434765919]
	// York [gp:Patient/g-1]
}
