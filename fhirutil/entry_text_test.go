package fhirutil

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/merge"
)

func TestDocumentTextIsRead(t *testing.T) {
	doc := func(contentType, data string) string {
		return fmt.Sprintf(`{"resourceType":"DocumentReference","id":"d1","status":"current",
		"type":{"coding":[{"system":"http://loinc.org","code":"11506-3","display":"Progress note"}]},
		"date":"2025-03-06T10:30:00Z","content":[{"attachment":{"contentType":%q,"data":%q}}]}`, contentType, data)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	long := strings.Repeat("é", MaxText) // two bytes each: cut at a rune boundary
	tests := []struct {
		name, json, want string
		cat              merge.Category
	}{
		{"plain text", doc("text/plain; charset=utf-8", b64("Seen today.\nBP reviewed.")), "Seen today.\nBP reviewed.", merge.CategoryNote},
		{"no content type is read as text", doc("", b64("Seen.")), "Seen.", merge.CategoryNote},
		{"pdf is not text", doc("application/pdf", b64("%PDF-1.4")), "", merge.CategoryNote},
		{"invalid UTF-8 is dropped", doc("text/plain", base64.StdEncoding.EncodeToString([]byte{0xff, 0xfe})), "", merge.CategoryNote},
		{"composition narrative", `{"resourceType":"Composition","id":"c1","status":"final",
			"type":{"coding":[{"system":"http://loinc.org","code":"18842-5","display":"Discharge summary"}]},
			"date":"2025-03-06","author":[{"display":"Ward 7"}],"title":"Discharge summary",
			"section":[{"title":"Plan","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Stop   ramipril &amp; review</p><p>in 2 weeks</p></div>"}}]}`,
			"Plan: Stop ramipril & review\nin 2 weeks", merge.CategoryDocument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Decode([]byte(tc.json), nil)
			require.NoError(t, err)
			require.Empty(t, b.Issues)
			es := b.Entries()
			require.Len(t, es, 1)
			assert.Equal(t, tc.cat, es[0].Category)
			assert.Equal(t, tc.want, es[0].Text)
		})
	}
	t.Run("long text is cut at a character boundary", func(t *testing.T) {
		b, err := Decode([]byte(doc("text/plain", b64(long))), nil)
		require.NoError(t, err)
		txt := b.Entries()[0].Text
		assert.True(t, utf8.ValidString(txt))
		assert.Less(t, len(txt), MaxText+100)
		assert.True(t, strings.HasSuffix(txt, "[text cut: longer than CareLens shows]"))
	})
}
