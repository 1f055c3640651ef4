package mpi

import (
	"context"
	"fmt"
	"sync"

	"github.com/carelens/carelens/match"
)

// memBlocks is the index's blocking index, held in memory: for each block
// (a blocking-key hash) the records in it, by record number. It is derived
// data: every stored record keeps the hashes of its blocks, so the blocking
// index is rebuilt from the records when the index is opened, and a crash
// cannot leave it out of step with them. Keeping it out of the store saves
// a store lookup and a store write per block per record.
//
// Lists are copy-on-write: the writer replaces a block's slice, never
// changes it in place, so readers may use a slice they got without a lock.
type memBlocks struct {
	mu   sync.RWMutex
	post map[uint64][]uint32 // block → record numbers; nil slice with over set when oversized
	over map[uint64]bool     // blocks that grew past the largest block size
	recs []recState          // record number → the record's current state
}

// recState is what the index keeps in memory about each stored record, so
// that scoring a candidate needs no store lookup when its prepared form is
// cached: its reference, its person, and the hash of its stored fields
// (which validates the cached prepared form). A zero ref marks a deleted
// record.
type recState struct {
	ref    match.RecordRef
	person string
	hash   uint64
}

func newMemBlocks() *memBlocks {
	return &memBlocks{post: map[uint64][]uint32{}, over: map[uint64]bool{}}
}

// get returns block h: oversized, or its record numbers.
func (b *memBlocks) get(h uint64) (bool, []uint32) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.over[h], b.post[h]
}

// state returns the state of record number n, and false for a record
// deleted or never added.
func (b *memBlocks) state(n uint32) (recState, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if int(n) >= len(b.recs) {
		return recState{}, false
	}
	return b.recs[n], b.recs[n].ref.Source != ""
}

// getWriter is get for the writer, which holds Index.mu: only writers
// change the maps (in apply, under Index.mu), so the writer reads them
// without taking mu.
func (b *memBlocks) getWriter(h uint64) (bool, []uint32) {
	if recs, ok := b.post[h]; ok {
		return false, recs
	}
	return b.over[h], nil
}

// stateWriter is state for the writer; see getWriter.
func (b *memBlocks) stateWriter(n uint32) (recState, bool) {
	if int(n) >= len(b.recs) {
		return recState{}, false
	}
	return b.recs[n], b.recs[n].ref.Source != ""
}

func (b *memBlocks) setLocked(n uint32, st recState) {
	for int(n) >= len(b.recs) {
		b.recs = append(b.recs, recState{})
	}
	b.recs[n] = st
}

// blockEdit is a block as changed by a transaction not yet committed.
type blockEdit struct {
	over bool
	recs []uint32
}

// apply publishes a committed transaction's block changes and new records.
func (b *memBlocks) apply(edits map[uint64]*blockEdit, states map[uint32]recState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for n, st := range states {
		b.setLocked(n, st)
	}
	for h, e := range edits {
		switch {
		case e.over:
			b.over[h] = true
			delete(b.post, h)
		case len(e.recs) == 0:
			delete(b.post, h)
		default:
			b.post[h] = e.recs
		}
	}
}

// loadBlocks builds the blocking index from the stored records.
func (ix *Index) loadBlocks(ctx context.Context) error {
	b := newMemBlocks()
	v := newWriteView()
	err := ix.store.View(ctx, func(tx Txn) error {
		var sr storedRecord
		for kv, err := range tx.Scan([]byte("r/"), nil) {
			if err != nil {
				return err
			}
			d := decoder{b: kv.Key[2:]}
			ref := d.ref()
			if d.err != nil {
				return fmt.Errorf("mpi: record key: %w", ErrCorrupt)
			}
			if err := decodeStoredHeader(kv.Value, &sr); err != nil {
				return err
			}
			n := uint32(sr.seq)
			b.setLocked(n, recState{ref: ref, person: sr.person, hash: hashBytes(sr.raw)})
			v.refs[ref] = n
			v.members[sr.person] = append(v.members[sr.person], ref)
			for _, h := range sr.blocks {
				if b.over[h] {
					continue
				}
				if len(b.post[h]) >= ix.opt.MaxBlockSize {
					b.over[h] = true
					delete(b.post, h)
					continue
				}
				b.post[h] = append(b.post[h], n)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mpi: open index: blocks: %w", err)
	}
	v.sortMembers()
	if err := ix.loadDecided(ctx, v); err != nil {
		return err
	}
	ix.blocks, ix.wv = b, v
	return nil
}
