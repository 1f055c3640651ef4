package match

import (
	"cmp"
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// DefaultMaxBlockSize is the default [LinkOptions.MaxBlockSize].
const DefaultMaxBlockSize = 500

// DefaultWindow is the default [LinkOptions.Window].
const DefaultWindow = 30

// blockSet holds every rule's blocks over a batch of prepared records.
type blockSet struct {
	n      int
	keys   [][]uint64 // keys[r][i], 0 = no key
	pos    [][]int32  // pos[r][i]: position in a windowed oversized block, -1 otherwise
	order  [][]uint32 // order[r]: records with a key, sorted by (key, window order)
	blocks [][]span   // blocks[r]: runs in order[r] of size >= 2
	window int
	stats  []RuleStats
}

type span struct {
	lo, hi int32
	big    bool
}

// RuleStats report what one blocking rule contributed.
type RuleStats struct {
	// Name is the rule's name.
	Name string `json:"name"`
	// Blocks is the number of blocks with at least two records.
	Blocks int `json:"blocks"`
	// Oversized is the number of blocks larger than the size limit, which
	// were compared by sorted neighbourhood instead of all pairs.
	Oversized int `json:"oversized"`
	// Pairs is the number of candidate pairs this rule found that no
	// earlier rule had found.
	Pairs int64 `json:"pairs"`
}

// buildBlocks computes every rule's keys and blocks using every core.
func buildBlocks(ctx context.Context, sc *Scorer, recs []Prepared, maxBlock, window, workers int) *blockSet {
	nr := sc.blockingRuleCount()
	bs := &blockSet{n: len(recs), keys: make([][]uint64, nr), pos: make([][]int32, nr),
		order: make([][]uint32, nr), blocks: make([][]span, nr), window: window, stats: make([]RuleStats, nr)}
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for r := range nr {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			keys := make([]uint64, len(recs))
			for i := range recs {
				keys[i] = sc.blockKey(r, &recs[i])
			}
			order := sortByKey(keys)
			pos := make([]int32, len(recs))
			for i := range pos {
				pos[i] = -1
			}
			blocks := make([]span, 0, len(order)/4)
			st := RuleStats{Name: sc.blocks[r].name}
			for lo := 0; lo < len(order); {
				hi := lo + 1
				for hi < len(order) && keys[order[hi]] == keys[order[lo]] {
					hi++
				}
				if hi-lo >= 2 {
					sp := span{lo: int32(lo), hi: int32(hi)}
					if blk := order[lo:hi]; orderBlock(sc, recs, blk, maxBlock) {
						sp.big = true
						st.Oversized++
						for k, i := range blk {
							pos[i] = int32(k)
						}
					}
					blocks = append(blocks, sp)
				}
				lo = hi
			}
			st.Blocks = len(blocks)
			bs.keys[r], bs.pos[r], bs.order[r], bs.blocks[r], bs.stats[r] = keys, pos, order, blocks, st
		})
	}
	wg.Wait()
	return bs
}

// windowCompare orders records in an oversized block so that similar
// records sit near each other: by family name, given name, birth date.
func (s *Scorer) windowCompare(a, b *Prepared, ia, ib uint32) int {
	v := &s.views[FieldFamily]
	if c := cmp.Compare(v.strs[a.v[FieldFamily]], v.strs[b.v[FieldFamily]]); c != 0 {
		return c
	}
	if c := cmp.Compare(v.strs[a.v[FieldGiven]], v.strs[b.v[FieldGiven]]); c != 0 {
		return c
	}
	if c := cmp.Compare(a.dob, b.dob); c != 0 {
		return c
	}
	return cmp.Compare(ia, ib)
}

// coveredBefore reports whether a rule before r already produced (i, j).
func (bs *blockSet) coveredBefore(r int, i, j uint32) bool {
	for q := range r {
		k := bs.keys[q]
		if k[i] == 0 || k[i] != k[j] {
			continue
		}
		pi, pj := bs.pos[q][i], bs.pos[q][j]
		if pi < 0 {
			return true
		}
		d := pi - pj
		if d < 0 {
			d = -d
		}
		if int(d) <= bs.window {
			return true
		}
	}
	return false
}

// pairSink receives candidate pairs of one work unit, in a deterministic
// order; each worker has its own.
type pairSink interface {
	pair(i, j uint32)
}

// forEachCandidate calls newSink once per worker and feeds every candidate
// pair, each exactly once, to one of the sinks. It counts new pairs per
// rule into bs.stats.
func forEachCandidate[S pairSink](ctx context.Context, bs *blockSet, workers int, newSink func() S) []S {
	// A unit of work is a run of consecutive blocks of one rule holding
	// about unitRecords records, so that scheduling costs little.
	const unitRecords = 4096
	type unit struct {
		r      int
		lo, hi int // blocks[r][lo:hi]
	}
	var units []unit
	for r, bl := range bs.blocks {
		for lo := 0; lo < len(bl); {
			hi, n := lo, int32(0)
			for hi < len(bl) && (hi == lo || n < unitRecords) {
				n += bl[hi].hi - bl[hi].lo
				hi++
			}
			units = append(units, unit{r, lo, hi})
			lo = hi
		}
	}
	var next atomic.Int64
	sinks := make([]S, workers)
	counts := make([][]int64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		sinks[w] = newSink()
		counts[w] = make([]int64, len(bs.blocks))
		wg.Go(func() {
			sink := sinks[w]
			cnt := counts[w]
			for {
				u := int(next.Add(1) - 1)
				if u >= len(units) || ctx.Err() != nil {
					return
				}
				r := units[u].r
				for _, sp := range bs.blocks[r][units[u].lo:units[u].hi] {
					blockPairs(bs.order[r][sp.lo:sp.hi], sp.big, bs.window, func(i, j uint32) {
						if !bs.coveredBefore(r, i, j) {
							cnt[r]++
							sink.pair(i, j)
						}
					})
				}
			}
		})
	}
	wg.Wait()
	for _, c := range counts {
		for r, v := range c {
			bs.stats[r].Pairs += v
		}
	}
	return sinks
}

func defaultWorkers(n int) int {
	if n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// sortByKey returns the indexes of the non-zero keys ordered by (key,
// index), by a stable least-significant-digit radix sort on 16-bit digits:
// linear in the number of records, which matters at millions of records
// and a dozen rules.
func sortByKey(keys []uint64) []uint32 {
	n := 0
	for _, k := range keys {
		if k != 0 {
			n++
		}
	}
	a := make([]uint32, 0, n)
	for i, k := range keys {
		if k != 0 {
			a = append(a, uint32(i))
		}
	}
	b := make([]uint32, n)
	var count [1 << 16]int
	for shift := 0; shift < 64; shift += 16 {
		clear(count[:])
		for _, i := range a {
			count[keys[i]>>shift&0xffff]++
		}
		sum := 0
		for d := range count {
			c := count[d]
			count[d] = sum
			sum += c
		}
		for _, i := range a {
			d := keys[i] >> shift & 0xffff
			b[count[d]] = i
			count[d]++
		}
		a, b = b, a
	}
	return a
}
