package main

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/fhirutil"
)

// strictR4 parses body with google/fhir's validating R4 unmarshaller
// (unknown elements, wrong types, bad codes and missing required elements
// all fail) and returns its resourceType.
func strictR4(t *testing.T, body []byte) string {
	t.Helper()
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	require.NoError(t, err)
	_, err = u.Unmarshal(body)
	require.NoError(t, err, "not valid R4: %s", body)
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	require.NoError(t, json.Unmarshal(body, &head))
	return head.ResourceType
}

// TestConformance sends every request of the tests above, and the
// specification's own, and parses every response strictly as R4: a
// CapabilityStatement, a searchset Bundle, or an OperationOutcome for
// every error status.
func TestConformance(t *testing.T) {
	h, _ := testHandler(t, nil)
	type exchange struct {
		name string
		rec  *httptest.ResponseRecorder
	}
	var all []exchange
	for _, tc := range errorCases {
		all = append(all, exchange{tc.name, do(t, h, tc.method, tc.path, tc.body, tc.hdr...)})
	}
	all = append(all,
		exchange{"match", post(t, h, strings.Replace(matchRequest, "%s", "", 1))},
		exchange{"possible", post(t, h, `{"resourceType":"Patient","name":[{"family":"Hartley","given":["Amelia"]}],"birthDate":"1984-03-07"}`)},
		exchange{"none", post(t, h, `{"resourceType":"Patient","name":[{"family":"Zbyszko"}],"birthDate":"2001-01-02"}`)},
		exchange{"no token", post(t, h, strings.Replace(matchRequest, "%s", "", 1), "Authorization", "")},
		exchange{"metadata", do(t, h, http.MethodGet, "/metadata", "")},
	)
	for _, name := range []string{"spec-match-request.json", "spec-match-request-r4.json"} {
		b, err := os.ReadFile("testdata/" + name)
		require.NoError(t, err)
		all = append(all, exchange{name, post(t, h, string(b))})
	}
	for _, ex := range all {
		t.Run(ex.name, func(t *testing.T) {
			assert.Equal(t, contentType, ex.rec.Header().Get("Content-Type"))
			typ := strictR4(t, ex.rec.Body.Bytes())
			switch {
			case ex.rec.Code >= 400:
				assert.Equal(t, "OperationOutcome", typ, "status %d", ex.rec.Code)
			case ex.name == "metadata":
				assert.Equal(t, "CapabilityStatement", typ)
			default:
				assert.Equal(t, "Bundle", typ)
				checkMatchBundle(t, ex.rec.Body.Bytes())
			}
		})
	}
}

// checkMatchBundle checks what Patient/$match promises of its Bundle: a
// searchset whose total counts its entries, each a Patient with a
// fullUrl, search.mode "match", a score in [0, 1] (best first) and one
// match-grade extension with a code of its code system.
func checkMatchBundle(t *testing.T, body []byte) bundle {
	t.Helper()
	var b bundle
	require.NoError(t, json.Unmarshal(body, &b))
	assert.Equal(t, "Bundle", b.ResourceType)
	assert.Equal(t, "searchset", b.Type)
	assert.Equal(t, len(b.Entry), b.Total)
	var scores []float64
	urls := map[string]bool{}
	for i, e := range b.Entry {
		assert.NotEmpty(t, e.FullURL, "entry %d", i)
		assert.False(t, urls[e.FullURL], "entry %d: fullUrl repeated", i)
		urls[e.FullURL] = true
		assert.Equal(t, "Patient", e.Resource["resourceType"], "entry %d", i)
		assert.Equal(t, "match", e.Search.Mode, "entry %d", i)
		assert.GreaterOrEqual(t, e.Search.Score, 0.0)
		assert.LessOrEqual(t, e.Search.Score, 1.0)
		scores = append(scores, e.Search.Score)
		require.Len(t, e.Search.Extension, 1, "entry %d", i)
		assert.Equal(t, fhirutil.MatchGradeURL, e.Search.Extension[0].URL)
		assert.Contains(t, []string{"certain", "probable", "possible", "certainly-not"}, e.Search.Extension[0].ValueCode)
	}
	assert.True(t, slices.IsSortedFunc(scores, func(a, b float64) int { return cmp.Compare(b, a) }), "best first: %v", scores)
	return b
}

