package fhirsource_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/carelens/carelens/examples/fhirsource"
	"github.com/carelens/carelens/source"
)

// Example starts a demo GP system in-process from a bundle held in
// memory, asks it for a patient through a FHIR source, then makes it
// hang at run time to show what the viewer sees from a source that does
// not answer.
func Example() {
	bundle := []byte(`{"resourceType":"Bundle","type":"collection","entry":[
	 {"resource":{"resourceType":"Patient","id":"p1",
	   "identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9990000050"}],
	   "name":[{"family":"Tester","given":["Robin"]}],"birthDate":"1961-02-03"}},
	 {"resource":{"resourceType":"Condition","id":"c1","code":{"text":"Leg ulcer"},
	   "subject":{"reference":"Patient/p1"}}}]}`)
	st, err := source.NewStore([]source.File{{Name: "gp.json", Data: bundle}})
	if err != nil {
		panic(err)
	}
	srv, err := fhirsource.New(st, &fhirsource.Options{Name: "GP practice system"})
	if err != nil {
		panic(err)
	}
	l, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()

	gp, err := source.Open(source.Config{
		ID: "gp", Kind: "gp", Type: source.TypeFHIR, BaseURL: l.URL,
		Timeout: source.Duration(200 * time.Millisecond),
	}, nil)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	b, err := gp.Everything(ctx, "p1")
	if err != nil {
		panic(err)
	}
	fmt.Println(b.CountByType())

	if err := srv.SetFaults(fhirsource.Faults{Hang: true}); err != nil {
		panic(err)
	}
	_, err = gp.Everything(ctx, "p1")
	fmt.Println(errors.Is(err, source.ErrUnavailable), err)
	// Output:
	// map[Condition:1 Patient:1]
	// true source: gp: everything: no answer within 200ms: source: unavailable: context deadline exceeded
}
