package fhirutil

import (
	"cmp"
	"html"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/fhir/go/jsonformat"
	apb "github.com/google/fhir/go/proto/google/fhir/proto/annotations_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	compositionpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/composition_go_proto"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/provenance"
)

// Code systems and codes CareLens reads to choose a category.
const (
	// ObservationCategorySystem is the R4 observation-category code system.
	ObservationCategorySystem = "http://terminology.hl7.org/CodeSystem/observation-category"
	// LOINCSystem is the LOINC code system URI.
	LOINCSystem = "http://loinc.org"
)

// noteTypes are LOINC document types that are free-text clinical notes
// rather than documents: progress note, note, nurse note, procedure note.
var noteTypes = map[string]bool{"11506-3": true, "34109-9": true, "34746-8": true, "28570-0": true}

// Entries returns the clinical entries of b, in input order, each tagged
// with b's source, the resource's type, id, version and lastUpdated, and
// b's retrieval time. Patients are identity, not clinical items, and are
// left out (see [Batch.Patients]); every other resource yields one entry,
// resource types CareLens does not map becoming [merge.CategoryOther].
// Before merging, put each source's entries in order with [merge.Engine.Sort].
// A DetectedIssue in [ConflictSystem] is no entry of its own: the entries
// it implicates carry its conflict id. [ReadEntries] gives the same
// entries from a reader without holding the resources.
func (b *Batch) Entries() []merge.Entry {
	out := make([]merge.Entry, 0, len(b.Resources))
	var x crossRefs
	x.add(b)
	for _, r := range b.Resources {
		if !r.isEntry() {
			continue
		}
		e := r.entry(b.Source.ID, b.Retrieved, x.meds)
		x.resolve(&e, r.refKey())
		out = append(out, e)
	}
	return out
}

// isEntry reports whether r yields an entry: Patients and the
// DetectedIssues of [ConflictSystem] do not.
func (r *Resource) isEntry() bool { return r.Type != "Patient" && !r.isConflictIssue() }

// crossRefs are what one resource of an input says of others, which
// [Batch.Entries] reads into their entries: the codes of Medications
// (for a medicationReference), the sources Provenances give their
// targets, and the conflicts DetectedIssues of [ConflictSystem] mark.
// They are small beside the resources: a code per Medication, a tag per
// Provenance entity, a mark per implicated reference.
type crossRefs struct {
	meds      medications
	provs     map[string][]provenance.Tag // by target: a fullUrl or "Type/id"
	conflicts map[string]conflictMark     // by implicated fullUrl or "Type/id"
}

// add reads the cross-references of b's resources. Adding the batches of
// one input in order gives what adding them as one batch gives: a later
// Medication or conflict for the same reference wins, Provenance tags
// accumulate in input order.
func (x *crossRefs) add(b *Batch) {
	for _, r := range b.Resources {
		x.addMedication(r)
		x.addProvenance(r, b.Source.ID)
		x.addConflict(r)
	}
}

// refKey is what an entry is found by in the cross-references.
type refKey struct {
	typ, id, fullURL string
}

func (r *Resource) refKey() refKey { return refKey{typ: r.Type, id: r.ID, fullURL: r.FullURL} }

// resolve applies the conflict marks and Provenance sources of the
// resource k to its entry e.
func (x *crossRefs) resolve(e *merge.Entry, k refKey) {
	if m, ok := x.conflictOf(k); ok {
		e.Conflict = m.id
	}
	if x.provs == nil {
		return
	}
	var tags []provenance.Tag
	if k.fullURL != "" {
		tags = append(tags, x.provs[k.fullURL]...)
	}
	if k.id != "" {
		tags = append(tags, x.provs[k.typ+"/"+k.id]...)
	}
	if len(tags) > 0 {
		e.Lineage = e.Lineage.Union(provenance.Of(tags...))
	}
}

