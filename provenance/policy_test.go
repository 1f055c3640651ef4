package provenance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Synthetic NHS numbers with valid check digits.
const (
	optedOutPatient   = "9434765919" // opted out of sharing at the GP
	restrictedAtGP    = "9000000017" // restricted at the GP only
	restrictedAll     = "9123456787" // restricted at every source
	unrestrictedPatnt = "9876543210"
)

// testPolicy is the demo policy of the seed exchange (see
// ExampleLoadPolicy) with one organisation-specific rule and the
// administrator rules, so that every level of specificity is exercised.
const testPolicy = `{
  "rules": [
    {"name": "own-data", "source": {"sameOrg": true}, "effect": "allow"},
    {"name": "gp-sees-shared-record", "viewer": {"kind": "gp"}, "effect": "allow"},
    {"name": "hospital-sees-gp", "viewer": {"kind": "hospital"}, "source": {"kind": "gp"}, "effect": "allow"},
    {"name": "hospital-not-gp-free-text", "viewer": {"kind": "hospital"}, "source": {"kind": "gp"},
     "categories": ["note", "document"], "effect": "deny"},
    {"name": "hospital-sees-community", "viewer": {"kind": "hospital"}, "source": {"kind": "community"}, "effect": "allow"},
    {"name": "community-sees-gp", "viewer": {"kind": "community"}, "source": {"kind": "gp"}, "effect": "allow"},
    {"name": "community-not-gp-notes", "viewer": {"kind": "community"}, "source": {"kind": "gp"},
     "categories": ["note"], "effect": "deny"},
    {"name": "community-sees-hospital", "viewer": {"kind": "community"}, "source": {"kind": "hospital"}, "effect": "allow"},
    {"name": "administrators-see-nothing", "viewer": {"role": "administrator"}, "effect": "deny"},
    {"name": "administrators-see-contacts", "viewer": {"role": "administrator"},
     "categories": ["encounter", "referral"], "effect": "allow"},
    {"name": "walk-in-centre-sees-gp-summary", "viewer": {"org": "NLO01"}, "source": {"kind": "gp"},
     "categories": ["problem", "medication", "allergy", "immunisation"], "effect": "allow"}
  ],
  "optOuts": [{"patient": "943 476 5919", "source": "gp"}],
  "restrictions": [
    {"patient": "9000000017", "source": "gp"},
    {"patient": "9123456787"}
  ],
  "breakGlass": {
    "reasons": [
      {"code": "emergency", "display": "Emergency care: the patient cannot consent"},
      {"code": "safeguarding", "display": "Safeguarding concern"}
    ],
    "maxDuration": "4h",
    "roles": ["gp", "clinician", "nurse"]
  }
}`

func loadTestPolicy(t testing.TB) *Policy {
	t.Helper()
	p, err := LoadPolicy(strings.NewReader(testPolicy))
	require.NoError(t, err)
	return p
}

// oracle is what testPolicy means, written out plainly and independently
// of the rule machinery.
func oracle(v Viewer, patient string, src Source, cat string, bg bool) Decision {
	own := v.Org != "" && v.Org == src.Org
	if patient == optedOutPatient && src.ID == "gp" && !own {
		return Decision{Reason: ReasonOptOut}
	}
	rule, allow := "", false
	switch {
	case own:
		rule, allow = "own-data", true
	case v.Org == "NLO01" && src.Kind == KindGP && slices.Contains([]string{"problem", "medication", "allergy", "immunisation"}, cat):
		rule, allow = "walk-in-centre-sees-gp-summary", true
	case v.Role == "administrator":
		if cat == "encounter" || cat == "referral" {
			rule, allow = "administrators-see-contacts", true
		} else {
			rule = "administrators-see-nothing"
		}
	case v.OrgKind == KindGP:
		rule, allow = "gp-sees-shared-record", true
	case v.OrgKind == KindHospital && src.Kind == KindGP:
		if cat == "note" || cat == "document" {
			rule = "hospital-not-gp-free-text"
		} else {
			rule, allow = "hospital-sees-gp", true
		}
	case v.OrgKind == KindHospital && src.Kind == KindCommunity:
		rule, allow = "hospital-sees-community", true
	case v.OrgKind == KindCommunity && src.Kind == KindGP:
		if cat == "note" {
			rule = "community-not-gp-notes"
		} else {
			rule, allow = "community-sees-gp", true
		}
	case v.OrgKind == KindCommunity && src.Kind == KindHospital:
		rule, allow = "community-sees-hospital", true
	}
	if !allow {
		return Decision{Reason: ReasonPolicy, Rule: rule}
	}
	restricted := patient == restrictedAll || (patient == restrictedAtGP && src.ID == "gp")
	switch {
	case !restricted:
		return Decision{Allow: true, Rule: rule}
	case bg:
		return Decision{Allow: true, Rule: rule, BrokeGlass: true}
	}
	return Decision{Reason: ReasonRestricted, Rule: rule}
}

