package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/internal/shareddata"
)

func TestFHIRCheckSharedData(t *testing.T) {
	dir := shareddata.Path(t, "fhir")
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var stdout, stderr bytes.Buffer
	err = run(t.Context(), append([]string{"fhir", "check"}, files...), nil, &stdout, &stderr)
	require.NoError(t, err, stdout.String())
	assert.Equal(t, len(files), strings.Count(stdout.String(), ": ok: "))
	assert.Contains(t, stdout.String(), "Bundle-father.json: ok: 8 resources, 1 bundles, 0 skipped")
	assert.Contains(t, stdout.String(), "  Composition              1\n")
}

func TestFHIRCheckFails(t *testing.T) {
	stu3 := shareddata.Path(t, "fhir-invalid", "stu3-synthea.bundle.json")
	ok := shareddata.Path(t, "fhir", "hl7-r4-examples", "Patient-example.json")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.ndjson")
	require.NoError(t, os.WriteFile(bad, []byte(`{"resourceType":"Patient","id":"a","birthDate":"1961-13-01","name":[{"family":"Zebedee"}]}`+"\n"+`{"resourceType":"Patient","id":"b"}`+"\n"), 0o644))
	dup := filepath.Join(dir, "dup.json")
	require.NoError(t, os.WriteFile(dup, []byte(`{"resourceType":"Patient","id":"d",`+
		`"identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}],`+
		`"identifier":[{"system":"urn:oid:1.2.3","value":"H12345"}]}`), 0o644))
	cut := filepath.Join(dir, "cut.json")
	require.NoError(t, os.WriteFile(cut, []byte(`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"a"}},{"resource":{"resourceType":"Pat`), 0o644))
	notJSON := filepath.Join(dir, "x.json")
	require.NoError(t, os.WriteFile(notJSON, []byte("hello"), 0o644))
	// Skipped: the Bundle (two repeated keys), entry[0] (two issues) and
	// entry[2], each counted once.
	skips := filepath.Join(dir, "skips.json")
	require.NoError(t, os.WriteFile(skips, []byte(`{"resourceType":"Bundle","type":"collection","type":"searchset","entry":[`+
		`{"resource":{"resourceType":"Observation","id":"a","status":"bogus","status":"x"}},`+
		`{"resource":{"resourceType":"Observation","id":"b","status":"final","code":{"text":"ok"}}},`+
		`{"resource":{"resourceType":"Observation","id":"c","status":"nope"}}],"entry":[]}`), 0o644))

	tests := []struct {
		name       string
		args       []string
		wantErr    bool
		wantOutput []string
		notOutput  []string
	}{
		{"stu3 fails as R4", []string{stu3}, true, []string{"stu3-synthea.bundle.json: FAIL:", "unknown field (resource skipped)"}, nil},
		{"mixed", []string{ok, stu3}, true, []string{"Patient-example.json: ok:", "stu3-synthea.bundle.json: FAIL:"}, nil},
		{"bad element, no PHI", []string{bad}, true, []string{"line 1 Patient/a: Patient.birthDate: expected date (resource skipped)"}, []string{"1961", "Zebedee"}},
		{"lenient keeps it", []string{"-lenient", bad}, false, []string{"bad.ndjson: ok: 2 resources", "(dropped, resource kept)"}, []string{"1961"}},
		{"duplicate key", []string{dup}, true, []string{"dup.json: FAIL:", "Patient/d: Patient.identifier: duplicate key at byte 118 (resource skipped)"}, []string{"9434765919"}},
		{"duplicate key, lenient", []string{"-lenient", dup}, false, []string{"dup.json: ok: 1 resources", "duplicate key at byte 118 (last value kept, resource kept)"}, []string{"9434765919"}},
		{"truncated", []string{cut}, true, []string{"cut.json: FAIL: fhirutil: invalid JSON: unexpected end of input at byte 135 in entry[1]"}, nil},
		{"skipped counted per resource", []string{skips}, true, []string{"skips.json: FAIL: 1 resources, 1 bundles, 3 skipped, 0 issues on kept resources"}, nil},
		{"not JSON", []string{notJSON}, true, []string{"x.json: FAIL: fhirutil: invalid JSON"}, nil},
		{"missing file", []string{filepath.Join(dir, "nope.json")}, true, []string{"nope.json: FAIL:"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), append([]string{"fhir", "check"}, tc.args...), nil, &stdout, &stderr)
			if tc.wantErr {
				assert.ErrorIs(t, err, errCheckFailed)
			} else {
				assert.NoError(t, err)
			}
			for _, w := range tc.wantOutput {
				assert.Contains(t, stdout.String(), w)
			}
			for _, w := range tc.notOutput {
				assert.NotContains(t, stdout.String(), w)
			}
		})
	}
}

func TestFHIRUsage(t *testing.T) {
	for _, args := range [][]string{{"fhir"}, {"fhir", "lint"}, {"fhir", "check"}} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), args, nil, &stdout, &stderr)
		assert.ErrorIs(t, err, errUsage, "%v", args)
	}
	// Asking for help is not a usage error: main exits 0 on flag.ErrHelp.
	for _, args := range [][]string{{"fhir", "-h"}, {"fhir", "--help"}, {"fhir", "help"}, {"fhir", "check", "-h"}} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), args, nil, &stdout, &stderr)
		assert.ErrorIs(t, err, flag.ErrHelp, "%v", args)
		assert.NotErrorIs(t, err, errUsage, "%v", args)
		assert.Contains(t, stderr.String(), "usage: carelens fhir check", "%v", args)
	}
}

func TestFHIRCheckStdin(t *testing.T) {
	var stdout, stderr bytes.Buffer
	in := strings.NewReader(`{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"}}`)
	require.NoError(t, run(t.Context(), []string{"fhir", "check", "-"}, in, &stdout, &stderr))
	assert.Contains(t, stdout.String(), "-: ok: 1 resources")
}
