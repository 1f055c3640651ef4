package matchio

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/carelens/carelens/match"
)

// Errors returned by this package.
var (
	// ErrNoIDColumn is returned when no column can serve as the record id.
	ErrNoIDColumn = errors.New("matchio: no record id column")
	// ErrUnknownColumn is returned when a mapping names a column the header lacks.
	ErrUnknownColumn = errors.New("matchio: unknown column")
	// ErrUnknownField is returned when a mapping names a field that does not exist.
	ErrUnknownField = errors.New("matchio: unknown field")
	// ErrBadRow is wrapped by every [RowError].
	ErrBadRow = errors.New("matchio: bad row")
)

// Field is a match.Record field a column can map to.
type Field string

// The fields columns map to.
const (
	FieldID         Field = "id"
	FieldGiven      Field = "given"
	FieldFamily     Field = "family"
	FieldFullName   Field = "full_name"
	FieldBirthDate  Field = "birth_date"
	FieldSex        Field = "sex"
	FieldAddress    Field = "address"
	FieldTown       Field = "town"
	FieldPostcode   Field = "postcode"
	FieldState      Field = "state"
	FieldPhone      Field = "phone"
	FieldEmail      Field = "email"
	FieldNHSNumber  Field = "nhs_number"
	FieldIdentifier Field = "identifier"
	// FieldIgnore drops a column.
	FieldIgnore Field = "ignore"
)

// Fields returns every field a mapping may name.
func Fields() []Field {
	return []Field{FieldID, FieldGiven, FieldFamily, FieldFullName, FieldBirthDate, FieldSex,
		FieldAddress, FieldTown, FieldPostcode, FieldState, FieldPhone, FieldEmail,
		FieldNHSNumber, FieldIdentifier, FieldIgnore}
}

// Aliases returns, for each field, the column names the automatic mapping
// reads as that field, sorted.
func Aliases() map[Field][]string {
	out := map[Field][]string{}
	for name, f := range headerNames {
		out[f] = append(out[f], name)
	}
	for _, names := range out {
		slices.Sort(names)
	}
	return out
}

// headerNames maps normalised header names to fields.
var headerNames = map[string]Field{
	"rec_id": FieldID, "record_id": FieldID, "unique_id": FieldID, "id": FieldID, "recid": FieldID,
	"given": FieldGiven, "given_name": FieldGiven, "first_name": FieldGiven, "firstname": FieldGiven,
	"forename": FieldGiven, "forenames": FieldGiven, "givenname": FieldGiven, "middle_name": FieldGiven,
	"family": FieldFamily, "surname": FieldFamily, "last_name": FieldFamily, "lastname": FieldFamily,
	"family_name": FieldFamily, "familyname": FieldFamily,
	"full_name": FieldFullName, "fullname": FieldFullName, "name": FieldFullName,
	"date_of_birth": FieldBirthDate, "dob": FieldBirthDate, "birth_date": FieldBirthDate,
	"birthdate": FieldBirthDate,
	"sex":       FieldSex, "gender": FieldSex,
	"street_number": FieldAddress, "house_number": FieldAddress, "address_1": FieldAddress,
	"address_2": FieldAddress, "address_3": FieldAddress, "address": FieldAddress,
	"address_line_1": FieldAddress, "address_line_2": FieldAddress, "street": FieldAddress,
	"suburb": FieldTown, "city": FieldTown, "town": FieldTown, "locality": FieldTown,
	"postcode": FieldPostcode, "post_code": FieldPostcode, "postal_code": FieldPostcode,
	"zip": FieldPostcode, "zipcode": FieldPostcode, "zip_code": FieldPostcode,
	"state": FieldState, "county": FieldState,
	"phone": FieldPhone, "phone_number": FieldPhone, "telephone": FieldPhone, "tel": FieldPhone,
	"mobile": FieldPhone,
	"email":  FieldEmail, "email_address": FieldEmail,
	"nhs_number": FieldNHSNumber, "nhs_no": FieldNHSNumber, "nhs": FieldNHSNumber,
	"nhsnumber": FieldNHSNumber,
}

// normHeader lower-cases a header name and turns runs of non-alphanumerics
// into one underscore.
func normHeader(h string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = false
			b.WriteRune(r)
		} else {
			under = true
		}
	}
	return b.String()
}

// idLike reports whether an unmapped column looks like an identifier.
func idLike(n string) bool {
	return strings.HasSuffix(n, "_id") || strings.HasSuffix(n, "_number") || strings.HasSuffix(n, "_no") ||
		strings.HasSuffix(n, "_nin") || n == "nin" || n == "ssn" || n == "mrn" || strings.HasSuffix(n, "_ssn")
}

