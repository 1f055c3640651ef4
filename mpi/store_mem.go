package mpi

import (
	"context"
	"iter"
	"slices"
	"strings"
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
		if v == nil {
			delete(s.data, k)
		} else {
			s.data[k] = v
		}
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
	s.data = nil
	return nil
}

// memTxn is a transaction of memStore. pending maps a key to its new value,
// or to nil for a deletion; no value stored is nil.
type memTxn struct {
	s        *memStore
	writable bool
	pending  map[string][]byte
}

func (t *memTxn) Get(key []byte) ([]byte, error) {
	v, ok := t.pending[string(key)]
	if !ok {
		v = t.s.data[string(key)]
	}
	if v == nil {
		return nil, ErrNotFound
	}
	return v, nil
}

func (t *memTxn) Set(key, value []byte) error {
	if !t.writable {
		return ErrReadOnly
	}
	t.pending[string(key)] = append([]byte{}, value...) // never nil
	return nil
}

func (t *memTxn) Delete(key []byte) error {
	if !t.writable {
		return ErrReadOnly
	}
	t.pending[string(key)] = nil
	return nil
}

// Scan sorts the matching keys on each call rather than keeping every key
// sorted: the store serves tests and small indexes.
func (t *memTxn) Scan(prefix, start []byte) iter.Seq2[KV, error] {
	return func(yield func(KV, error) bool) {
		p, from := string(prefix), max(string(prefix), string(start))
		var keys []string
		for k := range t.s.data {
			if k >= from && strings.HasPrefix(k, p) {
				keys = append(keys, k)
			}
		}
		for k := range t.pending {
			if _, stored := t.s.data[k]; !stored && k >= from && strings.HasPrefix(k, p) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
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
