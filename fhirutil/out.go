package fhirutil

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/provenance"
)

// Systems and URLs CareLens writes.
const (
	// ODSSystem is the identifier system of NHS organisation (ODS) codes,
	// used for the organisation behind a source.
	ODSSystem = "https://fhir.nhs.uk/Id/ods-organization-code"
	// MatchGradeURL is the extension on Bundle.entry.search carrying the
	// $match grade.
	MatchGradeURL = "http://hl7.org/fhir/StructureDefinition/match-grade"
	// MatchGradeSystem is the code system of match grades.
	MatchGradeSystem = "http://terminology.hl7.org/CodeSystem/match-grade"
	// SourceSystem is the identifier system CareLens uses for its source
	// ids in references to a source (Provenance and AuditEvent).
	SourceSystem = "https://carelens.example/source"
)

// buildResource turns a resource built as JSON into an R4 resource through
// the validating unmarshaller, so that everything CareLens writes is valid
// R4. Elements with invalid values are dropped (the lenient repair); a
// resource that still fails is an ErrOutput error naming paths only.
func buildResource(m map[string]any) (*bcrpb.ContainedResource, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOutput, err)
	}
	u := getUnmarshaller(false)
	defer putUnmarshaller(false, u)
	msg, err := u.Unmarshal(raw)
	if msg == nil {
		rt, _ := m["resourceType"].(string)
		fixed, _, _ := repair(u, raw, err, ResourceError{ResourceType: rt})
		if fixed == nil {
			return nil, outputError(err, rt)
		}
		msg, err = fixed.msg, fixed.err
	}
	if err != nil {
		rt, _ := m["resourceType"].(string)
		return nil, outputError(err, rt)
	}
	return msg.(*bcrpb.ContainedResource), nil
}

func outputError(err error, rt string) error {
	var errs []error
	for _, is := range issuesOf(err, ResourceError{ResourceType: rt}, false, nil) {
		errs = append(errs, is)
	}
	return fmt.Errorf("%w: %w", ErrOutput, errors.Join(errs...))
}

