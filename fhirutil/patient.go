package fhirutil

import (
	"fmt"
	"io"
	"strings"
	"time"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"

	"github.com/carelens/carelens/match"
)

// NHSNumberSystem is the identifier system of the NHS number.
const NHSNumberSystem = "https://fhir.nhs.uk/Id/nhs-number"

// Patients returns the Patient resources of b as match records of b's
// source, in input order. Stubs are skipped.
func (b *Batch) Patients() []match.Record {
	var out []match.Record
	for _, r := range b.Resources {
		if rec, ok := r.Record(b.Source.ID, b.Retrieved); ok {
			out = append(out, rec)
		}
	}
	return out
}

// ReadPatients reads Patients from r, which holds a Patient, a Bundle
// (any type, nested Bundles opened) or NDJSON, and returns them as match
// records of the given source. Resources of other types are ignored.
// Bad resources are skipped and reported in issues (each a
// *[ResourceError]); err is non-nil only when the input as a whole cannot
// be read. Parsing is lenient: an unknown element or a bad value costs
// that element, not the patient.
func ReadPatients(r io.Reader, source string) (records []match.Record, issues []error, err error) {
	b, err := Read(r, &Options{Lenient: true})
	if err != nil {
		return nil, nil, err
	}
	b.Source.ID = source
	for _, is := range b.Issues {
		issues = append(issues, is)
	}
	return b.Patients(), issues, nil
}

// Record maps a Patient resource to a match record of the given source;
// ok is false when r is not a Patient. now decides which address and
// telecom periods are current (pass the retrieval time).
//
// What is kept: the NHS number (identifier system [NHSNumberSystem]);
// every other identifier with a system and value; the official name as
// the main name (else the usual name, else the first name that is not
// old), every other name into OtherNames with its use; the name text as
// FullName when the main name has neither given nor family; birthDate as
// the FHIR string at its own precision ("1974", "1974-12",
// "1974-12-25"); gender; the current address (not use old, period not
// ended, a home address preferred) as Address lines, Town (city),
// Postcode and State; the first current phone and email. Other addresses
// and telecoms, and everything else, are not kept.
func (r *Resource) Record(source string, now time.Time) (match.Record, bool) {
	p := r.cr.GetPatient()
	if p == nil {
		return match.Record{}, false
	}
	rec := match.Record{Source: source, ID: r.Key()}
	for _, id := range p.GetIdentifier() {
		sys, val := id.GetSystem().GetValue(), id.GetValue().GetValue()
		switch {
		case val == "":
		case sys == NHSNumberSystem && rec.NHSNumber == "":
			rec.NHSNumber = val
		default:
			rec.Identifiers = append(rec.Identifiers, match.Identifier{System: sys, Value: val})
		}
	}
	main := mainName(p.GetName())
	for i, n := range p.GetName() {
		if i == main {
			rec.Given, rec.Family = given(n), n.GetFamily().GetValue()
			if len(rec.Given) == 0 && rec.Family == "" {
				rec.FullName = n.GetText().GetValue()
			}
			continue
		}
		o := match.Name{Given: given(n), Family: n.GetFamily().GetValue(), Use: codeOf(n.GetUse())}
		if len(o.Given) > 0 || o.Family != "" {
			rec.OtherNames = append(rec.OtherNames, o)
		}
	}
	rec.BirthDate = formatDate(p.GetBirthDate())
	rec.Sex = codeOf(p.GetGender())
	if a := currentAddress(p.GetAddress(), now); a != nil {
		for _, l := range a.GetLine() {
			if l.GetValue() != "" {
				rec.Address = append(rec.Address, l.GetValue())
			}
		}
		rec.Town, rec.Postcode, rec.State = a.GetCity().GetValue(), a.GetPostalCode().GetValue(), a.GetState().GetValue()
	}
	for _, t := range p.GetTelecom() {
		if t.GetValue().GetValue() == "" || !current(codeOf(t.GetUse()) == "old", t.GetPeriod(), now) {
			continue
		}
		switch t.GetSystem().GetValue() {
		case cpb.ContactPointSystemCode_PHONE, cpb.ContactPointSystemCode_SMS:
			if rec.Phone == "" {
				rec.Phone = t.GetValue().GetValue()
			}
		case cpb.ContactPointSystemCode_EMAIL:
			if rec.Email == "" {
				rec.Email = t.GetValue().GetValue()
			}
		}
	}
	return rec, true
}

func given(n *dtpb.HumanName) []string {
	var g []string
	for _, s := range n.GetGiven() {
		if s.GetValue() != "" {
			g = append(g, s.GetValue())
		}
	}
	return g
}

// mainName returns the index of the official name, else the usual one,
// else the first that is not old or maiden, else the first; names with no
// given, family or text are passed over. It is -1 when there are none.
func mainName(ns []*dtpb.HumanName) int {
	if len(ns) == 0 {
		return -1
	}
	blank := func(n *dtpb.HumanName) bool {
		return len(given(n)) == 0 && n.GetFamily().GetValue() == "" && n.GetText().GetValue() == ""
	}
	for _, want := range []cpb.NameUseCode_Value{cpb.NameUseCode_OFFICIAL, cpb.NameUseCode_USUAL} {
		for i, n := range ns {
			if n.GetUse().GetValue() == want && !blank(n) {
				return i
			}
		}
	}
	for i, n := range ns {
		if u := n.GetUse().GetValue(); u != cpb.NameUseCode_OLD && u != cpb.NameUseCode_MAIDEN && !blank(n) {
			return i
		}
	}
	for i, n := range ns {
		if !blank(n) {
			return i
		}
	}
	return 0
}

