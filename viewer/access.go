package viewer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/carelens/carelens/audit"
	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/provenance"
)

// viewer is the policy's view of who asks.
func (q *request) viewer() provenance.Viewer {
	return provenance.Viewer{User: q.user.ID, Org: q.org.Code, OrgKind: provenance.Kind(q.org.Kind), Role: string(q.user.Role)}
}

// access is what the policy decided for one view of one patient: which
// sources may be asked, which entries shown, and what was withheld. Keep
// is called concurrently by the fetches.
type access struct {
	s       *Server
	v       provenance.Viewer
	patient string // NHS number, "" when the patient has none
	bg      bool   // under break-glass

	mu       sync.Mutex
	withheld provenance.Withheld
	optedOut map[string]bool
}

func (s *Server) access(q *request, patient string) *access {
	s.expireBreakGlass(q, patient)
	return &access{s: s, v: q.viewer(), patient: patient, bg: q.session.breakGlassActive(patient, s.now()), optedOut: map[string]bool{}}
}

// expireBreakGlass ends, and audits the end of, a break-glass on patient
// whose time limit has passed.
func (s *Server) expireBreakGlass(q *request, patient string) {
	if patient == "" {
		return
	}
	q.session.mu.Lock()
	bg, ok := q.session.breakGlass[patient]
	expired := ok && !s.now().Before(bg.until)
	if expired {
		delete(q.session.breakGlass, patient)
	}
	q.session.mu.Unlock()
	if expired {
		if err := s.auditEvent(q.r.Context(), q, audit.Event{Action: audit.ActionBreakGlassEnd, Patient: patient, BreakGlass: true,
			Note: "time limit reached"}); err != nil {
			s.log.Error("audit append failed for break-glass expiry", "request", q.id, "err", err)
		}
	}
}

// shares reports whether the patient shares anything at src for this
// viewer; a source that does not is never asked and is announced without
// counts or dates.
func (a *access) shares(src provenance.Source) bool {
	if a.s.policy.SourceShares(a.v, a.patient, src) {
		return true
	}
	a.mu.Lock()
	if !a.optedOut[src.ID] {
		a.optedOut[src.ID] = true
		a.withheld.AddOptOut(src)
	}
	a.mu.Unlock()
	return false
}

// keep decides one entry, item by item, before merging.
func (a *access) keep(src provenance.Source, e *merge.Entry) bool {
	d := a.s.policy.Decide(a.v, a.patient, src, string(e.Category), a.bg)
	if d.Allow {
		return true
	}
	a.mu.Lock()
	a.withheld.Add(src, string(e.Category), d, 1)
	a.mu.Unlock()
	return false
}

// restrictedWithheld reports whether anything was withheld because the
// record is restricted (so the page offers break-glass).
func (a *access) restrictedWithheld() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.withheld.Summaries() {
		if w.Reason == provenance.ReasonRestricted {
			return true
		}
	}
	return false
}

// banners announces what was withheld, never hiding it silently: counts
// and categories for policy and restriction, and for an opted-out source
// only that it shares nothing.
func (a *access) banners(name func(string) string) []banner {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []banner
	for _, w := range a.withheld.Summaries() {
		src := name(w.Source.ID)
		switch w.Reason {
		case provenance.ReasonOptOut:
			out = append(out, banner{Level: "info", Text: src + " shares nothing for this patient."})
		case provenance.ReasonRestricted:
			out = append(out, banner{Level: "warning", Text: fmt.Sprintf(
				"%s: %s withheld because this record is restricted (%s). Break glass below only if you have a legitimate reason.",
				src, plural(w.Count, "item"), categoryList(w.Categories))})
		default:
			out = append(out, banner{Level: "info", Text: fmt.Sprintf("%s: %s withheld by the sharing policy for your organisation: %s.",
				src, plural(w.Count, "item"), categoryList(w.Categories))})
		}
	}
	return out
}

func (a *access) auditWithheld() []audit.Withheld {
	a.mu.Lock()
	defer a.mu.Unlock()
	return audit.WithheldFrom(&a.withheld)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func categoryList(cs []provenance.CategoryCount) string {
	var parts []string
	for _, c := range cs {
		label := strings.ToLower(categoryLabel[merge.Category(c.Category)])
		if label == "" {
			label = c.Category
		}
		parts = append(parts, label)
	}
	return strings.Join(parts, ", ")
}

// breakGlass is an open break-glass of one session on one patient.
type breakGlass struct {
	until  time.Time
	reason string
	seq    uint64 // the break-glass-start audit entry
}

func (se *session) breakGlassActive(patient string, now time.Time) bool {
	if patient == "" {
		return false
	}
	se.mu.Lock()
	defer se.mu.Unlock()
	bg, ok := se.breakGlass[patient]
	return ok && now.Before(bg.until)
}

// requestID is a random id for one request, recorded in the audit log and
// sent back in X-Request-Id.
func requestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// auditEvent appends ev to the audit log, durably, filling in who asks. The
// caller sends nothing of the patient's record unless it returns nil.
func (s *Server) auditEvent(ctx context.Context, q *request, ev audit.Event) error {
	ev.RequestID = q.id
	if ev.User == "" && q.session != nil {
		ev.User, ev.Org, ev.Role = q.user.ID, q.org.Code, string(q.user.Role)
	}
	if ev.Purpose == "" {
		ev.Purpose = "TREAT"
	}
	if ev.Client == "" {
		ev.Client = clientAddr(q.r)
	}
	if _, err := s.audit.Append(ctx, ev); err != nil {
		s.log.Error("audit append failed; request refused", "action", string(ev.Action), "request", q.id, "err", err)
		return err
	}
	return nil
}

// auditFailed answers a request whose audit entry could not be written:
// nothing of the record is sent.
func (s *Server) auditFailed(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, "The access could not be recorded, so the record is not shown. Try again or contact your administrator.", http.StatusServiceUnavailable)
}