// TestPolicyMatrix checks every viewing organisation kind × organisation ×
// role × source kind × category × opt-out × restriction × break-glass
// against the oracle.
func TestPolicyMatrix(t *testing.T) {
	p := loadTestPolicy(t)
	// One source per kind; the GP's id is "gp" (the one opt-outs and
	// restrictions name), the others are named after their kind.
	var sources []Source
	for _, k := range Kinds() {
		id := string(k)
		sources = append(sources, Source{ID: id, Org: "ORG-" + id, Kind: k, Name: id})
	}
	roles := []string{"gp", "clinician", "nurse", "administrator", "privacy-officer", ""}
	patients := []string{unrestrictedPatnt, optedOutPatient, restrictedAtGP, restrictedAll}
	cats := append(Categories(), "unknown-category")
	n, bad := 0, 0
	for _, vk := range Kinds() {
		// The viewer's organisation: the one holding the source of its
		// kind (own data), another of that kind, the named walk-in
		// centre, and none.
		for _, org := range []string{"ORG-" + string(vk), "OTHER-" + string(vk), "NLO01", ""} {
			for _, role := range roles {
				v := Viewer{User: "u1", Org: org, OrgKind: vk, Role: role}
				for _, src := range sources {
					for _, pat := range patients {
						for _, cat := range cats {
							for _, bg := range []bool{false, true} {
								n++
								want, got := oracle(v, pat, src, cat, bg), p.Decide(v, pat, src, cat, bg)
								if want != got {
									bad++
									if bad <= 10 {
										t.Errorf("viewer %+v patient %s source %s category %s break-glass %v:\n got %+v\nwant %+v",
											v, pat, src.ID, cat, bg, got, want)
									}
								}
							}
						}
					}
				}
			}
		}
	}
	assert.Zero(t, bad, "of %d cases", n)
	t.Logf("%d cases", n)
}

