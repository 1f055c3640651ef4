package matchio

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

//go:embed headers.txt
var headerData string

// headerTable is the parsed alias table: normalised name to field, and the
// id aliases in priority order.
type headerTable struct {
	field   map[string]Field
	idOrder []string
}

// headers is the shipped alias table, read from headers.txt.
var headers = func() headerTable {
	t, err := parseHeaderTable(headerData)
	if err != nil {
		panic(err) // the table is compiled in; its test reads it the same way
	}
	return t
}()

// parseHeaderTable reads an alias table in the headers.txt format.
func parseHeaderTable(data string) (headerTable, error) {
	t := headerTable{field: map[string]Field{}}
	n := 0
	for line := range strings.Lines(data) {
		n++
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		f, names, ok := strings.Cut(line, ":")
		field := Field(strings.TrimSpace(f))
		if !ok || !slices.Contains(Fields(), field) || field == FieldIgnore || field == FieldIdentifier {
			return t, fmt.Errorf("matchio: headers.txt:%d: want FIELD: alias..., FIELD one of the record fields", n)
		}
		for a := range strings.FieldsSeq(names) {
			if normHeader(a) != a {
				return t, fmt.Errorf("matchio: headers.txt:%d: alias %s is not written normalised (%s)", n, a, normHeader(a))
			}
			if prev, dup := t.field[a]; dup {
				return t, fmt.Errorf("matchio: headers.txt:%d: alias %s already names %s", n, a, prev)
			}
			t.field[a] = field
			if field == FieldID {
				t.idOrder = append(t.idOrder, a)
			}
		}
	}
	return t, nil
}

// normHeader normalises a header name: lower case, a camelCase boundary
// ("PatientID", "NHSNumber") and every run of characters other than
// letters and digits become one underscore, with none leading or trailing.
func normHeader(h string) string {
	rs := []rune(strings.TrimSpace(h))
	var b strings.Builder
	under := false
	for i, r := range rs {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			under = true
			continue
		}
		if unicode.IsUpper(r) && i > 0 {
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsUpper(prev) && nextLower {
				under = true
			}
		}
		if under && b.Len() > 0 {
			b.WriteByte('_')
		}
		under = false
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// idLike reports whether an unmapped normalised column name looks like an
// identifier.
func idLike(n string) bool {
	return strings.HasSuffix(n, "_id") || strings.HasSuffix(n, "_number") || strings.HasSuffix(n, "_no") ||
		strings.HasSuffix(n, "_nin") || n == "nin" || n == "ssn" || strings.HasSuffix(n, "_ssn")
}

// looksLike guesses, for a column the mapping ignores, the field its name
// suggests ("PostCde" suggests postcode), so that a demographic column is
// never dropped without a word. It returns "" when the name suggests none.
func looksLike(n string) Field {
	for _, g := range [...]struct {
		parts []string
		f     Field
	}{
		{[]string{"birth", "dob", "born"}, FieldBirthDate},
		{[]string{"given", "first", "fore", "christian", "middle"}, FieldGiven},
		{[]string{"surname", "family", "last"}, FieldFamily},
		{[]string{"name"}, FieldFullName},
		{[]string{"sex", "gender"}, FieldSex},
		{[]string{"zip", "post", "pcode"}, FieldPostcode},
		{[]string{"addr", "street", "house", "line"}, FieldAddress},
		{[]string{"city", "town", "suburb", "village", "locality"}, FieldTown},
		{[]string{"phone", "tel", "mobile", "cell"}, FieldPhone},
		{[]string{"mail"}, FieldEmail},
		{[]string{"nhs"}, FieldNHSNumber},
		{[]string{"state", "county", "province"}, FieldState},
	} {
		for _, p := range g.parts {
			if strings.Contains(n, p) {
				return g.f
			}
		}
	}
	return ""
}
