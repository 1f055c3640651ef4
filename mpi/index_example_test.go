package mpi_test

import (
	"context"
	"fmt"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/match"
)

// ExampleIndex adds two sources' records of one person, finds the person
// by demographics, and follows the change log.
func ExampleIndex() {
	ctx := context.Background()
	// A badgerstore.Store keeps the index on disk; a memory store will do here.
	ix, err := mpi.OpenIndex(ctx, mpi.NewMemoryStore(), nil)
	if err != nil {
		panic(err)
	}
	gp := match.Record{Source: "gp", ID: "G1", Given: []string{"Amelia"}, Family: "Hartley",
		BirthDate: "1984-03-07", Postcode: "LS6 2AB", NHSNumber: "9434765919"}
	hospital := match.Record{Source: "hospital", ID: "H7", Given: []string{"AMELIA"}, Family: "HARTLEY",
		BirthDate: "07/03/1984", NHSNumber: "943 476 5919"}
	p1, _ := ix.Add(ctx, gp)
	p2, _ := ix.Add(ctx, hospital)
	fmt.Println("same person:", p1 == p2)

	query := match.Record{Given: []string{"Amelia"}, Family: "Hartley", BirthDate: "1984-03-07", Postcode: "LS6 2AB"}
	cands, _ := ix.Query(ctx, query, 5)
	for _, c := range cands {
		fmt.Println(c.Person == p1, c.Grade)
	}
	for e, err := range ix.Events(ctx, 0) {
		if err != nil {
			panic(err)
		}
		fmt.Println(e.Seq, e.Kind, e.Record, e.To == p1)
	}
	// Output:
	// same person: true
	// true certain
	// 1 added gp/G1 true
	// 2 added hospital/H7 true
}
