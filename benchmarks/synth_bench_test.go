package benchmarks

import (
	"fmt"
	"testing"
)

// BenchmarkSynth generates whole cohorts over the default three sources.
// The 1,000,000-person figure is measured with the carelens binary (see
// the package README in the final report): go test would hold the files
// of every iteration in the temporary directory.
func BenchmarkSynth(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("people=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			b.ReportAllocs()
			var st SynthStats
			for b.Loop() {
				var err error
				st, err = Synth(b.Context(), SynthOptions{People: n, Seed: 1, Out: dir})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(st.TotalRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkPerson measures drawing one clean person (names, dates, NHS
// number, address, phone, email).
func BenchmarkPerson(b *testing.B) {
	r, err := SynthOptions{People: 1_000_000}.resolve()
	if err != nil {
		b.Fatal(err)
	}
	g, err := newGenerator(r)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := g.clean(i % r.people)
		_ = p
		i++
	}
}
