package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/internal/shareddata"
)

// TestLinkFHIRInputs links FHIR Patient files beside CSV: a single Patient
// resource, an NDJSON stream and a transaction Bundle are each one source.
func TestLinkFHIRInputs(t *testing.T) {
	pat1 := shareddata.Path(t, "fhir", "hl7-r4-examples", "Patient-pat1.json")
	pat2 := shareddata.Path(t, "fhir", "hl7-r4-examples", "Patient-pat2.json")
	bundle := shareddata.Path(t, "fhir", "hl7-r4-examples", "Bundle-bundle-transaction.json")

	// The NDJSON source holds the pat2 Patient on one line, re-identified.
	raw, err := os.ReadFile(pat2)
	require.NoError(t, err)
	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, raw))
	line := bytes.Replace(compact.Bytes(), []byte(`"id":"pat2"`), []byte(`"id":"nd-1"`), 1)
	nd := filepath.Join(t.TempDir(), "community.ndjson")
	require.NoError(t, os.WriteFile(nd, append(line, '\n'), 0o644))

	gp, _ := writeInputs(t)
	var stdout, stderr bytes.Buffer
	err = run(t.Context(), []string{"link", pat1, nd, bundle, gp}, nil, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	cl := readClusters(t, stdout.Bytes())

	require.Contains(t, cl, "Patient-pat1/pat1")
	require.Contains(t, cl, "community/nd-1")
	assert.NotEqual(t, cl["Patient-pat1/pat1"], cl["community/nd-1"],
		"the two Donald Duck records share only a name (no birth date; different record numbers "+
			"in one identifier system): never linked on that alone")
	assert.Contains(t, cl, "gp/g1", "CSV sources link beside FHIR ones")
	n := 0
	for k := range cl {
		if filepath.Dir(k) == "Bundle-bundle-transaction" {
			n++
		}
	}
	assert.Positive(t, n, "the Patients of a transaction Bundle are read")
}