// urnFor returns a stable urn:uuid for key, so that the same input always
// gives the same Bundle.
func urnFor(key string) string {
	h := sha256.Sum256([]byte(key))
	h[6] = h[6]&0x0f | 0x50 // name-based layout
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

var fhirID = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// FormatTime renders t at precision p as a FHIR date or dateTime in UTC:
// "2019", "2019-06", "2019-06-01", "2019-06-01T10:30:00Z" or with
// fractional seconds. Minute precision is written with zero seconds.
// PrecisionUnknown gives "".
func FormatTime(t time.Time, p merge.Precision) string {
	t = t.UTC()
	switch p {
	case merge.PrecisionYear:
		return t.Format("2006")
	case merge.PrecisionMonth:
		return t.Format("2006-01")
	case merge.PrecisionDay:
		return t.Format("2006-01-02")
	case merge.PrecisionMinute, merge.PrecisionSecond:
		return t.Format("2006-01-02T15:04:05Z07:00")
	case merge.PrecisionInstant:
		return t.Format("2006-01-02T15:04:05.999999Z07:00")
	}
	return ""
}

// TimelineOptions configure [TimelineBundle]. The zero value works.
type TimelineOptions struct {
	// Sources describe the sources named in the entries' tags; a source
	// not listed is named by its id only.
	Sources []provenance.Source
	// Patient, when set, is written as the Bundle's Patient and is the
	// subject of every entry; otherwise entries name no patient.
	Patient *match.Record
	// Recorded is Provenance.recorded; zero means now.
	Recorded time.Time
	// Conflicts are the timeline's conflicts ([merge.Timeline.Conflicts]),
	// for the reason each DetectedIssue names; a conflict not listed is
	// still written, with the code "disagree".
	Conflicts []merge.Conflict
}

// TimelineBundle renders a merged timeline as an R4 collection Bundle. Each
// entry becomes one resource of the type its category comes from
// (Observation, DiagnosticReport, MedicationStatement, AllergyIntolerance,
// Condition, Procedure, Immunization, Encounter, ServiceRequest,
// DocumentReference; Basic for other) followed by a Provenance whose
// target is that resource, whose entities (role source) are the source
// resources of every tag of the entry's lineage (each with the source as
// the entity's agent, identifier system [SourceSystem]), and whose agents
// are the sources' organisations. Decoding the Bundle with [Decode] gives
// back each entry's category, time and precision, codes, display, value,
// dose, value text, text and (where R4 allows it for the type) status, and
// [Batch.Entries] reads the Provenance back into each entry's lineage:
// source, resource type, id and version of every tag (the tags' times are
// not written). Entries that share a conflict (a non-zero
// [merge.Entry.Conflict]) are implicated by one DetectedIssue in
// [ConflictSystem] (its identifier the conflict's id, its code the reason,
// its text "CONFLICT #1 (value)"), which [Batch.Entries] reads back into
// each entry's Conflict and [Batch.Conflicts] into the conflicts.
func TimelineBundle(entries []merge.Entry, o *TimelineOptions) ([]byte, error) {
	var buf bytes.Buffer
	if err := WriteTimelineBundle(&buf, entries, o); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteTimelineBundle writes the Bundle [TimelineBundle] returns to w,
// the same bytes, one resource at a time: memory holds one resource and
// not the Bundle (carelens timeline -fhir on a 210 MB input, 52,590
// entries: 1.56 GB peak RSS when the Bundle was built whole). On an error
// w holds a part of the Bundle.
func WriteTimelineBundle(w io.Writer, entries []merge.Entry, o *TimelineOptions) error {
	if o == nil {
		o = &TimelineOptions{}
	}
	recorded := o.Recorded
	if recorded.IsZero() {
		recorded = time.Now()
	}
	sources := make(map[string]provenance.Source, len(o.Sources))
	for _, s := range o.Sources {
		sources[s.ID] = s
	}
	m, err := jsonformat.NewMarshaller(false, "", "", fhirversion.R4)
	if err != nil {
		return err
	}
	bw := &bundleWriter{w: w, m: m}
	subject := map[string]any{"display": "patient not identified"}
	if o.Patient != nil {
		cr, err := patientProto(*o.Patient)
		if err != nil {
			return err
		}
		url := urnFor("patient:" + o.Patient.Key())
		if err := bw.entry(url, cr); err != nil {
			return err
		}
		subject = map[string]any{"reference": url}
	}
	urls := make([]string, len(entries))
	for i, e := range entries {
		url := urnFor("entry:" + strconv.Itoa(i) + ":" + e.Lineage.String())
		urls[i] = url
		cr, err := buildResource(entryResource(e, subject))
		if err != nil {
			return fmt.Errorf("fhirutil: timeline entry %d: %w", i, err)
		}
		pr, err := buildResource(provenanceFor(url, e.Lineage, sources, recorded))
		if err != nil {
			return fmt.Errorf("fhirutil: timeline entry %d provenance: %w", i, err)
		}
		if err := bw.entry(url, cr); err != nil {
			return err
		}
		if err := bw.entry(urnFor("provenance:"+url), pr); err != nil {
			return err
		}
	}
	for _, is := range conflictIssues(entries, urls, o.Conflicts, subject) {
		cr, err := buildResource(is)
		if err != nil {
			return fmt.Errorf("fhirutil: timeline conflict: %w", err)
		}
		id := is["identifier"].([]any)[0].(map[string]any)["value"].(string)
		if err := bw.entry(urnFor("conflict:"+id), cr); err != nil {
			return err
		}
	}
	return bw.close()
}

// bundleWriter writes a collection Bundle entry by entry, in the bytes
// jsonformat writes for the whole Bundle: members in key order (entry,
// resourceType, type), each entry's fullUrl before its resource, no
// "entry" when there are none.
type bundleWriter struct {
	w io.Writer
	m *jsonformat.Marshaller
	n int // entries written
}

func (bw *bundleWriter) entry(fullURL string, cr *bcrpb.ContainedResource) error {
	res, err := bw.m.Marshal(cr)
	if err != nil {
		return err
	}
	url, err := json.Marshal(fullURL)
	if err != nil {
		return err
	}
	lead := `,{"fullUrl":`
	if bw.n == 0 {
		lead = `{"entry":[{"fullUrl":`
	}
	bw.n++
	for _, p := range [][]byte{[]byte(lead), url, []byte(`,"resource":`), res, []byte("}")} {
		if _, err := bw.w.Write(p); err != nil {
			return err
		}
	}
	return nil
}

func (bw *bundleWriter) close() error {
	tail := `],"resourceType":"Bundle","type":"collection"}`
	if bw.n == 0 {
		tail = `{"resourceType":"Bundle","type":"collection"}`
	}
	_, err := io.WriteString(bw.w, tail)
	return err
}

func provenanceFor(target string, l provenance.Lineage, sources map[string]provenance.Source, recorded time.Time) map[string]any {
	var entities, agents []any
	for _, t := range l.Tags() {
		what := map[string]any{"display": "source " + t.Source}
		if t.ResourceType != "" && t.ResourceID != "" {
			ref := t.ResourceType + "/" + t.ResourceID
			if !fhirID.MatchString(t.ResourceID) {
				ref = t.ResourceID // a fullUrl such as urn:uuid:...
				what["type"] = t.ResourceType
			} else if t.Version != "" {
				ref += "/_history/" + t.Version
			}
			what["reference"] = ref
		}
		entities = append(entities, map[string]any{"role": "source", "what": what,
			"agent": []any{map[string]any{"who": map[string]any{"identifier": map[string]any{"system": SourceSystem, "value": t.Source}}}}})
	}
	for _, id := range l.Sources() {
		s := sources[id]
		who := map[string]any{"display": cmp.Or(s.Name, id)}
		if s.Org != "" {
			who["identifier"] = map[string]any{"system": ODSSystem, "value": s.Org}
		} else {
			who["identifier"] = map[string]any{"system": SourceSystem, "value": id}
		}
		agents = append(agents, map[string]any{
			"type": map[string]any{"coding": []any{map[string]any{
				"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": "custodian"}}},
			"who": who,
		})
	}
	if agents == nil {
		agents = []any{map[string]any{"who": map[string]any{"display": "unknown source"}}}
	}
	p := map[string]any{
		"resourceType": "Provenance",
		"target":       []any{map[string]any{"reference": target}},
		"recorded":     recorded.UTC().Format("2006-01-02T15:04:05.999999Z07:00"),
		"agent":        agents,
	}
	if entities != nil {
		p["entity"] = entities
	}
	return p
}

// statuses lists the status codes R4 allows per resource type written.
var statuses = map[string][]string{
	"Observation":         {"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"},
	"DiagnosticReport":    {"registered", "partial", "preliminary", "final", "amended", "corrected", "appended", "cancelled", "entered-in-error", "unknown"},
	"MedicationStatement": {"active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown", "not-taken"},
	"Procedure":           {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown"},
	"Immunization":        {"completed", "entered-in-error", "not-done"},
	"Encounter":           {"planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled", "entered-in-error", "unknown"},
	"ServiceRequest":      {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
	"DocumentReference":   {"current", "superseded", "entered-in-error"},
	"AllergyIntolerance":  {"active", "inactive", "resolved"},
	"Condition":           {"active", "recurrence", "relapse", "inactive", "remission", "resolved"},
}

func status(rt, s, def string) string {
	if slices.Contains(statuses[rt], s) {
		return s
	}
	return def
}

// quantity renders q as an R4 Quantity. A measured value (ucum) names its
// unit as a UCUM code too, and keeps its comparator; a dose gives its unit
// as text only.
func quantity(q *merge.Quantity, ucum bool) map[string]any {
	out := map[string]any{"value": json.Number(strconv.FormatFloat(q.Value, 'g', -1, 64))}
	if q.Unit != "" {
		out["unit"] = q.Unit
		if ucum {
			out["system"], out["code"] = "http://unitsofmeasure.org", q.Unit
		}
	}
	if ucum && q.Comparator != "" {
		out["comparator"] = q.Comparator
	}
	return out
}

func concept(e merge.Entry) map[string]any {
	cc := map[string]any{}
	var cs []any
	for _, c := range e.Codes {
		m := map[string]any{}
		if c.System != "" {
			m["system"] = c.System
		}
		if c.Code != "" {
			m["code"] = c.Code
		}
		if c.Display != "" {
			m["display"] = c.Display
		}
		if len(m) > 0 {
			cs = append(cs, m)
		}
	}
	if cs != nil {
		cc["coding"] = cs
	}
	if e.Display != "" {
		cc["text"] = e.Display
	}
	if len(cc) == 0 {
		cc["text"] = string(e.Category)
	}
	return cc
}

// entryResource builds the resource an entry is written as.
func entryResource(e merge.Entry, subject map[string]any) map[string]any {
	when := FormatTime(e.Time, e.Precision)
	r := map[string]any{}
	set := func(k string, v any) {
		if s, ok := v.(string); ok && s == "" {
			return
		}
		r[k] = v
	}
	switch e.Category {
	case merge.CategoryResult, merge.CategoryObservation:
		r["resourceType"] = "Observation"
		r["status"] = status("Observation", e.Status, "unknown")
		if e.Category == merge.CategoryResult {
			r["category"] = []any{map[string]any{"coding": []any{map[string]any{"system": ObservationCategorySystem, "code": "laboratory"}}}}
		}
		r["code"] = concept(e)
		r["subject"] = subject
		set("effectiveDateTime", when)
		if e.Value != nil {
			r["valueQuantity"] = quantity(e.Value, true)
		} else {
			set("valueString", e.ValueText)
		}
	case merge.CategoryReport:
		r["resourceType"] = "DiagnosticReport"
		r["status"] = status("DiagnosticReport", e.Status, "unknown")
		r["code"] = concept(e)
		r["subject"] = subject
		set("effectiveDateTime", when)
		set("conclusion", e.Text)
	case merge.CategoryMedication:
		r["resourceType"] = "MedicationStatement"
		r["status"] = status("MedicationStatement", e.Status, "unknown")
		r["medicationCodeableConcept"] = concept(e)
		r["subject"] = subject
		set("effectiveDateTime", when)
		dosage := map[string]any{}
		if e.ValueText != "" {
			dosage["text"] = e.ValueText
		}
		if e.Dose != nil {
			dosage["doseAndRate"] = []any{map[string]any{"doseQuantity": quantity(e.Dose, false)}}
		}
		if len(dosage) > 0 {
			r["dosage"] = []any{dosage}
		}
	case merge.CategoryAllergy:
		r["resourceType"] = "AllergyIntolerance"
		if s := status("AllergyIntolerance", e.Status, ""); s != "" {
			r["clinicalStatus"] = map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": s}}}
		}
		r["code"] = concept(e)
		r["patient"] = subject
		set("onsetDateTime", when)
		if slices.Contains([]string{"low", "high", "unable-to-assess"}, e.ValueText) {
			r["criticality"] = e.ValueText
		}
	case merge.CategoryProblem:
		r["resourceType"] = "Condition"
		if s := status("Condition", e.Status, ""); s != "" {
			r["clinicalStatus"] = map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": s}}}
		}
		r["code"] = concept(e)
		r["subject"] = subject
		set("onsetDateTime", when)
	case merge.CategoryProcedure:
		r["resourceType"] = "Procedure"
		r["status"] = status("Procedure", e.Status, "unknown")
		r["code"] = concept(e)
		r["subject"] = subject
		set("performedDateTime", when)
	case merge.CategoryImmunisation:
		r["resourceType"] = "Immunization"
		r["status"] = status("Immunization", e.Status, "completed")
		r["vaccineCode"] = concept(e)
		r["patient"] = subject
		if when != "" {
			r["occurrenceDateTime"] = when
		} else {
			r["occurrenceString"] = "unknown"
		}
	case merge.CategoryEncounter:
		r["resourceType"] = "Encounter"
		r["status"] = status("Encounter", e.Status, "unknown")
		r["class"] = map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "code": "UNK"}
		r["type"] = []any{concept(e)}
		r["subject"] = subject
		if when != "" {
			r["period"] = map[string]any{"start": when}
		}
	case merge.CategoryReferral:
		r["resourceType"] = "ServiceRequest"
		r["status"] = status("ServiceRequest", e.Status, "unknown")
		r["intent"] = "order"
		r["code"] = concept(e)
		r["subject"] = subject
		set("authoredOn", when)
	case merge.CategoryDocument, merge.CategoryNote:
		r["resourceType"] = "DocumentReference"
		r["status"] = status("DocumentReference", e.Status, "current")
		cc := concept(e)
		if e.Category == merge.CategoryNote && !hasNoteCode(e.Codes) {
			codings, _ := cc["coding"].([]any)
			cc["coding"] = append(codings, map[string]any{"system": LOINCSystem, "code": "34109-9", "display": "Note"})
		}
		r["type"] = cc
		r["subject"] = subject
		if e.Precision >= merge.PrecisionSecond {
			r["date"] = FormatTime(e.Time, e.Precision)
		}
		set("description", e.Display)
		att := map[string]any{"title": cmp.Or(e.Display, string(e.Category))}
		if e.Text != "" {
			att["contentType"] = "text/plain"
			att["data"] = base64.StdEncoding.EncodeToString([]byte(e.Text))
		}
		r["content"] = []any{map[string]any{"attachment": att}}
	default:
		r["resourceType"] = "Basic"
		r["code"] = concept(e)
		r["subject"] = subject
		if e.Precision >= merge.PrecisionDay {
			r["created"] = e.Time.UTC().Format("2006-01-02")
		}
	}
	return r
}

func hasNoteCode(cs []merge.Code) bool {
	for _, c := range cs {
		if c.System == LOINCSystem && noteTypes[c.Code] {
			return true
		}
	}
	return false
}

// LinkedPatients renders the records of one person as an R4 collection
// Bundle of Patients linked to each other with Patient.link. Every record
// links to every other with type seealso, except that a record whose key
// ([match.Record.Key]) is in replacedBy links to the record it was
// replaced by with type replaced-by, and that survivor links back with
// type replaces. References are the entries' fullUrls (urn:uuid, stable
// for a given record key).
func LinkedPatients(records []match.Record, replacedBy map[string]string) ([]byte, error) {
	urls := make(map[string]string, len(records))
	for _, r := range records {
		urls[r.Key()] = urnFor("patient:" + r.Key())
	}
	b := &bcrpb.Bundle{Type: &bcrpb.Bundle_TypeCode{Value: cpb.BundleTypeCode_COLLECTION}}
	for _, r := range records {
		m := patientJSONMap(r)
		if r.ID != "" && !fhirID.MatchString(r.ID) {
			delete(m, "id")
		}
		var links []any
		if to, ok := replacedBy[r.Key()]; ok && urls[to] != "" {
			links = append(links, map[string]any{"other": map[string]any{"reference": urls[to]}, "type": "replaced-by"})
		} else {
			for _, o := range records {
				if o.Key() == r.Key() {
					continue
				}
				typ := "seealso"
				if replacedBy[o.Key()] == r.Key() {
					typ = "replaces"
				}
				links = append(links, map[string]any{"other": map[string]any{"reference": urls[o.Key()]}, "type": typ})
			}
		}
		if links != nil {
			m["link"] = links
		}
		cr, err := buildResource(m)
		if err != nil {
			return nil, fmt.Errorf("fhirutil: linked patient %s: %w", r.Key(), err)
		}
		b.Entry = append(b.Entry, &bcrpb.Bundle_Entry{FullUrl: &dtpb.Uri{Value: urls[r.Key()]}, Resource: cr})
	}
	return marshal(&bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Bundle{Bundle: b}})
}

// Candidate is one $match result: a record, its score in [0, 1] (1 the
// most certain) and its grade.
type Candidate struct {
	Record match.Record
	Score  float64
	Grade  match.Grade
}

// MatchResponse renders $match results as the R4 searchset Bundle the
// operation returns: Patients ordered from the highest score to the lowest
// (ties keep their order), each with search.mode match, search.score
// (clamped to [0, 1]) and the match-grade extension.
func MatchResponse(cands []Candidate) ([]byte, error) {
	sorted := slices.Clone(cands)
	slices.SortStableFunc(sorted, func(a, b Candidate) int { return cmp.Compare(b.Score, a.Score) })
	entries := make([]any, 0, len(sorted))
	for _, c := range sorted {
		p := patientJSONMap(c.Record)
		if c.Record.ID != "" && !fhirID.MatchString(c.Record.ID) {
			delete(p, "id")
		}
		score := min(max(c.Score, 0), 1)
		search := map[string]any{
			"mode":  "match",
			"score": json.Number(strconv.FormatFloat(score, 'f', -1, 64)),
		}
		if c.Grade != "" {
			search["extension"] = []any{map[string]any{
				"url":       MatchGradeURL,
				"valueCode": string(c.Grade),
			}}
		}
		entries = append(entries, map[string]any{
			"fullUrl":  urnFor("patient:" + c.Record.Key()),
			"resource": p,
			"search":   search,
		})
	}
	b := map[string]any{"resourceType": "Bundle", "type": "searchset", "total": len(entries)}
	if len(entries) > 0 {
		b["entry"] = entries
	}
	cr, err := buildResource(b)
	if err != nil {
		return nil, fmt.Errorf("fhirutil: $match response: %w", err)
	}
	return marshal(cr)
}

// MatchRequest is a parsed Patient/$match request.
type MatchRequest struct {
	// Record holds the demographics of the resource parameter.
	Record match.Record
	// OnlyCertainMatches asks for certain matches only.
	OnlyCertainMatches bool
	// Count is the most results wanted; zero when not given.
	Count int
}

// ParseMatchRequest parses the body of a Patient/$match request: a
// Parameters resource with a resource parameter holding a Patient, and
// optional onlyCertainMatches and count. A bare Patient is accepted as
// the resource parameter alone. The Patient is read leniently: the
// operation does not require it to be complete or valid.
//
// google/fhir v0.7.4 cannot decode Parameters.parameter.resource (it
// models it as a protobuf Any and rejects the resource's elements), so the
// Parameters envelope is read with encoding/json and the Patient inside it
// with jsonformat.
func ParseMatchRequest(data []byte) (MatchRequest, error) {
	var req MatchRequest
	var env struct {
		ResourceType string `json:"resourceType"`
		Parameter    []struct {
			Name         string          `json:"name"`
			Resource     json.RawMessage `json:"resource"`
			ValueBoolean *bool           `json:"valueBoolean"`
			ValueInteger *int            `json:"valueInteger"`
		} `json:"parameter"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return req, fmt.Errorf("%w: %w: %s", ErrInvalidMatchRequest, ErrInvalidJSON, syntaxOnly(err, 0, len(data)))
	}
	patient := data
	switch env.ResourceType {
	case "Patient":
	case "Parameters":
		patient = nil
		for i, p := range env.Parameter {
			switch p.Name {
			case "resource":
				if len(p.Resource) == 0 {
					return req, fmt.Errorf("%w: parameter[%d] has no resource", ErrInvalidMatchRequest, i)
				}
				patient = p.Resource
			case "onlyCertainMatches":
				if p.ValueBoolean != nil {
					req.OnlyCertainMatches = *p.ValueBoolean
				}
			case "count":
				if p.ValueInteger != nil {
					req.Count = max(*p.ValueInteger, 0)
				}
			}
		}
		if patient == nil {
			return req, fmt.Errorf("%w: no resource parameter", ErrInvalidMatchRequest)
		}
	default:
		return req, fmt.Errorf("%w: want Parameters or Patient, not %s", ErrInvalidMatchRequest, cmp.Or(env.ResourceType, "no resourceType"))
	}
	b, err := Decode(patient, &Options{Lenient: true, Workers: 1})
	if err != nil {
		return req, fmt.Errorf("%w: %w", ErrInvalidMatchRequest, err)
	}
	if len(b.Resources) != 1 {
		return req, fmt.Errorf("%w: resource parameter: %w", ErrInvalidMatchRequest, errors.Join(b.Err(), ErrNotPatient))
	}
	rec, ok := b.Resources[0].Record("", b.Retrieved)
	if !ok {
		return req, fmt.Errorf("%w: resource parameter: %w", ErrInvalidMatchRequest, ErrNotPatient)
	}
	req.Record = rec
	return req, nil
}

// Access is one access to a patient's record, for the audit trail. It
// names people and organisations by id only.
type Access struct {
	// User is the id of the person who looked.
	User string
	// Org is the organisation code (ODS) the user acted for.
	Org string
	// Role is the user's role code, if known.
	Role string
	// Patient is a reference to the patient viewed ("Patient/123") or
	// the enterprise id.
	Patient string
	// Sources are the ids of the sources asked.
	Sources []string
	// Err is the failure, nil for success. Only its presence is written.
	Err error
	// Time is when the access happened; zero means now.
	Time time.Time
	// Observer names the system recording the event; "" means CareLens.
	Observer string
}

// AuditEventJSON renders an access as an R4 AuditEvent (REST read, action
// R): the user as requesting agent, the organisation as a second agent,
// the patient and each source asked as entities, and the outcome (0 for
// success, 8 for a failure).
func AuditEventJSON(a Access) ([]byte, error) {
	t := a.Time
	if t.IsZero() {
		t = time.Now()
	}
	user := map[string]any{
		"who":       map[string]any{"identifier": map[string]any{"value": cmp.Or(a.User, "unknown")}},
		"requestor": true,
	}
	if a.Role != "" {
		user["role"] = []any{map[string]any{"text": a.Role}}
	}
	agents := []any{user}
	if a.Org != "" {
		agents = append(agents, map[string]any{
			"who":       map[string]any{"identifier": map[string]any{"system": ODSSystem, "value": a.Org}},
			"requestor": false,
		})
	}
	var entities []any
	if a.Patient != "" {
		what := map[string]any{"reference": a.Patient}
		if !regexp.MustCompile(`^[A-Za-z]+/[A-Za-z0-9\-.]{1,64}$`).MatchString(a.Patient) {
			what = map[string]any{"identifier": map[string]any{"value": a.Patient}}
		}
		entities = append(entities, map[string]any{
			"what": what,
			"type": map[string]any{"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person"},
			"role": map[string]any{"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"},
		})
	}
	for _, s := range a.Sources {
		entities = append(entities, map[string]any{
			"what": map[string]any{"identifier": map[string]any{"system": SourceSystem, "value": s}},
			"type": map[string]any{"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"},
		})
	}
	outcome := "0"
	if a.Err != nil {
		outcome = "8"
	}
	ev := map[string]any{
		"resourceType": "AuditEvent",
		"type":         map[string]any{"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest", "display": "RESTful Operation"},
		"subtype":      []any{map[string]any{"system": "http://hl7.org/fhir/restful-interaction", "code": "read", "display": "read"}},
		"action":       "R",
		"recorded":     t.UTC().Format("2006-01-02T15:04:05.999999Z07:00"),
		"outcome":      outcome,
		"agent":        agents,
		"source":       map[string]any{"observer": map[string]any{"display": cmp.Or(a.Observer, "CareLens")}},
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
