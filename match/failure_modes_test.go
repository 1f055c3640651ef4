package match

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FailureMode is one row of the failure-mode corpus. It is exported, from
// a test file, for the identity index's run of the corpus
// (failure_modes_index_test.go, package match_test, which may import mpi).
type FailureMode struct {
	Name       string
	A, B       Record
	WantLinked bool
	WantGrades []Grade // acceptable grades from Explain
	Reason     string
}

// FailureModes is the failure-mode corpus, run against the batch linker
// (TestFailureModes) and the identity index (TestFailureModesIndex): the
// two must decide every row alike.
func FailureModes() []FailureMode {
	base := Record{Given: []string{"Oliver"}, Family: "Pemberton", BirthDate: "1984-03-07", Sex: "M",
		Address: []string{"12 Harcourt Road"}, Postcode: "LS6 3AB", Phone: "07700 900777"}
	with := func(f func(r *Record)) Record {
		r := base
		r.Given = append([]string(nil), base.Given...)
		r.Address = append([]string(nil), base.Address...)
		f(&r)
		return r
	}
	return []FailureMode{
		{Name: "twins", A: base, B: with(func(r *Record) { r.Given = []string{"Harriet"}; r.Sex = "F" }),
			WantLinked: false, WantGrades: []Grade{GradePossible, GradeCertainlyNot}, Reason: "same surname, birth date, address and phone; given names differ"},
		{Name: "junior and senior", A: with(func(r *Record) { r.Given = []string{"Oliver", "Jr"}; r.BirthDate = "1984-03-07" }),
			B:          with(func(r *Record) { r.Given = []string{"Oliver", "Sr"}; r.BirthDate = "1954-03-07" }),
			WantLinked: false, WantGrades: []Grade{GradePossible, GradeCertainlyNot}, Reason: "suffix is a discriminator"},
		{Name: "placeholder newborn names", A: with(func(r *Record) { r.Given = []string{"Baby Girl"}; r.BirthDate = "2024-05-01"; r.Phone = "" }),
			B: with(func(r *Record) {
				r.Given = []string{"BABYGIRL"}
				r.BirthDate = "2024-05-01"
				r.Address = []string{"4 Mill Lane"}
				r.Postcode = "BD1 2AB"
				r.Phone = ""
			}),
			WantLinked: false, WantGrades: []Grade{GradePossible, GradeCertainlyNot}, Reason: "the name gets no weight; only surname and date agree"},
		{Name: "unknown patient", A: Record{Given: []string{"UNKNOWN"}, Family: "UNKNOWN", Sex: "M"},
			B:          Record{Given: []string{"Unknown"}, Family: "Unknown", Sex: "M"},
			WantLinked: false, WantGrades: []Grade{GradeCertainlyNot}, Reason: "excluded from matching"},
		{Name: "default birth date", A: with(func(r *Record) { r.BirthDate = "1900-01-01"; r.Phone = ""; r.Address = nil; r.Postcode = "" }),
			B: with(func(r *Record) {
				r.BirthDate = "1900-01-01"
				r.Given = []string{"Olive"}
				r.Phone = ""
				r.Address = nil
				r.Postcode = ""
			}),
			WantLinked: false, WantGrades: []Grade{GradePossible, GradeCertainlyNot}, Reason: "the date carries no weight"},
		{Name: "namesakes on streets of one style", A: base, B: with(func(r *Record) {
			r.Family = "Thwaite"
			r.Address = []string{"17 Hartley Road"}
			r.Postcode = "BS15 2GS"
			r.Phone = ""
		}),
			WantLinked: false, WantGrades: []Grade{GradePossible, GradeCertainlyNot},
			Reason: "given name, birth date and sex agree; a street resembling the other by style alone corroborates nothing"},
		{Name: "day and month transposed", A: base, B: with(func(r *Record) { r.BirthDate = "1984-07-03" }),
			WantLinked: true, WantGrades: []Grade{GradeCertain, GradeProbable}, Reason: "a dedicated level, not a disagreement"},
		{Name: "name order swapped", A: base, B: with(func(r *Record) { r.Given = []string{"Pemberton"}; r.Family = "Oliver" }),
			WantLinked: true, WantGrades: []Grade{GradeCertain, GradeProbable}},
		{Name: "placeholder NHS numbers", A: with(func(r *Record) {
			r.NHSNumber = "0000000000"
			r.Given = []string{"Zachary"}
			r.Family = "Quill"
			r.BirthDate = "1970-01-02"
			r.Address = nil
			r.Postcode = ""
			r.Phone = ""
		}),
			B: with(func(r *Record) {
				r.NHSNumber = "0000000000"
				r.Given = []string{"Yvonne"}
				r.Family = "Ormsby"
				r.BirthDate = "1991-09-09"
				r.Address = nil
				r.Postcode = ""
				r.Phone = ""
			}),
			WantLinked: false, WantGrades: []Grade{GradeCertainlyNot}, Reason: "rejected as a key even though it passes mod 11"},
		{Name: "nickname", A: base, B: with(func(r *Record) { r.Given = []string{"Ollie"} }),
			WantLinked: true, WantGrades: []Grade{GradeCertain, GradeProbable}},
		{Name: "transliteration", A: with(func(r *Record) { r.Given = []string{"Muhammad"}; r.Family = "Rahman" }),
			B:          with(func(r *Record) { r.Given = []string{"Mohammed"}; r.Family = "Rahman" }),
			WantLinked: true, WantGrades: []Grade{GradeCertain, GradeProbable}},
		{Name: "hyphenated married name", A: with(func(r *Record) { r.Given = []string{"Harriet"}; r.Sex = "F"; r.NHSNumber = "9434765919" }),
			B: with(func(r *Record) {
				r.Given = []string{"Harriet"}
				r.Sex = "F"
				r.Family = "Pemberton-Hale"
				r.NHSNumber = "943 476 5919"
			}),
			WantLinked: true, WantGrades: []Grade{GradeCertain, GradeProbable}},
		{Name: "married name in history", A: with(func(r *Record) { r.Given = []string{"Harriet"}; r.Sex = "F" }),
			B: with(func(r *Record) {
				r.Given = []string{"Harriet"}
				r.Sex = "F"
				r.Family = "Hale"
				r.OtherNames = []Name{{Family: "Pemberton", Use: "maiden"}}
			}),
			WantLinked: true, WantGrades: []Grade{GradeCertain, GradeProbable}, Reason: "matched via the name history"},
		{Name: "different valid NHS numbers", A: with(func(r *Record) { r.NHSNumber = "9434765919" }),
			B:          with(func(r *Record) { r.NHSNumber = "4010232137" }),
			WantLinked: false, WantGrades: []Grade{GradeCertainlyNot}, Reason: "hard constraint"},
		{Name: "mistyped NHS number", A: with(func(r *Record) { r.NHSNumber = "9434765919" }),
			B:          with(func(r *Record) { r.NHSNumber = "9434765918" }),
			WantLinked: true, WantGrades: []Grade{GradeCertain, GradeProbable},
			Reason: "one digit off fails the check digit: no NHS number, not a second one, and the rest agrees"},
		{Name: "borrowed NHS number", A: with(func(r *Record) { r.NHSNumber = "9434765919" }),
			B: with(func(r *Record) {
				r.NHSNumber = "9434765919"
				r.Given = []string{"Maisie"}
				r.Sex = "F"
				r.BirthDate = "2016-11-21"
			}),
			WantLinked: false, WantGrades: []Grade{GradePossible, GradeCertainlyNot},
			Reason: "a parent's NHS number on a child's record: given name, sex and birth date all disagree"},
		{Name: "mover without identifier", A: base, B: with(func(r *Record) {
			r.Address = []string{"3 Quarry Lane"}
			r.Postcode = "YO1 7HH"
			r.Phone = "07700 900123"
		}),
			WantLinked: false, WantGrades: []Grade{GradePossible, GradeCertainlyNot},
			Reason: "nothing beyond name, birth date and sex agrees: a person confirms"},
		{Name: "mover with NHS number", A: with(func(r *Record) { r.NHSNumber = "9434765919" }), B: with(func(r *Record) {
			r.NHSNumber = "9434765919"
			r.Address = []string{"3 Quarry Lane"}
			r.Postcode = "YO1 7HH"
			r.Phone = "07700 900123"
		}),
			WantLinked: true, WantGrades: []Grade{GradeCertain, GradeProbable},
			Reason: "one move changes house number, street, postcode and phone together: counted once, it cannot outweigh the NHS number, name and birth date"},
	}
}