// TestPolicyWithheldAnnouncement follows one hospital view of a GP record
// through Withheld: the hospital is told what it does not see.
func TestPolicyWithheldAnnouncement(t *testing.T) {
	p := loadTestPolicy(t)
	hosp := Viewer{User: "dr-h", Org: "RXX", OrgKind: KindHospital, Role: "clinician"}
	gp := Source{ID: "gp", Org: "Y01234", Kind: KindGP, Name: "Church Lane Surgery"}
	comm := Source{ID: "community", Org: "RYY", Kind: KindCommunity}
	mh := Source{ID: "mh", Org: "RZZ", Kind: KindMentalHealth}
	items := []struct {
		src Source
		cat string
	}{{gp, "note"}, {gp, "note"}, {gp, "document"}, {gp, "result"}, {comm, "note"}, {mh, "problem"}, {gp, "problem"}}

	var w Withheld
	assert.True(t, w.Empty())
	shown := 0
	for _, it := range items {
		d := p.Decide(hosp, unrestrictedPatnt, it.src, it.cat, false)
		if d.Allow {
			shown++
		}
		w.Add(it.src, it.cat, d, 1)
	}
	assert.Equal(t, 3, shown) // GP result, GP problem, community note
	assert.Equal(t, []WithheldSummary{
		{Source: gp, Reason: ReasonPolicy, Count: 3, Categories: []CategoryCount{{"document", 1}, {"note", 2}}},
		{Source: mh, Reason: ReasonPolicy, Count: 1, Categories: []CategoryCount{{"problem", 1}}},
	}, w.Summaries())

	// The opted-out patient: the GP shares nothing, and its summary has
	// no counts and no categories even when items were added.
	var o Withheld
	require.False(t, p.SourceShares(hosp, optedOutPatient, gp))
	for _, it := range items {
		if !p.SourceShares(hosp, optedOutPatient, it.src) {
			o.AddOptOut(it.src)
			continue
		}
		o.Add(it.src, it.cat, p.Decide(hosp, optedOutPatient, it.src, it.cat, false), 1)
	}
	o.Add(gp, "note", Decision{Reason: ReasonPolicy}, 5) // hidden by the opt-out
	assert.Equal(t, []WithheldSummary{
		{Source: gp, Reason: ReasonOptOut},
		{Source: mh, Reason: ReasonPolicy, Count: 1, Categories: []CategoryCount{{"problem", 1}}},
	}, o.Summaries())

	// The GP itself still sees its own record of the opted-out patient.
	self := Viewer{User: "dr-g", Org: "Y01234", OrgKind: KindGP, Role: "gp"}
	assert.True(t, p.SourceShares(self, optedOutPatient, gp))
	assert.Equal(t, Decision{Allow: true, Rule: "own-data"}, p.Decide(self, optedOutPatient, gp, "note", false))

	// Restricted records are announced with counts, as restricted.
	var r Withheld
	r.Add(gp, "result", p.Decide(hosp, restrictedAll, gp, "result", false), 2)
	r.Add(gp, "result", p.Decide(hosp, restrictedAll, gp, "result", true), 2) // opened: nothing withheld
	assert.Equal(t, []WithheldSummary{
		{Source: gp, Reason: ReasonRestricted, Count: 2, Categories: []CategoryCount{{"result", 2}}},
	}, r.Summaries())
}

func TestPolicyBreakGlass(t *testing.T) {
	p := loadTestPolicy(t)
	assert.Equal(t, 4*time.Hour, p.BreakGlass.MaxDuration)
	assert.True(t, p.CanBreakGlass(Viewer{Role: "nurse"}))
	assert.False(t, p.CanBreakGlass(Viewer{Role: "administrator"}))
	r, ok := p.BreakGlassReason("safeguarding")
	assert.True(t, ok)
	assert.Equal(t, "Safeguarding concern", r.Display)
	_, ok = p.BreakGlassReason("curiosity")
	assert.False(t, ok)
	assert.False(t, (&Policy{}).CanBreakGlass(Viewer{Role: "gp"}), "no reasons, no break-glass")
}

// TestPolicyNoNationalOptOut pins that the policy has no switch for the
// national data opt-out: a field of that name is refused as unknown.
func TestPolicyNoNationalOptOut(t *testing.T) {
	_, err := LoadPolicy(strings.NewReader(`{"rules": [], "breakGlass": {"maxDuration": "0s"}, "nationalDataOptOut": true}`))
	require.ErrorIs(t, err, ErrInvalidPolicy)
	assert.Contains(t, err.Error(), `unknown field "nationalDataOptOut"`)
}

func TestPolicyDefaultDeny(t *testing.T) {
	p := &Policy{}
	require.NoError(t, p.Validate())
	v := Viewer{Org: "RXX", OrgKind: KindHospital, Role: "clinician"}
	assert.Equal(t, Decision{Reason: ReasonPolicy}, p.Decide(v, unrestrictedPatnt, Source{ID: "gp", Org: "Y1", Kind: KindGP}, "result", true))
}

