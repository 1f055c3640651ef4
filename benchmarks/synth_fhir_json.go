package benchmarks

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carelens/carelens/merge"
)

// FHIR systems the generator writes.
const (
	fhirNHSSystem     = "https://fhir.nhs.uk/Id/nhs-number"
	fhirUCUM          = "http://unitsofmeasure.org"
	fhirObsCategory   = "http://terminology.hl7.org/CodeSystem/observation-category"
	fhirActCode       = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	fhirCondClinical  = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	fhirCondVer       = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
	fhirCondCategory  = "http://terminology.hl7.org/CodeSystem/condition-category"
	fhirAllergyClin   = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
	fhirAllergyVer    = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
	fhirIdentifierTyp = "http://terminology.hl7.org/CodeSystem/v2-0203"
)

// FHIRBaseURL returns the base URL the generator gives source: the root of
// the Bundle entries' fullUrls and of the source's MRN identifier system
// (FHIRBaseURL(source)+"Id/mrn"). The host is under the reserved .example
// domain.
func FHIRBaseURL(source string) string {
	return "https://" + strings.ToLower(strings.ReplaceAll(source, "_", "-")) + ".carelens.example/fhir/"
}

// jw appends compact JSON, tracking where commas go.
type jw struct {
	b     []byte
	comma bool
}

func (w *jw) sep() {
	if w.comma {
		w.b = append(w.b, ',')
	}
}

func (w *jw) key(k string) {
	w.sep()
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
	w.comma = false
}

// obj opens an object, as member k or, when k is empty, as an array element.
func (w *jw) obj(k string) {
	if k != "" {
		w.key(k)
	} else {
		w.sep()
	}
	w.b = append(w.b, '{')
	w.comma = false
}

func (w *jw) end() { w.b = append(w.b, '}'); w.comma = true }

// arr opens array member k.
func (w *jw) arr(k string) {
	w.key(k)
	w.b = append(w.b, '[')
	w.comma = false
}

func (w *jw) endArr() { w.b = append(w.b, ']'); w.comma = true }

// str writes string member k, or an array element when k is empty.
func (w *jw) str(k, v string) {
	if k != "" {
		w.key(k)
	} else {
		w.sep()
	}
	w.b = appendJSONString(w.b, v)
	w.comma = true
}

func (w *jw) num(k string, v float64) {
	w.key(k)
	w.b = appendDecimal(w.b, v)
	w.comma = true
}

func (w *jw) boolean(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
	w.comma = true
}

func (w *jw) ref(k, typ, id string) {
	w.obj(k)
	w.str("reference", typ+"/"+id)
	w.end()
}

// coding writes a CodeableConcept with one coding and a text.
func (w *jw) concept(k string, system, code, display, text string) {
	w.obj(k)
	if code != "" {
		w.arr("coding")
		w.obj("")
		w.str("system", system)
		w.str("code", code)
		if display != "" {
			w.str("display", display)
		}
		w.end()
		w.endArr()
	}
	if text != "" {
		w.str("text", text)
	}
	w.end()
}

func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

