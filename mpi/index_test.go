package mpi_test

import (
	"strings"
	"testing"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/mpi/badgerstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIndexAddLinksSamePersonAcrossSources(t *testing.T) {
	ix := openMem(t)
	gp := testPerson(1, "gp")
	hosp := testPerson(1, "hospital")
	hosp.Given = []string{strings.ToUpper(gp.Given[0])} // case differs
	hosp.Phone = ""
	other := testPerson(2, "hospital")

	p1 := add(t, ix, gp)
	p2 := add(t, ix, hosp)
	p3 := add(t, ix, other)
	assert.Equal(t, p1, p2, "same person in two sources")
	assert.NotEqual(t, p1, p3)

	person, err := ix.Person(t.Context(), p1)
	require.NoError(t, err)
	assert.ElementsMatch(t, []match.RecordRef{gp.Ref(), hosp.Ref()}, person.Records)

	q := testPerson(1, "query")
	cands, err := ix.Query(t.Context(), q, 5)
	require.NoError(t, err)
	require.NotEmpty(t, cands)
	assert.Equal(t, p1, cands[0].Person)
	assert.Equal(t, match.GradeCertain, cands[0].Grade)
	assert.Greater(t, cands[0].Probability, 0.99)
	for i := 1; i < len(cands); i++ {
		assert.NotEqual(t, p1, cands[i].Person, "one candidate per person")
	}
}

func TestIndexReAddIsStable(t *testing.T) {
	ix := openMem(t)
	r := testPerson(7, "gp")
	p := add(t, ix, r)
	n := len(events(t, ix, 0))
	for range 3 {
		assert.Equal(t, p, add(t, ix, r))
	}
	assert.Len(t, events(t, ix, 0), n, "re-adding identical data logs nothing")
}

// TestIndexNeverAutoLinksOnWeakEvidence is the M11 failure-mode corpus for
// the index: each pair would score highly, but must not be linked
// automatically; it is offered as a possible match instead.
func TestIndexNeverAutoLinksOnWeakEvidence(t *testing.T) {
	base := testPerson(3, "gp")
	tests := []struct {
		name      string
		a, b      func() match.Record
		wantGrade match.Grade
		reason    string
	}{
		{
			name: "name and birth date alone",
			a: func() match.Record {
				r := base
				r.Address, r.Postcode, r.Phone = nil, "", ""
				return r
			},
			b: func() match.Record {
				r := base
				r.Source, r.ID = "hospital", "h1"
				r.Address, r.Postcode, r.Phone = nil, "", ""
				return r
			},
			wantGrade: match.GradePossible,
			reason:    "nothing beyond name and birth date agrees",
		},
		{
			name: "placeholder newborn names, twins at one address",
			a: func() match.Record {
				r := base
				r.Given = []string{"Baby Girl"}
				r.BirthDate = "2024-03-05"
				return r
			},
			b: func() match.Record {
				r := base
				r.Source, r.ID = "hospital", "h2"
				r.Given = []string{"BABYGIRL"}
				r.BirthDate = "2024-03-05"
				return r
			},
			wantGrade: match.GradePossible,
			reason:    "a placeholder name is no evidence, shared address and phone notwithstanding: at most possible",
		},
		{
			name: "default birth date",
			a: func() match.Record {
				r := base
				r.BirthDate = "1900-01-01"
				r.Address, r.Phone = nil, ""
				return r
			},
			b: func() match.Record {
				r := base
				r.Source, r.ID = "hospital", "h3"
				r.BirthDate = "1900-01-01"
				r.Address, r.Phone = nil, ""
				return r
			},
			wantGrade: match.GradePossible,
			reason:    "a default birth date is no evidence: at most possible",
		},
		{
			name: "different valid NHS numbers",
			a: func() match.Record {
				r := base
				r.NHSNumber = testNHS(100)
				return r
			},
			b: func() match.Record {
				r := base
				r.Source, r.ID = "hospital", "h4"
				r.NHSNumber = testNHS(200)
				return r
			},
			wantGrade: match.GradeCertainlyNot,
			reason:    "two different valid NHS numbers are two people",
		},
		{
			name: "placeholder NHS number",
			a: func() match.Record {
				r := base
				r.NHSNumber = "0000000000"
				r.Address, r.Postcode, r.Phone = nil, "", ""
				return r
			},
			b: func() match.Record {
				r := base
				r.Source, r.ID = "hospital", "h5"
				r.NHSNumber = "0000000000"
				r.Address, r.Postcode, r.Phone = nil, "", ""
				return r
			},
			wantGrade: match.GradePossible,
			reason:    "a repdigit NHS number passes mod 11 but is not evidence",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ix := openMem(t)
			a, b := tc.a(), tc.b()
			pa := add(t, ix, a)
			pb := add(t, ix, b)
			assert.NotEqual(t, pa, pb, tc.reason)

			q := b
			q.Source, q.ID = "query", "q"
			cands, err := ix.Query(t.Context(), q, 10)
			require.NoError(t, err)
			var got match.Grade
			for _, c := range cands {
				if c.Person == pa {
					got = c.Grade
				}
			}
			if tc.wantGrade == match.GradeCertainlyNot {
				assert.Empty(t, got, "certainly-not candidates are not returned")
				return
			}
			// At most possible: offered for review, or below the possible
			// threshold and not offered at all.
			assert.Contains(t, []match.Grade{match.GradePossible, ""}, got, tc.reason)
		})
	}
}

