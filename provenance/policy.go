package provenance

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/carelens/carelens/nhsnumber"
)

// ErrInvalidPolicy is returned by [LoadPolicy] and [Policy.Validate] for a
// policy that cannot be applied. The message names the offending element by
// its path ("rules[3].categories[1]") and never holds a patient value.
var ErrInvalidPolicy = errors.New("provenance: invalid policy")

// Categories returns the clinical categories a [Rule] may name, in a fixed
// order. They are the values of merge.Category, repeated here because this
// package does not import merge (merge imports it).
func Categories() []string {
	return []string{"result", "observation", "report", "medication", "allergy", "problem",
		"procedure", "immunisation", "encounter", "referral", "document", "note", "other"}
}

// Viewer is the person asking to see a record, in the context they signed
// in with: one user, acting for one organisation, in one role.
type Viewer struct {
	// User is the user's id; the policy does not use it, it is carried for
	// the audit trail.
	User string
	// Org is the organisation code (ODS) the user acts for.
	Org string
	// OrgKind is the kind of that organisation.
	OrgKind Kind
	// Role is the user's role code, such as "gp", "clinician", "nurse" or
	// "administrator"; the policy's rules name the roles they match.
	Role string
}

// Effect is what a [Rule] does to the categories it matches.
type Effect string

// The effects a rule may have.
const (
	Allow Effect = "allow"
	Deny  Effect = "deny"
)

// ViewerMatch selects viewers. Every field that is set must match; a field
// left empty matches any viewer.
type ViewerMatch struct {
	// Org matches the viewer's organisation code exactly.
	Org string `json:"org,omitempty"`
	// Kind matches the viewer's organisation kind.
	Kind Kind `json:"kind,omitempty"`
	// Role matches the viewer's role exactly.
	Role string `json:"role,omitempty"`
}

// SourceMatch selects the sources whose data a rule is about. Every field
// that is set must match; a field left empty (false) matches any source.
type SourceMatch struct {
	// ID matches the source's id ([Source.ID]).
	ID string `json:"id,omitempty"`
	// Kind matches the source's kind.
	Kind Kind `json:"kind,omitempty"`
	// SameOrg matches a source whose organisation code equals the viewer's
	// (non-empty) organisation code: the viewer's own data.
	SameOrg bool `json:"sameOrg,omitempty"`
}

// Rule allows or denies categories of data from some sources to some
// viewers. See [Policy] for which rule wins when several match.
type Rule struct {
	// Name identifies the rule in decisions and in the audit trail; it is
	// required and unique within a policy.
	Name string `json:"name"`
	// Viewer selects who the rule is for.
	Viewer ViewerMatch `json:"viewer,omitzero"`
	// Source selects whose data the rule is about.
	Source SourceMatch `json:"source,omitzero"`
	// Categories lists the categories the rule covers (values of
	// [Categories]); empty means every category.
	Categories []string `json:"categories,omitempty"`
	// Effect is Allow or Deny.
	Effect Effect `json:"effect"`
}

// OptOut records that a patient has opted out of local record sharing at
// one source: the source shares nothing about them.
type OptOut struct {
	// Patient is the patient's NHS number, ten digits; spaces are ignored.
	Patient string `json:"patient"`
	// Source is the id of the source the patient opted out at.
	Source string `json:"source"`
}

// Restriction marks a patient's record as restricted (for example for
// safeguarding): it opens only by break-glass.
type Restriction struct {
	// Patient is the patient's NHS number, ten digits; spaces are ignored.
	Patient string `json:"patient"`
	// Source is the id of the source whose data is restricted; empty
	// restricts the data of every source.
	Source string `json:"source,omitempty"`
}

// BreakGlassReason is one reason a user may give for breaking glass.
type BreakGlassReason struct {
	// Code is the stable code recorded in the audit trail.
	Code string `json:"code"`
	// Display is the text shown to the user.
	Display string `json:"display"`
}

