package viewer

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/carelens/carelens/nhsnumber"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/audit"
	"github.com/carelens/carelens/federate"
	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/provenance"
	"github.com/carelens/carelens/source"
)

func subtleEq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// render executes a template into a buffer first, so that a template
// error never sends half a page.
func (s *Server) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("template", "name", name, "err", err)
		http.Error(w, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// base is what every signed-in page shows in its header.
type base struct {
	Title string
	User  User
	Org   Org
	CSRF  string
}

func (q *request) base(title string) base {
	return base{Title: title, User: q.user, Org: q.org, CSRF: q.session.csrf}
}

type signInData struct {
	base
	Error, UserID string
}

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) {
	s.renderSignIn(w, r, http.StatusOK, "", "")
}

func (s *Server) renderSignIn(w http.ResponseWriter, _ *http.Request, status int, msg, user string) {
	tok := newToken()
	http.SetCookie(w, &http.Cookie{Name: preCSRFCookie, Value: tok, Path: "/signin", HttpOnly: true,
		Secure: s.secureCookies, SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, status, "signin.html", signInData{base: base{Title: "Sign in", CSRF: tok}, Error: msg, UserID: user})
}

// signIn checks the double-submitted CSRF token, the rate limit, and the
// password; a good sign-in gets a new session id (never the client's).
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(preCSRFCookie)
	if err != nil || !validCSRF(r, c.Value) {
		s.renderSignIn(w, r, http.StatusForbidden, "The sign-in form expired. Please try again.", "")
		return
	}
	id := strings.TrimSpace(r.PostFormValue("user"))
	pw := r.PostFormValue("password")
	if len(id) > 128 || len(pw) > 1024 {
		s.renderSignIn(w, r, http.StatusBadRequest, "User name or password is too long.", "")
		return
	}
	keys := []string{"user:" + strings.ToLower(id), "addr:" + clientAddr(r)}
	if s.limiter.blocked(keys...) {
		w.Header().Set("Retry-After", "900")
		s.log.Warn("sign-in refused: too many failures", "addr", clientAddr(r))
		s.renderSignIn(w, r, http.StatusTooManyRequests, "Too many failed sign-ins. Wait 15 minutes or ask your administrator.", id)
		return
	}
	u, ok := s.user(id)
	good := false
	if ok && !u.Disabled {
		good, err = checkPassword(u.PasswordHash, pw)
		if err != nil {
			s.log.Error("sign-in: stored hash unreadable", "user", id)
		}
	} else {
		// Spend the same time on unknown users.
		_, _ = checkPassword(dummyHash, pw)
	}
	if !good {
		s.limiter.fail(keys...)
		s.log.Info("sign-in failed", "addr", clientAddr(r))
		if err := s.auditEvent(r.Context(), &request{id: w.Header().Get("X-Request-Id"), r: r},
			audit.Event{Action: audit.ActionSignInFailed, Outcome: audit.OutcomeDenied, User: auditUser(id)}); err != nil {
			s.auditFailed(w)
			return
		}
		s.renderSignIn(w, r, http.StatusUnauthorized, "User name or password is not right.", id)
		return
	}
	s.limiter.succeed(keys[0])
	if old, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.end(old.Value)
	}
	if err := s.auditEvent(r.Context(), &request{id: w.Header().Get("X-Request-Id"), r: r},
		audit.Event{Action: audit.ActionSignIn, User: u.ID, Org: u.Org, Role: string(u.Role)}); err != nil {
		s.auditFailed(w)
		return
	}
	se, err := s.sessions.start(&u)
	if err != nil {
		http.Error(w, "The viewer is busy; try again in a moment.", http.StatusServiceUnavailable)
		return
	}
	s.setSessionCookie(w, se.id, 0)
	http.SetCookie(w, &http.Cookie{Name: preCSRFCookie, Path: "/signin", MaxAge: -1})
	s.log.Info("signed in", "user", u.ID, "org", u.Org, "role", string(u.Role))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

var dummyHash = func() string {
	h, err := HashPassword("carelens-timing-equaliser")
	if err != nil {
		panic(err)
	}
	return h
}()

