package benchmarks

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkEvaluate scores a clustering that splits and wrongly merges a
// few per cent of entities, over n records in three sources.
func BenchmarkEvaluate(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			truth := make([]LabelledRecord, n)
			clusters := make([]LabelledRecord, n)
			for i := range n {
				src := [...]string{"gp", "hospital", "community"}[r.IntN(3)]
				id := fmt.Sprintf("R%08d", i)
				ent := r.IntN(n * 6 / 10)
				cl := ent
				if r.Float64() < 0.03 {
					cl = r.IntN(n) // a wrong merge or a split
				}
				truth[i] = LabelledRecord{Source: src, ID: id, Label: fmt.Sprint(ent)}
				clusters[i] = LabelledRecord{Source: src, ID: id, Label: fmt.Sprint(cl)}
			}
			t, c := &Truth{Records: truth}, &Clusters{Records: clusters}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Evaluate(t, c, EvalOptions{CrossSourceOnly: true}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
