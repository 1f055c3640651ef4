package match

import (
	"fmt"
	"testing"

	"github.com/carelens/carelens/match/strdist"
)

func BenchmarkJaroWinkler(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = strdist.JaroWinkler("JOHNATHAN", "JONATHAN")
	}
}

func BenchmarkDamerauLevenshtein(b *testing.B) {
	for _, tc := range [][2]string{{"JOHNATHAN", "JONATHAN"}, {"lakes retirement estate hurley street", "hurley street lakes retkremeent estate"}} {
		b.Run(fmt.Sprintf("len=%d", len(tc[0])), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = strdist.DamerauLevenshtein(tc[0], tc[1])
			}
		})
	}
}
