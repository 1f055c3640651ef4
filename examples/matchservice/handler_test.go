package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/carelens/carelens/match"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testIndex(t *testing.T) *match.Index {
	t.Helper()
	ix, err := match.OpenIndex(t.Context(), match.NewMemoryStore(), nil)
	require.NoError(t, err)
	recs := []match.Record{
		{Source: "gp", ID: "g1", Given: []string{"Amelia"}, Family: "Hartley", BirthDate: "1984-03-07", Sex: "F",
			Postcode: "LS6 2AB", Address: []string{"12 Cardigan Road"}, NHSNumber: "9434765919"},
		{Source: "hospital", ID: "h1", Given: []string{"AMELIA"}, Family: "HARTLEY", BirthDate: "1984-03-07", Sex: "F",
			Postcode: "LS6 2AB"},
		{Source: "gp", ID: "g2", Given: []string{"Oliver"}, Family: "Nash", BirthDate: "1950-11-30", Sex: "M",
			Postcode: "YO1 7HH"},
	}
	for _, r := range recs {
		_, err := ix.Add(t.Context(), r)
		require.NoError(t, err)
	}
	return ix
}

const matchRequest = `{
  "resourceType": "Parameters",
  "parameter": [
    {"name": "resource", "resource": {
      "resourceType": "Patient",
      "name": [{"family": "Hartley", "given": ["Amelia"]}],
      "gender": "female",
      "birthDate": "1984-03-07",
      "address": [{"postalCode": "LS6 2AB"}]
    }},
    {"name": "count", "valueInteger": 5}%s
  ]
}`

type bundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Entry        []struct {
		Resource struct {
			ID         string `json:"id"`
			Identifier []struct {
				System string `json:"system"`
				Value  string `json:"value"`
			} `json:"identifier"`
		} `json:"resource"`
		Search struct {
			Mode      string  `json:"mode"`
			Score     float64 `json:"score"`
			Extension []struct {
				URL       string `json:"url"`
				ValueCode string `json:"valueCode"`
			} `json:"extension"`
		} `json:"search"`
	} `json:"entry"`
}

func TestMatch(t *testing.T) {
	ix := testIndex(t)
	person, err := ix.PersonOf(t.Context(), match.RecordRef{Source: "gp", ID: "g1"})
	require.NoError(t, err)
	h := NewHandler(ix)
	tests := []struct {
		name        string
		extra       string
		wantEntries int
	}{
		{name: "all grades", extra: "", wantEntries: 1},
		{name: "only certain", extra: `, {"name": "onlyCertainMatches", "valueBoolean": true}`, wantEntries: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/Patient/$match",
				strings.NewReader(strings.Replace(matchRequest, "%s", tc.extra, 1)))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			assert.Equal(t, "application/fhir+json", rec.Header().Get("Content-Type"))
			var b bundle
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &b))
			assert.Equal(t, "Bundle", b.ResourceType)
			assert.Equal(t, "searchset", b.Type)
			require.Len(t, b.Entry, tc.wantEntries, "one person, its best record")
			e := b.Entry[0]
			assert.Equal(t, "match", e.Search.Mode)
			assert.Greater(t, e.Search.Score, 0.99)
			assert.LessOrEqual(t, e.Search.Score, 1.0)
			require.Len(t, e.Search.Extension, 1)
			assert.Equal(t, "http://hl7.org/fhir/StructureDefinition/match-grade", e.Search.Extension[0].URL)
			assert.Equal(t, "certain", e.Search.Extension[0].ValueCode)
			var got string
			for _, id := range e.Resource.Identifier {
				if id.System == PersonSystem {
					got = id.Value
				}
			}
			assert.Equal(t, person, got, "the enterprise id is returned")
		})
	}
}

func TestMatchErrors(t *testing.T) {
	h := NewHandler(testIndex(t))
	tests := []struct {
		name, method, body string
		want               int
	}{
		{name: "GET", method: http.MethodGet, want: http.StatusMethodNotAllowed},
		{name: "not JSON", method: http.MethodPost, body: "Amelia Hartley 1984-03-07", want: http.StatusBadRequest},
		{name: "no resource", method: http.MethodPost, body: `{"resourceType":"Parameters","parameter":[]}`, want: http.StatusBadRequest},
		{name: "wrong resource", method: http.MethodPost, body: `{"resourceType":"Observation"}`, want: http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), tc.method, "/Patient/$match", strings.NewReader(tc.body)))
			assert.Equal(t, tc.want, rec.Code)
			var oo struct {
				ResourceType string `json:"resourceType"`
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &oo))
			assert.Equal(t, "OperationOutcome", oo.ResourceType)
			assert.NotContains(t, rec.Body.String(), "Amelia", "no PHI echoed back")
		})
	}
}

func TestMatchNoCandidates(t *testing.T) {
	h := NewHandler(testIndex(t))
	body := `{"resourceType":"Patient","name":[{"family":"Zbyszko","given":["Wit"]}],"birthDate":"2001-01-02"}`
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/Patient/$match", strings.NewReader(body)))
	require.Equal(t, http.StatusOK, rec.Code)
	var b bundle
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &b))
	assert.Equal(t, "searchset", b.Type)
	assert.Empty(t, b.Entry, "no match is an empty searchset, not an error")
}
