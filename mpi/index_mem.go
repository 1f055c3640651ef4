package mpi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/carelens/carelens/match"
)

// memState is what the index holds in memory, derived from the stored
// records: the blocking index (for each block hash, the records in it by
// record number), each record's state, and each person's records. Every
// stored record keeps its person and its blocks' hashes, so memState is
// rebuilt from the records when the index is opened, and a crash cannot
// leave it out of step with them. Keeping it out of the store saves a
// store read and write per block and per person for every record added.
//
// A writer changes it only after its transaction has committed (a failed
// or conflicting transaction leaves it as it was), under Index.mu. Slices
// are copy-on-write: a new slice replaces an old one, never changed in
// place, so a reader may use a slice it got after releasing the lock.
type memState struct {
	mu      sync.RWMutex
	post    map[uint64][]uint32          // block → record numbers
	over    map[uint64]bool              // blocks that grew past the largest block size
	recs    []recState                   // record number → the record's current state
	refs    map[match.RecordRef]uint32   // live record → record number
	members map[string][]match.RecordRef // person → records in compareRefs order
	decided map[match.RecordRef]struct{} // records with a stored decision list
}

// recState is what the index keeps about each stored record, so that
// scoring a candidate needs no store read: its reference, its person, its
// prepared form (nil until first needed after an open), the hash of its
// stored fields (which the prepared form was made from), and its blocks
// (so that catching up with another process's change to it can take it
// out of them). A zero ref marks a deleted record.
type recState struct {
	ref    match.RecordRef
	person string
	p      *match.Prepared
	hash   uint64
	blocks []uint64
}

// blockEdit is a block as changed by a transaction not yet committed.
type blockEdit struct {
	over bool
	recs []uint32
}

// overlay is a writer's uncommitted changes to the memState.
type overlay struct {
	blocks  map[uint64]*blockEdit
	recs    map[uint32]recState
	refs    map[match.RecordRef]uint32   // zero: removed
	members map[string][]match.RecordRef // empty: no members
	decided map[match.RecordRef]struct{}
}

func newOverlay(records int) *overlay {
	return &overlay{blocks: make(map[uint64]*blockEdit, 8*records), recs: make(map[uint32]recState, records),
		refs: make(map[match.RecordRef]uint32, records), members: make(map[string][]match.RecordRef, records),
		decided: map[match.RecordRef]struct{}{}}
}

// block returns block h: oversized, or its record numbers.
func (m *memState) block(h uint64) (bool, []uint32) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.over[h], m.post[h]
}

// rec returns the state of record number n, and false for a record
// deleted or never added.
func (m *memState) rec(n uint32) (recState, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if int(n) >= len(m.recs) {
		return recState{}, false
	}
	return m.recs[n], m.recs[n].ref.Source != ""
}

func (m *memState) recordNum(ref match.RecordRef) (uint32, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, ok := m.refs[ref]
	return n, ok
}

// memberList returns the records of person; the slice is shared.
func (m *memState) memberList(person string) []match.RecordRef {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.members[person]
}

func (m *memState) hasDecisions(ref match.RecordRef) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.decided[ref]
	return ok
}

// setPrepared keeps p as the prepared form of record number n, unless
// the record has changed from the one hashed h.
func (m *memState) setPrepared(n uint32, h uint64, p *match.Prepared) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if int(n) < len(m.recs) && m.recs[n].hash == h {
		m.recs[n].p = p
	}
}

func (m *memState) setRecLocked(n uint32, st recState) {
	for int(n) >= len(m.recs) {
		m.recs = append(m.recs, recState{})
	}
	m.recs[n] = st
}

// apply publishes a committed transaction's changes.
func (m *memState) apply(o *overlay) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for n, st := range o.recs {
		m.setRecLocked(n, st)
	}
	for h, e := range o.blocks {
		switch {
		case e.over:
			m.over[h] = true
			delete(m.post, h)
		case len(e.recs) == 0:
			delete(m.post, h)
		default:
			m.post[h] = e.recs
		}
	}
	for ref, n := range o.refs {
		if n == 0 {
			delete(m.refs, ref)
		} else {
			m.refs[ref] = n
		}
	}
	for p, ms := range o.members {
		if len(ms) == 0 {
			delete(m.members, p)
		} else {
			m.members[p] = ms
		}
	}
	for ref := range o.decided {
		m.decided[ref] = struct{}{}
	}
}

