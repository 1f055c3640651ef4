package merge

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Rules are the data that decide when two entries from different sources are
// the same fact: which codes name the same concept, how far apart in time two
// reports of one fact may be, and how units convert. There is no code path per
// source: a site adapts de-duplication by editing rules, usually loaded from
// JSON with [LoadRules]. The zero value is usable (exact codes, default
// windows, default units).
type Rules struct {
	// Concepts are equivalence classes of codes: every code of a concept
	// names the same thing (a LOINC code, its SNOMED CT and Read equivalents,
	// a laboratory's local code).
	Concepts []Concept `json:"concepts,omitempty"`
	// Windows are the time tolerances per category. A category without a
	// window uses the one in [DefaultWindows].
	Windows []Window `json:"windows,omitempty"`
	// Units are the convertible units. Nil means [DefaultUnits]; a non-nil
	// list replaces the defaults entirely.
	Units []Unit `json:"units,omitempty"`
	// Analytes carry the molar mass of a concept, so that a value in a mass
	// concentration (mg/dL) and one in a substance concentration (mmol/L)
	// can be compared. Nothing converts between them without it.
	Analytes []Analyte `json:"analytes,omitempty"`
	// RelTolerance is the relative difference, beyond the rounding of each
	// value to the decimals it is written with, under which two values
	// (after unit conversion) are the same. Zero means 0.001 (0.1%), enough
	// for the inexactness of conversion factors; 13.5 g/dL and 135 g/L agree,
	// 135 g/L and 134 g/L do not.
	RelTolerance float64 `json:"relTolerance,omitempty"`
	// MaxRounding caps the rounding allowance, relative to the larger
	// value; zero means 0.025. A value written 2 may have been 2.0 at its
	// source (a float keeps no trailing zeros), so "half a unit in the last
	// place" alone would let 2 and 1.7 agree.
	MaxRounding float64 `json:"maxRounding,omitempty"`
}

// Concept is one equivalence class of codes.
type Concept struct {
	// ID names the concept in rules (e.g. "haemoglobin"); [Analyte] refers
	// to it. It never appears in output.
	ID string `json:"id"`
	// Codes are the codings, by system and code; Display is ignored.
	Codes []Code `json:"codes"`
}

// Window is the time tolerance of one category: two reports of one fact may
// be Tolerance apart. A coarse time precision widens it by itself: a result
// dated to the day matches any instant of that day, plus Tolerance.
type Window struct {
	Category  Category `json:"category"`
	Tolerance Duration `json:"tolerance"`
}

// Duration is a time.Duration written in JSON as a string such as "36h".
type Duration time.Duration

// MarshalText writes the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText parses a duration such as "36h" or "15m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%w: duration: %w", ErrInvalidRules, err)
	}
	*d = Duration(v)
	return nil
}

// Unit is one unit of measure and how it converts to the base unit of its
// dimension: base = value*Factor + Offset.
type Unit struct {
	// Code is the UCUM code (matched exactly, then case-insensitively).
	Code string `json:"code"`
	// Dimension names the kind of quantity ("mass-concentration",
	// "substance-concentration", "mass", ...). Units convert only within a
	// dimension, except mass and substance concentration through an [Analyte].
	Dimension string  `json:"dimension"`
	Factor    float64 `json:"factor"`
	Offset    float64 `json:"offset,omitempty"`
}

// The two dimensions an [Analyte]'s molar mass converts between; their base
// units are g/L and mol/L.
const (
	DimMassConcentration      = "mass-concentration"
	DimSubstanceConcentration = "substance-concentration"
)

// Analyte is the molar mass (g/mol) of a concept's substance.
type Analyte struct {
	Concept   string  `json:"concept"`
	MolarMass float64 `json:"molarMass"`
}

// LoadRules reads rules from JSON. Unknown fields are an error, so that a
// misspelt rule is not silently ignored.
func LoadRules(r io.Reader) (*Rules, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var rs Rules
	if err := dec.Decode(&rs); err != nil {
		return nil, fmt.Errorf("merge: load rules: %w: %w", ErrInvalidRules, err)
	}
	if _, err := compileRules(&rs); err != nil {
		return nil, err
	}
	return &rs, nil
}

