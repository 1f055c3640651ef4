package match

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// keyModel holds the JSON of the model an index scores with, so that a
// reopened index scores and blocks exactly as before.
var keyModel = []byte("m/model")

// modelScorer adapts a [Model] and a [Preparer] to the index: records are
// prepared one at a time, and a [Scorer] snapshot is refreshed whenever
// records have been prepared since the last one.
type modelScorer struct {
	model *Model
	p     *Preparer
	mu    sync.Mutex
	snap  atomic.Pointer[scorerSnap]
}

type scorerSnap struct {
	sc *Scorer
	n  int // Preparer.Len when the snapshot was taken
}

func newModelScorer(m *Model, o *PrepareOptions) (*modelScorer, error) {
	ms := &modelScorer{model: m, p: NewPreparer(o)}
	sc, err := m.Scorer(ms.p)
	if err != nil {
		return nil, err
	}
	ms.snap.Store(&scorerSnap{sc: sc})
	return ms, nil
}

// current returns a Scorer that sees every record prepared so far.
func (ms *modelScorer) current() *Scorer {
	n := ms.p.Len()
	if s := ms.snap.Load(); s.n >= n {
		return s.sc
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if s := ms.snap.Load(); s.n >= n {
		return s.sc
	}
	sc, err := ms.model.Scorer(ms.p)
	if err != nil {
		panic("match: validated model failed to bind: " + err.Error())
	}
	ms.snap.Store(&scorerSnap{sc: sc, n: n})
	return sc
}

func (ms *modelScorer) prepare(r *Record) any {
	p := ms.p.Prepare(r)
	return &p
}

func (ms *modelScorer) appendBlockKeys(dst []uint64, a any) []uint64 {
	var keys [16]BlockKey
	for _, k := range ms.current().AppendBlockingKeys(keys[:0], a.(*Prepared)) {
		dst = append(dst, k.Hash)
	}
	return dst
}

func (ms *modelScorer) pairScorer() pairScorer { return modelPairScorer{ms.current()} }

type modelPairScorer struct{ sc *Scorer }

func (s modelPairScorer) score(a, b any) (float64, float64) {
	w := s.sc.Score(a.(*Prepared), b.(*Prepared))
	return w, Probability(w)
}

// loadModel decides the index's model: the one given (saved into the store
// when it differs from the stored one), else the stored one, else none.
func loadModel(tx Txn, given *Model) (*Model, error) {
	stored, err := tx.Get(keyModel)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if given != nil {
		if err := given.Validate(); err != nil {
			return nil, fmt.Errorf("match: index model: %w", err)
		}
		var buf bytes.Buffer
		if err := given.WriteJSON(&buf); err != nil {
			return nil, err
		}
		if !bytes.Equal(buf.Bytes(), stored) {
			if err := tx.Set(keyModel, buf.Bytes()); err != nil {
				return nil, err
			}
		}
		return given, nil
	}
	if stored == nil {
		return nil, nil
	}
	m, err := ReadModel(bytes.NewReader(stored))
	if err != nil {
		return nil, fmt.Errorf("match: stored index model: %w", ErrCorrupt)
	}
	return m, nil
}
