package match

// Record is one source's demographic record of a person, as supplied: the
// identity data CareLens matches on. It holds no clinical data. Values are
// raw; [Prepare] normalises them once into the form the pair loop reads.
type Record struct {
	// Source is the provenance.Source id of the system the record came from.
	Source string `json:"source"`
	// ID is the record's id within its source (a local patient id or MRN).
	ID string `json:"id"`

	// Given holds the given names in order, the first being the forename.
	// A single string with spaces ("Mary Ann") is split during preparation.
	Given []string `json:"given,omitempty"`
	// Family is the family name (surname), possibly multi-part or hyphenated.
	Family string `json:"family,omitempty"`
	// FullName is a whole name when the source does not split it; used only
	// when Given and Family are empty.
	FullName string `json:"fullName,omitempty"`
	// OtherNames are further names the person is known by: previous
	// (maiden) names, aliases, the FHIR "usual" name beside the official one.
	OtherNames []Name `json:"otherNames,omitempty"`

	// BirthDate is the date of birth as supplied (YYYY-MM-DD, YYYYMMDD,
	// DD/MM/YYYY, or a FHIR partial date such as "1980" or "1980-06").
	BirthDate string `json:"birthDate,omitempty"`
	// Sex is the administrative sex or gender as supplied (M/F/U, male, ...).
	Sex string `json:"sex,omitempty"`

	// Address holds the address lines (house number, street, locality).
	Address []string `json:"address,omitempty"`
	// Town is the post town, city or suburb.
	Town string `json:"town,omitempty"`
	// Postcode is the postal code as supplied.
	Postcode string `json:"postcode,omitempty"`
	// State is a state or county, where the data has one.
	State string `json:"state,omitempty"`

	// Phone is the main telephone number.
	Phone string `json:"phone,omitempty"`
	// Email is the e-mail address.
	Email string `json:"email,omitempty"`

	// NHSNumber is the NHS number as supplied; it is an identifier match only
	// when it passes validation (see [nhsnumber.Valid]).
	NHSNumber string `json:"nhsNumber,omitempty"`
	// Identifiers are other identifiers (national id, social security
	// number, hospital number), compared as strings within the same system.
	Identifiers []Identifier `json:"identifiers,omitempty"`
}

// Name is a further name of a person.
type Name struct {
	Given  []string `json:"given,omitempty"`
	Family string   `json:"family,omitempty"`
	// Use is the FHIR name use: usual, official, maiden, nickname, old...
	Use string `json:"use,omitempty"`
}

// Identifier is an identifier other than the NHS number.
type Identifier struct {
	// System names the identifier scheme: a FHIR system URI, or a column
	// name such as "soc_sec_id" for CSV input.
	System string `json:"system"`
	Value  string `json:"value"`
}

// Key returns "source/id", the record's unique key across sources.
func (r *Record) Key() string { return r.Source + "/" + r.ID }

// RecordRef names one source record: its source id and its id there. It is
// not PHI and may appear in errors and logs.
type RecordRef struct {
	Source string `json:"source"`
	ID     string `json:"id"`
}

// String returns "source/id".
func (r RecordRef) String() string { return r.Source + "/" + r.ID }

// Ref returns the reference of r.
func (r Record) Ref() RecordRef { return RecordRef{Source: r.Source, ID: r.ID} }
