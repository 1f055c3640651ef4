package mpi

import (
	"fmt"
	"maps"
	"slices"
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

// requireViewMatchesStore checks the writer's in-memory view against the
// store: the view a fresh open builds, and the stored member lists.
func requireViewMatchesStore(t *testing.T, ix *Index, step string) {
	t.Helper()
	fresh, err := OpenIndex(t.Context(), ix.store, nil)
	require.NoError(t, err, step)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	assert.Equal(t, fresh.wv.refs, ix.wv.refs, "%s: records", step)
	assert.Equal(t, fresh.wv.members, ix.wv.members, "%s: members", step)
	assert.Equal(t, fresh.wv.decided, ix.wv.decided, "%s: decided", step)
	stored := map[string][]match.RecordRef{}
	require.NoError(t, ix.store.View(t.Context(), func(tx Txn) error {
		for kv, err := range tx.Scan([]byte("p/"), nil) {
			if err != nil {
				return err
			}
			_, refs, err := decodeRefs(kv.Value)
			if err != nil {
				return err
			}
			stored[string(kv.Key[2:])] = refs
		}
		return nil
	}), step)
	assert.Equal(t, stored, ix.wv.members, "%s: stored member lists", step)
	for p, ms := range ix.wv.members {
		assert.True(t, slices.IsSortedFunc(ms, compareRefs), "%s: members of %s in order", step, p)
	}
}

// TestIndexWriteViewFollowsStore runs adds, merges, updates, removals,
// decisions, a refused decision and reverts, and after each checks that
// the writer's in-memory view of records, members and decisions is what
// the store holds (and what reopening the index rebuilds).
func TestIndexWriteViewFollowsStore(t *testing.T) {
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
	before := maps.Clone(ix.wv.members)
	require.ErrorIs(t, ix.Link(ctx, p1h, p2gp, actor), ErrDecisionConflict)
	assert.Equal(t, before, ix.wv.members)
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