// Column is one header column and the field it maps to.
type Column struct {
	Name  string // as in the header, trimmed
	Field Field
}

// AutoMap returns the automatic mapping of a header: one Column per header
// column, unmapped columns as FieldIgnore.
func AutoMap(header []string) []Column {
	cols := make([]Column, len(header))
	for i, h := range header {
		name := strings.TrimSpace(h)
		n := normHeader(name)
		f, ok := headerNames[n]
		switch {
		case ok:
		case idLike(n):
			f = FieldIdentifier
		default:
			f = FieldIgnore
		}
		cols[i] = Column{Name: name, Field: f}
	}
	return cols
}

// Options configures reading. The zero value reads with the automatic mapping.
type Options struct {
	// Source is the source id given to every record; "" means the file
	// name without extension (Read requires a name then).
	Source string
	// ID names the column holding the record id, overriding the mapping.
	ID string
	// Map overrides the automatic mapping: field name to the columns that
	// feed it, in order (several address columns become several lines;
	// several given-name columns become several given names). A column
	// named in Map is removed from any field it was mapped to automatically.
	Map map[Field][]string
	// SkipBad reports bad rows to OnBad and skips them instead of failing.
	SkipBad bool
	// OnBad receives each skipped row's error when SkipBad is set.
	OnBad func(*RowError)
}

// ParseMap parses a command-line mapping "FIELD=COLUMN[+COLUMN...]" and adds
// it to m, returning m (allocated if nil). FIELD is one of [Fields] or any
// column name the automatic mapping knows ([Aliases]).
func ParseMap(m map[Field][]string, spec string) (map[Field][]string, error) {
	f, cols, ok := strings.Cut(spec, "=")
	if !ok || f == "" || cols == "" {
		return m, fmt.Errorf("matchio: mapping %q: want FIELD=COLUMN[+COLUMN...]", spec)
	}
	field := Field(normHeader(f))
	if !slices.Contains(Fields(), field) {
		// Any column name the automatic mapping knows (city, surname,
		// dob...) names its field too.
		alias, ok := headerNames[normHeader(f)]
		if !ok {
			return m, fmt.Errorf("%w %q in mapping (fields: %v, or a column alias such as city or surname)", ErrUnknownField, f, Fields())
		}
		field = alias
	}
	if m == nil {
		m = map[Field][]string{}
	}
	for c := range strings.SplitSeq(cols, "+") {
		if c = strings.TrimSpace(c); c != "" {
			m[field] = append(m[field], c)
		}
	}
	return m, nil
}

// RowError is an error in one row of an input file. It names the place, never
// the value.
type RowError struct {
	File  string
	Line  int    // 1-based line in the file
	Field string // column name, or "" for the whole row
	Err   error
}

func (e *RowError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s:%d: field %s: %v", e.File, e.Line, e.Field, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

// Unwrap returns the underlying error.
func (e *RowError) Unwrap() error { return e.Err }

// ReadFile reads the CSV file at path. See [Read].
func ReadFile(path string, opts Options) ([]match.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("matchio: %w", err)
	}
	defer f.Close()
	hint := 0
	if fi, err := f.Stat(); err == nil {
		// Demographic rows run 80-200 bytes; a slight overestimate of the
		// row count saves growing a slice of a million records.
		hint = int(min(fi.Size()/80, 1<<26))
	}
	return read(f, path, opts, hint)
}

// SourceName returns the source id for a file path: its base name without
// extension.
func SourceName(path string) string {
	b := filepath.Base(path)
	return strings.TrimSuffix(b, filepath.Ext(b))
}

// Read reads CSV records from r. name is used in errors and, when
// opts.Source is empty, as the source id after [SourceName].
func Read(r io.Reader, name string, opts Options) ([]match.Record, error) {
	return read(r, name, opts, 0)
}

