package matchio

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/carelens/carelens/match"
)

// Errors returned by this package, wrapped in a [*FileError] or
// [*RowError] that names the file.
var (
	// ErrNoIDColumn is returned when no column can serve as the record id.
	ErrNoIDColumn = errors.New("matchio: no record id column")
	// ErrNoFields is returned for a file none of whose columns maps to a
	// field that can link records (names, dates, addresses, identifiers).
	ErrNoFields = errors.New("matchio: no usable column")
	// ErrTruthLike is returned for a file whose columns are only record,
	// entity or cluster ids and sources: a truth or clusters file given as
	// records. It wraps [ErrNoFields].
	ErrTruthLike = fmt.Errorf("%w: a truth or clusters file", ErrNoFields)
	// ErrNoRecords is returned for an empty or header-only file, or one
	// whose every row was bad.
	ErrNoRecords = errors.New("matchio: no records")
	// ErrUnknownColumn is returned when a mapping names a column the header lacks.
	ErrUnknownColumn = errors.New("matchio: unknown column")
	// ErrUnknownField is returned when a mapping names a field that does not exist.
	ErrUnknownField = errors.New("matchio: unknown field")
	// ErrBadRow is wrapped by every [RowError].
	ErrBadRow = errors.New("matchio: bad row")
	// ErrEncoding is returned for a file in an encoding this package does not read.
	ErrEncoding = errors.New("matchio: unreadable encoding")
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
// reads as that field (the table in headers.txt), sorted.
func Aliases() map[Field][]string {
	out := map[Field][]string{}
	for name, f := range headers.field {
		out[f] = append(out[f], name)
	}
	for _, names := range out {
		slices.Sort(names)
	}
	return out
}

// Column is one header column and the field it maps to.
type Column struct {
	Name  string // as in the header, trimmed
	Field Field
	// Set is true when an option ([Options.ID], [Options.Map]) chose the
	// field rather than the automatic mapping.
	Set bool `json:",omitempty"`
	// Suggests is, for an ignored column, the field its name suggests
	// ("PostCde": postcode), or "" when it suggests none.
	Suggests Field `json:",omitempty"`
}

// AutoMap returns the automatic mapping of a header: one Column per header
// column, unmapped columns as FieldIgnore. When several columns are id
// aliases, the one first in the alias table's id order is the record id
// and the others are identifiers.
func AutoMap(header []string) []Column {
	cols := make([]Column, len(header))
	bestID, bestRank := -1, len(headers.idOrder)
	for i, h := range header {
		name := strings.TrimSpace(h)
		n := normHeader(name)
		f, ok := headers.field[n]
		switch {
		case ok:
		case idLike(n):
			f = FieldIdentifier
		default:
			f = FieldIgnore
		}
		if f == FieldID {
			if r := slices.Index(headers.idOrder, n); r < bestRank {
				bestID, bestRank = i, r
			}
		}
		cols[i] = Column{Name: name, Field: f}
	}
	for i := range cols {
		if cols[i].Field == FieldID && i != bestID {
			cols[i].Field = FieldIdentifier
		}
	}
	return cols
}

// Options configures reading. The zero value reads with the automatic
// mapping, sniffing the delimiter and encoding.
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
	// Delimiter separates fields; 0 sniffs it from the header line
	// (comma, semicolon, tab or pipe, whichever occurs most; comma on a tie).
	Delimiter rune
	// Encoding is the file's character encoding; [EncodingAuto] sniffs it.
	Encoding Encoding
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
	field, err := parseField(f)
	if err != nil {
		return m, err
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

// parseField reads a field name: one of [Fields], or any column name the
// automatic mapping knows ([Aliases]: city, surname, dob...).
func parseField(s string) (Field, error) {
	n := normHeader(s)
	if field := Field(n); slices.Contains(Fields(), field) {
		return field, nil
	}
	if alias, ok := headers.field[n]; ok {
		return alias, nil
	}
	return "", fmt.Errorf("%w %q in mapping (fields: %v, or a column alias such as city or surname)", ErrUnknownField, s, Fields())
}

// FileError is an error about a whole input file: its header, encoding or
// mapping, or its having no records. It names the file, never a value.
type FileError struct {
	File string
	// Line is the line the problem is on, 0 for the whole file.
	Line int
	// Err is one of this package's sentinel errors, or an I/O error.
	Err error
	// Detail says what is wrong in words, without the sentinel's prefix.
	Detail string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", Printable(e.File), e.Line, e.Detail)
	}
	return fmt.Sprintf("%s: %s", Printable(e.File), e.Detail)
}

// Unwrap returns the underlying error.
func (e *FileError) Unwrap() error { return e.Err }

// RowError is an error in one row of an input file. It names the place, never
// the value. It wraps [ErrBadRow] and Err.
type RowError struct {
	File string
	Line int // 1-based line in the file where the row starts
	// LastLine is the last line the row took, when it took more than one
	// (a quote left open swallows the lines after it); 0 otherwise.
	LastLine int
	Field    string // column name, or "" for the whole row
	Err      error
}

func (e *RowError) Error() string {
	where := fmt.Sprintf("%s:%d", Printable(e.File), e.Line)
	if e.Field != "" {
		return fmt.Sprintf("%s: field %s: %v", where, Printable(e.Field), e.Err)
	}
	return fmt.Sprintf("%s: %v", where, e.Err)
}

// Unwrap returns [ErrBadRow] and the underlying error.
func (e *RowError) Unwrap() []error { return []error{ErrBadRow, e.Err} }

// Lines returns how many lines of the file the row took: 1, or more when a
// quote left open swallowed the lines after it.
func (e *RowError) Lines() int {
	if e.LastLine > e.Line {
		return e.LastLine - e.Line + 1
	}
	return 1
}

// Report says how a file was read: its delimiter and encoding, each
// column's field, and what was skipped. It holds no values, only names
// and counts.
type Report struct {
	File   string
	Source string
	// Delimiter separated the fields; DelimiterSniffed is true when it was
	// sniffed rather than set.
	Delimiter        rune
	DelimiterSniffed bool
	// Encoding the file was read in; EncodingSniffed is true when sniffed.
	Encoding        Encoding
	EncodingSniffed bool
	// BOM is true when the file started with a UTF-8 byte order mark.
	BOM     bool
	Columns []Column
	// Records is how many records were read.
	Records int
	// Skipped counts bad rows skipped (with [Options.SkipBad]) and
	// SkippedLines the lines they took.
	Skipped, SkippedLines int
}

// Lines returns the report in plain words, one line each: the file's
// format and record count, then each column and its field.
func (r *Report) Lines() []string {
	file := Printable(r.File)
	enc := "UTF-8"
	if r.Encoding == EncodingLatin1 {
		enc = "Latin-1"
	}
	if r.BOM {
		enc += " with byte order mark"
	}
	how := func(sniffed bool) string {
		if sniffed {
			return "detected"
		}
		return "set"
	}
	out := []string{fmt.Sprintf("%s: source %s: %d records; %s-separated (%s), %s (%s)", file, Printable(r.Source), r.Records,
		delimiterName(r.Delimiter), how(r.DelimiterSniffed), enc, how(r.EncodingSniffed))}
	for _, c := range r.Columns {
		f := string(c.Field)
		switch {
		case c.Field == FieldIgnore:
			f = "ignored"
		case c.Set:
			f += " (set)"
		}
		out = append(out, fmt.Sprintf("%s: column %s -> %s", file, Printable(c.Name), f))
	}
	return out
}

// Warnings returns what a person should check, one line each: ignored
// columns whose names suggest a field, a Latin-1 fallback, skipped rows.
func (r *Report) Warnings() []string {
	file := Printable(r.File)
	var out []string
	for _, c := range r.Columns {
		if c.Field == FieldIgnore && !c.Set && c.Suggests != "" {
			out = append(out, fmt.Sprintf("%s: column %s is ignored but its name suggests %s", file, Printable(c.Name), c.Suggests))
		}
	}
	if r.Encoding == EncodingLatin1 && r.EncodingSniffed {
		out = append(out, fmt.Sprintf("%s: not valid UTF-8; read as Latin-1 (ISO 8859-1)", file))
	}
	if r.Skipped > 0 {
		out = append(out, fmt.Sprintf("%s: skipped %d bad rows taking %d lines", file, r.Skipped, r.SkippedLines))
	}
	return out
}

// ReadFile reads the CSV file at path. See [Read].
func ReadFile(path string, opts Options) ([]match.Record, error) {
	recs, _, err := ReadFileReport(path, opts)
	return recs, err
}

// ReadFileReport reads the CSV file at path and says how. See [ReadReport].
func ReadFileReport(path string, opts Options) ([]match.Record, *Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err // *fs.PathError names the file
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
	recs, _, err := read(r, name, opts, 0)
	return recs, err
}

// ReadReport is [Read] that also returns how the file was read. The
// report is returned with the mapping even when reading fails after the
// header, and is nil when the header could not be read.
func ReadReport(r io.Reader, name string, opts Options) ([]match.Record, *Report, error) {
	return read(r, name, opts, 0)
}

// read is ReadReport with a capacity hint for the record slice.
func read(r io.Reader, name string, opts Options, hint int) ([]match.Record, *Report, error) {
	fileErr := func(line int, err error, detail string, args ...any) error {
		return &FileError{File: name, Line: line, Err: err, Detail: fmt.Sprintf(detail, args...)}
	}
	source := opts.Source
	if source == "" {
		source = SourceName(name)
	}
	br := bufio.NewReaderSize(r, sniffBytes)
	sn, err := sniff(br, &opts)
	if err != nil {
		return nil, nil, fileErr(0, ErrEncoding, "%v", err)
	}
	var in io.Reader = br
	if sn.enc == EncodingLatin1 {
		in = &latin1Reader{r: br}
	}
	limit := &lineLimitReader{r: in, max: MaxLineBytes, line: 1}
	cr := csv.NewReader(limit)
	cr.Comma = sn.delim
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1 // checked here, to name the line
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil, fileErr(0, ErrNoRecords, "empty file: no header and no records")
	}
	if err != nil {
		if e, ok := errors.AsType[*lineTooLong](err); ok {
			return nil, nil, fileErr(e.line, ErrLineTooLong, "header: %v", e)
		}
		return nil, nil, fileErr(1, ErrBadRow, "header: %v", csvDetail(err))
	}
	header = slices.Clone(header)
	cols, err := mapColumns(header, opts)
	if err != nil {
		return nil, nil, fileErr(1, err, "header: %v", strings.TrimPrefix(err.Error(), "matchio: "))
	}
	rep := &Report{File: name, Source: source, Delimiter: sn.delim, DelimiterSniffed: !sn.delimSet,
		Encoding: sn.enc, EncodingSniffed: !sn.encSet, BOM: sn.bom, Columns: cols}
	idCol := slices.IndexFunc(cols, func(c Column) bool { return c.Field == FieldID })
	usable := slices.ContainsFunc(cols, func(c Column) bool {
		return c.Field != FieldID && c.Field != FieldIgnore && c.Field != FieldIdentifier
	})
	switch {
	case !usable && truthLike(cols):
		return nil, rep, fileErr(1, ErrTruthLike, "looks like a truth or clusters file (only ids: %s), not records to link", columnNames(cols))
	case idCol < 0:
		return nil, rep, fileErr(1, ErrNoIDColumn, "no record id column among %d columns (use --id COLUMN)", len(cols))
	case !usable:
		return nil, rep, fileErr(1, ErrNoFields, "no column maps to a name, date, address or contact field (%d columns; use --map FIELD=COLUMN)", len(cols))
	}

	out := make([]match.Record, 0, hint)
	seen := make(map[string]int, hint)
	for {
		row, err := cr.Read()
		if err == io.EOF {
			break
		}
		if e, ok := errors.AsType[*lineTooLong](err); ok {
			return nil, rep, fileErr(e.line, ErrLineTooLong, "%v", e)
		}
		rec, rowErr := readRow(cr, row, err, cols, len(header), sn.enc)
		if rowErr == nil {
			if rec.ID == "" {
				rowErr = &RowError{Line: rec.line, Field: cols[idCol].Name, Err: errors.New("empty record id")}
			} else if first, dup := seen[rec.ID]; dup {
				rowErr = &RowError{Line: rec.line, Field: cols[idCol].Name, Err: fmt.Errorf("record id repeats line %d", first)}
			}
		}
		if rowErr != nil {
			rowErr.File = name
			if !opts.SkipBad {
				return nil, rep, rowErr
			}
			rep.Skipped++
			rep.SkippedLines += rowErr.Lines()
			if opts.OnBad != nil {
				opts.OnBad(rowErr)
			}
			continue
		}
		rec.Source = source
		seen[rec.ID] = rec.line
		out = append(out, rec.Record)
	}
	rep.Records = len(out)
	if len(out) == 0 {
		if rep.Skipped > 0 {
			return nil, rep, fileErr(0, ErrNoRecords, "no records: all %d rows were bad", rep.Skipped)
		}
		return nil, rep, fileErr(0, ErrNoRecords, "header only, no records")
	}
	return out, rep, nil
}

