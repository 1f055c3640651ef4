package source

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/carelens/carelens/nhsnumber"

	"github.com/carelens/carelens/fhirutil"
)

// Params returns the FHIR R4 Patient search parameters that ask a source
// for q: identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs} when q holds a
// valid NHS number, else family, birthdate and, when q has a given name,
// given (its first word). A query with neither a valid NHS number nor a
// family name and a full birth date gives an error wrapping [ErrQuery].
// The error never holds q's values.
func (q Query) Params() (url.Values, error) {
	if nhsnumber.Valid(q.NHSNumber) {
		return url.Values{"identifier": {fhirutil.NHSNumberSystem + "|" + nhsnumber.Normalise(q.NHSNumber)}}, nil
	}
	family := strings.TrimSpace(q.Family)
	if family == "" || !fullDate.MatchString(q.BirthDate) {
		return nil, fmt.Errorf("source: search: a query needs a valid NHS number, or a family name and a birth date (YYYY-MM-DD): %w", ErrQuery)
	}
	v := url.Values{"family": {family}, "birthdate": {q.BirthDate}}
	if given := strings.Fields(q.Given); len(given) > 0 {
		v.Set("given", given[0])
	}
	return v, nil
}

var (
	fullDate = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	// fhirID is the R4 id pattern.
	fhirID = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
)

// ValidID reports whether id is a valid FHIR logical id: 1 to 64 letters,
// digits, '-' and '.'.
func ValidID(id string) bool { return fhirID.MatchString(id) }

// criterion is one search parameter occurrence: any of its values holds.
type criterion func(p *storePatient) bool

// Search returns the Patients of s that answer a FHIR R4 Patient search,
// in the order they were read. params are the search's query parameters:
//
//   - identifier, a token: "system|value", "|value" (an identifier with no
//     system), "system|" (any value in that system) or "value" (any system);
//   - family and given: the beginning of a family or given name of any of
//     the Patient's names, ignoring case (FHIR's string search; family:exact
//     and given:exact ask for the whole name, case included);
//   - birthdate: a date (YYYY, YYYY-MM or YYYY-MM-DD, optionally prefixed
//     "eq"), matching a birthDate within it;
//   - _lastUpdated: a date or a dateTime with an offset, with an optional
//     prefix eq, ne, gt, ge, lt, le, sa or eb, compared with the Patient's
//     meta.lastUpdated (a Patient without one never matches).
//
// Every parameter must hold; a parameter given several times must hold
// each time, and a value holding commas matches when any of its parts
// does ("\," is a literal comma). Empty values are ignored. Other
// parameters whose names begin with "_" (_count, _format, paging) are the
// caller's and are ignored. Any other parameter, another modifier or a
// malformed value gives an error wrapping [ErrQuery] that names the
// parameter, never its value. Without criteria, every Patient answers.
func (s *Store) Search(params url.Values) ([]Item, error) {
	crit, err := compile(params)
	if err != nil {
		return nil, err
	}
	var out []Item
next:
	for _, p := range s.patients {
		for _, c := range crit {
			if !c(p) {
				continue next
			}
		}
		out = append(out, p.item.Item)
	}
	return out, nil
}

func compile(params url.Values) ([]criterion, error) {
	var crit []criterion
	for _, name := range slices.Sorted(maps.Keys(params)) {
		values := params[name]
		base, modifier, _ := strings.Cut(name, ":")
		if strings.HasPrefix(base, "_") && base != "_lastUpdated" {
			continue
		}
		for _, v := range values {
			if v == "" {
				continue
			}
			c, err := compileParam(base, modifier, splitValues(v))
			if err != nil {
				return nil, fmt.Errorf("source: search parameter %q: %w", name, err)
			}
			crit = append(crit, c)
		}
	}
	return crit, nil
}

