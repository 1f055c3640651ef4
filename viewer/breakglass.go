package viewer

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carelens/carelens/nhsnumber"

	"github.com/carelens/carelens/audit"
)

// maxBreakGlassText bounds the user's free-text reason.
const maxBreakGlassText = 1000

// breakGlassStart opens a restricted record for this session for the
// policy's time limit: the user picks a reason from the policy's list and
// states why in their own words. The start is audited (opening an alert
// for the organisation's privacy officer) before it takes effect.
func (s *Server) breakGlassStart(q *request) {
	nhs := q.r.PathValue("nhs")
	if !nhsnumber.Valid(nhs) || len(nhs) != 10 {
		s.render(q.w, http.StatusNotFound, "error.html", errorData{base: q.base("Record"), Message: "That is not a valid NHS number."})
		return
	}
	v := q.viewer()
	code := q.r.PostFormValue("reason")
	text := strings.TrimSpace(q.r.PostFormValue("text"))
	reason, ok := s.policy.BreakGlassReason(code)
	switch {
	case !s.policy.CanBreakGlass(v):
		_ = s.auditEvent(q.r.Context(), q, audit.Event{Action: audit.ActionDenied, Outcome: audit.OutcomeDenied, Patient: nhs, Note: "break-glass not allowed for this role"})
		s.render(q.w, http.StatusForbidden, "error.html", errorData{base: q.base("Record"), Message: "Your role may not break glass."})
		return
	case !ok:
		s.render(q.w, http.StatusBadRequest, "error.html", errorData{base: q.base("Record"), Message: "Choose a reason from the list."})
		return
	case utf8.RuneCountInString(text) < 10 || len(text) > maxBreakGlassText:
		s.render(q.w, http.StatusBadRequest, "error.html", errorData{base: q.base("Record"),
			Message: "Say in your own words why you need this record (10 to 1000 characters)."})
		return
	}
	// The policy's limit, one hour when it sets none, never over four.
	limit := time.Duration(s.policy.BreakGlass.MaxDuration)
	if limit <= 0 {
		limit = time.Hour
	}
	limit = min(limit, 4*time.Hour)
	seq, err := s.audit.Append(q.r.Context(), audit.Event{RequestID: q.id, Action: audit.ActionBreakGlassStart, User: q.user.ID,
		Org: q.org.Code, Role: string(q.user.Role), Purpose: "ETREAT", Patient: nhs, Client: clientAddr(q.r),
		BreakGlass: true, BreakGlassReason: reason.Code, BreakGlassText: text})
	if err != nil {
		s.log.Error("audit append failed; break-glass refused", "request", q.id, "err", err)
		s.auditFailed(q.w)
		return
	}
	q.session.mu.Lock()
	q.session.breakGlass[nhs] = breakGlass{until: s.now().Add(limit), reason: reason.Code, seq: seq}
	q.session.mu.Unlock()
	s.log.Info("break-glass started", "user", q.user.ID, "request", q.id, "minutes", int(limit.Minutes()))
	http.Redirect(q.w, q.r, "/patient/"+nhs, http.StatusSeeOther)
}

// breakGlassEnd ends this session's break-glass on a patient.
func (s *Server) breakGlassEnd(q *request) {
	nhs := q.r.PathValue("nhs")
	q.session.mu.Lock()
	_, ok := q.session.breakGlass[nhs]
	delete(q.session.breakGlass, nhs)
	q.session.mu.Unlock()
	if ok {
		if err := s.auditEvent(q.r.Context(), q, audit.Event{Action: audit.ActionBreakGlassEnd, Patient: nhs, BreakGlass: true}); err != nil {
			s.auditFailed(q.w)
			return
		}
	}
	http.Redirect(q.w, q.r, "/patient/"+nhs, http.StatusSeeOther)
}

// entryView is one audit entry as the access pages show it.
type entryView struct {
	Seq                     uint64
	Time, Action, User, Org string
	Role, Sources, Withheld string
	Outcome, Reason, Text   string
	Patient, PatientDigits  string
	BreakGlass              bool
}

func (s *Server) entryView(ev audit.Event) entryView {
	e := entryView{Seq: ev.Seq, Time: ev.Time.UTC().Format("02-Jan-2006 15:04:05"), Action: string(ev.Action), User: ev.User,
		Org: ev.Org, Role: ev.Role, Outcome: string(ev.Outcome), Reason: ev.BreakGlassReason, Text: ev.BreakGlassText, BreakGlass: ev.BreakGlass}
	if o, ok := s.orgs[ev.Org]; ok {
		e.Org = o.Name
	}
	if nhsnumber.Valid(ev.Patient) {
		e.Patient, e.PatientDigits = formatNHS(ev.Patient), nhsnumber.Normalise(ev.Patient)
	}
	var names []string
	for _, id := range ev.Answered {
		names = append(names, s.sourceName(id))
	}
	e.Sources = strings.Join(names, ", ")
	var wh []string
	for _, w := range ev.Withheld {
		if w.Category == "" {
			wh = append(wh, s.sourceName(w.Source)+": shares nothing")
			continue
		}
		wh = append(wh, fmt.Sprintf("%s %s ×%d (%s)", s.sourceName(w.Source), w.Category, w.Count, w.Reason))
	}
	e.Withheld = strings.Join(wh, "; ")
	if e.Outcome == "" {
		e.Outcome = string(audit.OutcomeSuccess)
	}
	return e
}