// loadState builds the memState from the stored records and decision
// lists, and sets the counters to those of the same snapshot.
func (ix *Index) loadState(ctx context.Context) error {
	m := &memState{post: map[uint64][]uint32{}, over: map[uint64]bool{},
		refs: map[match.RecordRef]uint32{}, members: map[string][]match.RecordRef{}, decided: map[match.RecordRef]struct{}{}}
	var c counters
	err := ix.store.View(ctx, func(tx Txn) error {
		v, err := tx.Get(keyCounters)
		if err != nil {
			return err
		}
		if err := c.decode(v); err != nil {
			return err
		}
		var sr storedRecord
		for kv, err := range tx.Scan([]byte("r/"), nil) {
			if err != nil {
				return err
			}
			d := decoder{b: kv.Key[2:]}
			ref := d.ref()
			if d.err != nil {
				return fmt.Errorf("record key: %w", ErrCorrupt)
			}
			if err := decodeStoredHeader(kv.Value, &sr); err != nil {
				return err
			}
			n := uint32(sr.seq)
			m.setRecLocked(n, recState{ref: ref, person: sr.person, hash: hashBytes(sr.raw), blocks: sr.blocks})
			m.refs[ref] = n
			m.members[sr.person] = append(m.members[sr.person], ref)
			for _, h := range sr.blocks {
				switch {
				case m.over[h]:
				case len(m.post[h]) >= ix.opt.MaxBlockSize:
					m.over[h] = true
					delete(m.post, h)
				default:
					m.post[h] = append(m.post[h], n)
				}
			}
		}
		for kv, err := range tx.Scan([]byte("d/"), nil) {
			if err != nil {
				return err
			}
			d := decoder{b: kv.Key[2:]}
			if m.decided[d.ref()] = struct{}{}; d.err != nil {
				return fmt.Errorf("decision key: %w", ErrCorrupt)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mpi: read index: %w", err)
	}
	for _, ms := range m.members {
		slices.SortFunc(ms, compareRefs)
	}
	ix.mem = m
	ix.ctr.Store(&c)
	return nil
}

// dropPersonLists deletes the person lists format 2 kept under p/, in
// transactions a store can take. It runs at every writable open (an empty
// scan when there are none), so an upgrade a crash interrupted finishes at
// the next.
func (ix *Index) dropPersonLists(ctx context.Context) error {
	for {
		n := 0
		err := ix.store.Update(ctx, func(tx Txn) error {
			var keys [][]byte
			for kv, err := range tx.Scan([]byte("p/"), nil) {
				if err != nil {
					return err
				}
				if keys = append(keys, bytes.Clone(kv.Key)); len(keys) == 1000 {
					break
				}
			}
			n = len(keys)
			for _, k := range keys {
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil || n < 1000 {
			return err
		}
	}
}

// SharedStore is an optional capability of a [Store] that several
// processes may write at once (mpi/pgstore). An [Index] over one catches up
// with the others' writes before every write and every query that reads
// its in-memory state (see [Index.Refresh]).
type SharedStore interface {
	// Shared reports whether other processes may write to the store.
	Shared() bool
}

// Refresh brings the index's in-memory state (blocks, records' states,
// persons, decisions) up to what the store holds, when another process has
// written to it since this Index last wrote or refreshed: it reads the
// events logged since and re-reads the records they name. It costs one
// read when nothing has changed. An Index over a [SharedStore] calls it
// itself.
func (ix *Index) Refresh(ctx context.Context) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.refreshLocked(ctx)
}

// view runs fn in a read-only transaction of the store. Over a
// [SharedStore] it first checks, in that transaction, that this index has
// caught up with every write the snapshot holds; when it has not, it
// catches up (Refresh) and runs again. A third run, with yet another
// process's write landed meanwhile, answers from memory as it then is.
func (ix *Index) view(ctx context.Context, fn func(tx Txn) error) error {
	for attempt := 0; ; attempt++ {
		behind := false
		err := ix.store.View(ctx, func(tx Txn) error {
			if attempt < 2 && ix.shared {
				cur, err := tx.Get(keyCounters)
				if err != nil {
					return err
				}
				if behind = !bytes.Equal(cur, ix.ctr.Load().encode()); behind {
					return nil
				}
			}
			return fn(tx)
		})
		if err != nil || !behind {
			return err
		}
		if err := ix.Refresh(ctx); err != nil {
			return err
		}
	}
}

// refreshScan is the number of events since the last refresh from which
// Refresh reads every record (as an open does) rather than the records the
// events name one by one: on PostgreSQL each of those is a round trip
// (about 0.1 ms), while the reopen of 999,235 records took 31.3 s (about
// 31 µs a record, docs/scale.md). The larger of it and a quarter of the
// records held applies.
var refreshScan uint64 = 1000

func (ix *Index) refreshLocked(ctx context.Context) error {
	var w *writer
	full := false
	old := *ix.ctr.Load()
	err := ix.store.View(ctx, func(tx Txn) error {
		v, err := tx.Get(keyCounters)
		if err != nil {
			return err
		}
		var c counters
		if err := c.decode(v); err != nil || c == old {
			return err
		}
		ix.mem.mu.RLock()
		records := uint64(len(ix.mem.refs))
		ix.mem.mu.RUnlock()
		if n := c.event - old.event; n > max(refreshScan, records/4) {
			full = true
			return nil
		}
		w = &writer{reader: reader{ix: ix, tx: tx, ov: newOverlay(0)}, ctr: c}
		touched := map[match.RecordRef]struct{}{}
		for kv, err := range tx.Scan([]byte("e/"), eventKey(old.event)) {
			if err != nil {
				return err
			}
			e, err := decodeEvent(kv.Value)
			if err != nil {
				return err
			}
			if e.Kind == EventLinked || e.Kind == EventNeverLinked {
				w.ov.decided[e.Pair[0]], w.ov.decided[e.Pair[1]] = struct{}{}, struct{}{}
			}
			for _, r := range append(e.Records, e.Record, e.Pair[0], e.Pair[1]) {
				touched[r] = struct{}{}
			}
		}
		delete(touched, match.RecordRef{})
		for ref := range touched {
			var st recState // as this process had it
			if n, ok := w.recordNum(ref); ok {
				st, _ = w.state(n)
				w.detach(ref, n, st.person, st.blocks)
			}
			sr, err := reader{ix: ix, tx: tx}.stored(ref)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			n := uint32(sr.seq)
			h := hashBytes(sr.raw)
			if h != st.hash {
				st.p = nil // prepared again when needed
			}
			w.ov.recs[n], w.ov.refs[ref] = recState{ref: ref, person: sr.person, p: st.p, hash: h, blocks: sr.blocks}, n
			for _, h := range sr.blocks {
				over, recs := w.postings(h)
				w.postingAddTo(h, n, over, recs)
			}
			w.memberAdd(sr.person, ref)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mpi: refresh: %w", err)
	}
	if full {
		return ix.loadState(ctx)
	}
	if w != nil {
		ix.publish(w)
	}
	return nil
}