// FailureModeBackground is the population every failure-mode pair is
// linked among.
var FailureModeBackground = sync.OnceValue(func() []Record { return syntheticRecords(1500, 21) })

// LinkFailureMode links the row's pair among the background with a model
// trained on the whole: the batch linker's decision and its explanation.
func LinkFailureMode(t *testing.T, tc FailureMode) (linked bool, e Explanation, res *LinkResult) {
	a, b := tc.A, tc.B
	a.Source, a.ID, b.Source, b.ID = "gp", "case-a", "hospital", "case-b"
	recs := append(append([]Record(nil), FailureModeBackground()...), a, b)
	res, err := Link(t.Context(), recs, nil)
	require.NoError(t, err)
	ia, ib := len(recs)-2, len(recs)-1
	e = res.Scorer.Explain(&res.Prepared[ia], &res.Prepared[ib])
	return res.Cluster[ia] == res.Cluster[ib], e, res
}

// TestFailureModes runs the failure-mode corpus (one case per row): each
// pair is linked among a background population, with a model trained on
// that data, and must come out as the corpus says.
func TestFailureModes(t *testing.T) {
	for _, tc := range FailureModes() {
		t.Run(tc.Name, func(t *testing.T) {
			linked, e, _ := LinkFailureMode(t, tc)
			assert.Equal(t, tc.WantLinked, linked, "%s\n%s", tc.Reason, e)
			assert.Contains(t, tc.WantGrades, e.Grade, "%s\n%s", tc.Reason, e)
		})
	}
}
