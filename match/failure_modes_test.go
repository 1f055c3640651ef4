package match

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// failureMode is one row of the failure-mode corpus.
type failureMode struct {
	name       string
	a, b       Record
	wantLinked bool
	wantGrades []Grade // acceptable grades from Explain
	reason     string
}

// failureModes is the failure-mode corpus, run against the batch linker
// (TestFailureModes) and the identity index (TestFailureModesIndex): the
// two must decide every row alike.
func failureModes() []failureMode {
	base := Record{Given: []string{"Oliver"}, Family: "Pemberton", BirthDate: "1984-03-07", Sex: "M",
		Address: []string{"12 Harcourt Road"}, Postcode: "LS6 3AB", Phone: "07700 900777"}
	with := func(f func(r *Record)) Record {
		r := base
		r.Given = append([]string(nil), base.Given...)
		r.Address = append([]string(nil), base.Address...)
		f(&r)
		return r
	}
	return []failureMode{
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
		{name: "mistyped NHS number", a: with(func(r *Record) { r.NHSNumber = "9434765919" }),
			b:          with(func(r *Record) { r.NHSNumber = "9434765918" }),
			wantLinked: true, wantGrades: []Grade{GradeCertain, GradeProbable},
			reason: "one digit off fails the check digit: no NHS number, not a second one, and the rest agrees"},
		{name: "borrowed NHS number", a: with(func(r *Record) { r.NHSNumber = "9434765919" }),
			b: with(func(r *Record) {
				r.NHSNumber = "9434765919"
				r.Given = []string{"Maisie"}
				r.Sex = "F"
				r.BirthDate = "2016-11-21"
			}),
			wantLinked: false, wantGrades: []Grade{GradePossible, GradeCertainlyNot},
			reason: "a parent's NHS number on a child's record: given name, sex and birth date all disagree"},
		{name: "mover without identifier", a: base, b: with(func(r *Record) {
			r.Address = []string{"3 Quarry Lane"}
			r.Postcode = "YO1 7HH"
			r.Phone = "07700 900123"
		}),
			wantLinked: false, wantGrades: []Grade{GradePossible, GradeCertainlyNot},
			reason: "nothing beyond name, birth date and sex agrees: a person confirms"},
	}
}

// failureModeBackground is the population every failure-mode pair is
// linked among.
var failureModeBackground = sync.OnceValue(func() []Record { return syntheticRecords(1500, 21) })

// linkFailureMode links the row's pair among the background with a model
// trained on the whole: the batch linker's decision and its explanation.
func linkFailureMode(t *testing.T, tc failureMode) (linked bool, e Explanation, res *LinkResult) {
	a, b := tc.a, tc.b
	a.Source, a.ID, b.Source, b.ID = "gp", "case-a", "hospital", "case-b"
	recs := append(append([]Record(nil), failureModeBackground()...), a, b)
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
	for _, tc := range failureModes() {
		t.Run(tc.name, func(t *testing.T) {
			linked, e, _ := linkFailureMode(t, tc)
			assert.Equal(t, tc.wantLinked, linked, "%s\n%s", tc.reason, e)
			assert.Contains(t, tc.wantGrades, e.Grade, "%s\n%s", tc.reason, e)
		})
	}
}

// TestFailureModesIndex runs the corpus through the identity index, with
// the model the batch linker trained for the row: the background and the
// pair are loaded, and the index must link the pair exactly when the
// batch linker does, and grade it as the corpus says when queried.
func TestFailureModesIndex(t *testing.T) {
	for _, tc := range failureModes() {
		t.Run(tc.name, func(t *testing.T) {
			batchLinked, e, res := linkFailureMode(t, tc)
			ix, err := OpenIndex(t.Context(), NewMemoryStore(), &IndexOptions{Model: res.Scorer.Model()})
			require.NoError(t, err)
			a, b := tc.a, tc.b
			a.Source, a.ID, b.Source, b.ID = "gp", "case-a", "hospital", "case-b"
			recs := append(append([]Record(nil), failureModeBackground()...), a)
			_, err = ix.Load(t.Context(), func(yield func(Record, error) bool) {
				for _, r := range recs {
					if !yield(r, nil) {
						return
					}
				}
			}, nil)
			require.NoError(t, err)
			q := b
			q.Source, q.ID = "query", "q"
			cands, err := ix.Query(t.Context(), q, 20)
			require.NoError(t, err)
			pa, err := ix.PersonOf(t.Context(), a.Ref())
			require.NoError(t, err)
			pb, err := ix.Add(t.Context(), b)
			require.NoError(t, err)
			assert.Equal(t, batchLinked, pa == pb, "the index and the batch linker decide alike: %s\n%s", tc.reason, e)
			assert.Equal(t, tc.wantLinked, pa == pb, "%s\n%s", tc.reason, e)
			got := GradeCertainlyNot // not offered
			for _, c := range cands {
				if c.Person == pa {
					got = c.Grade
				}
			}
			assert.Contains(t, tc.wantGrades, got, "query grade: %s\n%s", tc.reason, e)
		})
	}
}