func compileParam(name, modifier string, values []string) (criterion, error) {
	if modifier != "" && !(modifier == "exact" && (name == "family" || name == "given")) {
		return nil, fmt.Errorf("modifier not supported: %w", ErrQuery)
	}
	var ors []criterion
	for _, v := range values {
		var c criterion
		switch name {
		case "identifier":
			c = identifierCriterion(v)
		case "family", "given":
			c = nameCriterion(name, v, modifier == "exact")
		case "birthdate":
			r, ok := parseDateRange(strings.TrimPrefix(v, "eq"), false)
			if !ok {
				return nil, fmt.Errorf("not a date, or a prefix other than eq: %w", ErrQuery)
			}
			c = func(p *storePatient) bool {
				b, ok := parseDateRange(p.birthDate, false)
				return ok && !b.lo.Before(r.lo) && !b.hi.After(r.hi)
			}
		case "_lastUpdated":
			prefix, rest := "eq", v
			if len(v) > 2 && v[0] >= 'a' && v[0] <= 'z' {
				prefix, rest = v[:2], v[2:]
			}
			r, ok := parseDateRange(rest, true)
			if !ok {
				return nil, fmt.Errorf("not a date or dateTime with an offset: %w", ErrQuery)
			}
			in, ok := instantIn(prefix, r)
			if !ok {
				return nil, fmt.Errorf("prefix not supported: %w", ErrQuery)
			}
			c = func(p *storePatient) bool {
				t := p.item.LastUpdated
				return !t.IsZero() && in(t)
			}
		default:
			return nil, fmt.Errorf("not supported: %w", ErrQuery)
		}
		ors = append(ors, c)
	}
	if len(ors) == 1 {
		return ors[0], nil
	}
	return func(p *storePatient) bool {
		for _, c := range ors {
			if c(p) {
				return true
			}
		}
		return false
	}, nil
}

func identifierCriterion(v string) criterion {
	system, value, hasSystem := strings.Cut(v, "|")
	if !hasSystem {
		system, value = "", v
	}
	return func(p *storePatient) bool {
		for _, id := range p.identifiers {
			switch {
			case !hasSystem && id.value == value,
				hasSystem && value == "" && id.system == system,
				hasSystem && value != "" && id.system == system && id.value == value:
				return true
			}
		}
		return false
	}
}

func nameCriterion(name, v string, exact bool) criterion {
	return func(p *storePatient) bool {
		names := p.families
		if name == "given" {
			names = p.givens
		}
		for _, n := range names {
			if exact && n == v || !exact && hasPrefixFold(n, v) {
				return true
			}
		}
		return false
	}
}

func hasPrefixFold(s, prefix string) bool {
	return strings.HasPrefix(strings.ToLower(s), strings.ToLower(prefix))
}

// splitValues splits a parameter value at commas, reading "\," as a comma
// and "\\" as a backslash.
func splitValues(v string) []string {
	if !strings.Contains(v, ",") {
		return []string{v}
	}
	var out []string
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && i+1 < len(v) && (v[i+1] == ',' || v[i+1] == '\\'):
			b.WriteByte(v[i+1])
			i++
		case c == ',':
			out = append(out, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	return append(out, b.String())
}

// dateRange is the half-open range of instants a FHIR date or dateTime
// stands for at its precision.
type dateRange struct{ lo, hi time.Time }

// parseDateRange reads YYYY, YYYY-MM, YYYY-MM-DD (in UTC) and, when
// withTime is set, an RFC 3339 dateTime with an offset.
func parseDateRange(v string, withTime bool) (dateRange, bool) {
	layouts := []struct {
		layout string
		next   func(time.Time) time.Time
	}{
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
	}
	for _, l := range layouts {
		if len(v) == len(l.layout) {
			t, err := time.Parse(l.layout, v)
			if err != nil {
				return dateRange{}, false
			}
			return dateRange{t, l.next(t)}, true
		}
	}
	if !withTime || len(v) < len("2006-01-02T15:04:05Z") || v[10] != 'T' {
		return dateRange{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return dateRange{}, false
	}
	step := time.Second
	if strings.Contains(v, ".") {
		step = time.Microsecond
	}
	return dateRange{t, t.Add(step)}, true
}

// instantIn returns the test of an instant against r under a FHIR search
// prefix.
func instantIn(prefix string, r dateRange) (func(time.Time) bool, bool) {
	switch prefix {
	case "eq":
		return func(t time.Time) bool { return !t.Before(r.lo) && t.Before(r.hi) }, true
	case "ne":
		return func(t time.Time) bool { return t.Before(r.lo) || !t.Before(r.hi) }, true
	case "gt", "sa":
		return func(t time.Time) bool { return !t.Before(r.hi) }, true
	case "ge":
		return func(t time.Time) bool { return !t.Before(r.lo) }, true
	case "lt", "eb":
		return func(t time.Time) bool { return t.Before(r.lo) }, true
	case "le":
		return func(t time.Time) bool { return t.Before(r.hi) }, true
	}
	return nil, false
}
