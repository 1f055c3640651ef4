package merge

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadRules(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		wantErr error
		check   func(t *testing.T, r *Rules)
	}{
		{
			name: "code map, window and molar mass",
			json: `{"concepts":[{"id":"glucose","codes":[{"system":"http://loinc.org","code":"2345-7"},{"system":"local","code":"GLU"}]}],
				"windows":[{"category":"result","tolerance":"48h"}],
				"analytes":[{"concept":"glucose","molarMass":180.16}]}`,
			check: func(t *testing.T, r *Rules) {
				assert.Len(t, r.Concepts[0].Codes, 2)
				assert.Equal(t, Duration(48*time.Hour), r.Windows[0].Tolerance)
				c, err := compileRules(r)
				require.NoError(t, err)
				assert.Equal(t, int64(48*3600), c.window[categoryIndex(CategoryResult)])
				id, ok := c.lookup("local", "GLU")
				assert.True(t, ok)
				assert.Equal(t, int32(0), id)
			},
		},
		{name: "unknown field", json: `{"concept":[]}`, wantErr: ErrInvalidRules},
		{name: "bad duration", json: `{"windows":[{"category":"result","tolerance":"soon"}]}`, wantErr: ErrInvalidRules},
		{name: "code in two concepts", json: `{"concepts":[{"id":"a","codes":[{"system":"s","code":"1"}]},{"id":"b","codes":[{"system":"s","code":"1"}]}]}`, wantErr: ErrInvalidRules},
		{name: "analyte of no concept", json: `{"analytes":[{"concept":"x","molarMass":1}]}`, wantErr: ErrInvalidRules},
		{name: "unit without factor", json: `{"units":[{"code":"mg","dimension":"mass"}]}`, wantErr: ErrInvalidRules},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := LoadRules(strings.NewReader(tc.json))
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, r)
		})
	}
}

// TestLookupSharedCode: one code string in several systems names
// different concepts per system, and the same system and code twice in one
// concept is no clash.
func TestLookupSharedCode(t *testing.T) {
	c, err := compileRules(&Rules{Concepts: []Concept{
		{ID: "a", Codes: []Code{{System: "s1", Code: "7"}, {System: "s1", Code: "7"}, {System: "s3", Code: "8"}}},
		{ID: "b", Codes: []Code{{System: "s2", Code: "7"}}},
		{ID: "c", Codes: []Code{{System: "s3", Code: "7"}}},
	}})
	require.NoError(t, err)
	for _, tc := range []struct {
		system, code string
		want         int32
		ok           bool
	}{
		{"s1", "7", 0, true}, {"s2", "7", 1, true}, {"s3", "7", 2, true}, {"s4", "7", 0, false},
		{"s3", "8", 0, true}, {"s1", "8", 0, false}, {"s1", "9", 0, false},
	} {
		id, ok := c.lookup(tc.system, tc.code)
		assert.Equal(t, tc.ok, ok, "%s|%s", tc.system, tc.code)
		if tc.ok {
			assert.Equal(t, tc.want, id, "%s|%s", tc.system, tc.code)
		}
	}
	_, err = compileRules(&Rules{Concepts: []Concept{
		{ID: "a", Codes: []Code{{System: "s1", Code: "7"}, {System: "s2", Code: "7"}}},
		{ID: "b", Codes: []Code{{System: "s2", Code: "7"}}},
	}})
	require.ErrorIs(t, err, ErrInvalidRules, "a shared code string in two concepts of one system")
}

func TestSameQty(t *testing.T) {
	m := engine(t, &Options{Rules: testRules()})
	glucose, _ := m.rules.lookup(loinc, "2345-7")
	tests := []struct {
		name     string
		a, b     Quantity
		concept  int32
		same     bool
		unitDiff bool
	}{
		{name: "g/L and g/dL", a: Quantity{Value: 135, Unit: "g/L"}, b: Quantity{Value: 13.5, Unit: "g/dL"}, concept: -1, same: true},
		{name: "rounded copy", a: Quantity{Value: 5.46, Unit: "mmol/L"}, b: Quantity{Value: 5.5, Unit: "mmol/L"}, concept: -1, same: true},
		{name: "one unit apart", a: Quantity{Value: 135, Unit: "g/L"}, b: Quantity{Value: 134, Unit: "g/L"}, concept: -1, same: false},
		{name: "2 may be 2.0", a: Quantity{Value: 2, Unit: "mmol/L"}, b: Quantity{Value: 1.7, Unit: "mmol/L"}, concept: -1, same: false},
		{name: "case of unit", a: Quantity{Value: 5, Unit: "mmol/l"}, b: Quantity{Value: 5, Unit: "mmol/L"}, concept: -1, same: true},
		{name: "glucose by molar mass", a: Quantity{Value: 5.5, Unit: "mmol/L"}, b: Quantity{Value: 99, Unit: "mg/dL"}, concept: glucose, same: true},
		{name: "molar mass needed", a: Quantity{Value: 5.5, Unit: "mmol/L"}, b: Quantity{Value: 99, Unit: "mg/dL"}, concept: -1, unitDiff: true},
		{name: "unknown unit", a: Quantity{Value: 1, Unit: "widgets"}, b: Quantity{Value: 1, Unit: "mg"}, concept: -1, unitDiff: true},
		{name: "censored differs", a: Quantity{Value: 5, Unit: "mg/L", Comparator: "<"}, b: Quantity{Value: 5, Unit: "mg/L"}, concept: -1},
		{name: "fahrenheit", a: Quantity{Value: 98.6, Unit: "[degF]"}, b: Quantity{Value: 37, Unit: "Cel"}, concept: -1, same: true},
		{name: "dose in grams", a: Quantity{Value: 0.5, Unit: "g"}, b: Quantity{Value: 500, Unit: "mg"}, concept: -1, same: true},
		{name: "double dose", a: Quantity{Value: 0.01, Unit: "g"}, b: Quantity{Value: 5, Unit: "mg"}, concept: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			same, unit := m.rules.sameQty(&tc.a, &tc.b, tc.concept)
			assert.Equal(t, tc.same, same)
			assert.Equal(t, tc.unitDiff, unit)
			same2, _ := m.rules.sameQty(&tc.b, &tc.a, tc.concept)
			assert.Equal(t, same, same2, "symmetric")
		})
	}
}

// FuzzFoldText: foldText keeps exactly the ASCII letters (lower-cased),
// digits and non-ASCII bytes of each side, with one separator between, as
// written out here with unicode-free byte tests.
func FuzzFoldText(f *testing.F) {
	f.Add("Haemoglobin A1c!", "Reviewed, TODAY.")
	f.Add("", "\xff\x00 é")
	f.Fuzz(func(t *testing.T, a, b string) {
		keep := func(s string) []byte {
			var out []byte
			for _, c := range []byte(s) {
				switch {
				case 'A' <= c && c <= 'Z':
					out = append(out, c|0x20)
				case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c >= 0x80:
					out = append(out, c)
				}
			}
			return out
		}
		want := append(append(append([]byte("x"), keep(a)...), 0xff), keep(b)...)
		assert.Equal(t, want, foldText([]byte("x"), a, b))
	})
}