// DefaultWindows returns the time tolerances used for categories that the
// rules do not list. Results and observations reported by two systems differ
// by collection versus report time; medication lists by days; an allergy is
// the same allergy whenever it was recorded.
func DefaultWindows() []Window {
	const day = 24 * time.Hour
	return []Window{
		{CategoryResult, Duration(36 * time.Hour)},
		{CategoryObservation, Duration(2 * time.Hour)},
		{CategoryReport, Duration(36 * time.Hour)},
		{CategoryMedication, Duration(14 * day)},
		{CategoryAllergy, Duration(100 * 366 * day)},
		{CategoryProblem, Duration(90 * day)},
		{CategoryProcedure, Duration(2 * day)},
		{CategoryImmunisation, Duration(7 * day)},
		{CategoryEncounter, Duration(12 * time.Hour)},
		{CategoryReferral, Duration(7 * day)},
		{CategoryDocument, Duration(day)},
		{CategoryNote, Duration(time.Hour)},
		{CategoryOther, Duration(time.Hour)},
	}
}

// DefaultUnits returns the units that convert without further data: mass,
// volume, mass and substance concentration, counts per litre, temperature,
// pressure and length.
func DefaultUnits() []Unit {
	return []Unit{
		{"g", "mass", 1, 0}, {"kg", "mass", 1e3, 0}, {"mg", "mass", 1e-3, 0},
		{"ug", "mass", 1e-6, 0}, {"mcg", "mass", 1e-6, 0}, {"ng", "mass", 1e-9, 0},
		{"[lb_av]", "mass", 453.59237, 0}, {"lb", "mass", 453.59237, 0},
		{"L", "volume", 1, 0}, {"dL", "volume", 0.1, 0}, {"mL", "volume", 1e-3, 0},
		{"g/L", DimMassConcentration, 1, 0}, {"g/dL", DimMassConcentration, 10, 0},
		{"mg/dL", DimMassConcentration, 1e-2, 0}, {"mg/L", DimMassConcentration, 1e-3, 0},
		{"ug/L", DimMassConcentration, 1e-6, 0}, {"ng/mL", DimMassConcentration, 1e-6, 0},
		{"mol/L", DimSubstanceConcentration, 1, 0}, {"mmol/L", DimSubstanceConcentration, 1e-3, 0},
		{"umol/L", DimSubstanceConcentration, 1e-6, 0}, {"nmol/L", DimSubstanceConcentration, 1e-9, 0},
		{"10*9/L", "count-concentration", 1e9, 0}, {"10*12/L", "count-concentration", 1e12, 0},
		{"/L", "count-concentration", 1, 0}, {"/nL", "count-concentration", 1e9, 0},
		{"%", "fraction", 1e-2, 0}, {"1", "fraction", 1, 0},
		{"Cel", "temperature", 1, 0}, {"[degF]", "temperature", 5.0 / 9, -32 * 5.0 / 9},
		{"mm[Hg]", "pressure", 1, 0}, {"mmHg", "pressure", 1, 0}, {"kPa", "pressure", 7.50061683, 0},
		{"m", "length", 1, 0}, {"cm", "length", 1e-2, 0}, {"mm", "length", 1e-3, 0},
		{"[in_i]", "length", 0.0254, 0},
		{"/min", "rate", 1, 0}, {"{beats}/min", "rate", 1, 0},
	}
}

// sysConcept is one system's concept for a code string.
type sysConcept struct {
	system  string
	concept int32
}

// lookup returns the concept of a coding.
func (c *compiled) lookup(system, code string) (int32, bool) {
	for _, sc := range c.byCode[code] {
		if sc.system == system {
			return sc.concept, true
		}
	}
	return 0, false
}

type unitInfo struct {
	dim    string
	factor float64
	offset float64
}