func TestIndexDecisionsOutrankModel(t *testing.T) {
	ix := openMem(t)
	alice := mpi.Actor{By: "clerk-17", Reason: "checked with patient"}
	a := testPerson(5, "gp")
	b := testPerson(5, "hospital")
	pa, pb := add(t, ix, a), add(t, ix, b)
	require.Equal(t, pa, pb)

	// Never-link splits the person and the model cannot rejoin it.
	require.NoError(t, ix.NeverLink(t.Context(), a.Ref(), b.Ref(), alice))
	assert.NotEqual(t, personOf(t, ix, a), personOf(t, ix, b))
	assert.Equal(t, pa, personOf(t, ix, a), "the earliest record keeps the id")
	b.Phone = "07700 999999" // an update re-runs matching
	add(t, ix, b)
	assert.NotEqual(t, personOf(t, ix, a), personOf(t, ix, b), "updates never undo a decision")
	c := testPerson(5, "community") // a third record matching both
	pc := add(t, ix, c)
	assert.False(t, pc == personOf(t, ix, a) && pc == personOf(t, ix, b), "a third record must not bridge a never-link")

	decs, err := ix.Decisions(t.Context(), a.Ref())
	require.NoError(t, err)
	require.Len(t, decs, 1)
	assert.Equal(t, mpi.DecisionNeverLink, decs[0].Kind)
	assert.Equal(t, "clerk-17", decs[0].By)
	assert.Equal(t, "checked with patient", decs[0].Reason)
	assert.False(t, decs[0].Time.IsZero())

	// Link joins a weak pair the model would not.
	x := testPerson(9, "gp")
	y := testPerson(9, "hospital")
	y.Address, y.Postcode, y.Phone = nil, "", ""
	x2 := x
	x2.Address, x2.Postcode, x2.Phone = nil, "", ""
	add(t, ix, x2)
	add(t, ix, y)
	require.NotEqual(t, personOf(t, ix, x2), personOf(t, ix, y))
	require.NoError(t, ix.Link(t.Context(), x2.Ref(), y.Ref(), alice))
	assert.Equal(t, personOf(t, ix, x2), personOf(t, ix, y))

	// A link across a never-link is refused.
	err = ix.Link(t.Context(), a.Ref(), c.Ref(), alice)
	if personOf(t, ix, c) == personOf(t, ix, b) {
		assert.ErrorIs(t, err, mpi.ErrDecisionConflict)
	}

	assert.ErrorIs(t, ix.Link(t.Context(), a.Ref(), b.Ref(), mpi.Actor{}), mpi.ErrInvalidDecision, "a decision needs a person")
	assert.ErrorIs(t, ix.Link(t.Context(), a.Ref(), a.Ref(), alice), mpi.ErrInvalidDecision)
	assert.ErrorIs(t, ix.Link(t.Context(), a.Ref(), match.RecordRef{Source: "gp", ID: "nope"}, alice), mpi.ErrNotFound)
}

