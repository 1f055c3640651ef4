package merge

import (
	"iter"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/carelens/carelens/provenance"
)

// Test fixtures: synthetic codes and sources, no real patient data.
const (
	loinc  = "http://loinc.org"
	snomed = "http://snomed.info/sct"
	local  = "https://lab.example/codes"
)

var t0 = time.Date(2024, 3, 4, 10, 30, 0, 0, time.UTC)

// ent builds an entry from one source with one tag.
func ent(src, id string, cat Category, at time.Time, prec Precision, code Code, opts ...func(*Entry)) Entry {
	e := Entry{Category: cat, Time: at, Precision: prec, Codes: []Code{code}, Display: code.Display,
		Lineage: provenance.Of(provenance.Tag{Source: src, ResourceType: "Observation", ResourceID: id})}
	for _, o := range opts {
		o(&e)
	}
	return e
}

func val(v float64, unit string) func(*Entry) {
	return func(e *Entry) { e.Value = &Quantity{Value: v, Unit: unit} }
}

func dose(v float64, unit string) func(*Entry) {
	return func(e *Entry) { e.Dose = &Quantity{Value: v, Unit: unit} }
}

func text(s string) func(*Entry) { return func(e *Entry) { e.ValueText = s } }

func hb(system string) Code {
	if system == loinc {
		return Code{System: loinc, Code: "718-7", Display: "Haemoglobin"}
	}
	return Code{System: system, Code: "HB", Display: "Hb"}
}

var glucoseLOINC = Code{System: loinc, Code: "2345-7", Display: "Glucose"}
var glucoseLocal = Code{System: local, Code: "GLU", Display: "Serum glucose"}
var drugA = Code{System: "https://dmd.example", Code: "D1", Display: "Drug A 5mg tablets"}
var drugALocal = Code{System: local, Code: "DRUGA", Display: "DRUG A"}

// testRules maps the fixture codes and carries glucose's molar mass.
func testRules() *Rules {
	return &Rules{
		Concepts: []Concept{
			{ID: "haemoglobin", Codes: []Code{hb(loinc), hb(local), hb(snomed)}},
			{ID: "glucose", Codes: []Code{glucoseLOINC, glucoseLocal}},
			{ID: "drug-a", Codes: []Code{drugA, drugALocal}},
		},
		Analytes: []Analyte{{Concept: "glucose", MolarMass: 180.16}},
	}
}

// sourcesOf returns the sorted source ids of each entry.
func sourcesOf(es []Entry) [][]string {
	out := make([][]string, len(es))
	for i, e := range es {
		out[i] = e.Lineage.Sources()
	}
	return out
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

// engine compiles o, failing the test on error.
func engine(t testing.TB, o *Options) *Engine {
	t.Helper()
	e, err := Compile(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// mergeSlices compiles o and merges srcs.
func mergeSlices(srcs [][]Entry, o *Options) (*Timeline, error) {
	e, err := Compile(o)
	if err != nil {
		return nil, err
	}
	return e.MergeSlices(srcs)
}

// sortEntries sorts es by the order of o.
func sortEntries(es []Entry, o *Options) {
	e, err := Compile(o)
	if err != nil {
		panic(err)
	}
	e.Sort(es)
}

// combine compiles o and combines ts.
func combine(o *Options, ts ...*Timeline) (*Timeline, error) {
	e, err := Compile(o)
	if err != nil {
		return nil, err
	}
	return e.Combine(ts...)
}

// interleave compiles o and interleaves srcs.
func interleave(srcs []iter.Seq[Entry], o *Options) iter.Seq2[Entry, error] {
	e, err := Compile(o)
	if err != nil {
		panic(err)
	}
	return e.Interleave(srcs)
}

// compareBy returns the timeline order of o as a comparison of values.
func compareBy(o *Options) func(a, b Entry) int {
	var p []string
	if o != nil {
		p = o.Priority
	}
	e, err := Compile(&Options{Priority: p})
	if err != nil {
		panic(err)
	}
	return func(a, b Entry) int { return e.Compare(&a, &b) }
}