// BreakGlass configures break-glass access to restricted records.
type BreakGlass struct {
	// Reasons are the reasons a user chooses from; a break-glass needs one
	// of them (plus the user's free text, which the viewer records).
	Reasons []BreakGlassReason `json:"reasons,omitempty"`
	// MaxDuration is how long a break-glass lasts at most. It is written
	// in JSON as a Go duration string ("30m", "4h").
	MaxDuration time.Duration `json:"maxDuration"`
	// Roles lists the roles that may break glass; empty means any role.
	Roles []string `json:"roles,omitempty"`
}

type breakGlassJSON struct {
	Reasons     []BreakGlassReason `json:"reasons,omitempty"`
	MaxDuration string             `json:"maxDuration"`
	Roles       []string           `json:"roles,omitempty"`
}

// MarshalJSON writes b with MaxDuration as a duration string.
func (b BreakGlass) MarshalJSON() ([]byte, error) {
	return json.Marshal(breakGlassJSON{Reasons: b.Reasons, MaxDuration: b.MaxDuration.String(), Roles: b.Roles})
}

// UnmarshalJSON reads b, refusing unknown fields and a MaxDuration that is
// not a duration string.
func (b *BreakGlass) UnmarshalJSON(data []byte) error {
	var j breakGlassJSON
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&j); err != nil {
		return err
	}
	v, err := time.ParseDuration(j.MaxDuration)
	if err != nil {
		return fmt.Errorf("maxDuration must be a duration string such as \"4h\"")
	}
	*b = BreakGlass{Reasons: j.Reasons, MaxDuration: v, Roles: j.Roles}
	return nil
}

// Policy decides who may see what. It is data: a site writes it as JSON
// (see [LoadPolicy]) and no source needs code of its own.
//
// # Decisions
//
// [Policy.Decide] answers one question: may this viewer see items of this
// category that this source holds about this patient? It applies, in
// order:
//
//  1. Opt-out. When the patient has opted out of local record sharing at
//     the source, the source shares nothing for them, whatever the rules
//     say and even with break-glass. The opt-out controls sharing beyond
//     the source, so it does not apply to a viewer from the source's own
//     organisation (same organisation code).
//  2. Rules. Of the rules that match the viewer, the source and the
//     category, the most specific one decides. When no rule matches, the
//     answer is deny (deny by default): a new source or a new kind of
//     viewer sees nothing until a rule says otherwise.
//  3. Restriction. Data the rules allow from a restricted record (the
//     patient restricted at this source, or at every source) is shown only
//     when the viewer has broken glass. Break-glass opens restrictions
//     only; it never widens the rules nor overrides an opt-out.
//     Restrictions apply to every viewer, the source's own organisation
//     included.
//
// # Specificity
//
// A rule is more specific than another when it sets a field the other
// does not, compared field by field in this order, the first difference
// deciding: viewer organisation, source id, same organisation, viewer role,
// viewer kind, source kind, listed categories. So a rule about one named
// organisation beats any rule about kinds; a rule for a role beats a rule
// for a kind; a rule naming categories beats the same rule for every
// category. Two different rules with the same specificity that both match
// would set the same fields to the same values, so [Policy.Validate]
// refuses them as duplicates when their categories overlap: there are no
// ties to break.
//
// # What the policy does not do
//
// There is no switch for the national data opt-out, on purpose: it covers
// research and planning, not direct care, and must not hide data from the
// clinicians treating the patient.
//
// # Use
//
// Build a Policy with [LoadPolicy], or fill in the fields and call
// [Policy.Validate]. Decisions are computed from an index built on first
// use; do not modify a Policy after its first use (as with tls.Config). A
// Policy in use is safe for concurrent use.
type Policy struct {
	// Rules are the sharing rules.
	Rules []Rule `json:"rules"`
	// OptOuts are the patients' opt-outs of local record sharing.
	OptOuts []OptOut `json:"optOuts,omitempty"`
	// Restrictions are the restricted records.
	Restrictions []Restriction `json:"restrictions,omitempty"`
	// BreakGlass configures break-glass.
	BreakGlass BreakGlass `json:"breakGlass"`

	idx atomic.Pointer[policyIndex]
}

// WithholdReason says why an item was withheld.
type WithholdReason string

