package benchmarks_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/carelens/carelens/benchmarks"
)

// Generate a small cohort, then score its own truth as a clustering.
func ExampleSynth() {
	dir, err := os.MkdirTemp("", "synth-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := benchmarks.Synth(context.Background(), benchmarks.SynthOptions{People: 1000, Seed: 1, Out: dir})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("records:", st.TotalRecords, st.Records)
	truth, err := benchmarks.ReadTruth(filepath.Join(dir, "truth.csv"))
	if err != nil {
		log.Fatal(err)
	}
	clusters, err := benchmarks.ReadClusters(filepath.Join(dir, "truth.csv"))
	if err != nil {
		log.Fatal(err)
	}
	m, err := benchmarks.Evaluate(truth, clusters, benchmarks.EvalOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("true pairs:", m.TruePairs == st.TruePairs, "F1:", m.F1)
	// Output:
	// records: 1631 map[community:201 gp:965 hospital:465]
	// true pairs: true F1: 1
}
