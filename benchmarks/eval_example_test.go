package benchmarks_test

import (
	"fmt"
	"log"

	"github.com/carelens/carelens/benchmarks"
)

// Truth {a,b,c} {d}; clusters {a,b} {c,d}: one true positive (a-b), one
// false merge (c-d), two missed pairs (a-c, b-c).
func ExampleEvaluate() {
	truth := &benchmarks.Truth{Records: []benchmarks.LabelledRecord{
		{ID: "a", Label: "p1"}, {ID: "b", Label: "p1"}, {ID: "c", Label: "p1"}, {ID: "d", Label: "p2"},
	}}
	clusters := &benchmarks.Clusters{Records: []benchmarks.LabelledRecord{
		{ID: "a", Label: "x"}, {ID: "b", Label: "x"}, {ID: "c", Label: "y"}, {ID: "d", Label: "y"},
	}}
	m, err := benchmarks.Evaluate(truth, clusters, benchmarks.EvalOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("TP %d, false merges %d, missed %d\n", m.TruePositives, m.FalseMerges, m.MissedPairs)
	fmt.Printf("P %.3f R %.3f F1 %.3f\n", m.Precision, m.Recall, m.F1)
	fmt.Printf("B-cubed P %.3f R %.3f\n", m.BCubedPrecision, m.BCubedRecall)
	// Output:
	// TP 1, false merges 1, missed 2
	// P 0.500 R 0.333 F1 0.400
	// B-cubed P 0.750 R 0.667
}