// addProvenance reads r when it is a Provenance: for each target
// reference (a fullUrl or "Type/id"), the tags of its source entities. An
// entity's source is the value of its agent's identifier in system
// [SourceSystem] (as [TimelineBundle] writes it), else source.
func (x *crossRefs) addProvenance(r *Resource, source string) {
	p := r.cr.GetProvenance()
	if p == nil {
		return
	}
	var tags []provenance.Tag
	for _, ent := range p.GetEntity() {
		t := provenance.Tag{Source: source}
		for _, a := range ent.GetAgent() {
			if id := a.GetWho().GetIdentifier(); id.GetSystem().GetValue() == SourceSystem && id.GetValue().GetValue() != "" {
				t.Source = id.GetValue().GetValue()
			}
		}
		ref := referenceString(ent.GetWhat())
		if ref == "" {
			continue
		}
		if typ, rest, ok := strings.Cut(ref, "/"); ok && !strings.Contains(typ, ":") {
			t.ResourceType = typ
			t.ResourceID, t.Version, _ = strings.Cut(rest, "/_history/")
		} else {
			t.ResourceID = ref // a fullUrl such as urn:uuid:...
			t.ResourceType = ent.GetWhat().GetType().GetValue()
		}
		tags = append(tags, t)
	}
	if len(tags) == 0 {
		return
	}
	for _, target := range p.GetTarget() {
		ref := referenceString(target)
		if ref == "" {
			continue
		}
		ref, _, _ = strings.Cut(ref, "/_history/")
		if x.provs == nil {
			x.provs = map[string][]provenance.Tag{}
		}
		x.provs[ref] = append(x.provs[ref], tags...)
	}
}

// referenceString returns a Reference as the string FHIR JSON carries
// ("Observation/1/_history/2", "urn:uuid:...", "#contained"), or "".
func referenceString(ref *dtpb.Reference) string {
	if ref == nil {
		return ""
	}
	c := proto.Clone(ref).(*dtpb.Reference)
	if jsonformat.DenormalizeReference(c) != nil {
		return ""
	}
	return c.GetUri().GetValue()
}

// Entry maps r to a timeline entry tagged as delivered by source and
// retrieved at the given time.
//
// Mapping: Observation is a result when one of its categories is
// "laboratory", else an observation; DiagnosticReport a report;
// MedicationStatement, MedicationRequest and MedicationDispense a
// medication (the dose text in ValueText); AllergyIntolerance an allergy
// (criticality in ValueText); Condition a problem; Procedure a procedure;
// Immunization an immunisation; Encounter an encounter; ServiceRequest a
// referral; DocumentReference and Composition a document, or a note when
// their type is a LOINC note type (progress, nurse, procedure note). Any
// other type is CategoryOther with the type name as Display.
func (r *Resource) Entry(source string, retrieved time.Time) merge.Entry {
	return r.entry(source, retrieved, nil)
}

// medications finds a Medication's code by the reference to it: a
// fullUrl, "Medication/id", or a contained "#id".
type medications map[string]*dtpb.CodeableConcept

// addMedication indexes r, when it is a Medication with a code, by
// fullUrl and by "Medication/id", so that a medicationReference can be
// read as a code.
func (x *crossRefs) addMedication(r *Resource) {
	m := r.cr.GetMedication()
	if m == nil || m.GetCode() == nil {
		return
	}
	if x.meds == nil {
		x.meds = medications{}
	}
	if r.FullURL != "" {
		x.meds[r.FullURL] = m.GetCode()
	}
	if r.ID != "" {
		x.meds["Medication/"+r.ID] = m.GetCode()
	}
}

