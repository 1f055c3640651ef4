package viewer

import (
	"html/template"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// rowsTemplate is the range rows.HTML replaced in record.html: the
// oracle, escaped by html/template itself.
const rowsTemplate = `{{range .}}<tr class="cat-{{.Category}}{{if .Conflict}} conflict{{end}}" data-sources="{{range $i, $s := .SourceIDs}}{{if $i}} {{end}}{{$s}}{{end}}">
<td class="date">{{.Date}}</td><td>{{.CategoryLabel}}</td>
<td>{{.Item}}{{if .Status}} <span class="muted">({{.Status}})</span>{{end}}{{if .Text}}<div class="text">{{.Text}}</div>{{end}}{{if .Conflict}}<div class="conflict-note"><span class="tag tag-conflict">Conflict #{{.Conflict}}</span> {{.ConflictNote}}</div>{{end}}</td>
<td>{{.Value}}</td><td class="sources">{{.Sources}}{{if .Merged}} <span class="tag">merged</span>{{end}}</td></tr>{{end}}`

func renderRowsTemplate(t testing.TB, rs rows) string {
	var b strings.Builder
	require.NoError(t, template.Must(template.New("rows").Parse(rowsTemplate)).Execute(&b, []row(rs)))
	return b.String()
}

func TestRowsHTMLMatchesTemplate(t *testing.T) {
	nasty := []string{"", "plain", `<script>alert("x")</script>`, "a & b", "it's", "1+1", "x\x00y", "é ü 中", "line\nbreak", `"quoted"`, "&amp;", "javascript:x", "<!--", "]]>"}
	var rs rows
	for i, s := range nasty {
		rs = append(rs, row{
			Date: s, Category: s, CategoryLabel: s, Item: s, Value: s, Status: nasty[(i+1)%len(nasty)],
			Text: nasty[(i+2)%len(nasty)], Sources: s, SourceIDs: []string{s, nasty[(i+3)%len(nasty)]}[:i%3],
			Merged: i%2 == 0, Conflict: i % 4, ConflictNote: s,
		})
	}
	require.Equal(t, renderRowsTemplate(t, rs), string(rs.HTML()))
	require.Equal(t, renderRowsTemplate(t, nil), string(rows(nil).HTML()))
}

func FuzzRowsHTML(f *testing.F) {
	f.Add("x", "<b>&'\"+", 1, true)
	f.Fuzz(func(t *testing.T, a, b string, conflict int, merged bool) {
		rs := rows{{Date: a, Category: b, CategoryLabel: a, Item: b, Value: a, Status: b, Text: a, Sources: b,
			SourceIDs: []string{a, b}, Merged: merged, Conflict: conflict, ConflictNote: a}}
		if got, want := string(rs.HTML()), renderRowsTemplate(t, rs); got != want {
			t.Fatalf("rows.HTML differs from the template:\n got %q\nwant %q", got, want)
		}
	})
}

// BenchmarkTimelineRows renders 500 timeline rows (the largest demo
// patient's page) with the writer and with the template it replaced.
func BenchmarkTimelineRows(b *testing.B) {
	rs := make(rows, 500)
	for i := range rs {
		rs[i] = row{Date: "03-Dec-2026", Category: "result", CategoryLabel: "Result", Item: "Haemoglobin A1c",
			Value: "48 mmol/mol", Status: "final", Sources: "Riverside Surgery, Northfield Hospital EHR",
			SourceIDs: []string{"gp", "hospital"}, Merged: true}
	}
	b.Run("writer", func(b *testing.B) {
		for b.Loop() {
			_ = rs.HTML()
		}
	})
	b.Run("template", func(b *testing.B) {
		tmpl := template.Must(template.New("rows").Parse(rowsTemplate))
		for b.Loop() {
			var sb strings.Builder
			_ = tmpl.Execute(&sb, []row(rs))
		}
	})
}
