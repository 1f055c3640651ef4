package fhirutil

import (
	"cmp"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Systems of the codes CareLens writes into AuditEvents.
const (
	// AuditActionSystem is the code system of CareLens's own audit action
	// codes ("view", "break-glass-start", ...), written as an extra
	// AuditEvent.subtype beside the standard one.
	AuditActionSystem = "https://carelens.example/audit-action"
	// RequestIDSystem is the identifier system of CareLens request ids.
	RequestIDSystem = "https://carelens.example/request-id"
	// PurposeOfUseSystem is the code system of purposes of use
	// (HL7 v3 ActReason), such as TREAT and ETREAT.
	PurposeOfUseSystem = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	// BALPProfileBase is the canonical base of the IHE Basic Audit Log
	// Patterns profiles.
	BALPProfileBase = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/"
)

// AuditWithheld is what a view withheld from one source: a category, the
// reason and the number of items. An opted-out source has no category and
// no count.
type AuditWithheld struct {
	Category string
	Reason   string
	Count    int
}

// AuditSource is one source asked during an access.
type AuditSource struct {
	// ID is the source's id.
	ID string
	// Answered reports whether the source answered in time.
	Answered bool
	// Withheld is what was withheld from this source.
	Withheld []AuditWithheld
}

// AuditRecord is one entry of CareLens's access log, in the form
// [AuditEventBALP] renders. It holds identity data (who looked, at whose
// record) and never clinical values.
type AuditRecord struct {
	// ID becomes AuditEvent.id; it must be a valid FHIR id or "".
	ID string
	// Time is when the access happened; zero means now.
	Time time.Time
	// Action is the CareLens action code: "view", "search", "launch",
	// "print", "api", "break-glass-start", "break-glass-end", "denied",
	// "sign-in", "sign-in-failed", "sign-out" or another code.
	Action string
	// Outcome is "success", "denied" or "failure" ("" means success).
	Outcome string
	// User, Org (ODS code) and Role identify who acted.
	User, Org, Role string
	// Purpose is a purpose-of-use code of [PurposeOfUseSystem] such as
	// "TREAT"; "" writes none (break-glass writes ETREAT regardless).
	Purpose string
	// BreakGlass is set for actions under break-glass, with its reason
	// code and the user's free text.
	BreakGlass       bool
	BreakGlassReason string
	BreakGlassText   string
	// Patient is the patient's NHS number (ten digits) or an enterprise
	// id; "" when no patient was involved (a sign-in).
	Patient string
	// Sources are the sources asked, with what they answered and what was
	// withheld.
	Sources []AuditSource
	// Client is the client's network address.
	Client string
	// RequestID is the request's id.
	RequestID string
	// Observer names the system recording the event; "" means CareLens.
	Observer string
}

var nhsNumberShape = regexp.MustCompile(`^[0-9]{10}$`)

// auditShape is how one CareLens action is written: the event type, the
// standard subtype, the REST action code and the BALP profile claimed.
type auditShape struct {
	typ     map[string]any
	subtype map[string]any
	action  string
	profile string
}

var (
	restType    = map[string]any{"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest", "display": "RESTful Operation"}
	userAuthTyp = map[string]any{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110114", "display": "User Authentication"}
	readSubtype = map[string]any{"system": "http://hl7.org/fhir/restful-interaction", "code": "read", "display": "read"}
)

func shapeOf(action string, patient bool) auditShape {
	switch action {
	case "view", "print", "api", "launch", "break-glass-start", "break-glass-end":
		s := auditShape{typ: restType, subtype: readSubtype, action: "R"}
		if patient && action != "break-glass-end" {
			s.profile = "IHE.BasicAudit.PatientRead"
		}
		return s
	case "search":
		s := auditShape{typ: restType, action: "E",
			subtype: map[string]any{"system": "http://hl7.org/fhir/restful-interaction", "code": "search-type", "display": "search-type"}}
		if patient {
			s.profile = "IHE.BasicAudit.PatientQuery"
		}
		return s
	case "sign-in", "sign-in-failed":
		return auditShape{typ: userAuthTyp, action: "E", profile: "IHE.BasicAudit.Login",
			subtype: map[string]any{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110122", "display": "Login"}}
	case "sign-out":
		return auditShape{typ: userAuthTyp, action: "E", profile: "IHE.BasicAudit.Logout",
			subtype: map[string]any{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110123", "display": "Logout"}}
	}
	return auditShape{typ: restType, action: "E"}
}

// AuditEventBALP renders one access log entry as an R4 AuditEvent in the
// shape of the IHE Basic Audit Log Patterns (BALP): views, prints, API
// reads and launches as a RESTful read (profile PatientRead when a patient
// is named), searches as a RESTful search (PatientQuery), sign-in and
// sign-out as DICOM User Authentication with Login or Logout (the Login
// and Logout profiles; a failed sign-in is a Login with a failed outcome).
// Every event also carries the CareLens action as a subtype of
// [AuditActionSystem]. The agents are the user (requestor, with the role
// and the client's network address), the organisation (ODS), the client
// (Source Role ID) and the server (Destination Role ID); the entities are
// the patient (identifier of [NHSNumberSystem] for an NHS number), each
// source asked (with whether it answered and what was withheld, as
// details) and the request id. The outcome is 0 for success, 4 for a
// denied request and 8 for a failure; break-glass adds the purpose of use
// ETREAT with the reason and free text. The resource is built through the
// validating unmarshaller, so it is valid R4. [AuditEventJSON] remains for
// the simpler access record.
func AuditEventBALP(a AuditRecord) ([]byte, error) {
	t := a.Time
	if t.IsZero() {
		t = time.Now()
	}
	shape := shapeOf(a.Action, a.Patient != "")
	subtypes := []any{}
	if shape.subtype != nil {
		subtypes = append(subtypes, shape.subtype)
	}
	if a.Action != "" {
		subtypes = append(subtypes, map[string]any{"system": AuditActionSystem, "code": a.Action})
	}
	outcome := "0"
	switch a.Outcome {
	case "", "success":
	case "denied":
		outcome = "4"
	default:
		outcome = "8"
	}
	observer := cmp.Or(a.Observer, "CareLens")
	user := map[string]any{
		"type": map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type", "code": "humanuser", "display": "human user"}}},
		"who":       map[string]any{"identifier": map[string]any{"value": cmp.Or(a.User, "unknown")}},
		"requestor": true,
	}
	if a.Role != "" {
		user["role"] = []any{map[string]any{"text": a.Role}}
	}
	if a.Client != "" {
		user["network"] = map[string]any{"address": a.Client, "type": networkType(a.Client)}
	}
	agents := []any{user}
	if a.Org != "" {
		agents = append(agents, map[string]any{
			"type": map[string]any{"coding": []any{map[string]any{
				"system": "http://terminology.hl7.org/CodeSystem/v3-RoleClass", "code": "PROV", "display": "healthcare provider"}}},
			"who":       map[string]any{"identifier": map[string]any{"system": ODSSystem, "value": a.Org}},
			"requestor": false,
		})
	}
	if shape.typ["code"] == "rest" {
		client := map[string]any{
			"type": map[string]any{"coding": []any{map[string]any{
				"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110153", "display": "Source Role ID"}}},
			"who":       map[string]any{"display": "browser or calling system"},
			"requestor": false,
		}
		if a.Client != "" {
			client["network"] = map[string]any{"address": a.Client, "type": networkType(a.Client)}
		}
		agents = append(agents, client, map[string]any{
			"type": map[string]any{"coding": []any{map[string]any{
				"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110152", "display": "Destination Role ID"}}},
			"who":       map[string]any{"display": observer},
			"requestor": false,
		})
	}
	var entities []any
	if a.Patient != "" {
		id := map[string]any{"value": a.Patient}
		if nhsNumberShape.MatchString(a.Patient) {
			id["system"] = NHSNumberSystem
		}
		entities = append(entities, map[string]any{
			"what": map[string]any{"identifier": id},
			"type": map[string]any{"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person"},
			"role": map[string]any{"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"},
		})
	}
	for _, s := range a.Sources {
		details := []any{map[string]any{"type": "answered", "valueString": strconv.FormatBool(s.Answered)}}
		for _, w := range s.Withheld {
			v := w.Reason
			if w.Category != "" {
				v = fmt.Sprintf("%s %s %d", w.Category, w.Reason, w.Count)
			}
			details = append(details, map[string]any{"type": "withheld", "valueString": v})
		}
		entities = append(entities, map[string]any{
			"what":   map[string]any{"identifier": map[string]any{"system": SourceSystem, "value": s.ID}},
			"type":   map[string]any{"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"},
			"role":   map[string]any{"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "4", "display": "Domain Resource"},
			"name":   "source " + s.ID,
			"detail": details,
		})
	}
	if a.RequestID != "" {
		entities = append(entities, map[string]any{
			"what": map[string]any{"identifier": map[string]any{"system": RequestIDSystem, "value": a.RequestID}},
			"type": map[string]any{"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"},
			"name": "request",
		})
	}
	var purposes []any
	if a.Purpose != "" && a.Purpose != "ETREAT" {
		purposes = append(purposes, map[string]any{"coding": []any{map[string]any{"system": PurposeOfUseSystem, "code": a.Purpose}}})
	}
	if a.BreakGlass {
		text := strings.TrimSpace("break-glass " + a.BreakGlassReason + ": " + a.BreakGlassText)
		purposes = append(purposes, map[string]any{
			"coding": []any{map[string]any{"system": PurposeOfUseSystem, "code": "ETREAT", "display": "Emergency Treatment"}},
			"text":   text,
		})
	} else if a.Purpose == "ETREAT" {
		purposes = append(purposes, map[string]any{"coding": []any{map[string]any{"system": PurposeOfUseSystem, "code": "ETREAT"}}})
	}
	ev := map[string]any{
		"resourceType": "AuditEvent",
		"type":         shape.typ,
		"action":       shape.action,
		"recorded":     t.UTC().Format("2006-01-02T15:04:05.999999Z07:00"),
		"outcome":      outcome,
		"agent":        agents,
		"source": map[string]any{
			"observer": map[string]any{"display": observer},
			"type": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/security-source-type",
				"code": "4", "display": "Application Server"}},
		},
	}
	if len(subtypes) > 0 {
		ev["subtype"] = subtypes
	}
	if a.ID != "" {
		ev["id"] = a.ID
	}
	if shape.profile != "" {
		ev["meta"] = map[string]any{"profile": []any{BALPProfileBase + shape.profile}}
	}
	if outcome != "0" {
		ev["outcomeDesc"] = cmp.Or(a.Outcome, "failure")
	}
	if purposes != nil {
		ev["purposeOfEvent"] = purposes
	}
	if entities != nil {
		ev["entity"] = entities
	}
	cr, err := buildResource(ev)
	if err != nil {
		return nil, fmt.Errorf("fhirutil: AuditEvent: %w", err)
	}
	return marshal(cr)
}

// networkType is the AuditEvent agent network type of an address: 2 for
// an IP address, 1 for a machine name.
func networkType(addr string) string {
	if strings.ContainsAny(addr, ":") || strings.Trim(addr, "0123456789.") == "" {
		return "2"
	}
	return "1"
}
