package fhirutil

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAuditEventBALP(t *testing.T) {
	at := time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)
	view := AuditRecord{
		ID: "carelens-audit-17", Time: at, Action: "view", User: "dr-patel", Org: "RXX", Role: "clinician",
		Purpose: "TREAT", Patient: "9434765919", Client: "192.0.2.10", RequestID: "req-1",
		Sources: []AuditSource{
			{ID: "gp-y01234", Answered: true, Withheld: []AuditWithheld{{Category: "note", Reason: "policy", Count: 2}}},
			{ID: "community", Answered: false},
			{ID: "hospital", Answered: true, Withheld: []AuditWithheld{{Reason: "opt-out"}}},
		},
	}
	bg := view
	bg.Action, bg.BreakGlass, bg.BreakGlassReason, bg.BreakGlassText = "break-glass-start", true, "emergency", "unconscious in ED"
	tests := []struct {
		name        string
		rec         AuditRecord
		wantType    string
		wantSubtype []string
		wantAction  string
		wantOutcome string
		wantProfile string
		wantPurpose []string
		entities    int
		agents      int
	}{
		{name: "view", rec: view, wantType: "rest", wantSubtype: []string{"read", "view"}, wantAction: "R", wantOutcome: "0",
			wantProfile: BALPProfileBase + "IHE.BasicAudit.PatientRead", wantPurpose: []string{"TREAT"}, entities: 5, agents: 4},
		{name: "break-glass", rec: bg, wantType: "rest", wantSubtype: []string{"read", "break-glass-start"}, wantAction: "R", wantOutcome: "0",
			wantProfile: BALPProfileBase + "IHE.BasicAudit.PatientRead", wantPurpose: []string{"TREAT", "ETREAT"}, entities: 5, agents: 4},
		{name: "search", rec: AuditRecord{Time: at, Action: "search", User: "u", Patient: "EMPI-42"}, wantType: "rest",
			wantSubtype: []string{"search-type", "search"}, wantAction: "E", wantOutcome: "0", wantProfile: BALPProfileBase + "IHE.BasicAudit.PatientQuery", entities: 1, agents: 3},
		{name: "denied", rec: AuditRecord{Time: at, Action: "denied", Outcome: "denied", User: "u", Org: "RXX", Patient: "9434765919"},
			wantType: "rest", wantSubtype: []string{"denied"}, wantAction: "E", wantOutcome: "4", entities: 1, agents: 4},
		{name: "sign-in failed", rec: AuditRecord{Time: at, Action: "sign-in-failed", Outcome: "failure", User: "u", Client: "host.example"},
			wantType: "110114", wantSubtype: []string{"110122", "sign-in-failed"}, wantAction: "E", wantOutcome: "8",
			wantProfile: BALPProfileBase + "IHE.BasicAudit.Login", agents: 1},
		{name: "sign-out", rec: AuditRecord{Time: at, Action: "sign-out", User: "u", Org: "Y01234"},
			wantType: "110114", wantSubtype: []string{"110123", "sign-out"}, wantAction: "E", wantOutcome: "0",
			wantProfile: BALPProfileBase + "IHE.BasicAudit.Logout", agents: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := AuditEventBALP(tc.rec)
			require.NoError(t, err)
			b, err := Decode(out, &Options{Validate: true})
			require.NoError(t, err)
			require.NoError(t, b.Err())
			require.Empty(t, b.Issues, "valid R4 with validation")

			var ev struct {
				ID   string `json:"id"`
				Meta struct {
					Profile []string `json:"profile"`
				} `json:"meta"`
				Type    struct{ Code string }   `json:"type"`
				Subtype []struct{ Code string } `json:"subtype"`
				Action  string                  `json:"action"`
				Outcome string                  `json:"outcome"`
				Purpose []struct {
					Coding []struct{ Code string } `json:"coding"`
					Text   string                  `json:"text"`
				} `json:"purposeOfEvent"`
				Agent  []json.RawMessage `json:"agent"`
				Entity []struct {
					What struct {
						Identifier struct{ System, Value string } `json:"identifier"`
					} `json:"what"`
					Detail []struct {
						Type        string `json:"type"`
						ValueString string `json:"valueString"`
					} `json:"detail"`
				} `json:"entity"`
			}
			require.NoError(t, json.Unmarshal(out, &ev))
			assert.Equal(t, tc.rec.ID, ev.ID)
			assert.Equal(t, tc.wantType, ev.Type.Code)
			var subs []string
			for _, s := range ev.Subtype {
				subs = append(subs, s.Code)
			}
			assert.Equal(t, tc.wantSubtype, subs)
			assert.Equal(t, tc.wantAction, ev.Action)
			assert.Equal(t, tc.wantOutcome, ev.Outcome)
			if tc.wantProfile != "" {
				assert.Equal(t, []string{tc.wantProfile}, ev.Meta.Profile)
			} else {
				assert.Empty(t, ev.Meta.Profile)
			}
			var purposes []string
			for _, p := range ev.Purpose {
				purposes = append(purposes, p.Coding[0].Code)
			}
			assert.Equal(t, tc.wantPurpose, purposes)
			assert.Len(t, ev.Agent, tc.agents)
			require.Len(t, ev.Entity, tc.entities)
			if tc.rec.Patient == "9434765919" {
				assert.Equal(t, NHSNumberSystem, ev.Entity[0].What.Identifier.System)
			}
			if tc.name == "view" {
				gp := ev.Entity[1]
				assert.Equal(t, "gp-y01234", gp.What.Identifier.Value)
				assert.Equal(t, "note policy 2", gp.Detail[1].ValueString)
				assert.Equal(t, "opt-out", ev.Entity[3].Detail[1].ValueString)
				assert.Equal(t, RequestIDSystem, ev.Entity[4].What.Identifier.System)
				assert.Contains(t, string(ev.Agent[0]), `"address":"192.0.2.10"`, "nothing dropped by the repair")
			}
			if tc.rec.BreakGlass {
				assert.Equal(t, "break-glass emergency: unconscious in ED", ev.Purpose[1].Text)
			}
		})
	}
}