func TestLoadPolicyErrors(t *testing.T) {
	rule := func(s string) string { return `{"rules": [` + s + `], "breakGlass": {"maxDuration": "1h"}}` }
	tests := []struct {
		name, in, want string
	}{
		{name: "unknown field", in: rule(`{"name": "a", "effect": "allow", "colour": "red"}`), want: `unknown field "colour"`},
		{name: "unknown viewer kind", in: rule(`{"name": "a", "viewer": {"kind": "pharmacy"}, "effect": "allow"}`), want: `rules[0].viewer.kind: unknown kind "pharmacy"`},
		{name: "unknown source kind", in: rule(`{"name": "a", "source": {"kind": "zoo"}, "effect": "allow"}`), want: `rules[0].source.kind: unknown kind "zoo"`},
		{name: "unknown category", in: rule(`{"name": "a", "categories": ["result", "notes"], "effect": "allow"}`), want: `rules[0].categories[1]: unknown category "notes"`},
		{name: "category twice", in: rule(`{"name": "a", "categories": ["note", "note"], "effect": "deny"}`), want: `rules[0].categories[1]: category "note" listed twice`},
		{name: "missing name", in: rule(`{"effect": "allow"}`), want: `rules[0].name: missing`},
		{name: "duplicate name", in: rule(`{"name": "a", "effect": "allow"}, {"name": "a", "viewer": {"role": "x"}, "effect": "allow"}`), want: `rules[1].name: "a" is also the name of rules[0]`},
		{name: "bad effect", in: rule(`{"name": "a", "effect": "maybe"}`), want: `rules[0].effect`},
		{name: "duplicate rule", in: rule(`{"name": "a", "viewer": {"kind": "gp"}, "categories": ["note", "result"], "effect": "allow"},
			{"name": "b", "viewer": {"kind": "gp"}, "categories": ["result"], "effect": "deny"}`), want: `rules[1]: duplicates rules[0] ("a")`},
		{name: "duplicate all-category rule", in: rule(`{"name": "a", "source": {"sameOrg": true}, "effect": "allow"},
			{"name": "b", "source": {"sameOrg": true}, "effect": "deny"}`), want: `rules[1]: duplicates rules[0]`},
		{name: "wrong type", in: `{"rules": {}}`, want: "rules: want []provenance.Rule"},
		{name: "syntax", in: `{"rules": [}`, want: "invalid JSON at offset"},
		{name: "truncated", in: `{"rules": [`, want: "truncated JSON"},
		{name: "trailing data", in: `{"rules": []} {}`, want: "data after the policy object"},
		{name: "bad opt-out patient", in: `{"rules": [], "optOuts": [{"patient": "9434765918", "source": "gp"}]}`, want: "optOuts[0].patient: not a valid NHS number"},
		{name: "opt-out without source", in: `{"rules": [], "optOuts": [{"patient": "9434765919"}]}`, want: "optOuts[0].source: missing"},
		{name: "duplicate opt-out", in: `{"rules": [], "optOuts": [{"patient": "9434765919", "source": "gp"}, {"patient": "943-476-5919", "source": "gp"}]}`, want: "optOuts[1]: duplicates optOuts[0]"},
		{name: "bad restriction", in: `{"rules": [], "restrictions": [{"patient": "94347659"}]}`, want: "restrictions[0].patient: not a valid NHS number"},
		{name: "duplicate restriction", in: `{"rules": [], "restrictions": [{"patient": "9434765919"}, {"patient": "9434765919"}]}`, want: "restrictions[1]: duplicates restrictions[0]"},
		{name: "bad duration", in: `{"rules": [], "breakGlass": {"maxDuration": "four hours"}}`, want: "breakGlass.maxDuration"},
		{name: "no duration", in: `{"rules": [], "breakGlass": {"reasons": [{"code": "e", "display": "E"}], "maxDuration": "0s"}}`, want: "breakGlass.maxDuration: must be positive"},
		{name: "negative duration", in: `{"rules": [], "breakGlass": {"maxDuration": "-1h"}}`, want: "breakGlass.maxDuration: negative"},
		{name: "reason without display", in: `{"rules": [], "breakGlass": {"reasons": [{"code": "e"}], "maxDuration": "1h"}}`, want: "breakGlass.reasons[0].display: missing"},
		{name: "duplicate reason", in: `{"rules": [], "breakGlass": {"reasons": [{"code": "e", "display": "E"}, {"code": "e", "display": "F"}], "maxDuration": "1h"}}`, want: `breakGlass.reasons[1].code: "e" is also the code of breakGlass.reasons[0]`},
		{name: "unknown break-glass field", in: `{"rules": [], "breakGlass": {"maxDuration": "1h", "who": "all"}}`, want: `unknown field "who"`},
		{name: "empty break-glass role", in: `{"rules": [], "breakGlass": {"maxDuration": "1h", "roles": [""]}}`, want: "breakGlass.roles[0]: empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadPolicy(strings.NewReader(tc.in))
			require.ErrorIs(t, err, ErrInvalidPolicy)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "943", "no patient values in errors")
		})
	}
}

