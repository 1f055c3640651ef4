package main

import (
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// contentType is the media type of every response.
const contentType = "application/fhir+json; charset=utf-8"

// jsonTypes are the request and response media types the service speaks:
// FHIR JSON under its R4 name, plain JSON, and the DSTU2 name clients
// still send.
var jsonTypes = map[string]bool{
	"application/fhir+json": true,
	"application/json":      true,
	"application/json+fhir": true,
}

// issue is one OperationOutcome issue. Diagnostics never hold values from
// the request: only element paths, byte offsets and limits.
type issue struct {
	// Code is from http://hl7.org/fhir/issue-type.
	Code        string
	Diagnostics string
	// Expression is the FHIRPath of the offending element, if known.
	Expression string
}

// maxIssues bounds the issues of one OperationOutcome.
const maxIssues = 20

// writeOutcome writes an OperationOutcome with one error issue per entry
// of issues (at most maxIssues).
func writeOutcome(w http.ResponseWriter, status int, issues ...issue) {
	if len(issues) > maxIssues {
		issues = issues[:maxIssues]
	}
	list := make([]any, 0, len(issues))
	for _, is := range issues {
		m := map[string]any{"severity": "error", "code": is.Code}
		if is.Diagnostics != "" {
			m["diagnostics"] = is.Diagnostics
		}
		if is.Expression != "" {
			m["expression"] = []string{is.Expression}
		}
		list = append(list, m)
	}
	writeJSON(w, status, map[string]any{"resourceType": "OperationOutcome", "issue": list})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only maps of strings reach here; a failure is a bug.
		status, b = http.StatusInternalServerError, []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"fatal","code":"exception"}]}`)
	}
	writeBody(w, status, b)
}

// writeBody writes b, a FHIR JSON document, with status.
func writeBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// acceptable reports whether a response in FHIR JSON satisfies the
// request's _format parameter (which wins, as the FHIR HTTP page says)
// or its Accept header. No preference means JSON.
func acceptable(r *http.Request) bool {
	if fs, ok := r.URL.Query()["_format"]; ok {
		for _, f := range fs {
			if f != "json" && !jsonTypes[strings.ToLower(f)] {
				return false
			}
		}
		return true
	}
	accept := r.Header.Values("Accept")
	if len(accept) == 0 {
		return true
	}
	for _, h := range accept {
		for part := range strings.SplitSeq(h, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok {
				if v, err := strconv.ParseFloat(q, 64); err != nil || v <= 0 {
					continue
				}
			}
			if mt == "*/*" || mt == "application/*" || jsonTypes[mt] {
				return true
			}
		}
	}
	return false
}

// requestTypeOK reports whether a POST body's Content-Type is FHIR JSON
// in UTF-8 (the only charset FHIR JSON allows).
func requestTypeOK(r *http.Request) bool {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !jsonTypes[mt] {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

// capabilityStatement is the body of GET /metadata: an R4 server
// supporting one operation, Patient/$match, in JSON.
// started is when the process started: the CapabilityStatement's date.
var started = time.Now().UTC()

func capabilityStatement(software string, auth string) map[string]any {
	return map[string]any{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         started.Format("2006-01-02"),
		"publisher":    "CareLens",
		"kind":         "instance",
		"software":     map[string]any{"name": software},
		"implementation": map[string]any{
			"description": "CareLens identity index: Patient/$match",
		},
		"fhirVersion": "4.0.1",
		"format":      []string{"json"},
		"rest": []any{map[string]any{
			"mode":          "server",
			"documentation": "Patient/$match over the CareLens identity index. " + auth,
			"security": map[string]any{
				"description": auth,
			},
			"resource": []any{map[string]any{
				"type": "Patient",
				"operation": []any{map[string]any{
					"name":          "match",
					"definition":    "http://hl7.org/fhir/OperationDefinition/Patient-match",
					"documentation": "POST a Parameters resource (resource, onlyCertainMatches, count) or a bare Patient; answers a searchset Bundle graded with the match-grade extension. Candidates below probable carry only the elements the request supplied.",
				}},
			}},
		}},
	}
}