// appendDecimal writes v as a JSON number in its shortest decimal form,
// never with an exponent (FHIR decimals keep their digits).
func appendDecimal(b []byte, v float64) []byte {
	if v == 0 {
		return append(b, '0')
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// fhirTime renders t at precision p as a FHIR date or dateTime in UTC.
func fhirTime(t time.Time, p merge.Precision) string {
	t = t.UTC()
	switch p {
	case merge.PrecisionYear:
		return t.Format("2006")
	case merge.PrecisionMonth:
		return t.Format("2006-01")
	case merge.PrecisionDay:
		return t.Format("2006-01-02")
	}
	return t.Format("2006-01-02T15:04:05Z")
}

func instant(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// referenceRanges are the usual adult ranges of some tests in the
// concept's first unit; a negative bound is absent.
var referenceRanges = map[string][2]float64{
	"haemoglobin": {115, 165}, "glucose": {4, 7}, "creatinine": {45, 110}, "sodium": {133, 146},
	"potassium": {3.5, 5.3}, "cholesterol": {-1, 5}, "hba1c": {4, 6}, "urea": {2.5, 7.8},
	"albumin": {35, 50}, "calcium": {2.2, 2.6}, "crp": {-1, 5}, "wbc": {4, 11}, "platelets": {150, 400},
	"alt": {-1, 40}, "tsh": {0.27, 4.2}, "ferritin": {30, 400}, "egfr": {60, -1}, "bilirubin": {-1, 21},
	"magnesium": {0.7, 1}, "phosphate": {0.8, 1.5}, "vitd": {50, -1}, "psa": {-1, 4}, "inr": {2, 3},
	"triglycerides": {-1, 1.7},
}

var encounterClass = map[string]string{
	"AMB": "ambulatory", "VR": "virtual", "IMP": "inpatient encounter", "EMER": "emergency", "HH": "home health",
}

// statusOr returns s in lower case when it is one of allowed, else def.
func statusOr(s, def string, allowed ...string) string {
	if s = strings.ToLower(s); slices.Contains(allowed, s) {
		return s
	}
	return def
}

// bundle renders source s's bundle of registration rec: the Patient and
// the clinical resources of the facts s holds whose time keep accepts. It
// appends to dst and truth and returns them.
func (fg *fhirGen) bundle(dst []byte, truth []bundleFact, p *person, h *history, s int, rec *[10]string, keep func(time.Time) bool, st *FHIRStats) ([]byte, []bundleFact, error) {
	source := fg.g.r.sources[s]
	base := FHIRBaseURL(source)
	pid := rec[fRecordID]
	counts := st.Resources[source]
	// Clinical resources first, into their own buffer, so the Patient's
	// lastUpdated can be the latest of them.
	body := jw{b: fg.bodyBuf[:0]}
	latest := time.Time{}
	ids := fg.ids[:0]
	n := 0
	for _, fi := range fg.order {
		f := &h.facts[fi]
		var hd *rendition
		for k := range f.holders {
			if f.holders[k].src == s {
				hd = &f.holders[k]
				break
			}
		}
		if hd == nil || !keep(hd.e.Time) {
			continue
		}
		n++
		id := pid + "-" + strconv.Itoa(n)
		ids = append(ids, idOf{fi, id})
		enc := ""
		if f.enc >= 0 {
			for _, x := range ids {
				if x.fact == f.enc {
					enc = x.id
				}
			}
		}
		lu := fg.lastUpdated(f, hd, h.now)
		latest = maxTime(latest, lu)
		typ := fg.resource(&body, f, hd, hd == &f.holders[0], id, pid, enc, base, lu, source)
		counts[typ]++
		truth = append(truth, bundleFact{id: id, fact: fi, conflict: hd.conflict})
	}
	fg.bodyBuf, fg.ids = body.b, ids
	if latest.IsZero() {
		latest = h.now.Add(-time.Duration(1+int(mix(uint64(p.idx)^uint64(s))%400)) * day)
	}

	w := jw{b: dst}
	w.obj("")
	w.str("resourceType", "Bundle")
	w.str("id", pid)
	w.obj("meta")
	w.str("lastUpdated", instant(latest))
	w.end()
	w.str("type", "collection")
	w.str("timestamp", instant(h.now))
	w.arr("entry")
	w.obj("")
	w.str("fullUrl", base+"Patient/"+pid)
	w.obj("resource")
	fg.patient(&w, rec, source, latest)
	w.end()
	w.end()
	counts["Patient"]++
	if len(body.b) > 0 {
		w.b = append(w.b, ',')
		w.b = append(w.b, body.b...)
	}
	w.endArr()
	w.end()
	return w.b, truth, nil
}

type idOf struct {
	fact int32
	id   string
}

// lastUpdated is when the source last wrote a resource: some time after
// the event, never after now.
func (fg *fhirGen) lastUpdated(f *fhirFact, hd *rendition, now time.Time) time.Time {
	t := hd.e.Time
	switch {
	case !f.end.IsZero() && hd == &f.holders[0] && fg.concepts[f.ci].cat == merge.CategoryEncounter:
		t = f.end.Add(10 * time.Minute)
	case hd.e.Precision <= merge.PrecisionDay:
		t = t.Add(9*time.Hour + time.Duration(mix(uint64(t.Unix())^uint64(f.ci))%(8*60))*time.Minute)
	case fg.concepts[f.ci].cat == merge.CategoryResult:
		t = t.Add(3*time.Hour + 17*time.Minute)
	default:
		t = t.Add(4 * time.Minute)
	}
	if !t.Before(now) {
		t = now.Add(-time.Minute)
	}
	return t
}

// patient writes the Patient resource of a source record: what the source
// holds, errors and all.
func (fg *fhirGen) patient(w *jw, rec *[10]string, source string, lastUpdated time.Time) {
	pid := rec[fRecordID]
	w.str("resourceType", "Patient")
	w.str("id", pid)
	w.obj("meta")
	w.str("lastUpdated", instant(lastUpdated))
	w.end()
	w.arr("identifier")
	if nhs := strings.ReplaceAll(rec[fNHS], " ", ""); nhs != "" {
		w.obj("")
		w.str("system", fhirNHSSystem)
		w.str("value", nhs)
		w.end()
	}
	w.obj("")
	w.obj("type")
	w.arr("coding")
	w.obj("")
	w.str("system", fhirIdentifierTyp)
	w.str("code", "MR")
	w.end()
	w.endArr()
	w.end()
	w.str("system", FHIRBaseURL(source)+"Id/mrn")
	w.str("value", pid)
	w.end()
	w.endArr()
	w.boolean("active", true)
	if rec[fGiven] != "" || rec[fFamily] != "" {
		w.arr("name")
		w.obj("")
		w.str("use", "official")
		if rec[fFamily] != "" {
			w.str("family", rec[fFamily])
		}
		if rec[fGiven] != "" {
			w.arr("given")
			w.str("", rec[fGiven])
			w.endArr()
		}
		w.end()
		w.endArr()
	}
	if rec[fPhone] != "" || rec[fEmail] != "" {
		w.arr("telecom")
		if ph := rec[fPhone]; ph != "" {
			w.obj("")
			w.str("system", "phone")
			w.str("value", ph)
			if strings.HasPrefix(ph, "07") || strings.HasPrefix(ph, "+44 7") {
				w.str("use", "mobile")
			} else {
				w.str("use", "home")
			}
			w.end()
		}
		if rec[fEmail] != "" {
			w.obj("")
			w.str("system", "email")
			w.str("value", rec[fEmail])
			w.str("use", "home")
			w.end()
		}
		w.endArr()
	}
	switch rec[fSex] {
	case "F":
		w.str("gender", "female")
	case "M":
		w.str("gender", "male")
	}
	if rec[fBirth] != "" {
		w.str("birthDate", rec[fBirth])
	}
	if rec[fAddress] != "" || rec[fPostcode] != "" {
		w.arr("address")
		w.obj("")
		w.str("use", "home")
		parts := strings.Split(rec[fAddress], ", ")
		town := ""
		if len(parts) > 1 {
			town, parts = parts[len(parts)-1], parts[:len(parts)-1]
		}
		if len(parts) > 0 && parts[0] != "" {
			w.arr("line")
			for _, l := range parts {
				w.str("", l)
			}
			w.endArr()
		}
		if town != "" {
			w.str("city", town)
		}
		if rec[fPostcode] != "" {
			w.str("postalCode", rec[fPostcode])
		}
		w.str("country", "GB")
		w.end()
		w.endArr()
	}
}

// resource writes one Bundle entry for source's record hd of fact f and
// returns its resource type.
func (fg *fhirGen) resource(w *jw, f *fhirFact, hd *rendition, origin bool, id, pid, enc, base string, lu time.Time, source string) string {
	c := &fg.concepts[f.ci]
	e := &hd.e
	typ := ""
	switch c.cat {
	case merge.CategoryResult, merge.CategoryObservation:
		typ = "Observation"
	case merge.CategoryMedication:
		typ = "MedicationStatement"
		if origin && fg.roles[hd.src] == roleGP {
			typ = "MedicationRequest"
		}
	case merge.CategoryAllergy:
		typ = "AllergyIntolerance"
	case merge.CategoryProblem:
		typ = "Condition"
	case merge.CategoryProcedure:
		typ = "Procedure"
	case merge.CategoryImmunisation:
		typ = "Immunization"
	case merge.CategoryEncounter:
		typ = "Encounter"
	default:
		typ = "DocumentReference"
		if origin && c.id == "doc-discharge" {
			typ = "Composition"
		}
	}
	w.obj("")
	w.str("fullUrl", base+typ+"/"+id)
	w.obj("resource")
	w.str("resourceType", typ)
	w.str("id", id)
	w.obj("meta")
	w.str("lastUpdated", instant(lu))
	w.end()
	var code, system, display string
	if len(e.Codes) > 0 {
		code, system = e.Codes[0].Code, e.Codes[0].System
	}
	display = e.Display
	switch typ {
	case "Observation":
		w.str("status", statusOr(e.Status, "final", "registered", "preliminary", "final", "amended", "corrected"))
		cat, catDisplay := "vital-signs", "Vital Signs"
		if c.cat == merge.CategoryResult {
			cat, catDisplay = "laboratory", "Laboratory"
		}
		w.arr("category")
		w.concept("", fhirObsCategory, cat, catDisplay, "")
		w.endArr()
		w.concept("code", system, code, display, display)
		w.ref("subject", "Patient", pid)
		if enc != "" {
			w.ref("encounter", "Encounter", enc)
		}
		w.str("effectiveDateTime", fhirTime(e.Time, e.Precision))
		if c.cat == merge.CategoryResult {
			w.str("issued", instant(lu))
		}
		if e.Value != nil {
			w.obj("valueQuantity")
			quantity(w, e.Value)
			w.end()
			if rr, ok := referenceRanges[c.id]; ok {
				fg.referenceRange(w, c, rr, e.Value.Unit)
			}
		}
	case "MedicationRequest", "MedicationStatement":
		if typ == "MedicationRequest" {
			w.str("status", statusOr(e.Status, "completed", "active", "completed", "stopped", "on-hold"))
			w.str("intent", "order")
		} else {
			w.str("status", statusOr(e.Status, "active", "active", "completed", "stopped", "on-hold"))
		}
		w.concept("medicationCodeableConcept", system, code, display, display)
		w.ref("subject", "Patient", pid)
		when := fhirTime(e.Time, e.Precision)
		if typ == "MedicationRequest" {
			w.str("authoredOn", when)
			w.arr("dosageInstruction")
		} else {
			w.str("effectiveDateTime", when)
			w.str("dateAsserted", instant(lu))
			w.arr("dosage")
		}
		w.obj("")
		if e.ValueText != "" {
			w.str("text", e.ValueText)
		}
		if e.Dose != nil {
			w.arr("doseAndRate")
			w.obj("")
			w.obj("doseQuantity")
			quantity(w, e.Dose)
			w.end()
			w.end()
			w.endArr()
		}
		w.end()
		w.endArr()
	case "AllergyIntolerance":
		w.concept("clinicalStatus", fhirAllergyClin, statusOr(e.Status, "active", "active", "inactive", "resolved"), "", "")
		w.concept("verificationStatus", fhirAllergyVer, "confirmed", "Confirmed", "")
		w.str("type", "allergy")
		w.arr("category")
		switch c.id {
		case "allergy-Peanut":
			w.str("", "food")
		case "allergy-Latex":
			w.str("", "environment")
		default:
			w.str("", "medication")
		}
		w.endArr()
		if e.ValueText != "" {
			w.str("criticality", e.ValueText)
		}
		w.concept("code", system, code, display, display)
		w.ref("patient", "Patient", pid)
		if origin {
			w.str("onsetDateTime", fhirTime(e.Time, e.Precision))
			w.str("recordedDate", fhirTime(e.Time, merge.PrecisionDay))
		} else {
			w.str("recordedDate", fhirTime(e.Time, e.Precision))
		}
		if hd.reaction != "" {
			w.arr("reaction")
			w.obj("")
			w.arr("manifestation")
			w.concept("", "", "", "", hd.reaction)
			w.endArr()
			if hd.reaction == "Anaphylaxis" {
				w.str("severity", "severe")
			} else {
				w.str("severity", "mild")
			}
			w.end()
			w.endArr()
		}
	case "Condition":
		st := statusOr(e.Status, "active", "active", "resolved", "inactive", "remission")
		w.concept("clinicalStatus", fhirCondClinical, st, "", "")
		w.concept("verificationStatus", fhirCondVer, "confirmed", "Confirmed", "")
		w.arr("category")
		if fg.roles[hd.src] == roleGP || fg.roles[hd.src] == roleCommunity {
			w.concept("", fhirCondCategory, "problem-list-item", "Problem List Item", "")
		} else {
			w.concept("", fhirCondCategory, "encounter-diagnosis", "Encounter Diagnosis", "")
		}
		w.endArr()
		w.concept("code", system, code, display, display)
		w.ref("subject", "Patient", pid)
		w.str("onsetDateTime", fhirTime(e.Time, e.Precision))
		if st == "resolved" && !f.end.IsZero() {
			w.str("abatementDateTime", fhirTime(f.end, merge.PrecisionDay))
		}
		w.str("recordedDate", instant(lu))
	case "Procedure":
		w.str("status", statusOr(e.Status, "completed", "completed", "in-progress", "stopped"))
		w.concept("code", system, code, display, display)
		w.ref("subject", "Patient", pid)
		w.str("performedDateTime", fhirTime(e.Time, e.Precision))
	case "Immunization":
		w.str("status", "completed")
		w.concept("vaccineCode", system, code, display, display)
		w.ref("patient", "Patient", pid)
		w.str("occurrenceDateTime", fhirTime(e.Time, e.Precision))
		w.str("recorded", instant(lu))
		w.boolean("primarySource", origin)
	case "Encounter":
		w.str("status", "finished")
		w.obj("class")
		w.str("system", fhirActCode)
		w.str("code", f.class)
		w.str("display", encounterClass[f.class])
		w.end()
		w.arr("type")
		w.concept("", system, code, display, display)
		w.endArr()
		w.ref("subject", "Patient", pid)
		w.obj("period")
		w.str("start", fhirTime(e.Time, e.Precision))
		if !f.end.IsZero() {
			w.str("end", fhirTime(f.end, merge.PrecisionMinute))
		}
		w.end()
	case "Composition":
		w.str("status", "final")
		dt := docTypes[c.id]
		w.concept("type", sysLOINC, dt[0], dt[1], display)
		w.ref("subject", "Patient", pid)
		if enc != "" {
			w.ref("encounter", "Encounter", enc)
		}
		w.str("date", instant(e.Time))
		w.arr("author")
		w.obj("")
		w.str("display", source+" clinical team")
		w.end()
		w.endArr()
		w.str("title", f.title)
		w.arr("section")
		w.obj("")
		w.str("title", "Summary")
		w.obj("text")
		w.str("status", "generated")
		w.str("div", `<div xmlns="http://www.w3.org/1999/xhtml"><p>`+xmlEscape(f.text)+`</p></div>`)
		w.end()
		w.end()
		w.endArr()
	case "DocumentReference":
		w.str("status", "current")
		w.str("docStatus", "final")
		dt := docTypes[c.id]
		w.concept("type", sysLOINC, dt[0], dt[1], display)
		w.ref("subject", "Patient", pid)
		w.str("date", instant(e.Time))
		title := f.title
		if !origin {
			title = display
		}
		w.str("description", title)
		w.arr("content")
		w.obj("")
		w.obj("attachment")
		w.str("contentType", "text/plain; charset=utf-8")
		w.key("data")
		w.b = append(w.b, '"')
		w.b = base64.StdEncoding.AppendEncode(w.b, []byte(f.text))
		w.b = append(w.b, '"')
		w.comma = true
		w.str("title", title)
		w.end()
		w.end()
		w.endArr()
		if enc != "" {
			w.obj("context")
			w.arr("encounter")
			w.obj("")
			w.str("reference", "Encounter/"+enc)
			w.end()
			w.endArr()
			w.end()
		}
	}
	w.end() // resource
	w.end() // entry
	return typ
}

// quantity writes the members of a Quantity with a UCUM unit.
func quantity(w *jw, q *merge.Quantity) {
	w.num("value", q.Value)
	if q.Comparator != "" {
		w.str("comparator", q.Comparator)
	}
	w.str("unit", q.Unit)
	w.str("system", fhirUCUM)
	w.str("code", q.Unit)
}

// referenceRange writes the range rr (in the concept's first unit) in the
// unit the value is written in.
func (fg *fhirGen) referenceRange(w *jw, c *clinConcept, rr [2]float64, unit string) {
	for _, u := range c.units {
		if u.code != unit {
			continue
		}
		w.arr("referenceRange")
		w.obj("")
		for k, name := range []string{"low", "high"} {
			if rr[k] < 0 {
				continue
			}
			v := round(rr[k]*u.scale+u.offset, max(u.dec, decimals(rr[k])))
			w.obj(name)
			quantity(w, &merge.Quantity{Value: v, Unit: unit})
			w.end()
		}
		w.end()
		w.endArr()
		return
	}
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func xmlEscape(s string) string { return xmlEscaper.Replace(s) }
