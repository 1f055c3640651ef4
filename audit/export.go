package audit

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/carelens/carelens/fhirutil"
)

// AuditEvent renders ev as an R4 AuditEvent in the IHE BALP shape (see
// [fhirutil.AuditEventBALP]); its id is "audit-" and the sequence number.
func AuditEvent(ev Event) ([]byte, error) {
	return fhirutil.AuditEventBALP(record(ev))
}

func record(ev Event) fhirutil.AuditRecord {
	r := fhirutil.AuditRecord{
		Time: ev.Time, Action: string(ev.Action), Outcome: string(ev.Outcome),
		User: ev.User, Org: ev.Org, Role: ev.Role, Purpose: ev.Purpose,
		BreakGlass: ev.BreakGlass || ev.Action == ActionBreakGlassStart, BreakGlassReason: ev.BreakGlassReason, BreakGlassText: ev.BreakGlassText,
		Patient: ev.Patient, Client: ev.Client, RequestID: ev.RequestID,
	}
	if ev.Seq > 0 {
		r.ID = "audit-" + strconv.FormatUint(ev.Seq, 10)
	}
	at := map[string]int{}
	source := func(id string) *fhirutil.AuditSource {
		i, ok := at[id]
		if !ok {
			i = len(r.Sources)
			at[id] = i
			r.Sources = append(r.Sources, fhirutil.AuditSource{ID: id})
		}
		return &r.Sources[i]
	}
	for _, id := range ev.Asked {
		source(id)
	}
	for _, id := range ev.Answered {
		source(id).Answered = true
	}
	for _, w := range ev.Withheld {
		s := source(w.Source)
		s.Withheld = append(s.Withheld, fhirutil.AuditWithheld{Category: w.Category, Reason: w.Reason, Count: w.Count})
	}
	return r
}

// Export writes the entries f selects to w as NDJSON, one R4 AuditEvent
// (see [AuditEvent]) per line, and returns how many it wrote. It stops at
// the first entry that does not verify or cannot be rendered.
func (l *Log) Export(ctx context.Context, f Filter, w io.Writer) (int, error) {
	bw := bufio.NewWriter(w)
	n := 0
	for ev, err := range l.Events(ctx, f) {
		if err != nil {
			return n, err
		}
		b, err := AuditEvent(ev)
		if err != nil {
			return n, fmt.Errorf("audit: export entry %d: %w", ev.Seq, err)
		}
		bw.Write(b)
		if err := bw.WriteByte('\n'); err != nil {
			return n, fmt.Errorf("audit: export: %w", err)
		}
		n++
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("audit: export: %w", err)
	}
	return n, nil
}
