package merge

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/carelens/carelens/provenance"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestSurvive(t *testing.T) {
	pds := provenance.Tag{Source: "pds", ResourceID: "p1"}
	hosp := provenance.Tag{Source: "hosp", ResourceID: "h1"}
	gp := provenance.Tag{Source: "gp", ResourceID: "g1"}
	recs := []Demographic{
		{Tag: pds, Name: Name{Given: []string{"Ada"}, Family: "Lovelace"}, BirthDate: day(1980, 12, 10), Sex: "female",
			Address:     Address{Lines: []string{"1 Old Road"}, City: "Leeds", Postcode: "LS1 1AA"},
			Identifiers: []Identifier{{System: "nhs", Value: "9434765919"}}, Updated: day(2020, 1, 1)},
		{Tag: hosp, Name: Name{Given: []string{"ADA", "MARY"}, Family: "LOVELACE"}, BirthDate: day(1980, 12, 10), Sex: "Female",
			Address: Address{Lines: []string{"22 New Street", "Flat 3"}, City: "York", Postcode: "YO1 7HH"}, Phone: "0113 496 0000",
			Identifiers: []Identifier{{System: "nhs", Value: "9434765919"}, {System: "mrn", Value: "H123"}}, Updated: day(2024, 5, 1)},
		{Tag: gp, Name: Name{Given: []string{"Ada"}, Family: "Lovelace"}, BirthDate: day(1980, 10, 12), Sex: "unknown",
			Address: Address{Lines: []string{"1 Old Road"}, City: "Leeds", Postcode: "LS1 1AA"}, Phone: "+44 113 496 0001",
			Email: "ada@example.org", Updated: day(2023, 2, 1)},
	}
	tests := []struct {
		name  string
		opts  *Options
		check func(t *testing.T, g Golden)
	}{
		{
			name: "no trust configured: majority for birth date, most recent for address",
			check: func(t *testing.T, g Golden) {
				assert.Equal(t, day(1980, 12, 10), g.BirthDate.Value, "two sources agree")
				assert.True(t, g.BirthDate.Lineage.Equal(provenance.Of(pds, hosp)))
				assert.Equal(t, "York", g.Address.Value.City, "the most recent address")
				assert.True(t, g.Address.Lineage.Equal(provenance.Of(hosp)))
				assert.Equal(t, "Female", g.Sex.Value, "unknown is no value; spelling of the best holder")
				assert.True(t, g.Sex.Lineage.Equal(provenance.Of(pds, hosp)))
				assert.Equal(t, "0113 496 0000", g.Phone.Value)
				assert.Equal(t, "ada@example.org", g.Email.Value)
				assert.True(t, g.Email.Lineage.Equal(provenance.Of(gp)))
			},
		},
		{
			name: "the national service is trusted for name and birth date",
			opts: &Options{Priority: []string{"pds", "hosp", "gp"}},
			check: func(t *testing.T, g Golden) {
				assert.Equal(t, Name{Given: []string{"Ada"}, Family: "Lovelace"}, g.Name.Value)
				assert.True(t, g.Name.Lineage.Equal(provenance.Of(pds, gp)), "every holder of the chosen name")
				assert.Equal(t, day(1980, 12, 10), g.BirthDate.Value)
			},
		},
		{
			name: "per-field trust and order are configuration",
			opts: &Options{
				Priority: []string{"pds"},
				Survivorship: map[Field]Survivorship{
					FieldName:    {Order: []Criterion{ByComplete, ByRecent}},
					FieldAddress: {Order: []Criterion{ByTrust}, Trust: []string{"gp"}},
				},
			},
			check: func(t *testing.T, g Golden) {
				assert.Equal(t, []string{"ADA", "MARY"}, g.Name.Value.Given, "the most complete name")
				assert.Equal(t, "Leeds", g.Address.Value.City, "the GP is trusted for addresses")
				assert.True(t, g.Address.Lineage.Equal(provenance.Of(pds, gp)))
			},
		},
		{
			name: "identifiers: one per system, each with its holders",
			check: func(t *testing.T, g Golden) {
				assert.Len(t, g.Identifiers, 2)
				assert.Equal(t, Identifier{System: "mrn", Value: "H123"}, g.Identifiers[0].Value)
				assert.Equal(t, Identifier{System: "nhs", Value: "9434765919"}, g.Identifiers[1].Value)
				assert.True(t, g.Identifiers[1].Lineage.Equal(provenance.Of(pds, hosp)))
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, Survive(recs, tc.opts))
		})
	}
}

func TestSurviveEmptyAndDeterministic(t *testing.T) {
	g := Survive(nil, nil)
	assert.Zero(t, g.Name.Lineage.Len())
	assert.Empty(t, g.Identifiers)

	a := Demographic{Tag: provenance.Tag{Source: "a"}, Phone: "0113 496 0010"}
	b := Demographic{Tag: provenance.Tag{Source: "b"}, Phone: "0113 496 0020"}
	assert.Equal(t, Survive([]Demographic{a, b}, nil), Survive([]Demographic{b, a}, nil),
		"a full tie is broken by value, not by input order")
	assert.NotZero(t, Survive([]Demographic{a, b}, nil).Phone.Lineage.Len())
}

// TestSurviveNormalisesAsMatch: golden demographics compare phones,
// e-mails, identifiers and names with match's normalisers, so values equal
// to matching are one value here.
func TestSurviveNormalisesAsMatch(t *testing.T) {
	a := Demographic{Tag: provenance.Tag{Source: "a"}, Phone: "+44 113 496 0000", Email: " Ada@Example.org ",
		Name: Name{Given: []string{"Zoë"}, Family: "O'Neill"}, Identifiers: []Identifier{{System: "nhs", Value: "943 476 5919"}}}
	b := Demographic{Tag: provenance.Tag{Source: "b"}, Phone: "0113 4960000", Email: "ada@example.org",
		Name: Name{Given: []string{"ZOE"}, Family: "ONEILL"}, Identifiers: []Identifier{{System: "nhs", Value: "943-476-5919"}}}
	placeholder := Demographic{Tag: provenance.Tag{Source: "c"}, Phone: "00000000000", Email: "none@example.org"}
	g := Survive([]Demographic{a, b, placeholder}, nil)
	for field, l := range map[string]provenance.Lineage{"phone": g.Phone.Lineage, "email": g.Email.Lineage, "name": g.Name.Lineage, "identifier": g.Identifiers[0].Lineage} {
		assert.Equal(t, []string{"a", "b"}, l.Sources(), "%s: one value held by both, the placeholder none", field)
	}
}