func (r *Resource) entry(source string, retrieved time.Time, meds medications) merge.Entry {
	e := merge.Entry{Lineage: provenance.Of(r.Tag(source, retrieved))}
	if r.cr == nil {
		// A stub, or a resource skimmed because its type is not mapped.
		e.Category, e.Display, e.Status = merge.CategoryOther, r.Type, r.status
		return e
	}
	cr := r.cr
	switch {
	case cr.GetObservation() != nil:
		o := cr.GetObservation()
		e.Category = merge.CategoryObservation
		for _, c := range o.GetCategory() {
			if hasCoding(c, ObservationCategorySystem, "laboratory") {
				e.Category = merge.CategoryResult
			}
		}
		setConcept(&e, o.GetCode())
		setTime(&e, choiceTime(o.GetEffective()), o.GetIssued())
		setValue(&e, o.GetValue())
		e.Status = codeOf(o.GetStatus())
	case cr.GetDiagnosticReport() != nil:
		d := cr.GetDiagnosticReport()
		e.Category = merge.CategoryReport
		setConcept(&e, d.GetCode())
		setTime(&e, choiceTime(d.GetEffective()), d.GetIssued())
		e.Status = codeOf(d.GetStatus())
		e.Text = d.GetConclusion().GetValue()
	case cr.GetMedicationStatement() != nil:
		m := cr.GetMedicationStatement()
		e.Category = merge.CategoryMedication
		setMedication(&e, m.GetMedication(), r.cr, meds)
		setTime(&e, choiceTime(m.GetEffective()), m.GetDateAsserted())
		e.Status = codeOf(m.GetStatus())
		e.ValueText = dosageText(m.GetDosage())
		e.Dose = doseOf(m.GetDosage())
	case cr.GetMedicationRequest() != nil:
		m := cr.GetMedicationRequest()
		e.Category = merge.CategoryMedication
		setMedication(&e, m.GetMedication(), r.cr, meds)
		setTime(&e, m.GetAuthoredOn())
		e.Status = codeOf(m.GetStatus())
		e.ValueText = dosageText(m.GetDosageInstruction())
		e.Dose = doseOf(m.GetDosageInstruction())
	case cr.GetMedicationDispense() != nil:
		m := cr.GetMedicationDispense()
		e.Category = merge.CategoryMedication
		setMedication(&e, m.GetMedication(), r.cr, meds)
		setTime(&e, m.GetWhenHandedOver(), m.GetWhenPrepared())
		e.Status = codeOf(m.GetStatus())
		e.ValueText = dosageText(m.GetDosageInstruction())
		e.Dose = doseOf(m.GetDosageInstruction())
	case cr.GetAllergyIntolerance() != nil:
		a := cr.GetAllergyIntolerance()
		e.Category = merge.CategoryAllergy
		setConcept(&e, a.GetCode())
		setTime(&e, choiceTime(a.GetOnset()), a.GetRecordedDate())
		e.Status = conceptCode(a.GetClinicalStatus())
		e.ValueText = codeOf(a.GetCriticality())
	case cr.GetCondition() != nil:
		c := cr.GetCondition()
		e.Category = merge.CategoryProblem
		setConcept(&e, c.GetCode())
		setTime(&e, choiceTime(c.GetOnset()), c.GetRecordedDate())
		e.Status = conceptCode(c.GetClinicalStatus())
	case cr.GetProcedure() != nil:
		p := cr.GetProcedure()
		e.Category = merge.CategoryProcedure
		setConcept(&e, p.GetCode())
		setTime(&e, choiceTime(p.GetPerformed()))
		e.Status = codeOf(p.GetStatus())
	case cr.GetImmunization() != nil:
		im := cr.GetImmunization()
		e.Category = merge.CategoryImmunisation
		setConcept(&e, im.GetVaccineCode())
		setTime(&e, choiceTime(im.GetOccurrence()), im.GetRecorded())
		e.Status = codeOf(im.GetStatus())
	case cr.GetEncounter() != nil:
		en := cr.GetEncounter()
		e.Category = merge.CategoryEncounter
		for _, t := range en.GetType() {
			setConcept(&e, t)
		}
		if len(e.Codes) == 0 && en.GetClassValue() != nil {
			c := en.GetClassValue()
			e.Codes = append(e.Codes, merge.Code{System: c.GetSystem().GetValue(), Code: c.GetCode().GetValue(), Display: c.GetDisplay().GetValue()})
			e.Display = cmp.Or(e.Display, c.GetDisplay().GetValue(), c.GetCode().GetValue())
		}
		setTime(&e, en.GetPeriod().GetStart(), en.GetPeriod().GetEnd())
		e.Status = codeOf(en.GetStatus())
	case cr.GetServiceRequest() != nil:
		s := cr.GetServiceRequest()
		e.Category = merge.CategoryReferral
		setConcept(&e, s.GetCode())
		setTime(&e, s.GetAuthoredOn(), choiceTime(s.GetOccurrence()))
		e.Status = codeOf(s.GetStatus())
	case cr.GetDocumentReference() != nil:
		d := cr.GetDocumentReference()
		e.Category = documentCategory(d.GetType())
		setConcept(&e, d.GetType())
		e.Display = cmp.Or(d.GetDescription().GetValue(), e.Display)
		setTime(&e, d.GetDate(), d.GetContext().GetPeriod().GetStart())
		e.Status = codeOf(d.GetStatus())
		for _, c := range d.GetContent() {
			if e.Text = attachmentText(c.GetAttachment()); e.Text != "" {
				break
			}
		}
	case cr.GetComposition() != nil:
		c := cr.GetComposition()
		e.Category = documentCategory(c.GetType())
		setConcept(&e, c.GetType())
		e.Display = cmp.Or(c.GetTitle().GetValue(), e.Display)
		setTime(&e, c.GetDate())
		e.Status = codeOf(c.GetStatus())
		e.Text = compositionText(c)
	default:
		e.Category, e.Display = merge.CategoryOther, r.Type
		if m := inner(cr); m != nil {
			if f := m.Descriptor().Fields().ByName("status"); f != nil && f.Message() != nil && m.Has(f) {
				e.Status = codeOf(m.Get(f).Message().Interface())
			}
		}
	}
	return e
}

