package fhirutil

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDecodeNextLink: a searchset's next page is found as the Bundle is
// split (escaped or not, the last "next" winning, as a reader of the
// links in order would have it); anything but a Bundle has none.
func TestDecodeNextLink(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"self and next", `{"resourceType":"Bundle","type":"searchset","link":[{"relation":"self","url":"https://gp.example/Patient?x=1"},{"relation":"next","url":"https://gp.example/Patient?x=1&page=2"}],"entry":[]}`,
			"https://gp.example/Patient?x=1&page=2"},
		{"link after entries", `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Patient","id":"a"}}],"link":[{"url":"https://h/p2","relation":"next"}]}`,
			"https://h/p2"},
		{"escaped slashes", `{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"https:\/\/h\/p?a=1\u0026b=2"}]}`,
			"https://h/p?a=1&b=2"},
		{"no next", `{"resourceType":"Bundle","type":"searchset","link":[{"relation":"self","url":"https://h/p"}]}`, ""},
		{"odd link shapes", `{"resourceType":"Bundle","type":"searchset","link":[1,{"relation":7,"url":"x"},{"relation":"next","url":null}]}`, ""},
		{"not a Bundle", `{"resourceType":"Patient","id":"a","link":[{"relation":"next","url":"https://h/p"}]}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Decode([]byte(tc.in), &Options{Lenient: true})
			require.NoError(t, err)
			assert.Equal(t, tc.want, b.Next)
		})
	}
}
