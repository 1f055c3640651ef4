package main

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/fhirutil"
)

// FuzzParseMatch: the strict reading never panics; what it accepts the
// library's lenient reading accepts too, with the same parameters and the
// same record (strict only refuses more); what it refuses comes with at
// least one located issue whose code is from the issue-type value set.
func FuzzParseMatch(f *testing.F) {
	f.Add(strings.Replace(matchRequest, "%s", "", 1))
	f.Add(strings.Replace(matchRequest, "%s", `, {"name": "onlyCertainMatches", "valueBoolean": true}`, 1))
	f.Add(`{"resourceType":"Patient","name":[{"family":"Nash","given":["Oliver"]}],"birthDate":"1950-11-30"}`)
	for _, tc := range errorCases {
		if tc.body != "" && len(tc.body) < 4096 {
			f.Add(tc.body)
		}
	}
	for _, name := range []string{"spec-match-request.json", "spec-match-request-r4.json"} {
		b, err := os.ReadFile("testdata/" + name)
		require.NoError(f, err)
		f.Add(string(b))
	}
	codes := map[string]bool{"structure": true, "required": true, "value": true, "invalid": true,
		"not-supported": true, "too-costly": true}
	f.Fuzz(func(t *testing.T, body string) {
		q, err := parseMatch([]byte(body))
		if err != nil {
			re, ok := errors.AsType[*requestError](err)
			require.True(t, ok, "%T", err)
			require.NotEmpty(t, re.issues)
			for _, is := range re.issues {
				assert.True(t, codes[is.Code], "issue code %q", is.Code)
				assert.NotContains(t, is.Diagnostics, "fhirutil")
			}
			return
		}
		lenient, err := fhirutil.ParseMatchRequest([]byte(body))
		require.NoError(t, err, "strict accepted what lenient refused")
		assert.Equal(t, lenient.OnlyCertainMatches, q.OnlyCertainMatches)
		assert.Equal(t, lenient.Count, q.Count)
		assert.Equal(t, lenient.Record, q.Record)
	})
}
