package provenance_test

import (
	"fmt"
	"strings"

	"github.com/carelens/carelens/provenance"
)

// demoPolicy is the seed exchange's sharing policy: a GP practice, an acute
// hospital and a community service. Each organisation sees its own data
// fully; the GP sees everything shared; the hospital sees the GP record but
// not consultation free text or documents; the community service sees the
// hospital record and the GP record without consultation notes. One demo
// patient has opted out of sharing at the GP, and no rule mentions the
// national data opt-out, on purpose (it does not cover direct care).
const demoPolicy = `{
  "rules": [
    {"name": "own-data", "source": {"sameOrg": true}, "effect": "allow"},
    {"name": "gp-sees-shared-record", "viewer": {"kind": "gp"}, "effect": "allow"},
    {"name": "hospital-sees-gp", "viewer": {"kind": "hospital"}, "source": {"kind": "gp"}, "effect": "allow"},
    {"name": "hospital-not-gp-free-text", "viewer": {"kind": "hospital"}, "source": {"kind": "gp"},
     "categories": ["note", "document"], "effect": "deny"},
    {"name": "hospital-sees-community", "viewer": {"kind": "hospital"}, "source": {"kind": "community"}, "effect": "allow"},
    {"name": "community-sees-hospital", "viewer": {"kind": "community"}, "source": {"kind": "hospital"}, "effect": "allow"},
    {"name": "community-sees-gp", "viewer": {"kind": "community"}, "source": {"kind": "gp"}, "effect": "allow"},
    {"name": "community-not-gp-notes", "viewer": {"kind": "community"}, "source": {"kind": "gp"},
     "categories": ["note"], "effect": "deny"}
  ],
  "optOuts": [{"patient": "943 476 5919", "source": "gp-y01234"}],
  "restrictions": [{"patient": "900 000 0017"}],
  "breakGlass": {
    "reasons": [
      {"code": "emergency", "display": "Emergency care: the patient cannot consent"},
      {"code": "safeguarding", "display": "Safeguarding concern raised"},
      {"code": "patient-consent", "display": "The patient consents to this access"}
    ],
    "maxDuration": "4h",
    "roles": ["gp", "clinician", "nurse"]
  }
}`

func ExampleLoadPolicy() {
	p, err := provenance.LoadPolicy(strings.NewReader(demoPolicy))
	if err != nil {
		fmt.Println(err)
		return
	}
	gp := provenance.Source{ID: "gp-y01234", Org: "Y01234", Kind: provenance.KindGP, Name: "Church Lane Surgery"}
	hospital := provenance.Viewer{User: "dr-patel", Org: "RXX", OrgKind: provenance.KindHospital, Role: "clinician"}

	var w provenance.Withheld
	for _, cat := range []string{"result", "medication", "note", "note", "document"} {
		d := p.Decide(hospital, "9876543210", gp, cat, false)
		fmt.Printf("%-10s %-5v %s\n", cat, d.Allow, d.Rule)
		w.Add(gp, cat, d, 1)
	}
	for _, s := range w.Summaries() {
		fmt.Printf("%d items withheld from %s by %s: %v\n", s.Count, s.Source.Name, s.Reason, s.Categories)
	}
	fmt.Println("GP shares with the hospital for the opted-out patient:", p.SourceShares(hospital, "9434765919", gp))
	fmt.Println("restricted result without break-glass:", p.Decide(hospital, "9000000017", gp, "result", false).Reason)
	// Output:
	// result     true  hospital-sees-gp
	// medication true  hospital-sees-gp
	// note       false hospital-not-gp-free-text
	// note       false hospital-not-gp-free-text
	// document   false hospital-not-gp-free-text
	// 3 items withheld from Church Lane Surgery by policy: [{document 1} {note 2}]
	// GP shares with the hospital for the opted-out patient: false
	// restricted result without break-glass: restricted
}
