package viewer_test

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/audit"
	"github.com/carelens/carelens/viewer"
	"github.com/carelens/carelens/viewer/demo"
)

var noteRe = regexp.MustCompile(`<tr class="cat-note[^"]*" data-sources="([a-z -]*)">(?s:.*?)<div class="text">([^<]{12,})</div>`)

// gpNotes returns the text of the GP's consultation notes about nhs as the
// GP sees them.
func gpNotes(t *testing.T, e *env, nhs string) []string {
	_, body := e.get(e.gp(), "/patient/"+nhs+"?cat=note")
	var out []string
	for _, m := range noteRe.FindAllStringSubmatch(body, -1) {
		if strings.Contains(m[1], "gp") {
			out = append(out, m[2])
		}
	}
	return out
}

func pdfText(t *testing.T, pdf string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r.pdf")
	require.NoError(t, os.WriteFile(path, []byte(pdf), 0o600))
	out, err := exec.Command("pdftotext", path, "-").Output()
	require.NoError(t, err)
	return string(out)
}

// TestHospitalDoesNotSeeGPFreeText: the hospital sees the GP record but
// not consultation notes or documents; what is withheld is announced and
// appears nowhere: not in the page, the API, the PDF or the log.
func TestHospitalDoesNotSeeGPFreeText(t *testing.T) {
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext (poppler-utils) is not installed")
	}
	e := startDemo(t, 3*time.Second)
	var nhs string
	var notes []string
	for _, n := range e.d.Example(10) {
		if notes = gpNotes(t, e, n); len(notes) > 0 {
			nhs = n
			break
		}
	}
	require.NotEmpty(t, notes, "some shared patient has GP consultation notes")
	h := e.signIn("hospital.doctor", "northfield-demo")
	_, page := e.get(h, "/patient/"+nhs)
	_, api := e.get(h, "/api/patient/"+nhs)
	_, pdf := e.get(h, "/patient/"+nhs+"/pdf")
	pdfTxt := pdfText(t, pdf)
	assert.Regexp(t, `Riverside Surgery: \d+ items? withheld by the sharing policy for your organisation: [a-z, ]*consultation notes`, page)
	assert.Contains(t, strings.Join(strings.Fields(pdfTxt), " "), "withheld by the sharing policy")
	for _, n := range notes {
		assert.NotContains(t, page, n)
		assert.NotContains(t, api, n)
		assert.NotContains(t, strings.Join(strings.Fields(pdfTxt), " "), strings.Join(strings.Fields(n), " "))
		assert.NotContains(t, e.logs.String(), n)
	}
	srcs, _ := rows(page)
	assert.True(t, slicesHas(srcs, "gp"), "the rest of the GP record is shown")
	// The audit entry names what was withheld, by category and count.
	var found bool
	for ev, err := range e.d.Audit.Events(t.Context(), audit.Filter{Patient: nhs, User: "hospital.doctor"}) {
		require.NoError(t, err)
		for _, w := range ev.Withheld {
			if w.Source == "gp" && w.Category == "note" && w.Reason == "policy" && w.Count == len(notes) {
				found = true
			}
		}
	}
	assert.True(t, found, "the view's audit entry records the withheld notes")
}

func slicesHas(rows []string, id string) bool {
	for _, r := range rows {
		if strings.Contains(" "+r+" ", " "+id+" ") {
			return true
		}
	}
	return false
}

// TestOptedOutSourceShowsNothing: a patient who opted out at the community
// service: nothing from it, no counts, no dates, no possible-match hints,
// and a banner saying only that it shares nothing. Its own staff still see
// their own record.
func TestOptedOutSourceShowsNothing(t *testing.T) {
	e := startDemo(t, 3*time.Second)
	nhs := e.d.OptedOut
	require.NotEmpty(t, nhs)
	_, page := e.get(e.gp(), "/patient/"+nhs)
	assert.Contains(t, page, "Northfield Community Services shares nothing for this patient.")
	srcs, _ := rows(page)
	assert.NotEmpty(t, srcs)
	assert.False(t, slicesHas(srcs, "community"))
	box := regexp.MustCompile(`(?s)id="src-community".*?</label>`).FindString(page)
	assert.Contains(t, box, "shares nothing for this patient")
	assert.NotRegexp(t, `\d+ items|updated`, box, "no counts or dates for an opted-out source")
	assert.NotContains(t, page, `value="community/`, "no possible match offered from the opted-out source")

	_, own := e.get(e.signIn("community.nurse", "community-demo"), "/patient/"+nhs)
	own2, _ := rows(own)
	assert.True(t, slicesHas(own2, "community"), "the source's own organisation sees its record")
}

