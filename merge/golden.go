package merge

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/provenance"
)

// Demographic is one source's record of who a person is, as merge needs it
// for golden demographics. It is deliberately small and independent of the
// matching package: the caller fills it from whatever it linked.
type Demographic struct {
	// Tag says which source record this is.
	Tag provenance.Tag
	// Name is the person's current name in this record.
	Name Name
	// BirthDate is the date of birth (UTC midnight), or zero.
	BirthDate time.Time
	// Sex is administrative sex as the source codes it ("female", "male",
	// "other", "unknown"), or "".
	Sex string
	// Address is the current address.
	Address Address
	// Phone and Email are the preferred contacts, or "".
	Phone string
	Email string
	// Identifiers are the person's identifiers in this record.
	Identifiers []Identifier
	// Updated is when the source last updated the record; zero falls back
	// to Tag.Asserted.
	Updated time.Time
}

// Name is a person's name.
type Name struct {
	Prefix string   `json:"prefix,omitempty"`
	Given  []string `json:"given,omitempty"`
	Family string   `json:"family,omitempty"`
}

// Address is a postal address.
type Address struct {
	Lines    []string `json:"lines,omitempty"`
	City     string   `json:"city,omitempty"`
	Postcode string   `json:"postcode,omitempty"`
	Country  string   `json:"country,omitempty"`
}

// Identifier is an identifier in a system (an NHS number, a hospital number).
type Identifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

// Golden is the best current demographic record of one person. Every field
// carries the lineage of every source record that holds the chosen value
// (after normalisation); a field no record holds is zero with an empty lineage.
type Golden struct {
	Name      provenance.Tagged[Name]
	BirthDate provenance.Tagged[time.Time]
	Sex       provenance.Tagged[string]
	Address   provenance.Tagged[Address]
	Phone     provenance.Tagged[string]
	Email     provenance.Tagged[string]
	// Identifiers holds one value per identifier system, sorted by system.
	Identifiers []provenance.Tagged[Identifier]
}

// Field names a golden-demographic field, to configure its survivorship.
type Field string

// The fields of [Golden].
const (
	FieldName        Field = "name"
	FieldBirthDate   Field = "birthDate"
	FieldSex         Field = "sex"
	FieldAddress     Field = "address"
	FieldPhone       Field = "phone"
	FieldEmail       Field = "email"
	FieldIdentifiers Field = "identifiers" // applied per identifier system
)

// Criterion is one survivorship test between candidate values of a field.
type Criterion string

// The survivorship criteria. Each ranks the distinct candidate values of a
// field; the first criterion that separates them decides.
const (
	// ByTrust prefers the value held by the most trusted source.
	ByTrust Criterion = "trust"
	// ByRecent prefers the value of the most recently updated record.
	ByRecent Criterion = "recent"
	// ByComplete prefers the most complete value (more name parts,
	// more address components, a full date).
	ByComplete Criterion = "complete"
	// ByAgreement prefers the value held by the most sources.
	ByAgreement Criterion = "agreement"
)

// Survivorship is the rule for one field: criteria in order, and optionally
// a trust order of sources for this field alone.
type Survivorship struct {
	Order []Criterion `json:"order"`
	// Trust lists source ids most trusted first for this field; nil means
	// [Options.Priority].
	Trust []string `json:"trust,omitempty"`
}

// DefaultSurvivorship returns the rule used for a field that
// [Options.Survivorship] does not configure: facts fixed at birth go to the
// most trusted source and then the majority; where a person lives and how to
// reach them go to the most recent record.
func DefaultSurvivorship(f Field) Survivorship {
	switch f {
	case FieldName:
		return Survivorship{Order: []Criterion{ByTrust, ByRecent, ByComplete, ByAgreement}}
	case FieldBirthDate, FieldSex, FieldIdentifiers:
		return Survivorship{Order: []Criterion{ByTrust, ByAgreement, ByRecent}}
	default: // address, phone, email
		return Survivorship{Order: []Criterion{ByRecent, ByTrust, ByComplete, ByAgreement}}
	}
}

// candidate is one distinct normalised value of a field and its holders.
type candidate[T any] struct {
	key      string
	value    T // as the most trusted, then most recent holder spells it
	tags     []provenance.Tag
	sources  []string
	rank     int32
	updated  time.Time
	complete int
}

