package merge

import (
	"time"

	"github.com/carelens/carelens/provenance"
)

// Category is the kind of clinical item an Entry is. Policies withhold
// whole categories (a hospital may not see GP free-text notes or
// documents), so documents and free text have categories of their own.
type Category string

// The categories CareLens knows. Anything else is CategoryOther.
const (
	CategoryResult       Category = "result"       // laboratory result
	CategoryObservation  Category = "observation"  // vital signs and other observations
	CategoryReport       Category = "report"       // diagnostic report (a panel of results)
	CategoryMedication   Category = "medication"   // statement, request, dispense
	CategoryAllergy      Category = "allergy"      // allergy or intolerance
	CategoryProblem      Category = "problem"      // condition, diagnosis, problem-list item
	CategoryProcedure    Category = "procedure"    // procedure performed
	CategoryImmunisation Category = "immunisation" // vaccination
	CategoryEncounter    Category = "encounter"    // visit, admission, consultation
	CategoryReferral     Category = "referral"     // referral or service request
	CategoryDocument     Category = "document"     // letters, discharge summaries, attachments
	CategoryNote         Category = "note"         // consultation free text
	CategoryOther        Category = "other"        // any other resource, kept not dropped
)

// Precision is how much of an effective time is known. A problem dated
// "2019" is not an instant at midnight on the first of January.
type Precision uint8

// Time precisions, coarsest first.
const (
	PrecisionUnknown Precision = iota // no time
	PrecisionYear
	PrecisionMonth
	PrecisionDay
	PrecisionMinute
	PrecisionSecond
	PrecisionInstant // sub-second
)

// Code is one coding of a concept.
type Code struct {
	// System is the code system URI (SNOMED CT http://snomed.info/sct,
	// LOINC http://loinc.org, dm+d https://dmd.nhs.uk, Read or a local system).
	System  string `json:"system,omitempty"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// Quantity is a measured value with its unit.
type Quantity struct {
	Value float64 `json:"value"`
	// Unit is the UCUM code where known (mmol/L, g/L, kg), else the unit
	// text as supplied.
	Unit string `json:"unit,omitempty"`
	// Comparator is "<", "<=", ">=" or ">" for a censored value, else "".
	Comparator string `json:"comparator,omitempty"`
}

// Entry is one clinical item on a timeline: a result, a prescription, an
// allergy. Every entry carries the lineage of the source records behind it;
// an entry reported by two sources carries both tags.
type Entry struct {
	Category Category `json:"category"`
	// Time is the effective (clinically relevant) time in UTC, truncated to
	// Precision. Zero with PrecisionUnknown when there is none.
	Time      time.Time `json:"time,omitzero"`
	Precision Precision `json:"precision,omitempty"`
	// Codes are the codings of what the entry is (test, drug, condition).
	Codes []Code `json:"codes,omitempty"`
	// Display is the human-readable name of the item.
	Display string `json:"display,omitempty"`
	// Value is a numeric value with unit, when the item has one.
	Value *Quantity `json:"value,omitempty"`
	// ValueText is a coded or free-text value (e.g. "Positive"), or a
	// dose instruction for medications.
	ValueText string `json:"valueText,omitempty"`
	// Status is the source's status (final, active, resolved...).
	Status string `json:"status,omitempty"`
	// Text is free text: a note body or narrative.
	Text string `json:"text,omitempty"`
	// Lineage is the set of source tags behind the entry.
	Lineage provenance.Lineage `json:"lineage"`
	// Dose is the structured dose of one administration of a medication
	// (e.g. 500 mg), when the source has one. De-duplication compares doses
	// after unit conversion; ValueText keeps the free-text instruction.
	Dose *Quantity `json:"dose,omitempty"`
	// Conflict is set only on entries of a merged [Timeline]: it is the id of
	// the [Conflict] this entry belongs to (it and another source's entry
	// report the same item at the same time with different values), or zero.
	Conflict ConflictID `json:"conflict,omitempty"`
}
