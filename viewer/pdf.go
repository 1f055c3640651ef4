package viewer

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/carelens/carelens/audit"
	"github.com/carelens/carelens/internal/pdfdoc"
)

// recordPDF prints exactly what the record page shows for the same URL
// (the same filters): header, notices, possible matches, summary and the
// filtered timeline, with the patient, the date, the user and the sources
// on every page.
func (s *Server) recordPDF(q *request) {
	d, status, err := s.recordPage(q)
	if err != nil {
		s.render(q.w, status, "error.html", errorData{base: q.base("Record"), Message: err.Error()})
		return
	}
	if err := s.auditView(q, d, audit.ActionPrint); err != nil {
		s.auditFailed(q.w)
		return
	}
	doc := s.pdfDoc(d)
	var buf bytes.Buffer
	if err := pdfdoc.Render(&buf, doc); err != nil {
		s.log.Error("pdf", "err", err)
		s.render(q.w, http.StatusInternalServerError, "error.html", errorData{base: q.base("Record"), Message: "The PDF could not be made."})
		return
	}
	q.w.Header().Set("Content-Type", "application/pdf")
	q.w.Header().Set("Content-Disposition", `attachment; filename="patient-record.pdf"`)
	_, _ = q.w.Write(buf.Bytes())
}

func (s *Server) pdfDoc(d *recordData) *pdfdoc.Doc {
	var shown []string
	for _, b := range d.Sources {
		if b.Checked {
			shown = append(shown, b.Name)
		}
	}
	doc := &pdfdoc.Doc{
		Title: "Patient record — " + d.Patient.Name,
		Header: []string{
			fmt.Sprintf("%s   NHS number %s   Born %s", d.Patient.Name, d.Patient.NHS, d.Patient.Born),
			fmt.Sprintf("Printed %s by %s (%s, %s)", d.Generated.UTC().Format("02-Jan-2006 15:04 MST"), d.User.Name, d.Org.Name, d.User.Role),
			"Sources shown: " + strings.Join(shown, ", "),
		},
		Footer:  "CareLens shared record. Printed copies are confidential; handle as a clinical record.",
		Created: d.Generated,
	}
	for _, b := range d.Banners {
		k := pdfdoc.Info
		switch b.Level {
		case "error":
			k = pdfdoc.Error
		case "warning":
			k = pdfdoc.Warning
		}
		doc.Notices = append(doc.Notices, pdfdoc.Notice{Kind: k, Text: b.Text})
	}
	var demo pdfdoc.Section
	demo.Heading = "Demographics"
	demo.Columns = []string{"Field", "Value"}
	demo.Widths = []float64{1, 3}
	for _, f := range d.Patient.Fields {
		demo.Rows = append(demo.Rows, pdfdoc.Row{Cells: []string{f.Label, f.Value}, Sources: f.Sources})
	}
	doc.Sections = append(doc.Sections, demo)
	var srcs pdfdoc.Section
	srcs.Heading = "Sources"
	srcs.Columns = []string{"Source", "Shown", "Status", "Last updated"}
	for _, b := range d.Sources {
		shown := "yes"
		if !b.Checked {
			shown = "no (unticked)"
		}
		srcs.Rows = append(srcs.Rows, pdfdoc.Row{Cells: []string{b.Name, shown, b.Note, b.Updated}})
	}
	doc.Sections = append(doc.Sections, srcs)
	if len(d.Pending) > 0 {
		sec := pdfdoc.Section{Heading: "Possible matches (not shown in this record)", Columns: []string{"Source", "Name", "Born", "Grade"}}
		for _, p := range d.Pending {
			sec.Rows = append(sec.Rows, pdfdoc.Row{Cells: []string{p.Source, p.Name, p.Born, p.Grade + " " + p.Probability}})
		}
		doc.Sections = append(doc.Sections, sec)
	}
	list := func(heading string, rows []row) {
		sec := pdfdoc.Section{Heading: heading, Columns: []string{"Date", "Item", "Detail"}, Widths: []float64{1.2, 3, 2}}
		if len(rows) == 0 {
			sec.Text = []string{"None recorded at the sources shown."}
			sec.Columns, sec.Widths = nil, nil
		}
		for _, r := range rows {
			sec.Rows = append(sec.Rows, pdfRow([]string{r.Date, r.Item, r.Value}, r))
		}
		doc.Sections = append(doc.Sections, sec)
	}
	list("Current problems", d.Summary.Problems)
	list("Current medications", d.Summary.Medications)
	list("Allergies", d.Summary.Allergies)
	if len(d.Summary.Results) > 0 {
		sec := pdfdoc.Section{Heading: "Recent results", Columns: []string{"Test", "Latest", "Date", "Results"}, Widths: []float64{2, 1.5, 1.5, 0.7}}
		for _, t := range d.Summary.Results {
			r := pdfdoc.Row{Cells: []string{t.Name, t.Latest, t.When, fmt.Sprint(t.Count)}, Sources: t.Sources}
			if t.Conflict {
				r.Flag = "CONFLICT"
			}
			sec.Rows = append(sec.Rows, r)
		}
		doc.Sections = append(doc.Sections, sec)
	}
	tl := pdfdoc.Section{Heading: fmt.Sprintf("Timeline (%d of %d items%s)", d.Shown, d.Total, d.filterNote()),
		Columns: []string{"Date", "Type", "Item", "Value"}, Widths: []float64{1.3, 1.3, 2.6, 1.8}}
	for _, r := range d.Timeline {
		cells := []string{r.Date, r.CategoryLabel, r.Item, r.Value}
		if r.Text != "" {
			cells[2] += "\n" + r.Text
		}
		tl.Rows = append(tl.Rows, pdfRow(cells, r))
	}
	doc.Sections = append(doc.Sections, tl)
	return doc
}

func pdfRow(cells []string, r row) pdfdoc.Row {
	pr := pdfdoc.Row{Cells: cells, Sources: r.Sources}
	if r.Conflict != 0 {
		pr.Flag = fmt.Sprintf("CONFLICT #%d", r.Conflict)
		if r.ConflictNote != "" {
			pr.Cells[len(pr.Cells)-1] += "\n" + r.ConflictNote
		}
	}
	return pr
}

// filterNote says which timeline filters are on, for the printout.
func (d *recordData) filterNote() string {
	var parts []string
	var cats []string
	for _, c := range d.Categories {
		if c.Checked {
			cats = append(cats, c.Label)
		}
	}
	if len(cats) > 0 {
		parts = append(parts, "only "+strings.Join(cats, ", "))
	}
	if d.From != "" {
		parts = append(parts, "from "+d.From)
	}
	if d.To != "" {
		parts = append(parts, "to "+d.To)
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, "; ")
}

var _ = time.Now