// MaxText bounds the free text an entry carries from a note or document
// (a plain-text attachment or a Composition's narrative); longer text is
// cut at a character boundary and marked.
const MaxText = 64 << 10

// attachmentText returns the body of a plain-text attachment held inline
// (data), or "" for other content types, URLs and invalid UTF-8.
func attachmentText(a *dtpb.Attachment) string {
	ct := strings.ToLower(strings.TrimSpace(a.GetContentType().GetValue()))
	if ct != "" && !strings.HasPrefix(ct, "text/plain") {
		return ""
	}
	data := a.GetData().GetValue()
	if len(data) == 0 || !utf8.Valid(data) {
		return ""
	}
	return clipText(string(data))
}

// compositionText returns a Composition's sections as text: each
// section's title, then its narrative with the XHTML tags removed.
func compositionText(c *compositionpb.Composition) string {
	var b strings.Builder
	var walk func(secs []*compositionpb.Composition_Section)
	walk = func(secs []*compositionpb.Composition_Section) {
		for _, s := range secs {
			if b.Len() > MaxText {
				return
			}
			if t := s.GetTitle().GetValue(); t != "" {
				if b.Len() > 0 {
					b.WriteString("\n")
				}
				b.WriteString(t)
				b.WriteString(": ")
			}
			b.WriteString(narrativeText(s.GetText().GetDiv().GetValue()))
			walk(s.GetSection())
		}
	}
	walk(c.GetSection())
	return clipText(strings.TrimSpace(b.String()))
}