func (s *Server) signOut(q *request) {
	if err := s.auditEvent(q.r.Context(), q, audit.Event{Action: audit.ActionSignOut}); err != nil {
		s.auditFailed(q.w)
		return
	}
	s.sessions.end(q.session.id)
	s.setSessionCookie(q.w, "", -1)
	http.Redirect(q.w, q.r, "/signin", http.StatusSeeOther)
}

type homeData struct {
	base
	Error                   string
	NHS, Family, Given, DOB string
	Searched                bool
	Results                 []searchResult
	Banners                 []banner
}

// searchResult is one person found on the search page: the records that
// share a valid NHS number, or one record without.
type searchResult struct {
	Name, Born, Sex, Postcode, NHS string
	Sources                        string
	Link                           string
}

func (s *Server) home(q *request) {
	s.render(q.w, http.StatusOK, "home.html", homeData{base: q.base("Find a patient")})
}

// search finds a patient: a valid NHS number goes straight to the record;
// a name and birth date lists the people the sources hold, for the user
// to choose.
func (s *Server) search(q *request) {
	d := homeData{base: q.base("Find a patient"), Searched: true}
	v := q.r.URL.Query()
	d.NHS = strings.TrimSpace(v.Get("nhs"))
	d.Family = strings.TrimSpace(v.Get("family"))
	d.Given = strings.TrimSpace(v.Get("given"))
	d.DOB = strings.TrimSpace(v.Get("dob"))
	if len(d.NHS) > 32 || len(d.Family) > 100 || len(d.Given) > 100 || len(d.DOB) > 10 {
		d.Error = "A search field is too long."
		s.render(q.w, http.StatusBadRequest, "home.html", d)
		return
	}
	if d.NHS != "" {
		n := strings.NewReplacer(" ", "", "-", "").Replace(d.NHS)
		if len(n) != 10 || strings.Trim(n, "0123456789") != "" {
			d.Error = "An NHS number is 10 digits."
		} else if !nhsnumber.Valid(n) {
			d.Error = "That is not a valid NHS number: its check digit does not match. Check it and try again."
		}
		if d.Error != "" {
			s.render(q.w, http.StatusBadRequest, "home.html", d)
			return
		}
		http.Redirect(q.w, q.r, "/patient/"+n, http.StatusSeeOther)
		return
	}
	if d.Family == "" || d.DOB == "" {
		d.Error = "Enter an NHS number, or a family name and a date of birth."
		s.render(q.w, http.StatusBadRequest, "home.html", d)
		return
	}
	if _, err := time.Parse(time.DateOnly, d.DOB); err != nil {
		d.Error = "Enter the date of birth as a date (year-month-day)."
		s.render(q.w, http.StatusBadRequest, "home.html", d)
		return
	}
	recs, sts := s.fed.Search(q.r.Context(), source.Query{Family: d.Family, Given: d.Given, BirthDate: d.DOB}, nil)
	// A record where the patient does not share is not even listed.
	viewer := q.viewer()
	recs = slices.DeleteFunc(recs, func(r match.Record) bool {
		src, _ := s.fed.Source(r.Source)
		nhs := ""
		if nhsnumber.Valid(r.NHSNumber) {
			nhs = nhsnumber.Normalise(r.NHSNumber)
		}
		return !s.policy.SourceShares(viewer, nhs, src)
	})
	ev := audit.Event{Action: audit.ActionSearch, Note: fmt.Sprintf("name and birth date search: %d records found", len(recs))}
	for _, st := range sts {
		ev.Asked = append(ev.Asked, st.Source.ID)
		if st.Available() {
			ev.Answered = append(ev.Answered, st.Source.ID)
		}
	}
	if err := s.auditEvent(q.r.Context(), q, ev); err != nil {
		s.auditFailed(q.w)
		return
	}
	for _, st := range sts {
		if m := st.Message(); m != "" {
			d.Banners = append(d.Banners, banner{Level: "error", Text: m})
		}
	}
	if d.Given != "" {
		g := strings.ToLower(d.Given)
		recs = slices.DeleteFunc(recs, func(r match.Record) bool {
			return len(r.Given) > 0 && !strings.HasPrefix(strings.ToLower(r.Given[0]), g[:1])
		})
	}
	d.Results = s.groupResults(q, recs)
	s.render(q.w, http.StatusOK, "home.html", d)
}

