package mpi

import (
	"encoding/json"
	"sync"

	"github.com/carelens/carelens/match"
)

// cacheEntry is a stored record prepared for scoring. hash is the FNV-1a
// hash of the encoded record it was prepared from; a lookup whose stored
// bytes hash differently ignores it, so a stale entry is never used.
type cacheEntry struct {
	hash   uint64
	p      *match.Prepared
	blocks []uint64
}

// prepCache is a bounded map of prepared records, sharded to keep readers
// and the writer from contending.
type prepCache struct {
	limit  int
	shards [16]struct {
		mu sync.Mutex
		m  map[match.RecordRef]*cacheEntry
	}
}

func (c *prepCache) init(limit int) {
	c.limit = limit / len(c.shards)
	for i := range c.shards {
		c.shards[i].m = map[match.RecordRef]*cacheEntry{}
	}
}

func (c *prepCache) shard(key match.RecordRef) int {
	h := uint32(2166136261)
	for i := 0; i < len(key.Source); i++ {
		h = (h ^ uint32(key.Source[i])) * 16777619
	}
	h = (h ^ 0xff) * 16777619
	for i := 0; i < len(key.ID); i++ {
		h = (h ^ uint32(key.ID[i])) * 16777619
	}
	return int(h % uint32(len(c.shards)))
}

func (c *prepCache) get(key match.RecordRef) *cacheEntry {
	if c.limit <= 0 {
		return nil
	}
	s := &c.shards[c.shard(key)]
	s.mu.Lock()
	e := s.m[key]
	s.mu.Unlock()
	return e
}

func (c *prepCache) put(key match.RecordRef, e *cacheEntry) {
	if c.limit <= 0 {
		return
	}
	s := &c.shards[c.shard(key)]
	s.mu.Lock()
	if len(s.m) >= c.limit {
		// Evict an arbitrary eighth (map order is randomised).
		n := c.limit / 8
		for k := range s.m {
			delete(s.m, k)
			if n--; n <= 0 {
				break
			}
		}
	}
	s.m[key] = e
	s.mu.Unlock()
}

func (c *prepCache) del(key match.RecordRef) {
	s := &c.shards[c.shard(key)]
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

func (c *prepCache) clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