// narrativeText strips the tags of an XHTML narrative and unescapes its
// entities, keeping paragraph, line and list-item breaks as newlines.
func narrativeText(div string) string {
	var b strings.Builder
	in := false
	for i := 0; i < len(div); i++ {
		switch c := div[i]; {
		case c == '<':
			in = true
			if strings.HasPrefix(div[i:], "<p") || strings.HasPrefix(div[i:], "<br") || strings.HasPrefix(div[i:], "<li") {
				if b.Len() > 0 {
					b.WriteByte('\n')
				}
			}
		case c == '>':
			in = false
		case !in:
			b.WriteByte(c)
		}
	}
	// Markup indentation is not text: collapse whitespace within lines
	// and drop empty ones.
	var lines []string
	for l := range strings.SplitSeq(html.UnescapeString(b.String()), "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

func clipText(s string) string {
	if len(s) <= MaxText {
		return s
	}
	cut := MaxText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + " [text cut: longer than CareLens shows]"
}

func documentCategory(t *dtpb.CodeableConcept) merge.Category {
	for _, c := range t.GetCoding() {
		if c.GetSystem().GetValue() == LOINCSystem && noteTypes[c.GetCode().GetValue()] {
			return merge.CategoryNote
		}
	}
	return merge.CategoryDocument
}

func hasCoding(cc *dtpb.CodeableConcept, system, code string) bool {
	for _, c := range cc.GetCoding() {
		if c.GetSystem().GetValue() == system && c.GetCode().GetValue() == code {
			return true
		}
	}
	return false
}

// setConcept appends the codings of cc and sets Display from its text or
// first coding display, unless Display is already set.
func setConcept(e *merge.Entry, cc *dtpb.CodeableConcept) {
	for _, c := range cc.GetCoding() {
		e.Codes = append(e.Codes, merge.Code{System: c.GetSystem().GetValue(), Code: c.GetCode().GetValue(), Display: c.GetDisplay().GetValue()})
	}
	if e.Display != "" {
		return
	}
	e.Display = cc.GetText().GetValue()
	for _, c := range cc.GetCoding() {
		if e.Display != "" {
			break
		}
		e.Display = c.GetDisplay().GetValue()
	}
}

// conceptCode returns the first code of cc (a clinicalStatus), or its text.
func conceptCode(cc *dtpb.CodeableConcept) string {
	for _, c := range cc.GetCoding() {
		if v := c.GetCode().GetValue(); v != "" {
			return v
		}
	}
	return cc.GetText().GetValue()
}

type medicationX interface {
	GetCodeableConcept() *dtpb.CodeableConcept
	GetReference() *dtpb.Reference
}

func setMedication(e *merge.Entry, m medicationX, cr *bcrpb.ContainedResource, meds medications) {
	if cc := m.GetCodeableConcept(); cc != nil {
		setConcept(e, cc)
		return
	}
	ref := m.GetReference()
	var cc *dtpb.CodeableConcept
	if ref.GetFragment() != nil {
		cc = containedMedication(cr, ref.GetFragment().GetValue())
	} else if k := medicationKey(ref); k != "" {
		cc = meds[k]
	}
	e.Display = ref.GetDisplay().GetValue()
	setConcept(e, cc)
}

// medicationKey returns the key by which ref finds a Medication elsewhere
// in the input ("Medication/id" or a fullUrl), or "".
func medicationKey(ref *dtpb.Reference) string {
	switch {
	case ref.GetMedicationId() != nil:
		return "Medication/" + ref.GetMedicationId().GetValue()
	case ref.GetUri() != nil:
		return ref.GetUri().GetValue()
	}
	return ""
}

// medicationRef returns the key of the Medication elsewhere in the input
// that r, a MedicationStatement, MedicationRequest or
// MedicationDispense, names by reference for its code, or "".
func (r *Resource) medicationRef() string {
	var m medicationX
	switch cr := r.cr; {
	case cr.GetMedicationStatement() != nil:
		m = cr.GetMedicationStatement().GetMedication()
	case cr.GetMedicationRequest() != nil:
		m = cr.GetMedicationRequest().GetMedication()
	case cr.GetMedicationDispense() != nil:
		m = cr.GetMedicationDispense().GetMedication()
	default:
		return ""
	}
	if m.GetCodeableConcept() != nil {
		return ""
	}
	return medicationKey(m.GetReference())
}

// containedMedication returns the code of the Medication contained in cr
// with the given id.
func containedMedication(cr *bcrpb.ContainedResource, id string) *dtpb.CodeableConcept {
	m := inner(cr)
	if m == nil {
		return nil
	}
	f := m.Descriptor().Fields().ByName("contained")
	if f == nil || !f.IsList() {
		return nil
	}
	l := m.Get(f).List()
	for i := range l.Len() {
		a, ok := l.Get(i).Message().Interface().(*anypb.Any)
		if !ok {
			continue
		}
		c := &bcrpb.ContainedResource{}
		if a.UnmarshalTo(c) != nil {
			continue
		}
		if med := c.GetMedication(); med != nil && med.GetId().GetValue() == id {
			return med.GetCode()
		}
	}
	return nil
}

// doseOf returns the first structured dose quantity of ds.
func doseOf(ds []*dtpb.Dosage) *merge.Quantity {
	for _, d := range ds {
		for _, dr := range d.GetDoseAndRate() {
			q := dr.GetDose().GetQuantity()
			if q == nil {
				continue
			}
			f, err := strconv.ParseFloat(q.GetValue().GetValue(), 64)
			if err != nil {
				continue
			}
			return &merge.Quantity{Value: f, Unit: cmp.Or(q.GetCode().GetValue(), q.GetUnit().GetValue())}
		}
	}
	return nil
}

func dosageText(ds []*dtpb.Dosage) string {
	var parts []string
	for _, d := range ds {
		if t := d.GetText().GetValue(); t != "" {
			parts = append(parts, t)
		}
	}
	return strings.Join(parts, "; ")
}

// setValue maps an Observation value[x]: a Quantity (or integer) to
// Value; a CodeableConcept, string or boolean to ValueText.
func setValue(e *merge.Entry, v interface {
	GetQuantity() *dtpb.Quantity
	GetCodeableConcept() *dtpb.CodeableConcept
	GetStringValue() *dtpb.String
	GetBoolean() *dtpb.Boolean
	GetInteger() *dtpb.Integer
}) {
	switch {
	case v.GetQuantity() != nil:
		q := v.GetQuantity()
		f, err := strconv.ParseFloat(q.GetValue().GetValue(), 64)
		if err != nil {
			return
		}
		e.Value = &merge.Quantity{Value: f, Unit: cmp.Or(q.GetCode().GetValue(), q.GetUnit().GetValue()), Comparator: codeOf(q.GetComparator())}
	case v.GetInteger() != nil:
		e.Value = &merge.Quantity{Value: float64(v.GetInteger().GetValue())}
	case v.GetCodeableConcept() != nil:
		cc := v.GetCodeableConcept()
		e.ValueText = cc.GetText().GetValue()
		for _, c := range cc.GetCoding() {
			e.ValueText = cmp.Or(e.ValueText, c.GetDisplay().GetValue(), c.GetCode().GetValue())
		}
	case v.GetStringValue() != nil:
		e.ValueText = v.GetStringValue().GetValue()
	case v.GetBoolean() != nil:
		e.ValueText = strconv.FormatBool(v.GetBoolean().GetValue())
	}
}

// choiceTime returns the time held by a choice element such as
// effective[x] or onset[x]: a dateTime, an instant, a date, or a Period's
// start (its end when there is no start). Other choices (age, range,
// string, timing) give nil.
func choiceTime(x proto.Message) proto.Message {
	if x == nil {
		return nil
	}
	m := x.ProtoReflect()
	if !m.IsValid() || m.Descriptor().Oneofs().Len() == 0 {
		return nil
	}
	f := m.WhichOneof(m.Descriptor().Oneofs().Get(0))
	if f == nil || f.Message() == nil {
		return nil
	}
	switch v := m.Get(f).Message().Interface().(type) {
	case *dtpb.DateTime, *dtpb.Instant, *dtpb.Date:
		return v
	case *dtpb.Period:
		if v.GetStart() != nil {
			return v.GetStart()
		}
		if v.GetEnd() != nil {
			return v.GetEnd()
		}
	}
	return nil
}

// setTime sets the entry's time from the first of ts that holds one.
func setTime(e *merge.Entry, ts ...proto.Message) {
	for _, t := range ts {
		if tm, p, ok := timeOf(t); ok {
			e.Time, e.Precision = tm, p
			return
		}
	}
}

// timeOf converts a FHIR date, dateTime or instant to a UTC time
// truncated to its precision. Values are microseconds since the epoch
// whatever the zone; dates were read in UTC (see [TimeZone]) and so stay
// on their calendar day.
func timeOf(m proto.Message) (time.Time, merge.Precision, bool) {
	var us int64
	var p merge.Precision
	switch v := m.(type) {
	case *dtpb.DateTime:
		if v == nil {
			return time.Time{}, 0, false
		}
		us = v.GetValueUs()
		switch v.GetPrecision() {
		case dtpb.DateTime_YEAR:
			p = merge.PrecisionYear
		case dtpb.DateTime_MONTH:
			p = merge.PrecisionMonth
		case dtpb.DateTime_DAY:
			p = merge.PrecisionDay
		case dtpb.DateTime_SECOND:
			p = merge.PrecisionSecond
		case dtpb.DateTime_MILLISECOND, dtpb.DateTime_MICROSECOND:
			p = merge.PrecisionInstant
		default:
			return time.Time{}, 0, false
		}
	case *dtpb.Instant:
		if v == nil {
			return time.Time{}, 0, false
		}
		us = v.GetValueUs()
		p = merge.PrecisionSecond
		if v.GetPrecision() == dtpb.Instant_MILLISECOND || v.GetPrecision() == dtpb.Instant_MICROSECOND {
			p = merge.PrecisionInstant
		}
	case *dtpb.Date:
		if v == nil {
			return time.Time{}, 0, false
		}
		us = v.GetValueUs()
		switch v.GetPrecision() {
		case dtpb.Date_YEAR:
			p = merge.PrecisionYear
		case dtpb.Date_MONTH:
			p = merge.PrecisionMonth
		case dtpb.Date_DAY:
			p = merge.PrecisionDay
		default:
			return time.Time{}, 0, false
		}
	default:
		return time.Time{}, 0, false
	}
	t := time.UnixMicro(us).UTC()
	switch p {
	case merge.PrecisionYear:
		t = time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	case merge.PrecisionMonth:
		t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	case merge.PrecisionDay:
		t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	case merge.PrecisionSecond:
		t = t.Truncate(time.Second)
	}
	return t, p, true
}

// codeOf returns the FHIR code of a google/fhir code message (a message
// with an enum "value" field, such as Observation.StatusCode), or "".
func codeOf(x proto.Message) string {
	if x == nil {
		return ""
	}
	m := x.ProtoReflect()
	if !m.IsValid() {
		return ""
	}
	f := m.Descriptor().Fields().ByName("value")
	if f == nil || f.Kind() != protoreflect.EnumKind {
		return ""
	}
	n := m.Get(f).Enum()
	if n == 0 {
		return "" // INVALID_UNINITIALIZED
	}
	ev := f.Enum().Values().ByNumber(n)
	if ev == nil {
		return ""
	}
	return enumCode(ev)
}

// enumCode returns the FHIR code of a google/fhir enum value: its
// original code when the proto records one, else its name in lower case
// with dashes.
func enumCode(ev protoreflect.EnumValueDescriptor) string {
	if orig, ok := proto.GetExtension(ev.Options(), apb.E_FhirOriginalCode).(string); ok && orig != "" {
		return orig
	}
	return strings.ReplaceAll(strings.ToLower(string(ev.Name())), "_", "-")
}
