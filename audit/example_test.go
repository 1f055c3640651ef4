package audit_test

import (
	"context"
	"fmt"
	"os"

	"github.com/carelens/carelens/audit"
)

// A view is appended before the page is sent, and shows on the patient's
// "who saw my record" page.
func Example() {
	dir, _ := os.MkdirTemp("", "audit-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	key := []byte("a site's MAC key of at least 32 bytes, from config")

	l, err := audit.Open(dir, audit.Options{Key: key})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	seq, err := l.Append(ctx, audit.Event{
		Action: audit.ActionView, User: "dr-patel", Org: "RXX", Role: "clinician", Purpose: "TREAT",
		Patient: "9434765919", Asked: []string{"gp-y01234", "hospital"}, Answered: []string{"gp-y01234", "hospital"},
		Withheld: []audit.Withheld{{Source: "gp-y01234", Category: "note", Reason: "policy", Count: 3}},
	})
	if err != nil {
		fmt.Println("fail the request:", err)
		return
	}
	fmt.Println("recorded as entry", seq)
	fmt.Println("verify:", l.Verify(ctx))
	for ev, err := range l.Events(ctx, audit.Filter{Patient: "9434765919"}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(ev.Seq, ev.Action, ev.User, ev.Org, ev.Withheld)
	}
	// Output:
	// recorded as entry 1
	// verify: <nil>
	// 1 view dr-patel RXX [{gp-y01234 note policy 3}]
}
