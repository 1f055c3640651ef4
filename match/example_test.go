package match_test

import (
	"context"
	"fmt"

	"github.com/carelens/carelens/match"
)

// ExampleMatcher prepares two records one at a time, as a service sees
// them, and grades and explains the pair with the default (untrained)
// model.
func ExampleMatcher() {
	m, err := match.NewMatcher(nil, nil)
	if err != nil {
		panic(err)
	}
	a := m.Prepare(&match.Record{Source: "gp", ID: "1", Given: []string{"Jonathan"}, Family: "Smith",
		BirthDate: "1984-03-07", Postcode: "LS1 4AP", NHSNumber: "943 476 5919"})
	b := m.Prepare(&match.Record{Source: "hospital", ID: "7", Given: []string{"JOHNATHAN"}, Family: "SMITH",
		BirthDate: "07/03/1984", Postcode: "ls14ap", NHSNumber: "9434765919"})
	v := m.Verdict(a, b)
	e := m.Explain(a, b)
	fmt.Printf("grade: %s, explained: %s, blocking keys: %d\n", v.Grade(m.Model().Thresholds()), e.Grade, len(m.BlockKeys(nil, a)))
	// Output: grade: certain, explained: certain, blocking keys: 8
}

// ExampleLink links records from two sources: the model is trained on the
// records themselves, and every record gets a cluster.
func ExampleLink() {
	recs := []match.Record{
		{Source: "gp", ID: "1", Given: []string{"Mary"}, Family: "Brown", BirthDate: "1950-11-02", NHSNumber: "4010232137", Postcode: "YO1 7HH"},
		{Source: "hospital", ID: "A", Given: []string{"MARY"}, Family: "BROWN", BirthDate: "02/11/1950", NHSNumber: "401 023 2137", Postcode: "YO1 7HH"},
		{Source: "hospital", ID: "B", Given: []string{"Mary"}, Family: "Brown", BirthDate: "1950-11-02", NHSNumber: "5738563913", Postcode: "YO1 7HH"},
	}
	res, err := match.Link(context.Background(), recs, nil)
	if err != nil {
		panic(err)
	}
	for i, r := range recs {
		fmt.Println(r.Key(), res.Cluster[i])
	}
	// Output:
	// gp/1 0
	// hospital/A 0
	// hospital/B 1
}
