package mpi

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/carelens/carelens/match"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// viewPerson is a synthetic record; records with the same n are one person.
func viewPerson(n int, src string) match.Record {
	given := []string{"Oliver", "Amelia", "Harry", "Isla", "Jack", "Ava", "George"}
	family := []string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson"}
	return match.Record{
		Source:    src,
		ID:        fmt.Sprintf("%s-%d", src, n),
		Given:     []string{given[n%len(given)]},
		Family:    family[(n/len(given))%len(family)],
		BirthDate: fmt.Sprintf("%04d-%02d-%02d", 1940+n%50, 1+(n/5)%12, 2+(n/3)%27),
		Sex:       []string{"F", "M"}[n%2],
		Address:   []string{fmt.Sprintf("%d Mill Lane", 1+n%89)},
		Postcode:  fmt.Sprintf("YO%d %dAB", 1+n%20, n%10),
		Phone:     fmt.Sprintf("07700 %06d", 200000+n),
	}
}

// requireViewMatchesStore checks the index's in-memory state against the
// state a fresh open rebuilds from the store, and that the store holds no
// person lists (format 3 derives them from the records).
func requireViewMatchesStore(t *testing.T, ix *Index, step string) {
	t.Helper()
	fresh, err := OpenIndex(t.Context(), ix.store, nil)
	require.NoError(t, err, step)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	m, f := ix.mem, fresh.mem
	assert.Equal(t, f.refs, m.refs, "%s: records", step)
	assert.Equal(t, f.members, m.members, "%s: members", step)
	assert.Equal(t, f.decided, m.decided, "%s: decided", step)
	assert.Equal(t, f.over, m.over, "%s: oversized blocks", step)
	live := func(recs []recState) []recState {
		out := slices.DeleteFunc(slices.Clone(recs), func(r recState) bool { return r.ref.Source == "" })
		for i := range out {
			out[i].p = nil // prepared on demand after an open
		}
		return out
	}
	assert.Equal(t, live(f.recs), live(m.recs), "%s: record states", step)
	for _, st := range m.recs {
		if st.p == nil || st.ref.Source == "" {
			continue
		}
		r, err := ix.Record(t.Context(), st.ref)
		require.NoError(t, err, step)
		assert.Equal(t, *ix.m.Prepare(&r), *st.p, "%s: prepared form of %s is its stored record's", step, st.ref)
	}
	for h, recs := range m.post {
		assert.ElementsMatch(t, f.post[h], recs, "%s: block %x", step, h)
	}
	assert.Len(t, m.post, len(f.post), "%s: blocks", step)
	require.NoError(t, ix.store.View(t.Context(), func(tx Txn) error {
		for kv, err := range tx.Scan([]byte("p/"), nil) {
			if err != nil {
				return err
			}
			t.Errorf("%s: person list stored under %q", step, kv.Key)
		}
		return nil
	}), step)
	for p, ms := range m.members {
		assert.True(t, slices.IsSortedFunc(ms, compareRefs), "%s: members of %s in order", step, p)
	}
}

