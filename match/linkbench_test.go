package match_test

import (
	"math/rand/v2"
	"testing"

	"github.com/carelens/carelens/match"
)

// BenchmarkScorePair scores random pairs from FEBRL3 with a trained model:
// the cost of one pair in the scoring loop (allocs/op is allocs per pair).
func BenchmarkScorePair(b *testing.B) {
	recs, _ := readLinkage(b, []string{"linkage", "febrl", "dataset3.csv"})
	res, err := match.Link(b.Context(), recs, nil)
	if err != nil {
		b.Fatal(err)
	}
	sc, prep := res.Scorer, res.Prepared
	rng := rand.New(rand.NewPCG(1, 1))
	pairs := make([][2]int, 4096)
	for k := range pairs {
		pairs[k] = [2]int{rng.IntN(len(prep)), rng.IntN(len(prep))}
	}
	b.Run("random", func(b *testing.B) {
		b.ReportAllocs()
		k := 0
		for b.Loop() {
			p := pairs[k&4095]
			_ = sc.Score(&prep[p[0]], &prep[p[1]])
			k++
		}
	})
	b.Run("matching", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = sc.Score(&prep[0], &prep[0])
		}
	})
}

// BenchmarkLinkFEBRL4 links dataset4a + dataset4b end to end in memory
// (prepare, train, block, score, cluster).
func BenchmarkLinkFEBRL4(b *testing.B) {
	recs, _ := readLinkage(b, []string{"linkage", "febrl", "dataset4a.csv"}, []string{"linkage", "febrl", "dataset4b.csv"})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := match.Link(b.Context(), recs, nil); err != nil {
			b.Fatal(err)
		}
	}
}
