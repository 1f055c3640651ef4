package linker

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/carelens/carelens/match"
)

// Row is one input record as it travels through the pipeline: the file it
// came from (its position among the inputs), its position in that file,
// and the record as JSON.
type Row struct {
	File   int
	N      int
	Record []byte
}

// settings is what every worker needs, besides the records, to rebuild
// the whole-file state; it travels inside each step's DoFn.
type settings struct {
	Model         []byte // the model as JSON
	Threshold     float64
	UniqueNameDOB bool
	NoChainGuard  bool
	MaxBlockSize  int
	Window        int
	Prepare       []byte // match.PrepareOptions as JSON; empty for the defaults
}

// state is the whole-file state of one run on one worker: the records in
// input order and the match.Batch built from them, which every worker
// builds alike from the same records and settings.
type state struct {
	recs   []match.Record
	offset []int // offset[f]: index of file f's first record
	batch  *match.Batch
}

// index returns the input-order index of row.
func (st *state) index(r *Row) int { return st.offset[r.File] + r.N }

// build decodes the rows, orders them as the inputs list them, and builds
// the batch.
func build(cfg *settings, rows func(*Row) bool) (*state, error) {
	var all []Row
	var r Row
	for rows(&r) {
		all = append(all, r)
		r = Row{}
	}
	slices.SortFunc(all, func(a, b Row) int { return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.N, b.N)) })
	st := &state{recs: make([]match.Record, len(all))}
	for k := range all {
		if err := json.Unmarshal(all[k].Record, &st.recs[k]); err != nil {
			return nil, fmt.Errorf("linker: input %d record %d: %w", all[k].File, all[k].N, err)
		}
		for len(st.offset) <= all[k].File {
			st.offset = append(st.offset, k)
		}
	}
	model, err := match.ReadModel(bytes.NewReader(cfg.Model))
	if err != nil {
		return nil, fmt.Errorf("linker: model: %w", err)
	}
	o := &match.LinkOptions{Model: model, Threshold: cfg.Threshold, UniqueNameDOB: cfg.UniqueNameDOB,
		NoChainGuard: cfg.NoChainGuard, MaxBlockSize: cfg.MaxBlockSize, Window: cfg.Window}
	if len(cfg.Prepare) > 0 {
		o.Prepare = new(match.PrepareOptions)
		if err := json.Unmarshal(cfg.Prepare, o.Prepare); err != nil {
			return nil, fmt.Errorf("linker: prepare options: %w", err)
		}
	}
	if st.batch, err = match.NewBatch(st.recs, o); err != nil {
		return nil, fmt.Errorf("linker: %w", err)
	}
	return st, nil
}

// The whole-file state is built once per worker process and run, by the
// first step that needs it, from the records side input, and shared by
// every bundle the process runs after it. A process keeps the states of
// its last few runs.
var states = struct {
	sync.Mutex
	runs  map[string]*stateOnce
	order []string
}{runs: map[string]*stateOnce{}}

const keepRuns = 4

type stateOnce struct {
	once sync.Once
	st   *state
	err  error
}

// load returns run's whole-file state, building it from rows the first
// time.
func load(run string, cfg *settings, rows func(*Row) bool) (*state, error) {
	states.Lock()
	s, ok := states.runs[run]
	if !ok {
		s = &stateOnce{}
		states.runs[run] = s
		states.order = append(states.order, run)
		if len(states.order) > keepRuns {
			delete(states.runs, states.order[0])
			states.order = states.order[1:]
		}
	}
	states.Unlock()
	s.once.Do(func() { s.st, s.err = build(cfg, rows) })
	return s.st, s.err
}

// components is the connected components of the linked pairs as each
// linked record's component, named by its smallest record index; built
// once per worker process and run like the state.
var componentSets = struct {
	sync.Mutex
	runs map[string]*componentsOnce
}{runs: map[string]*componentsOnce{}}

type componentsOnce struct {
	once sync.Once
	of   map[int64]int64
}

func loadComponents(run string, comps func(*Components) bool) map[int64]int64 {
	componentSets.Lock()
	c, ok := componentSets.runs[run]
	if !ok {
		if len(componentSets.runs) >= keepRuns {
			clear(componentSets.runs)
		}
		c = &componentsOnce{}
		componentSets.runs[run] = c
	}
	componentSets.Unlock()
	c.once.Do(func() {
		c.of = map[int64]int64{}
		var cs Components
		for comps(&cs) {
			for k, n := range cs.Node {
				c.of[n] = cs.Root[k]
			}
		}
	})
	return c.of
}