// TestIndexMemoryFollowsStore runs adds, merges, updates, removals,
// decisions, a refused decision and reverts, and after each checks that
// the index's in-memory state (blocks, records, members, decisions) is
// what reopening the index rebuilds from the store.
func TestIndexMemoryFollowsStore(t *testing.T) {
	ctx := t.Context()
	ix, err := OpenIndex(ctx, NewMemoryStore(), nil)
	require.NoError(t, err)
	requireViewMatchesStore(t, ix, "empty")

	var recs []match.Record
	for n := range 12 {
		for _, src := range []string{"gp", "hospital"} {
			recs = append(recs, viewPerson(n, src))
		}
	}
	loaded, err := ix.Load(ctx, func(yield func(match.Record, error) bool) {
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}, nil)
	require.NoError(t, err)
	require.Equal(t, len(recs), loaded)
	requireViewMatchesStore(t, ix, "load")

	// A bridge: two partial records of one person join when a full one arrives.
	full := viewPerson(40, "x")
	a, b, c := full, full, full
	a.Source, a.ID, a.Phone = "gp", "a", ""
	b.Source, b.ID, b.Address, b.Postcode = "hospital", "b", nil, ""
	c.Source, c.ID = "community", "c"
	for _, r := range []match.Record{a, b, c} {
		_, err := ix.Add(ctx, r)
		require.NoError(t, err)
	}
	requireViewMatchesStore(t, ix, "merge")

	// An update that makes a record someone else.
	moved := viewPerson(3, "hospital")
	other := viewPerson(41, "hospital")
	other.ID = moved.ID
	_, err = ix.Add(ctx, other)
	require.NoError(t, err)
	requireViewMatchesStore(t, ix, "update")

	require.NoError(t, ix.Delete(ctx, c.Ref()))
	requireViewMatchesStore(t, ix, "delete")

	actor := Actor{By: "reviewer", Reason: "checked"}
	require.NoError(t, ix.NeverLink(ctx, viewPerson(1, "gp").Ref(), viewPerson(1, "hospital").Ref(), actor))
	requireViewMatchesStore(t, ix, "never-link")
	require.NoError(t, ix.Link(ctx, a.Ref(), b.Ref(), actor))
	requireViewMatchesStore(t, ix, "link")

	// A refused decision changes nothing, in the store or in memory.
	p1gp, p1h, p2gp := viewPerson(1, "gp").Ref(), viewPerson(1, "hospital").Ref(), viewPerson(2, "gp").Ref()
	require.NoError(t, ix.Link(ctx, p2gp, p1gp, actor))
	requireViewMatchesStore(t, ix, "link joining persons")
	before := maps.Clone(ix.mem.members)
	require.ErrorIs(t, ix.Link(ctx, p1h, p2gp, actor), ErrDecisionConflict)
	assert.Equal(t, before, ix.mem.members)
	requireViewMatchesStore(t, ix, "refused link")

	var last uint64
	for e, err := range ix.Events(ctx, 0) {
		require.NoError(t, err)
		if e.Kind == EventNeverLinked || e.Kind == EventLinked {
			last = e.Seq
		}
	}
	require.NoError(t, ix.Revert(ctx, last, actor))
	requireViewMatchesStore(t, ix, "revert")

	// A record re-added after its removal.
	_, err = ix.Add(ctx, c)
	require.NoError(t, err)
	requireViewMatchesStore(t, ix, "re-add")
}

// TestIndexUpgradesFormat2 opens an index written in format 2, which kept
// each person's records under p/, for writing: it becomes format 3, its
// person lists are deleted in several transactions, and every record keeps
// its person.
func TestIndexUpgradesFormat2(t *testing.T) {
	ctx := t.Context()
	st := NewMemoryStore()
	ix, err := OpenIndex(ctx, st, nil)
	require.NoError(t, err)
	persons := map[match.RecordRef]string{}
	for n := range 30 {
		for _, src := range []string{"gp", "hospital"} {
			r := viewPerson(n, src)
			p, err := ix.Add(ctx, r)
			require.NoError(t, err)
			persons[r.Ref()] = p
		}
	}
	// Rewrite the store as format 2 wrote it, with more person lists than
	// one upgrade transaction deletes.
	require.NoError(t, st.Update(ctx, func(tx Txn) error {
		if err := tx.Set(keyFormat, []byte(indexFormat2)); err != nil {
			return err
		}
		for p, ms := range ix.mem.members {
			v := []byte{0}
			for _, r := range ms {
				v = appendRef(v, r)
			}
			if err := tx.Set([]byte("p/"+p), v); err != nil {
				return err
			}
		}
		for i := range 2500 {
			if err := tx.Set(fmt.Appendf(nil, "p/Q%06d", i), []byte{0}); err != nil {
				return err
			}
		}
		return nil
	}))
	countLists := func() (n int) {
		require.NoError(t, st.View(ctx, func(tx Txn) error {
			for _, err := range tx.Scan([]byte("p/"), nil) {
				if err != nil {
					return err
				}
				n++
			}
			return nil
		}))
		return n
	}
	require.Greater(t, countLists(), 2500)

	up, err := OpenIndex(ctx, st, nil)
	require.NoError(t, err)
	assert.Zero(t, countLists())
	require.NoError(t, st.View(ctx, func(tx Txn) error {
		v, err := tx.Get(keyFormat)
		assert.Equal(t, indexFormat, string(v))
		return err
	}))
	for ref, p := range persons {
		got, err := up.PersonOf(ctx, ref)
		require.NoError(t, err)
		assert.Equal(t, p, got, "%s", ref)
		pr, err := up.Person(ctx, p)
		require.NoError(t, err)
		assert.Contains(t, pr.Records, ref)
	}
}

// sharedStore declares a memory store shared, as if other processes wrote
// to it too.
type sharedStore struct{ Store }

func (sharedStore) Shared() bool { return true }

// sharedIndexes opens n indexes over one new shared memory store, as n
// processes over one PostgreSQL index.
func sharedIndexes(t *testing.T, n int) []*Index {
	t.Helper()
	st := sharedStore{NewMemoryStore()}
	ixs := make([]*Index, n)
	for i := range ixs {
		var err error
		ixs[i], err = OpenIndex(t.Context(), st, nil)
		require.NoError(t, err)
	}
	return ixs
}