// The reasons an item may be withheld.
const (
	// ReasonPolicy: no rule allows the viewer to see this category from
	// this source, or a rule denies it.
	ReasonPolicy WithholdReason = "policy"
	// ReasonOptOut: the patient opted out of local record sharing at the
	// source. Nothing of the source is shown, not even counts.
	ReasonOptOut WithholdReason = "opt-out"
	// ReasonRestricted: the record is restricted and opens only by
	// break-glass.
	ReasonRestricted WithholdReason = "restricted"
)

// Decision is the answer of [Policy.Decide].
type Decision struct {
	// Allow reports whether the items may be shown.
	Allow bool
	// Reason says why they are withheld; "" when allowed.
	Reason WithholdReason
	// Rule is the name of the rule that decided; "" when no rule matched
	// (deny by default) and when an opt-out decided.
	Rule string
	// BrokeGlass reports that the items are shown only because the viewer
	// broke glass on a restricted record.
	BrokeGlass bool
}

// LoadPolicy reads a policy from JSON and validates it. Reading is strict:
// an unknown field, a value of the wrong type, trailing data, an unknown
// kind or category, a duplicate rule and an invalid NHS number are errors
// wrapping [ErrInvalidPolicy] that name the element.
func LoadPolicy(r io.Reader) (*Policy, error) {
	d := json.NewDecoder(r)
	d.DisallowUnknownFields()
	p := &Policy{}
	if err := d.Decode(p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPolicy, jsonProblem(err))
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the policy object", ErrInvalidPolicy)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// jsonProblem describes a decoding error without quoting the input, which
// may hold NHS numbers.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at offset %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("%s: want %s", cmp.Or(te.Field, "policy"), te.Type)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field " + f // a field name, from the input's keys
	}
	if strings.Contains(msg, "maxDuration") {
		return "breakGlass.maxDuration: want a duration string such as \"4h\""
	}
	return "invalid JSON"
}

