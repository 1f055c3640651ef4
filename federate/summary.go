package federate

import (
	"slices"
	"strings"
	"time"

	"github.com/carelens/carelens/merge"
)

// Summary is the front page of a record: what a clinician reads first.
// Every item is an entry of the timeline it was made from (pointers into
// it), so it keeps its sources and conflict marks.
type Summary struct {
	// Problems are current problems (status active, recurrence or relapse,
	// or no status), latest first.
	Problems []*merge.Entry
	// Medications are current medications (active, intended or on-hold,
	// or without status and started within MedicationWindow), latest first.
	Medications []*merge.Entry
	// Allergies are every allergy and intolerance not marked resolved or
	// refuted, latest first.
	Allergies []*merge.Entry
	// Results are the tests with a numeric result, most recently measured
	// first, each with its series for a trend chart.
	Results []Trend
}

// Trend is one test's results over time.
type Trend struct {
	// Name is the latest result's display name; Concept is the rules'
	// concept id, or a code when the rules do not know it.
	Name, Concept string
	// Unit is the unit every point is in (the latest result's unit).
	Unit string
	// Latest is the most recent result.
	Latest *merge.Entry
	// Points are the results that convert to Unit, oldest first.
	Points []TrendPoint
	// Unconverted counts results in units that do not convert to Unit;
	// they are on the timeline but not on the chart.
	Unconverted int
}

// TrendPoint is one result on a trend.
type TrendPoint struct {
	Time  time.Time
	Value float64
	Entry *merge.Entry
}

// SummaryOptions configure [Summarise]. The zero value works.
type SummaryOptions struct {
	// Engine groups repeated results by its rules' concepts and converts
	// units; nil groups by the first code and plots only results in the
	// latest unit.
	Engine *merge.Engine
	// Now is the time the record is viewed at; zero means time.Now.
	Now time.Time
	// MedicationWindow is how long a medication without a status counts as
	// current after its date; zero means 180 days.
	MedicationWindow time.Duration
	// MaxResults bounds the number of tests listed; zero means 12.
	MaxResults int
}

// Summarise builds the summary of entries (a timeline's entries after any
// filtering, in timeline order).
func Summarise(entries []*merge.Entry, o *SummaryOptions) Summary {
	if o == nil {
		o = &SummaryOptions{}
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	window := o.MedicationWindow
	if window <= 0 {
		window = 180 * 24 * time.Hour
	}
	maxResults := o.MaxResults
	if maxResults <= 0 {
		maxResults = 12
	}
	var s Summary
	trends := map[string]*Trend{}
	var order []string
	// Walk latest first, so that the first result of a test is its latest.
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		status := strings.ToLower(e.Status)
		switch e.Category {
		case merge.CategoryProblem:
			if status == "" || status == "active" || status == "recurrence" || status == "relapse" {
				s.Problems = append(s.Problems, e)
			}
		case merge.CategoryMedication:
			switch status {
			case "active", "intended", "on-hold":
				s.Medications = append(s.Medications, e)
			case "":
				if !e.Time.IsZero() && now.Sub(e.Time) <= window {
					s.Medications = append(s.Medications, e)
				}
			}
		case merge.CategoryAllergy:
			if status != "resolved" && status != "inactive" && status != "refuted" && status != "entered-in-error" {
				s.Allergies = append(s.Allergies, e)
			}
		case merge.CategoryResult:
			if e.Value == nil || e.Time.IsZero() {
				continue
			}
			key := conceptKey(e, o.Engine)
			t, ok := trends[key]
			if !ok {
				t = &Trend{Name: e.Display, Concept: key, Unit: e.Value.Unit, Latest: e}
				trends[key] = t
				order = append(order, key)
			}
			v, ok := e.Value.Value, e.Value.Unit == t.Unit
			if !ok && o.Engine != nil {
				v, ok = o.Engine.Convert(*e.Value, t.Unit, key)
			}
			if !ok {
				t.Unconverted++
				continue
			}
			t.Points = append(t.Points, TrendPoint{Time: e.Time, Value: v, Entry: e})
		}
	}
	s.Medications = dedupeMedications(s.Medications)
	for _, k := range order {
		t := trends[k]
		slices.Reverse(t.Points)
		s.Results = append(s.Results, *t)
		if len(s.Results) == maxResults {
			break
		}
	}
	return s
}

// conceptKey names the test an entry is: the rules' concept, else its
// first code, else its display name.
func conceptKey(e *merge.Entry, v *merge.Engine) string {
	if v != nil {
		if c := v.Concept(e.Codes); c != "" {
			return c
		}
	}
	if len(e.Codes) > 0 {
		return e.Codes[0].System + "|" + e.Codes[0].Code
	}
	return strings.ToLower(e.Display)
}

// dedupeMedications keeps the latest entry of each medication (by display
// name and dose instruction) among current ones: a repeat prescription
// issued monthly is one current medication.
func dedupeMedications(meds []*merge.Entry) []*merge.Entry {
	seen := map[string]bool{}
	out := meds[:0]
	for _, m := range meds {
		k := strings.ToLower(m.Display) + "\x00" + strings.ToLower(m.ValueText)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, m)
	}
	return slices.Clip(out)
}
