package match

import (
	"context"
	"encoding/binary"
	"math/bits"
)

// blockFilter is a Bloom filter over the hashes of the blocks that have
// postings. The writer consults it before reading a block: most blocks of
// a new person do not exist yet, and proving that in memory is far cheaper
// than a lookup in the store. A false positive only costs that lookup.
// Bits are never cleared (a block that empties stays "maybe present").
// It is used only under the writer lock.
type blockFilter struct {
	bits []uint64
	mask uint64
}

// blockFilterBits is the filter size: 2^27 bits (16 MiB), about 8 bits per
// block at 16 million blocks (a million records under a model with 16
// blocking rules), a false-positive rate near 3%.
const blockFilterBits = 1 << 27

func newBlockFilter() *blockFilter {
	return &blockFilter{bits: make([]uint64, blockFilterBits/64), mask: blockFilterBits - 1}
}

func (f *blockFilter) probes(h uint64, fn func(bit uint64) bool) bool {
	h2 := bits.RotateLeft64(h*0x9e3779b97f4a7c15, 31) | 1
	for i := range uint64(3) {
		if !fn((h + i*h2) & f.mask) {
			return false
		}
	}
	return true
}

func (f *blockFilter) add(h uint64) {
	f.probes(h, func(b uint64) bool { f.bits[b/64] |= 1 << (b % 64); return true })
}

func (f *blockFilter) mayContain(h uint64) bool {
	return f.probes(h, func(b uint64) bool { return f.bits[b/64]&(1<<(b%64)) != 0 })
}

// ensureFilter builds the block filter from the stored postings the first
// time a bulk load runs. Called with the writer lock held.
func (ix *Index) ensureFilter(ctx context.Context) error {
	if ix.filter != nil {
		return nil
	}
	f := newBlockFilter()
	if ix.ctr.seq > 1 { // not a new index: read the blocks it has
		err := ix.store.View(ctx, func(tx Txn) error {
			for kv, err := range tx.Scan([]byte("k/"), nil) {
				if err != nil {
					return err
				}
				if len(kv.Key) == 10 {
					f.add(binary.BigEndian.Uint64(kv.Key[2:]))
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	ix.filter = f
	return nil
}