// TestSpecificationExample replays the $match example of the FHIR
// specification (testdata/README.md says where it comes from).
func TestSpecificationExample(t *testing.T) {
	h, _ := testHandler(t, nil)
	read := func(name string) []byte {
		b, err := os.ReadFile("testdata/" + name)
		require.NoError(t, err)
		return b
	}
	t.Run("the request as printed is not R4 and is refused, located", func(t *testing.T) {
		rec := post(t, h, string(read("spec-match-request.json")))
		require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
		oo := assertOutcome(t, rec, "")
		var exprs []string
		for _, is := range oo.Issue {
			exprs = append(exprs, is.Expression...)
		}
		assert.Contains(t, exprs, "Parameters.parameter[1].valueInteger", "\"3\" is a string")
	})
	t.Run("the Patient as printed is not R4 either", func(t *testing.T) {
		var req struct {
			Parameter []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"parameter"`
		}
		require.NoError(t, json.Unmarshal(read("spec-match-request.json"), &req))
		rec := post(t, h, string(req.Parameter[0].Resource))
		require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
		oo := assertOutcome(t, rec, "")
		assert.Equal(t, []string{"Patient.name[0].family"}, oo.Issue[0].Expression, "family is one string in R4")
	})
	t.Run("the request corrected to R4 answers as the response example does", func(t *testing.T) {
		rec := post(t, h, string(read("spec-match-request-r4.json")))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		strictR4(t, rec.Body.Bytes())
		got := checkMatchBundle(t, rec.Body.Bytes())

		spec := read("spec-match-response.json")
		strictR4(t, spec)
		want := checkMatchBundle(t, spec)
		require.NotEmpty(t, got.Entry)
		assert.LessOrEqual(t, len(got.Entry), 3, "count 3")
		// The example's response comes from "an imaginary MPI algorithm":
		// its first entry, Patient/example, is graded certain. CareLens
		// finds the same person (hospital/example in the test index) and
		// grades it possible: the example's MRN, 12345, is a run of digits,
		// which the index treats as a placeholder rather than evidence, so
		// only name, gender and birth date agree. As a possible candidate
		// it comes back without its id, identifiers or address.
		first := got.Entry[0]
		assert.Equal(t, "possible", first.Search.Extension[0].ValueCode)
		assert.Greater(t, first.Search.Score, want.Entry[1].Search.Score)
		assert.Empty(t, firstSystem(first.Resource))
		for _, k := range []string{"id", "identifier", "address"} {
			assert.NotContains(t, first.Resource, k)
		}
		assert.Contains(t, first.Resource, "gender", "the request supplied gender")
	})
	t.Run("with the postcode as well, certain as in the example", func(t *testing.T) {
		body := strings.Replace(string(read("spec-match-request-r4.json")), `"gender": "male",`, `"gender": "male", "address": [{"postalCode": "3999"}],`, 1)
		rec := post(t, h, body)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		strictR4(t, rec.Body.Bytes())
		got := checkMatchBundle(t, rec.Body.Bytes())
		want := checkMatchBundle(t, read("spec-match-response.json"))
		require.NotEmpty(t, got.Entry)
		assert.Equal(t, want.Entry[0].Resource["id"], got.Entry[0].Resource["id"])
		assert.Equal(t, want.Entry[0].Search.Extension[0].ValueCode, got.Entry[0].Search.Extension[0].ValueCode)
		assert.Equal(t, "urn:oid:1.2.36.146.595.217.0.1", firstSystem(got.Entry[0].Resource))
	})
}

func firstSystem(res map[string]any) string {
	ids, _ := res["identifier"].([]any)
	if len(ids) == 0 {
		return ""
	}
	s, _ := ids[0].(map[string]any)["system"].(string)
	return s
}
