package mpi

import (
	"context"
	"fmt"
	"slices"

	"github.com/carelens/carelens/match"
)

// writeView is what the writer keeps in memory about the committed index,
// so that adding a record needs no store lookup to learn whether the
// record is new, who a person's records are, or whether a record has
// decisions. Like the blocking index it is derived data: it is rebuilt
// from the stored records and decision lists when the index is opened,
// and a writer changes it only after its transaction has committed (a
// failed or conflicting transaction leaves it as it was). It is guarded by
// Index.mu and used only by writers; reads for callers (PersonOf, Person,
// Decisions, ...) still go to the store's snapshots.
type writeView struct {
	refs    map[match.RecordRef]uint32   // live record → record number
	members map[string][]match.RecordRef // person → records in compareRefs order; never changed in place
	decided map[match.RecordRef]struct{} // records with a stored decision list
}

func newWriteView() *writeView {
	return &writeView{refs: map[match.RecordRef]uint32{}, members: map[string][]match.RecordRef{}, decided: map[match.RecordRef]struct{}{}}
}

// writeOverlay is a writer's uncommitted changes to the writeView.
type writeOverlay struct {
	refs    map[match.RecordRef]uint32   // zero: removed
	members map[string][]match.RecordRef // empty: no members
	decided map[match.RecordRef]struct{}
}

func newWriteOverlay(n int) *writeOverlay {
	return &writeOverlay{
		refs:    make(map[match.RecordRef]uint32, n),
		members: make(map[string][]match.RecordRef, n),
		decided: map[match.RecordRef]struct{}{},
	}
}

// apply publishes a committed transaction's changes.
func (v *writeView) apply(o *writeOverlay) {
	for ref, n := range o.refs {
		if n == 0 {
			delete(v.refs, ref)
		} else {
			v.refs[ref] = n
		}
	}
	for p, ms := range o.members {
		if len(ms) == 0 {
			delete(v.members, p)
		} else {
			v.members[p] = ms
		}
	}
	for ref := range o.decided {
		v.decided[ref] = struct{}{}
	}
}

// recordNum returns the record number of a live record.
func (w *writer) recordNum(ref match.RecordRef) (uint32, bool) {
	if n, ok := w.ov.refs[ref]; ok {
		return n, n != 0
	}
	n, ok := w.ix.wv.refs[ref]
	return n, ok
}

// memberList returns the records of person as the writer sees them. The
// slice is shared: callers copy before changing it.
func (w *writer) memberList(person string) []match.RecordRef {
	if ms, ok := w.ov.members[person]; ok {
		return ms
	}
	return w.ix.wv.members[person]
}

// hasDecisions reports whether ref may have a stored decision list.
func (w *writer) hasDecisions(ref match.RecordRef) bool {
	if _, ok := w.ov.decided[ref]; ok {
		return true
	}
	_, ok := w.ix.wv.decided[ref]
	return ok
}

// setMembers stores the records of person (none: deletes the list).
func (w *writer) setMembers(person string, refs []match.RecordRef) error {
	refs = slices.Clip(refs)
	w.ov.members[person] = refs
	if len(refs) == 0 {
		return w.tx.Delete(memberKey(person))
	}
	return w.tx.Set(memberKey(person), encodeRefs(refListPlain, refs))
}

// loadDecided builds the decided set from the stored decision lists; the
// records and members are added by loadBlocks as it scans the records.
func (ix *Index) loadDecided(ctx context.Context, v *writeView) error {
	err := ix.store.View(ctx, func(tx Txn) error {
		for kv, err := range tx.Scan([]byte("d/"), nil) {
			if err != nil {
				return err
			}
			d := decoder{b: kv.Key[2:]}
			ref := d.ref()
			if d.err != nil {
				return fmt.Errorf("mpi: decision key: %w", ErrCorrupt)
			}
			v.decided[ref] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mpi: open index: decisions: %w", err)
	}
	return nil
}

// sortMembers puts every member list built by a scan into compareRefs
// order, the order the stored lists keep.
func (v *writeView) sortMembers() {
	for _, ms := range v.members {
		if len(ms) > 1 {
			slices.SortFunc(ms, compareRefs)
		}
	}
}