// TestRestrictedRecordOpensOnlyByBreakGlass: a restricted record shows
// nothing until the user breaks glass with a reason; the start is audited
// and appears on the privacy officer's alerts page, who resolves it.
func TestRestrictedRecordOpensOnlyByBreakGlass(t *testing.T) {
	e := startDemo(t, 3*time.Second)
	nhs := e.d.Restricted
	require.NotEmpty(t, nhs)
	h := e.signIn("hospital.doctor", "northfield-demo")
	_, page := e.get(h, "/patient/"+nhs)
	srcs, _ := rows(page)
	assert.Empty(t, srcs, "nothing shown of a restricted record")
	assert.Contains(t, page, "withheld because this record is restricted")
	assert.Contains(t, page, "Break glass")
	tok := csrfOf(t, page)

	resp, _ := e.post(h, "/patient/"+nhs+"/break-glass", url.Values{"csrf": {tok}, "reason": {"not-a-reason"}, "text": {"patient collapsed in ED"}})
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = e.post(h, "/patient/"+nhs+"/break-glass", url.Values{"csrf": {tok}, "reason": {"emergency"}, "text": {"short"}})
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "a reason in the user's own words is required")
	resp, _ = e.post(h, "/patient/"+nhs+"/break-glass", url.Values{"csrf": {tok}, "reason": {"emergency"}, "text": {"Patient collapsed in ED, unconscious"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, page = e.get(h, "/patient/"+nhs)
	srcs, _ = rows(page)
	assert.NotEmpty(t, srcs, "break-glass opens the record")
	assert.Contains(t, page, "Break-glass is on")

	p := e.signIn("privacy.officer", "privacy-demo")
	_, alerts := e.get(p, "/alerts")
	assert.Contains(t, alerts, "hospital.doctor (clinician) broke glass")
	assert.Contains(t, alerts, "Patient collapsed in ED, unconscious")
	seq := regexp.MustCompile(`action="/alerts/(\d+)/resolve"`).FindStringSubmatch(alerts)
	require.NotNil(t, seq)
	resp, _ = e.post(p, "/alerts/"+seq[1]+"/resolve", url.Values{"csrf": {csrfOf(t, alerts)}, "note": {"Checked with ED: appropriate."}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, alerts = e.get(p, "/alerts")
	assert.Contains(t, alerts, "No open alerts.")

	// "Who saw my record" lists the break-glass and the views.
	_, log := e.get(p, "/patient/"+nhs+"/accesses")
	assert.Contains(t, log, "break-glass-start")
	assert.Contains(t, log, "hospital.doctor")
	resp, _ = e.get(h, "/patient/"+nhs+"/accesses")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "clinicians do not read the access log")

	// Ending break-glass closes the record again.
	resp, _ = e.post(h, "/patient/"+nhs+"/break-glass/end", url.Values{"csrf": {tok}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, page = e.get(h, "/patient/"+nhs)
	srcs, _ = rows(page)
	assert.Empty(t, srcs)
	require.NoError(t, e.d.Audit.Verify(t.Context()), "the chain holds")
}

// TestAuditFailureSendsNoClinicalData: when the audit entry cannot be
// written the request fails and carries nothing of the record.
func TestAuditFailureSendsNoClinicalData(t *testing.T) {
	e := startDemo(t, 3*time.Second)
	c := e.gp()
	nhs := e.shared()
	_, ok := e.get(c, "/patient/"+nhs)
	name := regexp.MustCompile(`<h1 id="patient-name">([^<]+)</h1>`).FindStringSubmatch(ok)
	require.NotNil(t, name)
	require.NoError(t, e.d.Audit.Close())
	for _, path := range []string{"/patient/" + nhs, "/patient/" + nhs + "/pdf", "/api/patient/" + nhs} {
		resp, body := e.get(c, path)
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, path)
		assert.NotContains(t, body, name[1], path)
		assert.NotContains(t, body, "data-sources", path)
	}
}

// TestEveryAccessIsAudited checks the log after sign-in, search, view,
// print and API read.
func TestEveryAccessIsAudited(t *testing.T) {
	e := startDemo(t, 3*time.Second)
	c := e.gp()
	nhs := e.shared()
	p := e.d.Patients[0]
	_, _ = e.get(c, "/search?family="+url.QueryEscape(p.Family)+"&dob="+p.BirthDate)
	_, _ = e.get(c, "/patient/"+nhs)
	_, _ = e.get(c, "/patient/"+nhs+"/pdf")
	_, _ = e.get(c, "/api/patient/"+nhs)
	got := map[audit.Action]int{}
	for ev, err := range e.d.Audit.Events(t.Context(), audit.Filter{User: "gp.doctor"}) {
		require.NoError(t, err)
		got[ev.Action]++
		assert.NotEmpty(t, ev.RequestID)
		assert.Equal(t, "Y90001", ev.Org)
		if ev.Action == audit.ActionView {
			assert.Equal(t, nhs, ev.Patient)
			assert.ElementsMatch(t, []string{"gp", "hospital", "community"}, ev.Answered)
		}
	}
	for _, a := range []audit.Action{audit.ActionSignIn, audit.ActionSearch, audit.ActionView, audit.ActionPrint, audit.ActionAPI} {
		assert.Equal(t, 1, got[a], a)
	}
}

func TestLaunchToken(t *testing.T) {
	e := startDemo(t, 3*time.Second)
	nhs := e.shared()
	now := time.Now()
	mint := func(user, org, role string, ttl time.Duration, at time.Time) string {
		tok, err := viewer.MintLaunchToken(e.d.LaunchKey, demo.LaunchIssuer, "", user, org, role, nhs, ttl, at)
		require.NoError(t, err)
		return "/launch?token=" + url.QueryEscape(tok)
	}
	good := mint("hospital.doctor", "RXX", "clinician", 2*time.Minute, now)
	c := e.client()
	resp, _ := e.get(c, good)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/patient/"+nhs, resp.Header.Get("Location"))
	resp, body := e.get(c, "/patient/"+nhs)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "Dr Tom Reid")

	cases := []struct{ name, path string }{
		{"replayed", good},
		{"expired", mint("hospital.doctor", "RXX", "clinician", time.Minute, now.Add(-10*time.Minute))},
		{"lives too long", mint("hospital.doctor", "RXX", "clinician", time.Hour, now)},
		{"another organisation", mint("hospital.doctor", "Y90001", "clinician", time.Minute, now)},
		{"another role", mint("hospital.doctor", "RXX", "admin", time.Minute, now)},
		{"unknown user", mint("nobody", "RXX", "clinician", time.Minute, now)},
		{"tampered", strings.Replace(mint("hospital.doctor", "RXX", "clinician", time.Minute, now), ".", ".x", 1)},
		{"no token", "/launch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := e.client()
			resp, _ := e.get(c, tc.path)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			resp, _ = e.get(c, "/patient/"+nhs)
			assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "no session")
		})
	}
	denied := 0
	for ev, err := range e.d.Audit.Events(t.Context(), audit.Filter{}) {
		require.NoError(t, err)
		if ev.Action == audit.ActionLaunch && ev.Outcome == audit.OutcomeDenied {
			denied++
		}
	}
	assert.Equal(t, len(cases), denied, "every refused launch is audited")
}

// TestRecordURLGuessing: a source record can be opened only from the
// user's own search results, not by guessing its id; the attempt, and any
// request for a record without a session, is audited as denied.
func TestRecordURLGuessing(t *testing.T) {
	e := startDemo(t, 3*time.Second)
	c := e.gp()
	p := e.d.Patients[0]
	resp, _ := e.get(c, "/record/"+p.Source+"/"+p.PatientID)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = e.get(e.client(), "/api/patient/"+e.shared())
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, _ = e.get(e.client(), "/patient/"+e.shared())
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	var guessed, noSession int
	for ev, err := range e.d.Audit.Events(t.Context(), audit.Filter{}) {
		require.NoError(t, err)
		if ev.Action != audit.ActionDenied || ev.Outcome != audit.OutcomeDenied {
			continue
		}
		switch {
		case ev.User == "gp.doctor" && strings.Contains(ev.Note, "/record/"):
			guessed++
		case ev.User == "" && strings.HasPrefix(ev.Note, "no session"):
			noSession++
		}
	}
	assert.Equal(t, 1, guessed)
	assert.Equal(t, 2, noSession)
}