// TestIndexRefreshFollowsOtherInstance runs two indexes over one shared
// store, writing through each in turn (adds, merges, an update that moves a
// record, a removal, decisions, a revert), and checks after each write
// that the other finds what was written on its next query, and that its
// in-memory state is what opening the index afresh builds.
func TestIndexRefreshFollowsOtherInstance(t *testing.T) {
	ctx := t.Context()
	both := sharedIndexes(t, 2)
	a, b := both[0], both[1]
	check := func(step string) {
		t.Helper()
		for _, ix := range both {
			require.NoError(t, ix.Refresh(ctx), step)
			requireViewMatchesStore(t, ix, step)
		}
	}
	for n := range 10 {
		w, r := both[n%2], both[1-n%2]
		p, err := w.Add(ctx, viewPerson(n, "gp"))
		require.NoError(t, err)
		cs, err := r.Query(ctx, viewPerson(n, "hospital"), 1)
		require.NoError(t, err)
		require.NotEmpty(t, cs, "record %d written through one index is found through the other", n)
		assert.Equal(t, p, cs[0].Person)
		p2, err := r.Add(ctx, viewPerson(n, "hospital"))
		require.NoError(t, err)
		assert.Equal(t, p, p2)
		pr, err := w.Person(ctx, p)
		require.NoError(t, err)
		assert.Len(t, pr.Records, 2, "the writer sees the other's addition to its person")
		check(fmt.Sprintf("add %d", n))
	}
	// Queries through both fill their prepared forms of every record, so
	// that the update below must replace one.
	for n := range 10 {
		for _, ix := range both {
			_, err := ix.Query(ctx, viewPerson(n, "gp"), 3)
			require.NoError(t, err)
		}
	}
	// An update through a moves a record to someone else; b follows.
	moved := viewPerson(41, "hospital")
	moved.ID = viewPerson(3, "hospital").ID
	_, err := a.Add(ctx, moved)
	require.NoError(t, err)
	check("update")
	require.NoError(t, b.Delete(ctx, viewPerson(4, "gp").Ref()))
	check("delete")
	actor := Actor{By: "reviewer"}
	require.NoError(t, a.NeverLink(ctx, viewPerson(1, "gp").Ref(), viewPerson(1, "hospital").Ref(), actor))
	check("never-link")
	require.NoError(t, b.Link(ctx, viewPerson(2, "gp").Ref(), viewPerson(5, "gp").Ref(), actor))
	check("link")
	var last uint64
	for e, err := range b.Events(ctx, 0) {
		require.NoError(t, err)
		if e.Kind == EventMerged {
			last = e.Seq
		}
	}
	require.NoError(t, a.Revert(ctx, last, actor))
	check("revert")
	pa, err := a.PersonOf(ctx, viewPerson(2, "gp").Ref())
	require.NoError(t, err)
	pb, err := b.PersonOf(ctx, viewPerson(5, "gp").Ref())
	require.NoError(t, err)
	assert.NotEqual(t, pa, pb, "the reverted merge is undone in both")
}