// Survive picks the best current value of each demographic field from the
// records of one person by the survivorship rules of o (nil uses the
// defaults). Values are compared after normalisation (case, spacing and
// punctuation), so "SMITH" and "Smith" agree; the spelling kept is that of
// the best record holding it. The result is deterministic: remaining ties go
// to the smaller normalised value.
func Survive(recs []Demographic, o *Options) Golden {
	o = cmp.Or(o, &Options{})
	var g Golden
	g.Name = pick(recs, o, FieldName, func(d *Demographic) (Name, string, int) {
		n := d.Name
		k := match.NormaliseName(strings.Join(n.Given, " ")) + "|" + match.NormaliseName(n.Family)
		c := len(n.Given)
		if n.Family != "" {
			c++
		}
		if k == "|" {
			k = ""
		}
		return n, k, c
	})
	g.BirthDate = pick(recs, o, FieldBirthDate, func(d *Demographic) (time.Time, string, int) {
		if d.BirthDate.IsZero() {
			return time.Time{}, "", 0
		}
		return d.BirthDate, d.BirthDate.UTC().Format(time.DateOnly), 1
	})
	g.Sex = pick(recs, o, FieldSex, func(d *Demographic) (string, string, int) {
		k := match.NormaliseName(d.Sex)
		if k == "unknown" {
			return d.Sex, "", 0 // "unknown" is no value
		}
		return d.Sex, k, 1
	})
	g.Address = pick(recs, o, FieldAddress, func(d *Demographic) (Address, string, int) {
		a := d.Address
		c := 0
		for _, s := range append(slices.Clone(a.Lines), a.City, a.Postcode, a.Country) {
			if s != "" {
				c++
			}
		}
		pc, _ := match.NormalisePostcode(a.Postcode)
		k := match.NormaliseName(strings.Join(a.Lines, " ")) + "|" + match.NormaliseName(a.City) + "|" + cmp.Or(pc, match.NormaliseName(a.Postcode))
		if c == 0 {
			k = ""
		}
		return a, k, c
	})
	g.Phone = pick(recs, o, FieldPhone, func(d *Demographic) (string, string, int) {
		k := match.NormalisePhone(d.Phone)
		return d.Phone, k, len(k)
	})
	g.Email = pick(recs, o, FieldEmail, func(d *Demographic) (string, string, int) {
		return d.Email, match.NormaliseEmail(d.Email), 1
	})

	systems := map[string]bool{}
	for i := range recs {
		for _, id := range recs[i].Identifiers {
			systems[id.System] = true
		}
	}
	for _, sys := range slices.Sorted(maps.Keys(systems)) {
		v := pick(recs, o, FieldIdentifiers, func(d *Demographic) (Identifier, string, int) {
			for _, id := range d.Identifiers {
				if id.System == sys && id.Value != "" {
					return id, match.NormaliseIdentifier(id.Value), 1
				}
			}
			return Identifier{}, "", 0
		})
		if v.Lineage.Len() > 0 {
			g.Identifiers = append(g.Identifiers, v)
		}
	}
	return g
}

// pick applies the survivorship rule of field f (o is not nil). get returns
// a record's value, its normalised key ("" for none) and its completeness.
func pick[T any](recs []Demographic, o *Options, f Field, get func(*Demographic) (T, string, int)) provenance.Tagged[T] {
	rule, ok := o.Survivorship[f]
	if !ok {
		rule = DefaultSurvivorship(f)
	}
	trust := rule.Trust
	if trust == nil {
		trust = o.Priority
	}
	var cands []candidate[T]
	for i := range recs {
		d := &recs[i]
		v, k, c := get(d)
		if k == "" {
			continue
		}
		upd := d.Updated
		if upd.IsZero() {
			upd = d.Tag.Asserted
		}
		r := rank(trust, d.Tag.Source)
		j := slices.IndexFunc(cands, func(c candidate[T]) bool { return c.key == k })
		if j < 0 {
			cands = append(cands, candidate[T]{key: k, value: v, rank: r, updated: upd})
			j = len(cands) - 1
		}
		cd := &cands[j]
		cd.tags = append(cd.tags, d.Tag)
		if !slices.Contains(cd.sources, d.Tag.Source) {
			cd.sources = append(cd.sources, d.Tag.Source)
		}
		if r < cd.rank || r == cd.rank && upd.After(cd.updated) {
			cd.value = v
		}
		if upd.After(cd.updated) {
			cd.updated = upd
		}
		cd.rank, cd.complete = min(cd.rank, r), max(cd.complete, c)
	}
	if len(cands) == 0 {
		return provenance.Tagged[T]{}
	}
	best := slices.MinFunc(cands, func(a, b candidate[T]) int {
		for _, c := range rule.Order {
			var r int
			switch c {
			case ByTrust:
				r = cmp.Compare(a.rank, b.rank)
			case ByRecent:
				r = b.updated.Compare(a.updated)
			case ByComplete:
				r = cmp.Compare(b.complete, a.complete)
			case ByAgreement:
				r = cmp.Compare(len(b.sources), len(a.sources))
			}
			if r != 0 {
				return r
			}
		}
		return cmp.Compare(a.key, b.key)
	})
	return provenance.Tagged[T]{Value: best.value, Lineage: provenance.Of(best.tags...)}
}
