package mpi

import (
	"bytes"
	"context"
	"iter"
	"slices"
	"sync"
)

// NewMemoryStore returns an empty [Store] held in memory, for tests and for
// short-lived indexes. It meets the Store contract except durability: its
// contents are gone when the process ends. Transactions are serialised:
// View calls share a read lock and Update calls hold the write lock.
func NewMemoryStore() Store {
	return &memStore{data: map[string][]byte{}}
}

type memStore struct {
	mu     sync.RWMutex
	closed bool
	data   map[string][]byte
	keys   []string // sorted keys of data
}

func (s *memStore) View(ctx context.Context, fn func(Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrStoreClosed
	}
	return fn(&memTxn{s: s})
}

func (s *memStore) Update(ctx context.Context, fn func(Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrStoreClosed
	}
	tx := &memTxn{s: s, writable: true, pending: map[string][]byte{}}
	if err := fn(tx); err != nil {
		return err
	}
	for k, v := range tx.pending {
		i, found := slices.BinarySearch(s.keys, k)
		if v == nil {
			if found {
				delete(s.data, k)
				s.keys = slices.Delete(s.keys, i, i+1)
			}
			continue
		}
		if !found {
			s.keys = slices.Insert(s.keys, i, k)
		}
		s.data[k] = v
	}
	return nil
}

func (s *memStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrStoreClosed
	}
	s.closed = true
	s.data, s.keys = nil, nil
	return nil
}

// memTxn is a transaction of memStore. pending maps a key to its new value,
// or to nil for a deletion.
type memTxn struct {
	s        *memStore
	writable bool
	pending  map[string][]byte
}

var emptyValue = []byte{}

func (t *memTxn) Get(key []byte) ([]byte, error) {
	if v, ok := t.pending[string(key)]; ok {
		if v == nil {
			return nil, ErrNotFound
		}
		return v, nil
	}
	v, ok := t.s.data[string(key)]
	if !ok {
		return nil, ErrNotFound
	}
	return v, nil
}

func (t *memTxn) Set(key, value []byte) error {
	if !t.writable {
		return ErrReadOnly
	}
	v := bytes.Clone(value)
	if v == nil {
		v = emptyValue
	}
	t.pending[string(key)] = v
	return nil
}

func (t *memTxn) Delete(key []byte) error {
	if !t.writable {
		return ErrReadOnly
	}
	t.pending[string(key)] = nil
	return nil
}

func (t *memTxn) Scan(prefix, start []byte) iter.Seq2[KV, error] {
	return func(yield func(KV, error) bool) {
		from := string(prefix)
		if bytes.Compare(start, prefix) > 0 {
			from = string(start)
		}
		keys := t.s.keys
		lo, _ := slices.BinarySearch(keys, from)
		var base []string
		for _, k := range keys[lo:] {
			if !bytes.HasPrefix([]byte(k), prefix) {
				break
			}
			base = append(base, k)
		}
		var extra []string
		for k := range t.pending {
			if k >= from && bytes.HasPrefix([]byte(k), prefix) {
				if _, inBase := t.s.data[k]; !inBase {
					extra = append(extra, k)
				}
			}
		}
		slices.Sort(extra)
		all := base
		if len(extra) > 0 {
			all = append(slices.Clone(base), extra...)
			slices.Sort(all)
		}
		for _, k := range all {
			v, err := t.Get([]byte(k))
			if err != nil {
				continue // deleted in this transaction
			}
			if !yield(KV{Key: []byte(k), Value: v}, nil) {
				return
			}
		}
	}
}
