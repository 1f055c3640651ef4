// Package matchio reads demographic records for matching from CSV files.
//
// Each file is one source; the source id is the file name without its
// extension unless [Options.Source] says otherwise. Header columns are
// mapped to [match.Record] fields by name (see [Field] and [AutoMap]):
// rec_id, record_id, unique_id or id for the record id; given_name,
// first_name or forename; surname, last_name or family_name; full_name;
// date_of_birth, dob or birth_date; sex or gender; street_number,
// address_1, address_2 and address as address lines; suburb, city or town;
// postcode or zip; state; phone or phone_number; email; nhs_number; and
// id-like columns (soc_sec_id, national ids, *_id, *_number) as further
// identifiers. [Options.Map] overrides the automatic mapping.
//
// Leading and trailing spaces are trimmed from every field, so files that
// separate values with ", " read correctly.
//
// # Errors
//
// A bad row (wrong number of fields, no record id, a record id repeated
// within the file) gives a [*RowError] naming the file, line and field.
// Errors never quote field values: they may be personal data. With
// [Options.SkipBad] bad rows are reported to [Options.OnBad] and skipped.
//
// FHIR Patient files (NDJSON and Bundles) are read by package fhirutil.
package matchio
