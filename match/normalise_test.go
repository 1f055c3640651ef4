package match

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestParseDate(t *testing.T) {
	tests := []struct {
		name, in string
		want     Date
		status   DateStatus
		reason   string
	}{
		{name: "compact", in: "19840307", want: Date{1984, 3, 7}, status: DateOK},
		{name: "iso", in: "1984-03-07", want: Date{1984, 3, 7}, status: DateOK},
		{name: "iso with time", in: "1984-03-07T00:00:00Z", want: Date{1984, 3, 7}, status: DateOK},
		{name: "uk", in: "07/03/1984", want: Date{1984, 3, 7}, status: DateOK, reason: "day first"},
		{name: "uk dots", in: "7.3.1984", want: Date{1984, 3, 7}, status: DateOK},
		{name: "us unambiguous", in: "03/27/1984", want: Date{1984, 3, 27}, status: DateOK, reason: "27 cannot be a month"},
		{name: "year only", in: "1984", want: Date{1984, 0, 0}, status: DateOK},
		{name: "year month", in: "1984-03", want: Date{1984, 3, 0}, status: DateOK},
		{name: "leap day", in: "2000-02-29", want: Date{2000, 2, 29}, status: DateOK},
		{name: "not a leap year", in: "1900-02-29", status: DateInvalid, reason: "flagged, not guessed"},
		{name: "month 13", in: "1984-13-01", status: DateInvalid},
		{name: "day 32", in: "32/01/1984", status: DateInvalid},
		{name: "words", in: "unknown", status: DateInvalid},
		{name: "empty", in: " ", status: DateMissing},
		{name: "sentinel 1900", in: "1900-01-01", want: Date{1900, 1, 1}, status: DatePlaceholder},
		{name: "sentinel 0001", in: "0001-01-01", want: Date{1, 1, 1}, status: DatePlaceholder},
		{name: "far future", in: "9999-12-31", want: Date{9999, 12, 31}, status: DatePlaceholder},
		{name: "before 1880", in: "1850-03-07", want: Date{1850, 3, 7}, status: DateOutOfRange, reason: "a real date, not a placeholder: reported as out of range"},
		{name: "after 2100", in: "2101-03-07", want: Date{2101, 3, 7}, status: DateOutOfRange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, st := ParseDate(tc.in)
			assert.Equal(t, tc.status, st, tc.reason)
			if st == DateOK || st == DatePlaceholder || st == DateOutOfRange {
				assert.Equal(t, tc.want, d, tc.reason)
			}
		})
	}
}

func TestNormalisePostcode(t *testing.T) {
	tests := []struct{ in, want, outward string }{
		{"sw1a1aa", "SW1A 1AA", "SW1A"},
		{" SW1A  1AA ", "SW1A 1AA", "SW1A"},
		{"ls1 4ap", "LS1 4AP", "LS1"},
		{"M1 1AE", "M1 1AE", "M1"},
		{"4011", "4011", "401"},
		{"0000", "", ""},
		{"", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, out := NormalisePostcode(tc.in)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.outward, out)
		})
	}
}

func TestNormalisePhoneAndEmail(t *testing.T) {
	tests := []struct {
		name, in, want string
		email          bool
	}{
		{name: "uk mobile", in: "07700 900123", want: "07700900123"},
		{name: "international", in: "+44 7700 900123", want: "07700900123"},
		{name: "double zero", in: "0044 7700 900123", want: "07700900123"},
		{name: "repeated digit placeholder", in: "00000 000000", want: ""},
		{name: "run placeholder", in: "0123456789", want: ""},
		{name: "too short", in: "12345", want: ""},
		{name: "email case", in: " John.Smith@Example.ORG ", want: "john.smith@example.org", email: true},
		{name: "email placeholder", in: "noemail@nhs.net", want: "", email: true},
		{name: "not an email", in: "john smith", want: "", email: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.email {
				assert.Equal(t, tc.want, NormaliseEmail(tc.in))
			} else {
				assert.Equal(t, tc.want, NormalisePhone(tc.in))
			}
		})
	}
}