// groupResults lists people found: records with one valid NHS number
// together, each other record alone (never grouped by name and birth
// date: that is what twins and namesakes share).
func (s *Server) groupResults(q *request, recs []match.Record) []searchResult {
	byNHS := map[string]*searchResult{}
	var out []*searchResult
	q.session.mu.Lock()
	defer q.session.mu.Unlock()
	now := s.now()
	for ref, c := range q.session.chosen {
		if now.Sub(c.at) > s.resolveTTL {
			delete(q.session.chosen, ref)
		}
	}
	for _, r := range recs {
		src := s.sourceName(r.Source)
		if nhsnumber.Valid(r.NHSNumber) {
			n := nhsnumber.Normalise(r.NHSNumber)
			if g, ok := byNHS[n]; ok {
				g.Sources += ", " + src
				continue
			}
			g := &searchResult{Name: displayName(r), Born: formatBirth(r.BirthDate), Sex: r.Sex, Postcode: r.Postcode,
				NHS: formatNHS(n), Sources: src, Link: "/patient/" + n}
			byNHS[n] = g
			out = append(out, g)
			continue
		}
		if len(q.session.chosen) < 1000 {
			q.session.chosen[r.Ref().String()] = chosenRecord{at: now, rec: r}
		}
		out = append(out, &searchResult{Name: displayName(r), Born: formatBirth(r.BirthDate), Sex: r.Sex, Postcode: r.Postcode,
			Sources: src, Link: "/record/" + url.PathEscape(r.Source) + "/" + url.PathEscape(r.ID)})
	}
	res := make([]searchResult, len(out))
	for i, g := range out {
		res[i] = *g
	}
	return res
}

func (s *Server) sourceName(id string) string {
	if src, ok := s.fed.Source(id); ok && src.Name != "" {
		return src.Name
	}
	return id
}

// anchor reads the patient a record URL names.
func (s *Server) anchor(q *request) (federate.Anchor, string, error) {
	if n := q.r.PathValue("nhs"); n != "" {
		if !nhsnumber.Valid(n) || len(n) != 10 {
			return federate.Anchor{}, "", errors.New("that is not a valid NHS number")
		}
		return federate.Anchor{NHSNumber: n}, "/patient/" + n, nil
	}
	ref := match.RecordRef{Source: q.r.PathValue("source"), ID: q.r.PathValue("id")}
	q.session.mu.Lock()
	c, ok := q.session.chosen[ref.String()]
	q.session.mu.Unlock()
	if !ok {
		return federate.Anchor{}, "", errors.New("that record is no longer in your search results; search again")
	}
	rec := c.rec
	return federate.Anchor{Record: &rec}, "/record/" + url.PathEscape(ref.Source) + "/" + url.PathEscape(ref.ID), nil
}

// resolve returns the session's recent resolution of the anchor, or asks
// the sources.
func (s *Server) resolve(q *request, a federate.Anchor) (*federate.Resolution, error) {
	key := a.Key()
	now := s.now()
	q.session.mu.Lock()
	res, ok := q.session.resolutions[key]
	at := q.session.resolvedAt[key]
	q.session.mu.Unlock()
	if ok && now.Sub(at) <= s.resolveTTL && resolvedEverywhere(res) {
		return res, nil
	}
	res, err := s.fed.Resolve(q.r.Context(), a, nil)
	if err != nil {
		return nil, err
	}
	q.session.mu.Lock()
	if len(q.session.resolutions) >= 100 {
		clear(q.session.resolutions)
		clear(q.session.resolvedAt)
	}
	q.session.resolutions[key] = res
	q.session.resolvedAt[key] = now
	q.session.mu.Unlock()
	return res, nil
}

// resolvedEverywhere reports whether every source answered the searches
// of res; a resolution missing a source is not reused, so a source that
// comes back is asked again.
func resolvedEverywhere(res *federate.Resolution) bool {
	for _, st := range res.Sources {
		if !st.Available() && st.State != federate.StateSkipped {
			return false
		}
	}
	return true
}

func (s *Server) forget(q *request, a federate.Anchor) {
	q.session.mu.Lock()
	delete(q.session.resolutions, a.Key())
	q.session.mu.Unlock()
}

