package audit

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/carelens/carelens/provenance"
)

// Action is what was done. The constants are the actions the viewer
// records; a site may record others, named in the same form (lower-case
// words joined by hyphens).
type Action string

// The actions CareLens records.
const (
	ActionView            Action = "view"              // a patient's record shown
	ActionSearch          Action = "search"            // a patient search
	ActionLaunch          Action = "launch"            // a context launch from a GP or hospital system
	ActionBreakGlassStart Action = "break-glass-start" // break-glass opened; opens an alert
	ActionBreakGlassEnd   Action = "break-glass-end"   // break-glass ended or expired
	ActionPrint           Action = "print"             // the record printed or saved as PDF
	ActionAPI             Action = "api"               // a record read through the JSON API
	ActionDenied          Action = "denied"            // a request refused
	ActionSignIn          Action = "sign-in"
	ActionSignInFailed    Action = "sign-in-failed"
	ActionSignOut         Action = "sign-out"
	ActionAlertResolved   Action = "alert-resolved" // a break-glass alert reviewed; written by [Log.ResolveAlert]
)

// Outcome is how a request ended.
type Outcome string

// The outcomes of a request.
const (
	OutcomeSuccess Outcome = "success"
	OutcomeDenied  Outcome = "denied"  // refused: no session, no permission, bad token
	OutcomeFailure Outcome = "failure" // failed: a source, the server
)

// Withheld is what a request withheld from one source: a category, the
// reason and the count. For an opted-out source Category is "" and Count
// is 0: the log records that the source shared nothing, not what it has.
type Withheld struct {
	Source   string `json:"source"`
	Category string `json:"category,omitempty"`
	Reason   string `json:"reason"`
	Count    int    `json:"count,omitempty"`
}

// Event is one entry of the access log. It holds who did what to whose
// record and what was withheld, and never clinical values: no item text,
// codes or results. Break-glass free text is the user's own statement of
// why.
type Event struct {
	// Seq is the entry's sequence number, from 1; set by the log, ignored
	// by [Log.Append].
	Seq uint64 `json:"-"`
	// Time is when it happened; [Log.Append] sets the zero time to now.
	Time time.Time `json:"time"`
	// RequestID is the id of the request that did it.
	RequestID string `json:"requestId,omitempty"`
	// Action is what was done; required.
	Action Action `json:"action"`
	// User, Org (ODS code) and Role identify who did it.
	User string `json:"user,omitempty"`
	Org  string `json:"org,omitempty"`
	Role string `json:"role,omitempty"`
	// Purpose is the purpose of use, a v3 ActReason code such as "TREAT".
	Purpose string `json:"purpose,omitempty"`
	// Patient is the patient's NHS number or enterprise id; "" when no
	// patient is involved.
	Patient string `json:"patient,omitempty"`
	// Asked and Answered are the ids of the sources asked and of those
	// that answered in time.
	Asked    []string `json:"asked,omitempty"`
	Answered []string `json:"answered,omitempty"`
	// Withheld is what was withheld, by source, category and reason.
	Withheld []Withheld `json:"withheld,omitempty"`
	// Outcome is how the request ended; "" means success.
	Outcome Outcome `json:"outcome,omitempty"`
	// Client is the client's network address.
	Client string `json:"client,omitempty"`
	// BreakGlass reports that the action was done under break-glass;
	// BreakGlassReason is the reason code and BreakGlassText the user's
	// free text, given on break-glass-start.
	BreakGlass       bool   `json:"breakGlass,omitempty"`
	BreakGlassReason string `json:"breakGlassReason,omitempty"`
	BreakGlassText   string `json:"breakGlassText,omitempty"`
	// Resolves is, on an alert-resolved event, the Seq of the
	// break-glass-start whose alert it resolves.
	Resolves uint64 `json:"resolves,omitempty"`
	// Note is the reviewer's note on an alert-resolved event.
	Note string `json:"note,omitempty"`
}

// Limits on the size of an event's fields, so that the log cannot be used
// to store documents.
const (
	maxField    = 256  // ids, codes, addresses
	maxText     = 2000 // break-glass text, review note
	maxSources  = 256
	maxWithheld = 4096
)

var actionShape = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// validate reports what is wrong with e by field name, never quoting a
// value.
func (e *Event) validate() error {
	bad := func(field, problem string) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidEvent, field, problem)
	}
	if !actionShape.MatchString(string(e.Action)) || len(e.Action) > maxField {
		return bad("action", "want lower-case words joined by hyphens")
	}
	switch e.Outcome {
	case "", OutcomeSuccess, OutcomeDenied, OutcomeFailure:
	default:
		return bad("outcome", "unknown outcome")
	}
	for name, v := range map[string]string{"requestId": e.RequestID, "user": e.User, "org": e.Org, "role": e.Role,
		"purpose": e.Purpose, "patient": e.Patient, "client": e.Client, "breakGlassReason": e.BreakGlassReason} {
		if len(v) > maxField {
			return bad(name, "too long")
		}
		if !printable(v) {
			return bad(name, "holds control characters")
		}
	}
	if len(e.BreakGlassText) > maxText || len(e.Note) > maxText {
		return bad("breakGlassText or note", "too long")
	}
	if len(e.Asked) > maxSources || len(e.Answered) > maxSources || len(e.Withheld) > maxWithheld {
		return bad("asked, answered or withheld", "too many")
	}
	for _, s := range slices.Concat(e.Asked, e.Answered) {
		if s == "" || len(s) > maxField || !printable(s) {
			return bad("asked or answered", "empty, too long or holding control characters")
		}
	}
	for i, w := range e.Withheld {
		if w.Source == "" || w.Reason == "" || len(w.Source)+len(w.Category)+len(w.Reason) > maxField || w.Count < 0 {
			return bad(fmt.Sprintf("withheld[%d]", i), "needs a source and a reason and a count >= 0")
		}
	}
	if (e.Action == ActionAlertResolved) != (e.Resolves != 0) {
		return bad("resolves", "set on alert-resolved events only, by ResolveAlert")
	}
	return nil
}

func printable(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// WithheldFrom converts what a view withheld, as collected by the policy,
// into the log's form: one entry per source, category and reason with its
// count, and one entry without category or count per opted-out source.
func WithheldFrom(w *provenance.Withheld) []Withheld {
	var out []Withheld
	for _, s := range w.Summaries() {
		if s.Reason == provenance.ReasonOptOut {
			out = append(out, Withheld{Source: s.Source.ID, Reason: string(s.Reason)})
			continue
		}
		for _, c := range s.Categories {
			out = append(out, Withheld{Source: s.Source.ID, Category: c.Category, Reason: string(s.Reason), Count: c.Count})
		}
	}
	return out
}
