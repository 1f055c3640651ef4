package merge

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEngineConceptAndConvert(t *testing.T) {
	rs := &Rules{
		Concepts: []Concept{{ID: "glucose", Codes: []Code{{System: "http://loinc.org", Code: "2345-7"}, {System: "local", Code: "GLU"}}}},
		Analytes: []Analyte{{Concept: "glucose", MolarMass: 180.156}},
	}
	v, err := Compile(&Options{Rules: rs})
	require.NoError(t, err)
	assert.Equal(t, "glucose", v.Concept([]Code{{System: "other", Code: "x"}, {System: "local", Code: "GLU"}}))
	assert.Empty(t, v.Concept([]Code{{System: "local", Code: "2345-7"}}), "a code counts only in its own system")

	tests := []struct {
		name    string
		q       Quantity
		unit    string
		concept string
		want    float64
		ok      bool
	}{
		{"same unit", Quantity{Value: 5.5, Unit: "mmol/L"}, "mmol/L", "", 5.5, true},
		{"g/dL to g/L", Quantity{Value: 13.5, Unit: "g/dL"}, "g/L", "", 135, true},
		{"mg/dL to mmol/L through molar mass", Quantity{Value: 180.156, Unit: "mg/dL"}, "mmol/L", "glucose", 10, true},
		{"mmol/L to mg/dL through molar mass", Quantity{Value: 10, Unit: "mmol/L"}, "mg/dL", "glucose", 180.156, true},
		{"no molar mass", Quantity{Value: 10, Unit: "mmol/L"}, "mg/dL", "", 0, false},
		{"unknown unit", Quantity{Value: 1, Unit: "furlong"}, "g/L", "", 0, false},
		{"other dimension", Quantity{Value: 1, Unit: "kg"}, "g/L", "", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := v.Convert(tc.q, tc.unit, tc.concept)
			assert.Equal(t, tc.ok, ok)
			assert.InDelta(t, tc.want, got, 1e-9)
		})
	}
}

func TestCompileRejectsBadRules(t *testing.T) {
	_, err := Compile(&Options{Rules: &Rules{Concepts: []Concept{{ID: ""}}}})
	require.ErrorIs(t, err, ErrInvalidRules)
}