// read is Read with a capacity hint for the record slice.
func read(r io.Reader, name string, opts Options, hint int) ([]match.Record, error) {
	source := opts.Source
	if source == "" {
		source = SourceName(name)
	}
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1 // checked here, to name the line
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("matchio: %s: header: %w", name, err)
	}
	header = slices.Clone(header)
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	cols, err := mapColumns(header, opts)
	if err != nil {
		return nil, fmt.Errorf("matchio: %s: %w", name, err)
	}
	idCol := slices.IndexFunc(cols, func(c Column) bool { return c.Field == FieldID })
	if idCol < 0 {
		return nil, fmt.Errorf("%w in %s (use --id COLUMN)", ErrNoIDColumn, name)
	}

	out := make([]match.Record, 0, hint)
	seen := make(map[string]int, hint)
	for {
		row, err := cr.Read()
		if err == io.EOF {
			break
		}
		rec, line, rowErr := readRow(cr, row, err, cols, len(header))
		field := ""
		if rowErr == nil {
			if rec.ID == "" {
				rowErr, field = fmt.Errorf("%w: empty record id", ErrBadRow), cols[idCol].Name
			} else if first, dup := seen[rec.ID]; dup {
				rowErr, field = fmt.Errorf("%w: record id repeats line %d", ErrBadRow, first), cols[idCol].Name
			}
		}
		if rowErr != nil {
			e := &RowError{File: name, Line: line, Field: field, Err: rowErr}
			if !opts.SkipBad {
				return nil, e
			}
			if opts.OnBad != nil {
				opts.OnBad(e)
			}
			continue
		}
		rec.Source = source
		seen[rec.ID] = line
		out = append(out, rec)
	}
	return out, nil
}

// readRow turns one CSV row (or the reader's error for it) into a record
// without its source, with the row's line. A row whose field count differs
// from the header's is an error.
func readRow(cr *csv.Reader, row []string, readErr error, cols []Column, nHeader int) (match.Record, int, error) {
	if readErr != nil {
		line := 0
		if pe, ok := errors.AsType[*csv.ParseError](readErr); ok {
			line = pe.Line
		}
		return match.Record{}, line, fmt.Errorf("%w: %v", ErrBadRow, readErr)
	}
	line, _ := cr.FieldPos(0)
	if len(row) != nHeader {
		return match.Record{}, line, fmt.Errorf("%w: %d fields, header has %d", ErrBadRow, len(row), nHeader)
	}
	var rec match.Record
	for i, c := range cols {
		v := strings.TrimSpace(row[i])
		if v == "" {
			continue
		}
		switch c.Field {
		case FieldID:
			rec.ID = v
		case FieldGiven:
			rec.Given = append(rec.Given, v)
		case FieldFamily:
			rec.Family = joinSpace(rec.Family, v)
		case FieldFullName:
			rec.FullName = joinSpace(rec.FullName, v)
		case FieldBirthDate:
			rec.BirthDate = v
		case FieldSex:
			rec.Sex = v
		case FieldAddress:
			rec.Address = append(rec.Address, v)
		case FieldTown:
			rec.Town = joinSpace(rec.Town, v)
		case FieldPostcode:
			rec.Postcode = v
		case FieldState:
			rec.State = v
		case FieldPhone:
			if rec.Phone == "" {
				rec.Phone = v
			}
		case FieldEmail:
			if rec.Email == "" {
				rec.Email = v
			}
		case FieldNHSNumber:
			rec.NHSNumber = v
		case FieldIdentifier:
			rec.Identifiers = append(rec.Identifiers, match.Identifier{System: c.Name, Value: v})
		}
	}
	return rec, line, nil
}

func joinSpace(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}

// mapColumns applies the automatic mapping, then opts.ID and opts.Map.
// Within a field, values are taken in the file's column order.
func mapColumns(header []string, opts Options) ([]Column, error) {
	cols := AutoMap(header)
	find := func(name string) (int, error) {
		i := slices.IndexFunc(cols, func(c Column) bool { return c.Name == name })
		if i < 0 {
			i = slices.IndexFunc(cols, func(c Column) bool { return normHeader(c.Name) == normHeader(name) })
		}
		if i < 0 {
			return 0, fmt.Errorf("%w %q (header has %d columns)", ErrUnknownColumn, name, len(cols))
		}
		return i, nil
	}
	override := maps.Clone(opts.Map)
	if opts.ID != "" {
		if override == nil {
			override = map[Field][]string{}
		}
		override[FieldID] = []string{opts.ID}
	}
	// An overridden field loses its automatic columns, so "given=a" means
	// exactly column a. Identifier and ignore mappings only add.
	for f := range override {
		if !slices.Contains(Fields(), f) {
			return nil, fmt.Errorf("%w %q", ErrUnknownField, f)
		}
		if f == FieldIgnore || f == FieldIdentifier {
			continue
		}
		for i := range cols {
			if cols[i].Field == f {
				cols[i].Field = FieldIgnore
			}
		}
	}
	for f, names := range override {
		for _, n := range names {
			i, err := find(n)
			if err != nil {
				return nil, err
			}
			cols[i].Field = f
		}
	}
	return cols, nil
}
