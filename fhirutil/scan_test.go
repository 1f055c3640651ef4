package fhirutil

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCompactJSON(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"indentation", "{\n  \"a\" : [ 1 , 2 ],\n\t\"b\": { }\n}", `{"a":[1,2],"b":{}}`},
		{"strings kept", `{"a": " x  y \" z\\" }`, `{"a":" x  y \" z\\"}`},
		{"invalid stays invalid", `{"a": tr ue, "b": 1 2}`, `{"a":tr ue,"b":1 2}`},
		{"unicode", "{\"a\":\t\"é\u00a0\"}", "{\"a\":\"é\u00a0\"}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := compactJSON([]byte(tc.in))
			assert.Equal(t, tc.want, string(got))
			assert.Equal(t, json.Valid([]byte(tc.in)), json.Valid(got), "validity is preserved")
		})
	}
}

func FuzzCompactJSON(f *testing.F) {
	f.Add([]byte(`{"a": [1, 2, {"b": "c d"}], "e": null}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		got := compactJSON(in)
		if json.Valid(in) != json.Valid(got) {
			t.Fatalf("validity changed: %q -> %q", in, got)
		}
		if json.Valid(in) {
			var a, b any
			_ = json.Unmarshal(in, &a)
			_ = json.Unmarshal(got, &b)
			assert.Equal(t, a, b)
		}
	})
}
