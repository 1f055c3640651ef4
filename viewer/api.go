package viewer

import (
	"net/http"
	"strings"

	"github.com/carelens/carelens/audit"
	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/provenance"
)

// apiPatient returns the same merged view as the record page (the same
// filters from the query string) as an R4 collection Bundle: the patient,
// every entry shown, and a Provenance naming every source behind each.
func (s *Server) apiPatient(q *request) {
	d, status, err := s.recordPage(q)
	if err != nil {
		writeOutcome(q.w, status, err.Error())
		return
	}
	if d.view == nil {
		writeOutcome(q.w, http.StatusNotFound, "no source holds a record with this NHS number")
		return
	}
	if err := s.auditView(q, d, audit.ActionAPI); err != nil {
		writeOutcome(q.w, http.StatusServiceUnavailable, "the access could not be recorded, so the record is not sent")
		return
	}
	entries := make([]merge.Entry, len(d.entries))
	for i, e := range d.entries {
		entries[len(entries)-1-i] = *e // timeline order, oldest first
	}
	var srcs []provenance.Source
	for _, st := range d.view.Sources {
		srcs = append(srcs, st.Source)
	}
	pat := goldenRecord(d.view.Golden)
	b, err := fhirutil.TimelineBundle(entries, &fhirutil.TimelineOptions{Sources: srcs, Patient: &pat, Recorded: d.Generated, Conflicts: d.view.Timeline.Conflicts})
	if err != nil {
		s.log.Error("api: bundle", "err", err)
		writeOutcome(q.w, http.StatusInternalServerError, "the record could not be written as FHIR")
		return
	}
	q.w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
	_, _ = q.w.Write(b)
}

// goldenRecord is the golden demographics as a match record (what
// TimelineBundle writes as the Patient).
func goldenRecord(g merge.Golden) match.Record {
	r := match.Record{Source: "carelens", ID: "patient", Given: g.Name.Value.Given, Family: g.Name.Value.Family,
		Sex: g.Sex.Value, Phone: g.Phone.Value, Email: g.Email.Value,
		Address: g.Address.Value.Lines, Town: g.Address.Value.City, Postcode: g.Address.Value.Postcode}
	if !g.BirthDate.Value.IsZero() {
		r.BirthDate = g.BirthDate.Value.Format("2006-01-02")
	}
	for _, id := range g.Identifiers {
		if id.Value.System == fhirutil.NHSNumberSystem {
			r.NHSNumber = id.Value.Value
			r.ID = id.Value.Value
		} else {
			r.Identifiers = append(r.Identifiers, match.Identifier{System: id.Value.System, Value: id.Value.Value})
		}
	}
	return r
}

// writeOutcome writes a FHIR OperationOutcome with one error issue.
func writeOutcome(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
	w.WriteHeader(status)
	code := "processing"
	switch status {
	case http.StatusNotFound:
		code = "not-found"
	case http.StatusBadRequest:
		code = "invalid"
	case http.StatusUnauthorized, http.StatusForbidden:
		code = "security"
	}
	msg = strings.ReplaceAll(strings.ReplaceAll(msg, `\`, `\\`), `"`, `\"`)
	_, _ = w.Write([]byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"` + code + `","diagnostics":"` + msg + `"}]}`))
}