func TestIndexMergeEventsAndSurvivor(t *testing.T) {
	ix := openMem(t)
	// Two records of one person that cannot link to each other directly
	// (no shared contact detail) become one person when a third record
	// that links to both arrives.
	full := testPerson(11, "gp")
	a := full
	a.Source, a.ID = "gp", "a"
	a.Phone = ""
	b := full
	b.Source, b.ID = "hospital", "b"
	b.Address, b.Postcode = nil, ""
	pa, pb := add(t, ix, a), add(t, ix, b)
	require.NotEqual(t, pa, pb)
	since := events(t, ix, 0)
	c := full
	c.Source, c.ID = "community", "c"
	pc := add(t, ix, c)
	assert.Equal(t, min(pa, pb), pc, "the older id survives")
	assert.Equal(t, pc, personOf(t, ix, a))
	assert.Equal(t, pc, personOf(t, ix, b))

	evs := events(t, ix, uint64(len(since)))
	var merged *mpi.Event
	for i := range evs {
		if evs[i].Kind == mpi.EventMerged {
			merged = &evs[i]
		}
	}
	require.NotNil(t, merged, "a merge is logged")
	assert.Equal(t, max(pa, pb), merged.From)
	assert.Equal(t, pc, merged.To)
	assert.Equal(t, mpi.ByModel, merged.By)
	assert.NotEmpty(t, merged.Records)

	got, err := ix.Resolve(t.Context(), merged.From)
	require.NoError(t, err)
	assert.Equal(t, pc, got, "an old id resolves to its survivor")
	p, err := ix.Person(t.Context(), merged.From)
	require.NoError(t, err)
	assert.Equal(t, pc, p.ID)
	assert.Len(t, p.Records, 3)
	_, err = ix.Resolve(t.Context(), "P9999999999")
	assert.ErrorIs(t, err, mpi.ErrNotFound)

	// Revert the merge: the merged-away id comes back for its records.
	actor := mpi.Actor{By: "reviewer-2", Reason: "different people"}
	require.NoError(t, ix.Revert(t.Context(), merged.Seq, actor))
	from := merged.From
	got, err = ix.Resolve(t.Context(), from)
	require.NoError(t, err)
	assert.Equal(t, from, got, "the reverted id is a person again")
	assert.NotEqual(t, personOf(t, ix, match.Record{Source: merged.Pair[0].Source, ID: merged.Pair[0].ID}), personOf(t, ix, match.Record{Source: merged.Pair[1].Source, ID: merged.Pair[1].ID}))
	last := events(t, ix, merged.Seq)
	require.NotEmpty(t, last)
	var moved int
	for _, e := range last {
		if e.Kind == mpi.EventMoved {
			moved++
			assert.Equal(t, "reviewer-2", e.By)
			assert.Equal(t, from, e.To)
		}
	}
	assert.Positive(t, moved, "the split is logged as moves")
}

func TestIndexDeleteSplitsAndUpdateMoves(t *testing.T) {
	ix := openMem(t)
	full := testPerson(21, "gp")
	a := full
	a.ID = "a"
	a.Phone = ""
	b := full
	b.Source, b.ID = "hospital", "b"
	b.Address, b.Postcode = nil, ""
	c := full
	c.Source, c.ID = "community", "c"
	add(t, ix, a)
	add(t, ix, b)
	add(t, ix, c)
	require.Equal(t, personOf(t, ix, a), personOf(t, ix, b))
	n := uint64(len(events(t, ix, 0)))

	require.NoError(t, ix.Delete(t.Context(), c.Ref()))
	assert.NotEqual(t, personOf(t, ix, a), personOf(t, ix, b), "the bridge is gone")
	_, err := ix.PersonOf(t.Context(), c.Ref())
	assert.ErrorIs(t, err, mpi.ErrNotFound)
	kinds := map[mpi.EventKind]int{}
	for _, e := range events(t, ix, n) {
		kinds[e.Kind]++
	}
	assert.Equal(t, 1, kinds[mpi.EventRemoved])
	assert.Equal(t, 1, kinds[mpi.EventMoved])

	// An update that makes a record someone else moves it.
	d := testPerson(22, "gp")
	e := testPerson(22, "hospital")
	add(t, ix, d)
	pe := add(t, ix, e)
	require.Equal(t, personOf(t, ix, d), pe)
	e2 := testPerson(23, "hospital")
	e2.ID = e.ID
	pe2 := add(t, ix, e2)
	assert.NotEqual(t, personOf(t, ix, d), pe2)
	got, err := ix.Record(t.Context(), e.Ref())
	require.NoError(t, err)
	assert.Equal(t, e2.Given, got.Given)
}