// TestIndexRefreshConcurrent runs writers and readers on two indexes over
// one shared store at once: every write succeeds (a write that raced the
// other index's catches up and is tried again), no person id is issued
// twice, and both indexes end with the state a fresh open builds.
func TestIndexRefreshConcurrent(t *testing.T) {
	ctx := t.Context()
	both := sharedIndexes(t, 2)
	const people = 40
	var wg sync.WaitGroup
	for k, src := range []string{"gp", "hospital"} {
		wg.Go(func() {
			for n := range people {
				_, err := both[k].Add(ctx, viewPerson(n, src))
				assert.NoError(t, err)
			}
		})
		wg.Go(func() {
			for n := range people {
				_, err := both[1-k].Query(ctx, viewPerson(n, src), 3)
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	for k, ix := range both {
		require.NoError(t, ix.Refresh(ctx))
		requireViewMatchesStore(t, ix, fmt.Sprintf("index %d", k))
	}
	added := map[string]int{}
	for e, err := range both[0].Events(ctx, 0) {
		require.NoError(t, err)
		if e.Kind == EventAdded {
			added[e.Record.String()]++
		}
	}
	assert.Len(t, added, 2*people)
	for r, n := range added {
		assert.Equal(t, 1, n, "%s added once", r)
	}
	st2, err := both[1].Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2*people, st2.Records)
}

// raceStore is a shared store that runs before, once, ahead of its next
// Update: another process's write landing between an index's catching up
// and its commit.
type raceStore struct {
	sharedStore
	before func()
}

func (s *raceStore) Update(ctx context.Context, fn func(Txn) error) error {
	if h := s.before; h != nil {
		s.before = nil
		h()
	}
	return s.sharedStore.Update(ctx, fn)
}

// TestIndexWriteAfterLostRace: another index writes between this one's
// catching up and its commit; the commit is refused, and the write is
// tried again after catching up, so the record links to the person the
// other index made in between.
func TestIndexWriteAfterLostRace(t *testing.T) {
	ctx := t.Context()
	mem := sharedStore{NewMemoryStore()}
	rs := &raceStore{sharedStore: mem}
	a, err := OpenIndex(ctx, rs, nil)
	require.NoError(t, err)
	b, err := OpenIndex(ctx, mem, nil)
	require.NoError(t, err)
	var other string
	rs.before = func() {
		var err error
		other, err = b.Add(ctx, viewPerson(7, "hospital"))
		require.NoError(t, err)
	}
	p, err := a.Add(ctx, viewPerson(7, "gp"))
	require.NoError(t, err)
	require.NotEmpty(t, other, "the other index wrote first")
	assert.Equal(t, other, p, "the retried write saw the other index's record")
	requireViewMatchesStore(t, a, "after the race")
}

// TestIndexPagedSequences reads more records and events than one page:
// every one once, in order, from where asked, and the same again when the
// sequence is iterated a second time.
func TestIndexPagedSequences(t *testing.T) {
	ctx := t.Context()
	ix, err := OpenIndex(ctx, NewMemoryStore(), nil)
	require.NoError(t, err)
	const n = pageSize + pageSize/2
	_, err = ix.Load(ctx, func(yield func(match.Record, error) bool) {
		for i := range n {
			if !yield(viewPerson(i, "gp"), nil) {
				return
			}
		}
	}, nil)
	require.NoError(t, err)
	as := ix.Assignments(ctx)
	for range 2 {
		var refs []match.RecordRef
		for a, err := range as {
			require.NoError(t, err)
			refs = append(refs, a.Record)
		}
		require.Len(t, refs, n)
		assert.True(t, slices.IsSortedFunc(refs, func(a, b match.RecordRef) int {
			return bytes.Compare(recordKey(a), recordKey(b))
		}), "record key order")
		assert.Len(t, slices.CompactFunc(refs, func(a, b match.RecordRef) bool { return a == b }), n, "each once")
	}
	es := ix.Events(ctx, 100)
	for range 2 {
		var seqs []uint64
		for e, err := range es {
			require.NoError(t, err)
			seqs = append(seqs, e.Seq)
		}
		require.Len(t, seqs, n-100)
		for i, s := range seqs {
			require.Equal(t, uint64(101+i), s)
		}
	}
}

// TestIndexRefreshReadsAllAfterManyEvents: an index that has missed more
// events than refreshScan reads every record, as an open does, instead of
// the records the events name; either way it ends with the state a fresh
// open builds, and finds what the other index loaded.
func TestIndexRefreshReadsAllAfterManyEvents(t *testing.T) {
	for _, scan := range []uint64{1 << 62, 10} {
		t.Run(fmt.Sprintf("refreshScan=%d", scan), func(t *testing.T) {
			old := refreshScan
			refreshScan = scan
			defer func() { refreshScan = old }()
			ctx := t.Context()
			both := sharedIndexes(t, 2)
			a, b := both[0], both[1]
			_, err := b.Add(ctx, viewPerson(0, "gp")) // b holds something before
			require.NoError(t, err)
			_, err = a.Load(ctx, func(yield func(match.Record, error) bool) {
				for i := range 60 {
					if !yield(viewPerson(i, "hospital"), nil) {
						return
					}
				}
			}, nil)
			require.NoError(t, err)
			require.NoError(t, a.Delete(ctx, viewPerson(5, "hospital").Ref()))
			require.NoError(t, b.Refresh(ctx))
			requireViewMatchesStore(t, b, "after refresh")
			cs, err := b.Query(ctx, viewPerson(7, "gp"), 1)
			require.NoError(t, err)
			require.NotEmpty(t, cs)
			pa, err := a.PersonOf(ctx, viewPerson(7, "hospital").Ref())
			require.NoError(t, err)
			assert.Equal(t, pa, cs[0].Person)
			p, err := b.Add(ctx, viewPerson(0, "community"))
			require.NoError(t, err)
			p0, err := a.PersonOf(ctx, viewPerson(0, "gp").Ref())
			require.NoError(t, err)
			assert.Equal(t, p0, p, "b writes after catching up")
		})
	}
}
