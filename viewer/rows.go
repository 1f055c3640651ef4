package viewer

import (
	"html/template"
	"strconv"
	"strings"
)

// rows are the timeline rows of a record page.
type rows []row

// HTML writes the rows as the timeline table's body rows, exactly as the
// html/template range they replace did (rows_test.go compares the two),
// escaping every value as html/template escapes text and quoted
// attribute values. A page has hundreds of rows and the template engine
// spent about 3 ms of CPU per page on them (reflection for each field of
// each row, 13% of the viewer's CPU on BenchmarkViewerPage once decoding
// was fast); this writes them in one pass.
func (rs rows) HTML() template.HTML {
	var b strings.Builder
	for i := range rs {
		r := &rs[i]
		b.WriteString(`<tr class="cat-`)
		escapeHTML(&b, r.Category)
		if r.Conflict != 0 {
			b.WriteString(` conflict`)
		}
		b.WriteString(`" data-sources="`)
		for j, s := range r.SourceIDs {
			if j > 0 {
				b.WriteByte(' ')
			}
			escapeHTML(&b, s)
		}
		b.WriteString("\">\n<td class=\"date\">")
		escapeHTML(&b, r.Date)
		b.WriteString(`</td><td>`)
		escapeHTML(&b, r.CategoryLabel)
		b.WriteString("</td>\n<td>")
		escapeHTML(&b, r.Item)
		if r.Status != "" {
			b.WriteString(` <span class="muted">(`)
			escapeHTML(&b, r.Status)
			b.WriteString(`)</span>`)
		}
		if r.Text != "" {
			b.WriteString(`<div class="text">`)
			escapeHTML(&b, r.Text)
			b.WriteString(`</div>`)
		}
		if r.Conflict != 0 {
			b.WriteString(`<div class="conflict-note"><span class="tag tag-conflict">Conflict #`)
			b.WriteString(strconv.Itoa(r.Conflict))
			b.WriteString(`</span> `)
			escapeHTML(&b, r.ConflictNote)
			b.WriteString(`</div>`)
		}
		b.WriteString("</td>\n<td>")
		escapeHTML(&b, r.Value)
		b.WriteString(`</td><td class="sources">`)
		escapeHTML(&b, r.Sources)
		if r.Merged {
			b.WriteString(` <span class="tag">merged</span>`)
		}
		b.WriteString(`</td></tr>`)
	}
	return template.HTML(b.String()) // every value above is escaped
}

// escapeHTML writes s escaped as html/template escapes text and quoted
// attribute values: the five markup characters, '+' (which html/template
// also escapes) and NUL (replaced).
func escapeHTML(b *strings.Builder, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var rep string
		switch s[i] {
		case '&':
			rep = "&amp;"
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		case '"':
			rep = "&#34;"
		case '\'':
			rep = "&#39;"
		case '+':
			rep = "&#43;"
		case 0:
			rep = "\uFFFD"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(rep)
		last = i + 1
	}
	b.WriteString(s[last:])
}