func TestIndexRefusesForeignStore(t *testing.T) {
	s := mpi.NewMemoryStore()
	require.NoError(t, s.Update(t.Context(), func(tx mpi.Txn) error { return tx.Set([]byte("other/app"), []byte("x")) }))
	_, err := mpi.OpenIndex(t.Context(), s, nil)
	assert.ErrorIs(t, err, mpi.ErrForeignStore)

	s2 := mpi.NewMemoryStore()
	require.NoError(t, s2.Update(t.Context(), func(tx mpi.Txn) error { return tx.Set([]byte("m/format"), []byte("carelens-index/99")) }))
	_, err = mpi.OpenIndex(t.Context(), s2, nil)
	assert.ErrorIs(t, err, mpi.ErrForeignStore)
}

func TestIndexInvalidRecord(t *testing.T) {
	ix := openMem(t)
	_, err := ix.Add(t.Context(), match.Record{Source: "gp"})
	assert.ErrorIs(t, err, mpi.ErrInvalidRecord)
}

func TestIndexDecisionsPersist(t *testing.T) {
	dir := t.TempDir()
	ix, s := openBadger(t, dir)
	a, b := testPerson(31, "gp"), testPerson(31, "hospital")
	add(t, ix, a)
	add(t, ix, b)
	require.NoError(t, ix.NeverLink(t.Context(), a.Ref(), b.Ref(), mpi.Actor{By: "u1"}))
	pa, pb := personOf(t, ix, a), personOf(t, ix, b)
	require.NoError(t, s.Close())

	ix, s = openBadger(t, dir)
	defer s.Close()
	assert.Equal(t, pa, personOf(t, ix, a))
	assert.Equal(t, pb, personOf(t, ix, b))
	c := testPerson(31, "community")
	add(t, ix, c)
	assert.NotEqual(t, personOf(t, ix, a), personOf(t, ix, b), "the decision outlives a restart")
	decs, err := ix.Decisions(t.Context(), b.Ref())
	require.NoError(t, err)
	require.Len(t, decs, 1)
	assert.Equal(t, "u1", decs[0].By)
}

func TestIndexOversizedBlocksAndReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := badgerstore.Open(dir, nil)
	require.NoError(t, err)
	opts := &mpi.IndexOptions{MaxBlockSize: 3}
	ix, err := mpi.OpenIndex(t.Context(), s, opts)
	require.NoError(t, err)
	// Six different people at one postcode with one initial share the
	// postcode+initial block, which grows past three and is dropped; each
	// still links with their own second record through other blocks.
	var people []match.Record
	for n := range 6 {
		r := testPerson(100+16*n, "gp") // same given name, different families
		r.Postcode = "LS1 1AA"
		people = append(people, r)
		add(t, ix, r)
	}
	for _, r := range people {
		h := r
		h.Source, h.ID = "hospital", "h-"+r.ID
		assert.Equal(t, personOf(t, ix, r), add(t, ix, h))
	}
	st, err := ix.Stats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 6, st.Persons)
	require.NoError(t, s.Close())

	// The blocking index is rebuilt from the stored records on open.
	s, err = badgerstore.Open(dir, nil)
	require.NoError(t, err)
	defer s.Close()
	ix, err = mpi.OpenIndex(t.Context(), s, opts)
	require.NoError(t, err)
	for _, r := range people {
		q := r
		q.Source, q.ID = "query", "q"
		cands, err := ix.Query(t.Context(), q, 3)
		require.NoError(t, err)
		require.NotEmpty(t, cands)
		assert.Equal(t, personOf(t, ix, r), cands[0].Person)
	}
}