// compiled is the lookup form of Rules, built once per Engine.
type compiled struct {
	// byCode indexes concepts by the code alone (one short string to
	// hash); the system is then checked among the few codes sharing it.
	byCode   map[string][]sysConcept
	molar    []float64 // concept index → molar mass or 0
	ids      []string  // concept index → the concept's ID
	window   [numCategories]int64
	units    map[string]unitInfo
	relTol   float64
	maxRound float64
}

func compileRules(rs *Rules) (*compiled, error) {
	c := &compiled{byCode: make(map[string][]sysConcept), units: make(map[string]unitInfo)}
	ids := make(map[string]int32, len(rs.Concepts))
	for i, con := range rs.Concepts {
		if con.ID == "" {
			return nil, fmt.Errorf("merge: rules: concept %d: %w: empty id", i, ErrInvalidRules)
		}
		if _, dup := ids[con.ID]; dup {
			return nil, fmt.Errorf("merge: rules: concept %q: %w: listed twice", con.ID, ErrInvalidRules)
		}
		ids[con.ID] = int32(i)
		c.ids = append(c.ids, con.ID)
		for _, cd := range con.Codes {
			if prev, ok := c.lookup(cd.System, cd.Code); ok && prev != int32(i) {
				return nil, fmt.Errorf("merge: rules: code %s|%s: %w: in two concepts", cd.System, cd.Code, ErrInvalidRules)
			} else if !ok {
				c.byCode[cd.Code] = append(c.byCode[cd.Code], sysConcept{cd.System, int32(i)})
			}
		}
	}
	c.molar = make([]float64, len(rs.Concepts))
	for _, a := range rs.Analytes {
		i, ok := ids[a.Concept]
		if !ok || !(a.MolarMass > 0) {
			return nil, fmt.Errorf("merge: rules: analyte %q: %w: unknown concept or molar mass not positive", a.Concept, ErrInvalidRules)
		}
		c.molar[i] = a.MolarMass
	}
	for _, w := range append(DefaultWindows(), rs.Windows...) {
		if w.Tolerance < 0 {
			return nil, fmt.Errorf("merge: rules: window %q: %w: negative tolerance", w.Category, ErrInvalidRules)
		}
		c.window[categoryIndex(w.Category)] = int64(time.Duration(w.Tolerance) / time.Second)
	}
	units := rs.Units
	if units == nil {
		units = DefaultUnits()
	}
	// Exact codes first, then case-folded variants that do not collide.
	for _, u := range units {
		if u.Code == "" || u.Dimension == "" || !(u.Factor > 0) || math.IsInf(u.Factor, 0) {
			return nil, fmt.Errorf("merge: rules: unit %q: %w: needs a dimension and a positive factor", u.Code, ErrInvalidRules)
		}
		c.units[u.Code] = unitInfo{u.Dimension, u.Factor, u.Offset}
	}
	for _, u := range units {
		for _, v := range []string{strings.ToLower(u.Code), strings.ToUpper(u.Code)} {
			if _, ok := c.units[v]; !ok {
				c.units[v] = unitInfo{u.Dimension, u.Factor, u.Offset}
			}
		}
	}
	c.maxRound, c.relTol = 0.025, 0.001
	if rs.MaxRounding > 0 {
		c.maxRound = rs.MaxRounding
	}
	if rs.RelTolerance > 0 {
		c.relTol = rs.RelTolerance
	}
	return c, nil
}

// categories are the known categories in index order; CategoryOther,
// last, is shared by every category not listed.
var categories = [...]Category{CategoryResult, CategoryObservation, CategoryReport, CategoryMedication,
	CategoryAllergy, CategoryProblem, CategoryProcedure, CategoryImmunisation, CategoryEncounter,
	CategoryReferral, CategoryDocument, CategoryNote, CategoryOther}

const numCategories = len(categories)

// categoryIndex maps a category to a small index; unknown ones share
// CategoryOther's.
func categoryIndex(c Category) int {
	if i := slices.Index(categories[:], c); i >= 0 {
		return i
	}
	return numCategories - 1
}