func TestParseName(t *testing.T) {
	tests := []struct {
		name        string
		given       []string
		family      string
		wantGiven   []string
		wantFamily  string
		suffix      string
		placeholder bool
	}{
		{name: "title and accents", given: []string{"Dr. José"}, family: "Núñez", wantGiven: []string{"jose"}, wantFamily: "nunez"},
		{name: "several given names", given: []string{"Mary Ann", "Louise"}, family: "Smith", wantGiven: []string{"mary", "ann", "louise"}, wantFamily: "smith"},
		{name: "hyphenated family", given: []string{"Ann"}, family: "Smith-Jones", wantGiven: []string{"ann"}, wantFamily: "smithjones"},
		{name: "apostrophe", given: []string{"Sean"}, family: "O'Brien", wantGiven: []string{"sean"}, wantFamily: "obrien"},
		{name: "suffix", given: []string{"John", "Jr"}, family: "Smith", wantGiven: []string{"john"}, wantFamily: "smith", suffix: "jr"},
		{name: "baby girl", given: []string{"Baby Girl"}, family: "Smith", wantFamily: "smith", placeholder: true},
		{name: "babygirl", given: []string{"BABYGIRL"}, family: "Smith", wantFamily: "smith", placeholder: true},
		{name: "unknown", given: []string{"UNKNOWN"}, family: "UNKNOWN", placeholder: true},
		{name: "Na is a surname", given: []string{"Min-jun"}, family: "NA", wantGiven: []string{"min", "jun"}, wantFamily: "na"},
		{name: "Doe is a surname", given: []string{"Rachel"}, family: "Doe", wantGiven: []string{"rachel"}, wantFamily: "doe"},
		{name: "John Doe", given: []string{"JOHN"}, family: "DOE", placeholder: true},
		{name: "Baby Doe", given: []string{"Baby"}, family: "Doe", placeholder: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := parseName(tc.given, tc.family)
			assert.Equal(t, tc.wantGiven, n.given)
			assert.Equal(t, tc.wantFamily, n.family)
			assert.Equal(t, tc.suffix, n.suffix)
			assert.Equal(t, tc.placeholder, n.placeholder)
		})
	}
	assert.Equal(t, "robert", CanonicalGivenName("Bob"))
	assert.Equal(t, "muhammad", CanonicalGivenName("Mohammed"))
}

// FuzzNormalisers checks the normalisers' properties on arbitrary input:
// they never panic, they are idempotent, and their output is clean.
func FuzzNormalisers(f *testing.F) {
	for _, s := range []string{"", "Dr. José Núñez-García Jr", "sw1a 1aa", "+44 7700 900123", "07/03/1984",
		"BABY GIRL", "O'Brien", "a - b", "ß æ œ", "\xff\xfe", "1900-01-01", "x@y.z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, hy := range []bool{false, true} {
			once := foldText(s, hy)
			assert.Equal(t, once, foldText(once, hy), "foldText idempotent")
			assert.True(t, utf8.ValidString(once))
			assert.False(t, strings.HasPrefix(once, " ") || strings.HasSuffix(once, " "))
		}
		pc, out := NormalisePostcode(s)
		pc2, out2 := NormalisePostcode(pc)
		assert.Equal(t, pc, pc2, "postcode idempotent")
		assert.Equal(t, out, out2)
		ph := NormalisePhone(s)
		if ph != "" {
			assert.Equal(t, ph, NormalisePhone(ph), "phone idempotent")
		}
		em := NormaliseEmail(s)
		assert.Equal(t, em, NormaliseEmail(em), "email idempotent")
		id := normIdentifier(s)
		assert.Equal(t, id, normIdentifier(id), "identifier idempotent")
		ParseDate(s)
		n := parseName([]string{s}, s)
		again := parseName(n.given, n.family)
		assert.Equal(t, n.family, again.family, "family idempotent")
		p := newPreparer(nil)
		p.Prepare(&Record{Given: []string{s}, Family: s, FullName: s, BirthDate: s, Postcode: s, Phone: s,
			Email: s, NHSNumber: s, Address: []string{s}, Identifiers: []Identifier{{System: "x", Value: s}}})
	})
}

func TestEmailNameOnly(t *testing.T) {
	n := parseName([]string{"Isla"}, "Elliott")
	tests := []struct {
		email  string
		year   int
		want   bool
		reason string
	}{
		{"isla.elliott@example.com", 1998, true, "names only"},
		{"ielliott@example.com", 1998, true, "initial and family name"},
		{"isla_elliott1998@example.com", 1998, true, "names and the birth year: namesakes born that year write the same"},
		{"isla.elliott98@example.com", 1998, true, "two-digit birth year"},
		{"isla.elliott39@example.com", 1998, false, "other digits are the person's own"},
		{"isla.elliott1998@example.com", 0, false, "no birth date to derive the year from"},
		{"bluebird7@example.com", 1998, false, "another word"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, emailNameOnly(NormaliseEmail(tc.email), n, tc.year), "%s: %s", tc.email, tc.reason)
	}
}