// Validate reports the first problem that makes p unusable, as an error
// wrapping [ErrInvalidPolicy] naming the element: a rule without a name or
// with a duplicate name, an unknown kind, category or effect, two rules
// with the same selectors that both cover every category or list a
// category in common (the same selectors with and without categories are
// a rule and its exception, which is fine), an opt-out or
// restriction without a valid NHS number or listed twice, a break-glass
// reason without code or display or with a duplicate code, and a
// non-positive break-glass duration when reasons are given.
func (p *Policy) Validate() error {
	bad := func(path, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidPolicy, path, fmt.Sprintf(format, args...))
	}
	names := map[string]int{}
	for i, r := range p.Rules {
		at := fmt.Sprintf("rules[%d]", i)
		if r.Name == "" {
			return bad(at+".name", "missing")
		}
		if j, dup := names[r.Name]; dup {
			return bad(at+".name", "%q is also the name of rules[%d]", r.Name, j)
		}
		names[r.Name] = i
		if r.Effect != Allow && r.Effect != Deny {
			return bad(at+".effect", "want %q or %q, not %q", Allow, Deny, r.Effect)
		}
		if r.Viewer.Kind != "" && !slices.Contains(Kinds(), r.Viewer.Kind) {
			return bad(at+".viewer.kind", "unknown kind %q", r.Viewer.Kind)
		}
		if r.Source.Kind != "" && !slices.Contains(Kinds(), r.Source.Kind) {
			return bad(at+".source.kind", "unknown kind %q", r.Source.Kind)
		}
		seen := map[string]bool{}
		for k, c := range r.Categories {
			if !slices.Contains(Categories(), c) {
				return bad(fmt.Sprintf("%s.categories[%d]", at, k), "unknown category %q", c)
			}
			if seen[c] {
				return bad(fmt.Sprintf("%s.categories[%d]", at, k), "category %q listed twice", c)
			}
			seen[c] = true
		}
		for j, o := range p.Rules[:i] {
			if o.Viewer == r.Viewer && o.Source == r.Source && (len(o.Categories) == 0) == (len(r.Categories) == 0) &&
				overlap(o.Categories, r.Categories) {
				return bad(at, "duplicates rules[%d] (%q): same viewer and source with overlapping categories", j, o.Name)
			}
		}
	}
	optOuts := map[OptOut]int{}
	for i, o := range p.OptOuts {
		at := fmt.Sprintf("optOuts[%d]", i)
		if !nhsnumber.Valid(o.Patient) {
			return bad(at+".patient", "not a valid NHS number")
		}
		if o.Source == "" {
			return bad(at+".source", "missing")
		}
		k := OptOut{Patient: normNHS(o.Patient), Source: o.Source}
		if j, dup := optOuts[k]; dup {
			return bad(at, "duplicates optOuts[%d]", j)
		}
		optOuts[k] = i
	}
	restr := map[Restriction]int{}
	for i, r := range p.Restrictions {
		at := fmt.Sprintf("restrictions[%d]", i)
		if !nhsnumber.Valid(r.Patient) {
			return bad(at+".patient", "not a valid NHS number")
		}
		k := Restriction{Patient: normNHS(r.Patient), Source: r.Source}
		if j, dup := restr[k]; dup {
			return bad(at, "duplicates restrictions[%d]", j)
		}
		restr[k] = i
	}
	codes := map[string]int{}
	for i, r := range p.BreakGlass.Reasons {
		at := fmt.Sprintf("breakGlass.reasons[%d]", i)
		if r.Code == "" {
			return bad(at+".code", "missing")
		}
		if r.Display == "" {
			return bad(at+".display", "missing")
		}
		if j, dup := codes[r.Code]; dup {
			return bad(at+".code", "%q is also the code of breakGlass.reasons[%d]", r.Code, j)
		}
		codes[r.Code] = i
	}
	if len(p.BreakGlass.Reasons) > 0 && p.BreakGlass.MaxDuration <= 0 {
		return bad("breakGlass.maxDuration", "must be positive when reasons are given")
	}
	if p.BreakGlass.MaxDuration < 0 {
		return bad("breakGlass.maxDuration", "negative")
	}
	for i, r := range p.BreakGlass.Roles {
		if r == "" {
			return bad(fmt.Sprintf("breakGlass.roles[%d]", i), "empty")
		}
	}
	return nil
}

// overlap reports whether two category lists share a category, two empty
// lists (every category) included.
func overlap(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, c := range a {
		if slices.Contains(b, c) {
			return true
		}
	}
	return false
}

// policyIndex is the lookup form of a policy, built once.
type policyIndex struct {
	rules      []indexedRule // most specific first
	optOut     map[OptOut]bool
	restricted map[Restriction]bool // Source "" means every source
}

type indexedRule struct {
	Rule
	cats uint16 // bit i set for Categories()[i]; all bits when Categories is empty
	spec int
}

// allCategories is the category mask of a rule for every category; it
// includes unknownCategory.
const (
	allCategories   uint16 = 0xffff
	unknownCategory uint16 = 1 << 15
)

// specificity ranks a rule; see the Policy documentation.
func specificity(r Rule) int {
	s := 0
	for _, set := range []bool{r.Viewer.Org != "", r.Source.ID != "", r.Source.SameOrg,
		r.Viewer.Role != "", r.Viewer.Kind != "", r.Source.Kind != "", len(r.Categories) > 0} {
		s <<= 1
		if set {
			s |= 1
		}
	}
	return s
}

func categoryBit(c string) uint16 {
	if i := slices.Index(Categories(), c); i >= 0 {
		return 1 << i
	}
	return 0
}

func (p *Policy) index() *policyIndex {
	if ix := p.idx.Load(); ix != nil {
		return ix
	}
	ix := &policyIndex{optOut: map[OptOut]bool{}, restricted: map[Restriction]bool{}}
	for _, r := range p.Rules {
		ir := indexedRule{Rule: r, spec: specificity(r)}
		if len(r.Categories) == 0 {
			ir.cats = allCategories
		}
		for _, c := range r.Categories {
			ir.cats |= categoryBit(c)
		}
		ix.rules = append(ix.rules, ir)
	}
	slices.SortStableFunc(ix.rules, func(a, b indexedRule) int { return cmp.Compare(b.spec, a.spec) })
	for _, o := range p.OptOuts {
		ix.optOut[OptOut{Patient: normNHS(o.Patient), Source: o.Source}] = true
	}
	for _, r := range p.Restrictions {
		ix.restricted[Restriction{Patient: normNHS(r.Patient), Source: r.Source}] = true
	}
	p.idx.CompareAndSwap(nil, ix)
	return p.idx.Load()
}