// truthLike reports whether every column of a header is a record, entity
// or cluster id or a source name: the layout of a truth or clusters file.
func truthLike(cols []Column) bool {
	for _, c := range cols {
		n := normHeader(c.Name)
		if n != "source" && !strings.Contains(n, "id") && !strings.Contains(n, "cluster") &&
			!strings.Contains(n, "entity") && !strings.Contains(n, "person") && !strings.Contains(n, "label") {
			return false
		}
	}
	return len(cols) > 0
}

// columnNames lists column names for an error, escaped and bounded.
func columnNames(cols []Column) string {
	var names []string
	for i, c := range cols {
		if i == 8 {
			names = append(names, fmt.Sprintf("and %d more", len(cols)-i))
			break
		}
		names = append(names, Printable(c.Name))
	}
	return strings.Join(names, ", ")
}

// csvDetail words a CSV reader's error without its "parse error on line"
// preamble (the caller names the line).
func csvDetail(err error) string {
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return fmt.Sprintf("column %d: %v", pe.Column, pe.Err)
	}
	return err.Error()
}

// lineRecord is a record with the line its row starts on.
type lineRecord struct {
	match.Record
	line int
}

// readRow turns one CSV row (or the reader's error for it) into a record
// without its source, with the row's line. A row whose field count differs
// from the header's, a row holding a line end (a quote left open), and a
// value that is not valid UTF-8 are errors.
func readRow(cr *csv.Reader, row []string, readErr error, cols []Column, nHeader int, enc Encoding) (lineRecord, *RowError) {
	if readErr != nil {
		pe, ok := errors.AsType[*csv.ParseError](readErr)
		if !ok {
			return lineRecord{}, &RowError{Err: readErr}
		}
		if pe.Err == csv.ErrQuote && pe.Line > pe.StartLine {
			return lineRecord{}, &RowError{Line: pe.StartLine, LastLine: pe.Line,
				Err: fmt.Errorf("a quote opened on this line is not closed where its field ends; lines %d-%d are not read", pe.StartLine, pe.Line)}
		}
		return lineRecord{}, &RowError{Line: pe.StartLine, Err: errors.New(csvDetail(readErr))}
	}
	line, _ := cr.FieldPos(0)
	if extra := lineEnds(row); extra > 0 {
		return lineRecord{}, &RowError{Line: line, LastLine: line + extra,
			Err: fmt.Errorf("a quote opened on this line runs on to line %d; lines %d-%d are not read", line+extra, line, line+extra)}
	}
	if len(row) != nHeader {
		return lineRecord{}, &RowError{Line: line, Err: fmt.Errorf("%d fields, header has %d", len(row), nHeader)}
	}
	rec := lineRecord{line: line}
	for i, c := range cols {
		v := strings.TrimSpace(row[i])
		if v == "" {
			continue
		}
		if enc != EncodingLatin1 && !utf8.ValidString(v) {
			return lineRecord{}, &RowError{Line: line, Field: c.Name, Err: errors.New("not valid UTF-8 (the file may be Latin-1; set the encoding)")}
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
	return rec, nil
}

// lineEnds counts the line ends inside a row's fields: a demographic field
// never holds one, so any is a quote left open across lines.
func lineEnds(row []string) int {
	n := 0
	for _, v := range row {
		n += strings.Count(v, "\n")
	}
	return n
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
			return 0, fmt.Errorf("%w %s (header has %d columns: %s)", ErrUnknownColumn, Printable(name), len(cols), columnNames(cols))
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
	for _, f := range Fields() {
		for _, n := range override[f] {
			i, err := find(n)
			if err != nil {
				return nil, err
			}
			cols[i].Field, cols[i].Set = f, true
		}
	}
	for i := range cols {
		if cols[i].Field == FieldIgnore && !cols[i].Set {
			cols[i].Suggests = looksLike(normHeader(cols[i].Name))
		}
	}
	return cols, nil
}