type accessesData struct {
	base
	NHS     string
	Entries []entryView
	More    bool
}

// maxListed bounds the entries an access page lists.
const maxListed = 500

// accesses lists who accessed a patient's record ("who saw my record"),
// newest first; for privacy officers and administrators.
func (s *Server) accesses(q *request) {
	nhs := q.r.PathValue("nhs")
	if q.user.Role != RolePrivacy && q.user.Role != RoleAdmin {
		_ = s.auditEvent(q.r.Context(), q, audit.Event{Action: audit.ActionDenied, Outcome: audit.OutcomeDenied, Patient: nhs, Note: "access log: role not allowed"})
		s.render(q.w, http.StatusForbidden, "error.html", errorData{base: q.base("Access log"), Message: "Only privacy officers and administrators see the access log."})
		return
	}
	if !nhsnumber.Valid(nhs) || len(nhs) != 10 {
		s.render(q.w, http.StatusNotFound, "error.html", errorData{base: q.base("Access log"), Message: "That is not a valid NHS number."})
		return
	}
	d := accessesData{base: q.base("Who accessed this record"), NHS: formatNHS(nhs)}
	for ev, err := range s.audit.Events(q.r.Context(), audit.Filter{Patient: nhs, Newest: true}) {
		if err != nil {
			s.log.Error("audit read", "err", err)
			s.render(q.w, http.StatusInternalServerError, "error.html", errorData{base: q.base("Access log"), Message: "The access log could not be read."})
			return
		}
		if len(d.Entries) == maxListed {
			d.More = true
			break
		}
		d.Entries = append(d.Entries, s.entryView(ev))
	}
	if err := s.auditEvent(q.r.Context(), q, audit.Event{Action: "access-log-view", Patient: nhs}); err != nil {
		s.auditFailed(q.w)
		return
	}
	s.render(q.w, http.StatusOK, "accesses.html", d)
}

type alertsData struct {
	base
	Alerts []entryView
}

// alerts lists the organisation's open break-glass alerts for its
// privacy officer to review.
func (s *Server) alerts(q *request) {
	if q.user.Role != RolePrivacy && q.user.Role != RoleAdmin {
		s.render(q.w, http.StatusForbidden, "error.html", errorData{base: q.base("Alerts"), Message: "Only privacy officers and administrators review alerts."})
		return
	}
	d := alertsData{base: q.base("Break-glass alerts")}
	for ev, err := range s.audit.Alerts(q.r.Context(), q.org.Code) {
		if err != nil {
			s.render(q.w, http.StatusInternalServerError, "error.html", errorData{base: q.base("Alerts"), Message: "The access log could not be read."})
			return
		}
		if len(d.Alerts) < maxListed {
			d.Alerts = append(d.Alerts, s.entryView(ev))
		}
	}
	s.render(q.w, http.StatusOK, "alerts.html", d)
}

// resolveAlert records the privacy officer's review of one alert.
func (s *Server) resolveAlert(q *request) {
	if q.user.Role != RolePrivacy && q.user.Role != RoleAdmin {
		s.render(q.w, http.StatusForbidden, "error.html", errorData{base: q.base("Alerts"), Message: "Only privacy officers and administrators review alerts."})
		return
	}
	seq, err := strconv.ParseUint(q.r.PathValue("seq"), 10, 64)
	if err != nil {
		http.Redirect(q.w, q.r, "/alerts", http.StatusSeeOther)
		return
	}
	note := strings.TrimSpace(q.r.PostFormValue("note"))
	if len(note) > maxBreakGlassText {
		note = note[:maxBreakGlassText]
	}
	// An alert of another organisation is not this officer's to resolve.
	mine := false
	for ev, err := range s.audit.Alerts(q.r.Context(), q.org.Code) {
		if err == nil && ev.Seq == seq {
			mine = true
		}
	}
	if !mine {
		s.render(q.w, http.StatusNotFound, "error.html", errorData{base: q.base("Alerts"), Message: "No such open alert for your organisation."})
		return
	}
	if _, err := s.audit.ResolveAlert(q.r.Context(), seq, audit.Event{RequestID: q.id, User: q.user.ID, Org: q.org.Code,
		Role: string(q.user.Role), Client: clientAddr(q.r), Note: note}); err != nil {
		s.log.Error("resolve alert", "err", err)
		s.render(q.w, http.StatusInternalServerError, "error.html", errorData{base: q.base("Alerts"), Message: "The review could not be recorded."})
		return
	}
	http.Redirect(q.w, q.r, "/alerts", http.StatusSeeOther)
}
