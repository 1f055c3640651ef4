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
// prepared one at a time, and the [Scorer] snapshot is refreshed whenever
// a record to be scored holds a value the snapshot does not know.
type modelScorer struct {
	model *Model
	p     *Preparer
	mu    sync.Mutex
	snap  atomic.Pointer[scorerSnap]
}

type scorerSnap struct {
	sc *Scorer
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

// covers reports whether sc's vocabulary snapshot holds every value of p.
// A Scorer scores values prepared after its snapshot as missing, so the
// index refreshes its Scorer whenever a record brings a new value (not on
// every record: most values are already known).
func covers(sc *Scorer, p *Prepared) bool {
	for f := range Field(numFields) {
		if id := p.v[f]; id != 0 && int(id) >= len(sc.views[f].strs) {
			return false
		}
	}
	return true
}

// scorer returns a Scorer whose snapshot covers every record in ps.
func (ms *modelScorer) scorer(ps ...any) *Scorer {
	sc := ms.snap.Load().sc
	if ms.coversAll(sc, ps) {
		return sc
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if sc = ms.snap.Load().sc; ms.coversAll(sc, ps) {
		return sc
	}
	sc, err := ms.model.Scorer(ms.p)
	if err != nil {
		panic("match: validated model failed to bind: " + err.Error())
	}
	ms.snap.Store(&scorerSnap{sc: sc})
	return sc
}

func (ms *modelScorer) coversAll(sc *Scorer, ps []any) bool {
	for _, p := range ps {
		if !covers(sc, p.(*Prepared)) {
			return false
		}
	}
	return true
}

func (ms *modelScorer) prepare(r *Record) any {
	p := ms.p.Prepare(r)
	return &p
}

func (ms *modelScorer) appendBlockKeys(dst []uint64, a any) []uint64 {
	var keys [16]BlockKey
	for _, k := range ms.scorer(a).AppendBlockingKeys(keys[:0], a.(*Prepared)) {
		dst = append(dst, k.Hash)
	}
	return dst
}

func (ms *modelScorer) pairScorer(need []any) pairScorer { return modelPairScorer{ms.scorer(need...)} }

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

// readModel is loadModel for a read-only store: the model given, else the
// stored one, with nothing saved.
func readModel(tx Txn, given *Model) (*Model, error) {
	if given != nil {
		if err := given.Validate(); err != nil {
			return nil, fmt.Errorf("match: index model: %w", err)
		}
		return given, nil
	}
	return loadModel(tx, nil)
}
