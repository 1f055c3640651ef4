package match

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFailureModes runs the failure-mode corpus (one case per row): each
// pair is linked among a background population, with a model trained on
// that data, and must come out as the corpus says.
func TestFailureModes(t *testing.T) {
	base := Record{Given: []string{"Oliver"}, Family: "Pemberton", BirthDate: "1984-03-07", Sex: "M",
		Address: []string{"12 Harcourt Road"}, Postcode: "LS6 3AB", Phone: "07700 900777"}
	with := func(f func(r *Record)) Record {
		r := base
		r.Given = append([]string(nil), base.Given...)
		r.Address = append([]string(nil), base.Address...)
		f(&r)
		return r
	}
	tests := []struct {
		name       string
		a, b       Record
		wantLinked bool
		wantGrades []Grade // acceptable grades from Explain
		reason     string
	}{
		{name: "twins", a: base, b: with(func(r *Record) { r.Given = []string{"Harriet"}; r.Sex = "F" }),
			wantLinked: false, wantGrades: []Grade{GradePossible, GradeCertainlyNot}, reason: "same surname, birth date, address and phone; given names differ"},
		{name: "junior and senior", a: with(func(r *Record) { r.Given = []string{"Oliver", "Jr"}; r.BirthDate = "1984-03-07" }),
			b:          with(func(r *Record) { r.Given = []string{"Oliver", "Sr"}; r.BirthDate = "1954-03-07" }),
			wantLinked: false, wantGrades: []Grade{GradePossible, GradeCertainlyNot}, reason: "suffix is a discriminator"},
		{name: "placeholder newborn names", a: with(func(r *Record) { r.Given = []string{"Baby Girl"}; r.BirthDate = "2024-05-01"; r.Phone = "" }),
			b: with(func(r *Record) {
				r.Given = []string{"BABYGIRL"}
				r.BirthDate = "2024-05-01"
				r.Address = []string{"4 Mill Lane"}
				r.Postcode = "BD1 2AB"
				r.Phone = ""
			}),
			wantLinked: false, wantGrades: []Grade{GradePossible, GradeCertainlyNot}, reason: "the name gets no weight; only surname and date agree"},
		{name: "unknown patient", a: Record{Given: []string{"UNKNOWN"}, Family: "UNKNOWN", Sex: "M"},
			b:          Record{Given: []string{"Unknown"}, Family: "Unknown", Sex: "M"},
			wantLinked: false, wantGrades: []Grade{GradeCertainlyNot}, reason: "excluded from matching"},
		{name: "default birth date", a: with(func(r *Record) { r.BirthDate = "1900-01-01"; r.Phone = ""; r.Address = nil; r.Postcode = "" }),
			b: with(func(r *Record) {
				r.BirthDate = "1900-01-01"
				r.Given = []string{"Olive"}
				r.Phone = ""
				r.Address = nil
				r.Postcode = ""
			}),
			wantLinked: false, wantGrades: []Grade{GradePossible, GradeCertainlyNot}, reason: "the date carries no weight"},
		{name: "namesakes on streets of one style", a: base, b: with(func(r *Record) {
			r.Family = "Thwaite"
			r.Address = []string{"17 Hartley Road"}
			r.Postcode = "BS15 2GS"
			r.Phone = ""
		}),
			wantLinked: false, wantGrades: []Grade{GradePossible, GradeCertainlyNot},
			reason: "given name, birth date and sex agree; a street resembling the other by style alone corroborates nothing"},
		{name: "day and month transposed", a: base, b: with(func(r *Record) { r.BirthDate = "1984-07-03" }),
			wantLinked: true, wantGrades: []Grade{GradeCertain, GradeProbable}, reason: "a dedicated level, not a disagreement"},
		{name: "name order swapped", a: base, b: with(func(r *Record) { r.Given = []string{"Pemberton"}; r.Family = "Oliver" }),
			wantLinked: true, wantGrades: []Grade{GradeCertain, GradeProbable}},
		{name: "placeholder NHS numbers", a: with(func(r *Record) {
			r.NHSNumber = "0000000000"
			r.Given = []string{"Zachary"}
			r.Family = "Quill"
			r.BirthDate = "1970-01-02"
			r.Address = nil
			r.Postcode = ""
			r.Phone = ""
		}),
			b: with(func(r *Record) {
				r.NHSNumber = "0000000000"
				r.Given = []string{"Yvonne"}
				r.Family = "Ormsby"
				r.BirthDate = "1991-09-09"
				r.Address = nil
				r.Postcode = ""
				r.Phone = ""
			}),
			wantLinked: false, wantGrades: []Grade{GradeCertainlyNot}, reason: "rejected as a key even though it passes mod 11"},
		{name: "nickname", a: base, b: with(func(r *Record) { r.Given = []string{"Ollie"} }),
			wantLinked: true, wantGrades: []Grade{GradeCertain, GradeProbable}},
		{name: "transliteration", a: with(func(r *Record) { r.Given = []string{"Muhammad"}; r.Family = "Rahman" }),
			b:          with(func(r *Record) { r.Given = []string{"Mohammed"}; r.Family = "Rahman" }),
			wantLinked: true, wantGrades: []Grade{GradeCertain, GradeProbable}},
		{name: "hyphenated married name", a: with(func(r *Record) { r.Given = []string{"Harriet"}; r.Sex = "F"; r.NHSNumber = "9434765919" }),
			b: with(func(r *Record) {
				r.Given = []string{"Harriet"}
				r.Sex = "F"
				r.Family = "Pemberton-Hale"
				r.NHSNumber = "943 476 5919"
			}),
			wantLinked: true, wantGrades: []Grade{GradeCertain, GradeProbable}},
		{name: "married name in history", a: with(func(r *Record) { r.Given = []string{"Harriet"}; r.Sex = "F" }),
			b: with(func(r *Record) {
				r.Given = []string{"Harriet"}
				r.Sex = "F"
				r.Family = "Hale"
				r.OtherNames = []Name{{Family: "Pemberton", Use: "maiden"}}
			}),
			wantLinked: true, wantGrades: []Grade{GradeCertain, GradeProbable}, reason: "matched via the name history"},
		{name: "different valid NHS numbers", a: with(func(r *Record) { r.NHSNumber = "9434765919" }),
			b:          with(func(r *Record) { r.NHSNumber = "4010232137" }),
			wantLinked: false, wantGrades: []Grade{GradeCertainlyNot}, reason: "hard constraint"},
	}
	background := syntheticRecords(1500, 21)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tc.a, tc.b
			a.Source, a.ID, b.Source, b.ID = "gp", "case-a", "hospital", "case-b"
			recs := append(append([]Record(nil), background...), a, b)
			res, err := Link(t.Context(), recs, nil)
			require.NoError(t, err)
			ia, ib := len(recs)-2, len(recs)-1
			e := res.Scorer.Explain(&res.Prepared[ia], &res.Prepared[ib])
			assert.Equal(t, tc.wantLinked, res.Cluster[ia] == res.Cluster[ib], "%s\n%s", tc.reason, e)
			assert.Contains(t, tc.wantGrades, e.Grade, "%s\n%s", tc.reason, e)
		})
	}
}
