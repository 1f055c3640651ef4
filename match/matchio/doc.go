// Package matchio reads demographic records for matching from CSV files.
//
// Each file is one source; the source id is the file name without its
// extension unless [Options.Source] says otherwise. Header columns are
// mapped to [match.Record] fields by name (see [Field] and [AutoMap]) with
// the alias table in headers.txt, which [Aliases] returns: PatientID, MRN,
// rec_id and record_id for the record id; FirstName, given_name or
// forename; Surname or LastName; DOB or BirthDate; Sex or Gender;
// address lines; City or Town; PostalCode, Zip or Postcode; phone, email
// and NHS number. Header names are compared normalised (lower case,
// camelCase split, punctuation as one underscore). Id-like columns
// (soc_sec_id, national ids, *_id, *_number) become further identifiers,
// and so do id aliases other than the one chosen as the record id.
// [Options.ID] and [Options.Map] override the automatic mapping.
//
// The delimiter (comma, semicolon, tab or pipe) is sniffed from the header
// line and the encoding from the start of the file (UTF-8 with or without a
// byte order mark; Latin-1 when not valid UTF-8); both can be set.
// Leading and trailing spaces are trimmed from every field, so files that
// separate values with ", " read correctly. [ReadFileReport] returns a
// [Report] of what was decided: the delimiter, encoding, every column and
// its field (or ignored, with the field an ignored column's name
// suggests), and what was skipped.
//
// # Errors
//
// A file that is empty, holds only a header, has no record id column, has
// no column that can link records, or looks like a truth or clusters file
// gives a [*FileError] naming the file. A bad row (wrong number of fields,
// no record id, a record id repeated within the file, a value that is not
// valid UTF-8, a quote left open across line ends) gives a [*RowError]
// naming the file, line and field; a quote left open is reported at the
// line it opened, with the lines it swallowed. Errors never quote field
// values: they may be personal data. With [Options.SkipBad] bad rows are
// reported to [Options.OnBad] and skipped, and counted with their lines in
// the report. A line longer than [MaxLineBytes] stops the read.
//
// [EscapeCSVField] and [Printable] make ids and names safe to write to a
// CSV file a spreadsheet opens and to a terminal.
//
// FHIR Patient files (NDJSON and Bundles) are read by package fhirutil.
package matchio
