package mpi_test

import (
	"fmt"
	"testing"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/mpi/badgerstore"
)

// BenchmarkIndexAdd measures adding records one by one (badger store without sync), with
// the built-in scorer and with the default model.
func BenchmarkIndexAdd(b *testing.B) {
	for _, tc := range []struct {
		name  string
		model *match.Model
	}{{"builtin", nil}, {"model", match.DefaultModel(nil)}} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := badgerstore.Open(b.TempDir(), &badgerstore.Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ix, err := mpi.OpenIndex(b.Context(), s, &mpi.IndexOptions{Model: tc.model})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := ix.Add(b.Context(), testPerson(i/2, fmt.Sprint("s", i%2))); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