func (r *indexedRule) matches(v Viewer, src Source, bit uint16) bool {
	return r.cats&bit != 0 &&
		(r.Viewer.Org == "" || r.Viewer.Org == v.Org) &&
		(r.Viewer.Kind == "" || r.Viewer.Kind == v.OrgKind) &&
		(r.Viewer.Role == "" || r.Viewer.Role == v.Role) &&
		(r.Source.ID == "" || r.Source.ID == src.ID) &&
		(r.Source.Kind == "" || r.Source.Kind == src.Kind) &&
		(!r.Source.SameOrg || sameOrg(v, src))
}

func sameOrg(v Viewer, src Source) bool { return v.Org != "" && v.Org == src.Org }

// SourceShares reports whether src shares anything about the patient with
// v: false when the patient opted out of local record sharing at src and
// v is not from src's own organisation. When it is false the viewer shows
// nothing of src for this patient (no items, counts, dates or possible
// matches) and says only that the source shares nothing for this patient.
func (p *Policy) SourceShares(v Viewer, patient string, src Source) bool {
	if sameOrg(v, src) {
		return true
	}
	return !p.index().optOut[OptOut{Patient: normNHS(patient), Source: src.ID}]
}

// Restricted reports whether the patient's data at src is restricted
// (restricted at src or at every source), so that it opens only by
// break-glass.
func (p *Policy) Restricted(patient string, src Source) bool {
	ix := p.index()
	n := normNHS(patient)
	return ix.restricted[Restriction{Patient: n, Source: src.ID}] || ix.restricted[Restriction{Patient: n}]
}

// Decide reports whether v may see items of category cat that src holds
// about the patient with this NHS number, breakGlass telling whether v has
// an active break-glass for the patient. Opt-outs and restrictions are
// keyed by NHS number (spaces and hyphens ignored): a patient known to the
// viewer without one matches none, so a viewer should resolve the NHS
// number before deciding. See [Policy] for the order in
// which opt-outs, rules and restrictions apply. An unknown category is
// matched only by rules covering every category.
func (p *Policy) Decide(v Viewer, patient string, src Source, cat string, breakGlass bool) Decision {
	if !p.SourceShares(v, patient, src) {
		return Decision{Reason: ReasonOptOut}
	}
	bit := categoryBit(cat)
	if bit == 0 {
		bit = unknownCategory
	}
	ix := p.index()
	var rule *indexedRule
	for i := range ix.rules {
		if ix.rules[i].matches(v, src, bit) {
			rule = &ix.rules[i]
			break
		}
	}
	switch {
	case rule == nil:
		return Decision{Reason: ReasonPolicy}
	case rule.Effect != Allow:
		return Decision{Reason: ReasonPolicy, Rule: rule.Name}
	case !p.Restricted(patient, src):
		return Decision{Allow: true, Rule: rule.Name}
	case breakGlass:
		return Decision{Allow: true, Rule: rule.Name, BrokeGlass: true}
	}
	return Decision{Reason: ReasonRestricted, Rule: rule.Name}
}

// CanBreakGlass reports whether v's role may break glass: the policy has
// reasons to give and lists no roles or lists v's.
func (p *Policy) CanBreakGlass(v Viewer) bool {
	bg := p.BreakGlass
	return len(bg.Reasons) > 0 && (len(bg.Roles) == 0 || slices.Contains(bg.Roles, v.Role))
}

// BreakGlassReason returns the reason with this code.
func (p *Policy) BreakGlassReason(code string) (BreakGlassReason, bool) {
	i := slices.IndexFunc(p.BreakGlass.Reasons, func(r BreakGlassReason) bool { return r.Code == code })
	if i < 0 {
		return BreakGlassReason{}, false
	}
	return p.BreakGlass.Reasons[i], true
}

