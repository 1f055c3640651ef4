package fhirsource_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/examples/fhirsource"
	"github.com/carelens/carelens/source"
)

// BenchmarkEverything serves $everything for a patient with 500
// Observations (about the largest demo patient's answer, 350 KB).
func BenchmarkEverything(b *testing.B) {
	var nd strings.Builder
	nd.WriteString(`{"resourceType":"Patient","id":"p1","name":[{"family":"Tester"}],"birthDate":"1961-02-03"}` + "\n")
	for i := range 500 {
		fmt.Fprintf(&nd, `{"resourceType":"Observation","id":"o%d","meta":{"lastUpdated":"2025-01-01T00:00:00Z"},"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory","display":"Laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"4548-4","display":"Hemoglobin A1c"}],"text":"HbA1c"},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-03-0%dT10:00:00Z","valueQuantity":{"value":48,"unit":"mmol/mol","system":"http://unitsofmeasure.org","code":"mmol/mol"},"referenceRange":[{"low":{"value":20,"unit":"mmol/mol"},"high":{"value":41,"unit":"mmol/mol"}}]}`+"\n", i, i%9+1)
	}
	st, err := source.NewStore([]source.File{{Name: "p1.ndjson", Data: []byte(nd.String())}})
	require.NoError(b, err)
	srv, err := fhirsource.New(st, nil)
	require.NoError(b, err)
	for b.Loop() {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/Patient/p1/$everything", nil))
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