// record serves the record page.
func (s *Server) record(q *request) {
	p, status, err := s.recordPage(q)
	if err != nil {
		s.render(q.w, status, "error.html", errorData{base: q.base("Record"), Message: err.Error()})
		return
	}
	if err := s.auditView(q, p, audit.ActionView); err != nil {
		s.auditFailed(q.w)
		return
	}
	s.render(q.w, http.StatusOK, "record.html", p)
}

// auditView records one view of a record (page, PDF or API) with the
// sources asked and answered and what was withheld, before anything of it
// is sent.
func (s *Server) auditView(q *request, d *recordData, action audit.Action) error {
	ev := audit.Event{Action: action, Patient: d.NHSDigits}
	if d.acc != nil {
		ev.Withheld = d.acc.auditWithheld()
		ev.BreakGlass = d.acc.bg
	}
	if ev.Patient == "" && d.view != nil && d.view.Resolution.Primary != nil {
		ev.Patient = d.view.Resolution.Primary.Ref().String()
	}
	if d.view != nil {
		for _, st := range d.view.Sources {
			if st.State == federate.StateSkipped || st.State == federate.StateNoRecord {
				continue
			}
			ev.Asked = append(ev.Asked, st.Source.ID)
			if st.Available() {
				ev.Answered = append(ev.Answered, st.Source.ID)
			}
		}
	}
	return s.auditEvent(q.r.Context(), q, ev)
}

type errorData struct {
	base
	Message string
}

// identity records a person's confirmation or rejection of a possible
// match, then shows the record again.
func (s *Server) identity(q *request) {
	a, back, err := s.anchor(q)
	if err != nil {
		s.render(q.w, http.StatusNotFound, "error.html", errorData{base: q.base("Record"), Message: err.Error()})
		return
	}
	res, err := s.resolve(q, a)
	if err != nil || res.Primary == nil {
		s.render(q.w, http.StatusNotFound, "error.html", errorData{base: q.base("Record"), Message: "The patient could not be found again; search again."})
		return
	}
	refStr := q.r.PostFormValue("ref")
	i := slices.IndexFunc(res.Pending, func(c federate.Candidate) bool { return c.Ref().String() == refStr })
	if i >= 0 && !s.policy.SourceShares(q.viewer(), res.NHSNumber(), res.Pending[i].Source) {
		i = -1 // never offered: the patient does not share there
	}
	if i < 0 {
		http.Redirect(q.w, q.r, back, http.StatusSeeOther)
		return
	}
	same := q.r.PostFormValue("decision") == "same"
	if s.index == nil {
		s.render(q.w, http.StatusConflict, "error.html", errorData{base: q.base("Record"),
			Message: "This viewer has no identity index configured, so a confirmation cannot be kept."})
		return
	}
	actor := mpi.Actor{By: q.user.ID, Reason: "confirmed in the viewer"}
	if !same {
		actor.Reason = "rejected in the viewer"
	}
	if err := (federate.IndexDecisions{Index: s.index}).Confirm(q.r.Context(), res.Primary.Record, res.Pending[i].Record, same, actor); err != nil {
		s.log.Error("identity decision failed", "ref", refStr, "err", err)
		s.render(q.w, http.StatusInternalServerError, "error.html", errorData{base: q.base("Record"), Message: "The decision could not be saved; nothing was changed."})
		return
	}
	s.log.Info("identity decision", "user", q.user.ID, "primary", res.Primary.Ref().String(), "ref", refStr, "same", same)
	s.forget(q, a)
	http.Redirect(q.w, q.r, back, http.StatusSeeOther)
}

// ownSources are the source ids of the user's organisation.
func (q *request) ownSource(src provenance.Source) bool {
	return slices.Contains(q.org.Sources, src.ID) || (q.org.Code != "" && src.Org == q.org.Code)
}

// auditUser is a typed user name as the audit log may keep it: bounded,
// and not kept at all when it looks like something other than a user id
// (a password typed into the wrong box).
func auditUser(id string) string {
	if len(id) > 64 || strings.ContainsAny(id, " \t") {
		return "(invalid user name)"
	}
	return id
}