// normNHS removes spaces and hyphens from an NHS number as typed; it does
// not allocate when there are none.
func normNHS(s string) string {
	if !strings.ContainsAny(s, " -") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, s)
}

// Withheld accumulates what a policy withheld from one view, for the
// announcement on the page ("3 items withheld by sharing policy:
// consultation notes, documents") and for the audit trail. The zero value
// is empty and ready to use; it is not safe for concurrent use.
type Withheld struct {
	counts map[withheldKey]int
	optOut map[string]Source
	srcs   map[string]Source
}

type withheldKey struct {
	source   string
	reason   WithholdReason
	category string
}

// Add records that n items of category cat from src were withheld by
// decision d. An allowing decision or n < 1 records nothing. For an
// opt-out only the source is recorded: no category, no count.
func (w *Withheld) Add(src Source, cat string, d Decision, n int) {
	if d.Allow || (n < 1 && d.Reason != ReasonOptOut) {
		return
	}
	if d.Reason == ReasonOptOut {
		w.AddOptOut(src)
		return
	}
	if w.counts == nil {
		w.counts, w.srcs = map[withheldKey]int{}, map[string]Source{}
	}
	w.counts[withheldKey{source: src.ID, reason: d.Reason, category: cat}] += n
	w.srcs[src.ID] = src
}

// AddOptOut records that src shares nothing for the patient (see
// [Policy.SourceShares]).
func (w *Withheld) AddOptOut(src Source) {
	if w.optOut == nil {
		w.optOut = map[string]Source{}
	}
	w.optOut[src.ID] = src
}

// Empty reports whether nothing was withheld.
func (w *Withheld) Empty() bool { return len(w.counts) == 0 && len(w.optOut) == 0 }

// CategoryCount is how many items of one category were withheld.
type CategoryCount struct {
	Category string
	Count    int
}

// WithheldSummary is what was withheld from one source for one reason.
type WithheldSummary struct {
	// Source is the source the items came from.
	Source Source
	// Reason is why they were withheld.
	Reason WithholdReason
	// Count is the number of items; 0 for an opt-out, which is announced
	// without counts.
	Count int
	// Categories are the categories withheld with their counts, in the
	// order of [Categories]; nil for an opt-out.
	Categories []CategoryCount
}

// Summaries returns one summary per source and reason, ordered by source
// id and then reason (opt-out, policy, restricted). A source that shares
// nothing for the patient appears once, as an opt-out, even when items of
// it were also added with other reasons.
func (w *Withheld) Summaries() []WithheldSummary {
	type key struct {
		source string
		reason WithholdReason
	}
	sums := map[key]*WithheldSummary{}
	for k, n := range w.counts {
		if _, out := w.optOut[k.source]; out {
			continue
		}
		kk := key{k.source, k.reason}
		s := sums[kk]
		if s == nil {
			s = &WithheldSummary{Source: w.srcs[k.source], Reason: k.reason}
			sums[kk] = s
		}
		s.Count += n
		s.Categories = append(s.Categories, CategoryCount{Category: k.category, Count: n})
	}
	for id, src := range w.optOut {
		sums[key{id, ReasonOptOut}] = &WithheldSummary{Source: src, Reason: ReasonOptOut}
	}
	order := func(c string) int {
		if i := slices.Index(Categories(), c); i >= 0 {
			return i
		}
		return len(Categories())
	}
	out := make([]WithheldSummary, 0, len(sums))
	for _, k := range slices.SortedFunc(maps.Keys(sums), func(a, b key) int {
		return cmp.Or(cmp.Compare(a.source, b.source), cmp.Compare(a.reason, b.reason))
	}) {
		s := sums[k]
		slices.SortFunc(s.Categories, func(a, b CategoryCount) int {
			return cmp.Or(cmp.Compare(order(a.Category), order(b.Category)), cmp.Compare(a.Category, b.Category))
		})
		out = append(out, *s)
	}
	return out
}