func TestPolicySpecificity(t *testing.T) {
	// Each rule is more specific than the next, in the documented order.
	order := []Rule{
		{Viewer: ViewerMatch{Org: "X"}},
		{Source: SourceMatch{ID: "s"}},
		{Source: SourceMatch{SameOrg: true}},
		{Viewer: ViewerMatch{Role: "r"}},
		{Viewer: ViewerMatch{Kind: KindGP}},
		{Source: SourceMatch{Kind: KindGP}},
		{Categories: []string{"note"}},
		{},
	}
	for i := 1; i < len(order); i++ {
		assert.Greater(t, specificity(order[i-1]), specificity(order[i]), "rule %d over rule %d", i-1, i)
	}
	// A rule setting a more important field beats one setting every
	// less important field.
	assert.Greater(t, specificity(Rule{Viewer: ViewerMatch{Org: "X"}}),
		specificity(Rule{Source: SourceMatch{ID: "s", SameOrg: true, Kind: KindGP}, Viewer: ViewerMatch{Role: "r", Kind: KindGP}, Categories: []string{"note"}}))
}

func TestNormNHS(t *testing.T) {
	assert.Equal(t, "9434765919", normNHS("943 476-5919"))
	assert.Equal(t, "9434765919", normNHS("9434765919"))
}

func TestPolicyDecideNoAllocs(t *testing.T) {
	p := loadTestPolicy(t)
	v := Viewer{Org: "RXX", OrgKind: KindHospital, Role: "clinician"}
	src := Source{ID: "gp", Org: "Y01234", Kind: KindGP}
	p.Decide(v, restrictedAtGP, src, "note", false)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = p.Decide(v, restrictedAtGP, src, "result", false) }))
}

func BenchmarkPolicyDecide(b *testing.B) {
	p := loadTestPolicy(b)
	v := Viewer{Org: "RXX", OrgKind: KindHospital, Role: "clinician"}
	src := Source{ID: "gp", Org: "Y01234", Kind: KindGP}
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Decide(v, unrestrictedPatnt, src, "note", false)
	}
}

// FuzzLoadPolicy checks that LoadPolicy never panics and that an accepted
// policy survives writing and reading back: the same JSON, the same
// decisions.
func FuzzLoadPolicy(f *testing.F) {
	f.Add([]byte(testPolicy))
	f.Add([]byte(`{"rules": []}`))
	f.Add([]byte(`{"rules": [{"name": "a", "effect": "allow"}], "breakGlass": {"maxDuration": "1h30m"}}`))
	f.Add([]byte(`{"rules": [{"name": "a", "viewer": {"org": "X", "role": "r"}, "source": {"id": "s"}, "categories": ["note"], "effect": "deny"}]}`))
	f.Add([]byte(`{"restrictions": [{"patient": "9000000017"}], "optOuts": [{"patient": "9 0 0 0 0 0 0 0 1 7", "source": "x"}]}`))
	probes := []Viewer{{Org: "Y01234", OrgKind: KindGP, Role: "gp"}, {Org: "X", OrgKind: KindHospital, Role: "r"}, {Role: "administrator"}}
	srcs := []Source{{ID: "gp", Org: "Y01234", Kind: KindGP}, {ID: "s", Org: "X", Kind: KindHospital}, {ID: "x", Kind: KindCommunity}}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := LoadPolicy(bytes.NewReader(data))
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidPolicy)
			return
		}
		out, err := json.Marshal(p)
		require.NoError(t, err)
		q, err := LoadPolicy(bytes.NewReader(out))
		require.NoError(t, err, "re-reading %s", out)
		out2, err := json.Marshal(q)
		require.NoError(t, err)
		require.Equal(t, string(out), string(out2))
		for _, v := range probes {
			for _, s := range srcs {
				for _, pat := range []string{"9000000017", "9434765919"} {
					for _, c := range []string{"note", "result", "other"} {
						require.Equal(t, p.Decide(v, pat, s, c, false), q.Decide(v, pat, s, c, false),
							fmt.Sprintf("%+v %s %s", v, s.ID, c))
					}
				}
			}
		}
	})
}