// current reports whether something with the given period is in use at
// now: not marked old, not started after now, not ended before now.
func current(old bool, p *dtpb.Period, now time.Time) bool {
	if old {
		return false
	}
	if s := p.GetStart(); s != nil && time.UnixMicro(s.GetValueUs()).After(now) {
		return false
	}
	if e := p.GetEnd(); e != nil && time.UnixMicro(e.GetValueUs()).Before(now) {
		return false
	}
	return true
}

// currentAddress returns the current home address, else the first
// current address of another use (billing last), else nil.
func currentAddress(as []*dtpb.Address, now time.Time) *dtpb.Address {
	var best *dtpb.Address
	rank := 99
	for _, a := range as {
		use := a.GetUse().GetValue()
		if !current(use == cpb.AddressUseCode_OLD, a.GetPeriod(), now) {
			continue
		}
		r := 2
		switch use {
		case cpb.AddressUseCode_HOME:
			r = 0
		case cpb.AddressUseCode_INVALID_UNINITIALIZED:
			r = 1
		case cpb.AddressUseCode_BILLING:
			r = 3
		}
		if r < rank {
			best, rank = a, r
		}
	}
	return best
}

// formatDate renders a FHIR date at its own precision. The value was read
// in UTC (see [TimeZone]), so the UTC calendar date is the one written.
func formatDate(d *dtpb.Date) string {
	if d == nil {
		return ""
	}
	t := time.UnixMicro(d.GetValueUs()).UTC()
	switch d.GetPrecision() {
	case dtpb.Date_YEAR:
		return t.Format("2006")
	case dtpb.Date_MONTH:
		return t.Format("2006-01")
	case dtpb.Date_DAY:
		return t.Format("2006-01-02")
	}
	return ""
}

// PatientJSON renders a match record as an R4 Patient resource (compact
// JSON), the inverse of [Resource.Record] for every field Record keeps:
// the NHS number and identifiers, the main name as official (FullName as
// its text), OtherNames with their uses, birthDate, gender, one home
// address, a phone and an email. The record's ID becomes the Patient id.
// Values that are not valid R4 (a gender outside male, female, other,
// unknown; a malformed birth date) are left out rather than failing.
func PatientJSON(rec match.Record) ([]byte, error) {
	cr, err := patientProto(rec)
	if err != nil {
		return nil, err
	}
	return marshal(cr)
}

func patientJSONMap(rec match.Record) map[string]any {
	p := map[string]any{"resourceType": "Patient"}
	if rec.ID != "" {
		p["id"] = rec.ID
	}
	var ids []any
	if rec.NHSNumber != "" {
		ids = append(ids, map[string]any{"system": NHSNumberSystem, "value": rec.NHSNumber})
	}
	for _, id := range rec.Identifiers {
		if id.Value == "" {
			continue
		}
		m := map[string]any{"value": id.Value}
		if id.System != "" {
			m["system"] = id.System
		}
		ids = append(ids, m)
	}
	if ids != nil {
		p["identifier"] = ids
	}
	var names []any
	if main := nameMap("official", rec.Given, rec.Family); main != nil {
		names = append(names, main)
	} else if rec.FullName != "" {
		names = append(names, map[string]any{"use": "official", "text": rec.FullName})
	}
	for _, n := range rec.OtherNames {
		if m := nameMap(n.Use, n.Given, n.Family); m != nil {
			names = append(names, m)
		}
	}
	if names != nil {
		p["name"] = names
	}
	if rec.Phone != "" || rec.Email != "" {
		var tel []any
		if rec.Phone != "" {
			tel = append(tel, map[string]any{"system": "phone", "value": rec.Phone})
		}
		if rec.Email != "" {
			tel = append(tel, map[string]any{"system": "email", "value": rec.Email})
		}
		p["telecom"] = tel
	}
	if g := strings.ToLower(rec.Sex); g == "male" || g == "female" || g == "other" || g == "unknown" {
		p["gender"] = g
	}
	if rec.BirthDate != "" {
		p["birthDate"] = rec.BirthDate
	}
	addr := map[string]any{}
	var lines []any
	for _, l := range rec.Address {
		if l != "" {
			lines = append(lines, l)
		}
	}
	if lines != nil {
		addr["line"] = lines
	}
	for k, v := range map[string]string{"city": rec.Town, "postalCode": rec.Postcode, "state": rec.State} {
		if v != "" {
			addr[k] = v
		}
	}
	if len(addr) > 0 {
		addr["use"] = "home"
		p["address"] = []any{addr}
	}
	return p
}

func nameMap(use string, g []string, family string) map[string]any {
	m := map[string]any{}
	var gs []any
	for _, s := range g {
		if s != "" {
			gs = append(gs, s)
		}
	}
	if gs != nil {
		m["given"] = gs
	}
	if family != "" {
		m["family"] = family
	}
	if len(m) == 0 {
		return nil
	}
	switch use {
	case "usual", "official", "temp", "nickname", "anonymous", "old", "maiden":
		m["use"] = use
	}
	return m
}

// patientProto builds the Patient of rec through jsonformat, so that what
// CareLens writes is validated R4. Elements jsonformat rejects are dropped
// (the lenient repair), never sent.
func patientProto(rec match.Record) (*bcrpb.ContainedResource, error) {
	cr, err := buildResource(patientJSONMap(rec))
	if err != nil {
		return nil, fmt.Errorf("fhirutil: Patient/%s: %w", rec.ID, err)
	}
	if cr.GetPatient() == nil {
		return nil, fmt.Errorf("%w: Patient/%s", ErrOutput, rec.ID)
	}
	return cr, nil
}
