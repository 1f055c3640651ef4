package mpi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carelens/carelens/match"
)

// Index defaults.
const (
	// DefaultIndexMaxBlockSize is the largest block the index keeps: a
	// block that grows past it (a common value, such as a frequent name
	// pair) is marked oversized and no longer searched for candidates, as
	// the batch linker avoids all-pairs comparison of oversized blocks.
	DefaultIndexMaxBlockSize = 300
	// DefaultLoadBatch is the number of records [Index.Load] commits per
	// transaction (fewer when the store cannot take that many at once).
	DefaultLoadBatch = 4000
)

// maxAttempts is how many times a write that lost a race with another
// writer (ErrConflict) is tried in all, catching up in between when the
// store is shared (TestIndexWriteAfterLostRace). Each further attempt
// needs yet another write to land between its catching up and its commit
// (a few milliseconds); past 8 the caller gets ErrConflict.
const maxAttempts = 8

// maxRecluster bounds the size of a person whose links are re-examined
// pairwise after a split; larger persons are left as they are.
const maxRecluster = 500

// IndexOptions configures an [Index]. The zero value works: the model's
// thresholds, and [match.DefaultModel] until a model is given.
type IndexOptions struct {
	// Thresholds grade candidates; a zero field means the model's
	// ([match.Model.Thresholds]).
	Thresholds match.Thresholds
	// MaxBlockSize: zero means DefaultIndexMaxBlockSize. It is applied as
	// blocks grow, so lowering it later takes effect for blocks as they
	// change; raising it does not bring back blocks already dropped.
	MaxBlockSize int
	// LoadBatch: zero means DefaultLoadBatch.
	LoadBatch int
	// Now returns the time stamped on events and decisions; nil means
	// time.Now.
	Now func() time.Time
	// Model scores and grades pairs and makes blocking keys, with the
	// constraints and grading [match.Link] and [match.Scorer.Explain] apply. It
	// is saved in the store, and an index opened without one uses the
	// saved model; with neither, [match.DefaultModel], saved with the first
	// record written. Records keep the blocking keys they were added
	// with: after changing the blocking rules, reload the records.
	Model *match.Model
	// Prepare configures the preparation of records (how birth dates are
	// read, shared values), as for [match.Link].
	Prepare *match.PrepareOptions
}

// withDefaults fills in the zero fields.
func (c IndexOptions) withDefaults() IndexOptions {
	if c.Model == nil {
		c.Model = match.DefaultModel(nil)
	}
	t := c.Model.Thresholds()
	c.Thresholds.Link = cmp.Or(c.Thresholds.Link, t.Link)
	c.Thresholds.Probable = cmp.Or(c.Thresholds.Probable, t.Probable)
	c.Thresholds.Possible = cmp.Or(c.Thresholds.Possible, t.Possible)
	c.MaxBlockSize = cmp.Or(c.MaxBlockSize, DefaultIndexMaxBlockSize)
	c.LoadBatch = cmp.Or(c.LoadBatch, DefaultLoadBatch)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Index is the persistent identity index the package comment describes:
// source records (identity data only) kept in a [Store], each assigned to
// an enterprise person. Writes are incremental (a record is compared only
// with the records sharing one of its blocks), serialised within the
// process, and durable when they return (as durable as the Store). Reads
// run concurrently with them on snapshots.
type Index struct {
	store  Store
	shared bool // other processes may write to store (SharedStore)
	opt    IndexOptions

	mu  sync.Mutex               // serialises writers
	ctr atomic.Pointer[counters] // as of the last commit or refresh; changed under mu, read without
	mem *memState                // blocks, records' states and persons, rebuilt from the records on open

	m       *match.Matcher
	modelOK bool // the model is saved in the store (or the store is read-only)
}

// counters are the next free numbers; persisted in every write.
type counters struct {
	person, event, seq uint64
}

// Candidate is one person an [Index.Query] found, with the best matching
// of their records.
type Candidate struct {
	// Person is the enterprise person id.
	Person string
	// Record is the person's record that matched best.
	Record match.RecordRef
	// Weight is the log2 match weight of that pair.
	Weight float64
	// Probability is the match probability, in [0, 1].
	Probability float64
	// Grade is the FHIR $match grade.
	Grade match.Grade
}

// Person is an enterprise person and their source records.
type Person struct {
	// ID is the enterprise person id.
	ID string
	// Records are the person's source records, in key order.
	Records []match.RecordRef
}

// Assignment is one record and the person it belongs to.
type Assignment struct {
	Record match.RecordRef
	Person string
}

// OpenIndex opens the index held in s, initialising an empty store. A store
// holding other data, or an index of another format version, is refused
// with an error wrapping [ErrForeignStore]. A [ReadOnlyStore] is opened
// without writing: one holding no index is refused with an error wrapping
// [ErrNotFound], and o.Model, if given, is used without being saved. o may
// be nil. The caller keeps ownership of s and closes it after its last use
// of the index.
func OpenIndex(ctx context.Context, s Store, o *IndexOptions) (*Index, error) {
	var opt IndexOptions
	if o != nil {
		opt = *o
	}
	ro, _ := s.(ReadOnlyStore)
	sh, _ := s.(SharedStore)
	readOnly := ro != nil && ro.ReadOnly()
	ix := &Index{store: s, shared: sh != nil && sh.Shared()}
	open := s.Update
	if readOnly {
		open = s.View
	}
	err := open(ctx, func(tx Txn) error {
		v, err := tx.Get(keyFormat)
		switch {
		case errors.Is(err, ErrNotFound) && readOnly:
			return fmt.Errorf("mpi: open index: %w: the store holds no index", ErrNotFound)
		case errors.Is(err, ErrNotFound):
			for _, err := range tx.Scan(nil, nil) {
				if err != nil {
					return err
				}
				return fmt.Errorf("mpi: open index: %w: keys without an index format marker", ErrForeignStore)
			}
			if err := tx.Set(keyCounters, counters{1, 1, 1}.encode()); err != nil {
				return err
			}
		case err != nil:
			return err
		case string(v) != indexFormat && string(v) != indexFormat2:
			return fmt.Errorf("mpi: open index: %w: format %q, want %q", ErrForeignStore, v, indexFormat)
		}
		if string(v) != indexFormat && !readOnly { // a new index, or format 2 upgraded
			if err := tx.Set(keyFormat, []byte(indexFormat)); err != nil {
				return err
			}
		}
		v, err = tx.Get(keyCounters)
		if err != nil {
			return fmt.Errorf("mpi: open index: counters: %w", errors.Join(ErrCorrupt, err))
		}
		var c counters // loadState reads them again, with the records
		if err := c.decode(v); err != nil {
			return err
		}
		opt.Model, err = loadModel(tx, opt.Model, readOnly)
		if err == nil && opt.Model == nil && c.seq > 1 {
			// Records written without a saved model were blocked and
			// graded by the fixed-weight scorer earlier versions had.
			return fmt.Errorf("mpi: open index: %w: records were added by the retired built-in scorer; "+
				"rebuild the index from its sources (carelens index load)", ErrForeignStore)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	ix.modelOK = opt.Model != nil || readOnly
	ix.opt = opt.withDefaults()
	if ix.m, err = match.NewMatcher(ix.opt.Model, ix.opt.Prepare); err != nil {
		return nil, fmt.Errorf("mpi: open index: %w", err)
	}
	if !readOnly {
		if err := ix.dropPersonLists(ctx); err != nil {
			return nil, fmt.Errorf("mpi: open index: %w", err)
		}
	}
	if err := ix.loadState(ctx); err != nil {
		return nil, err
	}
	return ix, nil
}

// publish makes a committed writer's changes visible, under mu: the memory
// first, so that a query that sees the new counters finds the changes.
func (ix *Index) publish(w *writer) {
	ix.mem.apply(w.ov)
	c := w.ctr // not &w.ctr, which would keep the writer's overlay alive
	ix.ctr.Store(&c)
}

func validRef(r match.RecordRef) error {
	if r.Source == "" || r.ID == "" {
		return fmt.Errorf("%w: empty source or id", ErrInvalidRecord)
	}
	return nil
}

// Add adds r to the index, or replaces the record with the same source and
// id, and returns the enterprise person id it now belongs to. Adding a
// record identical to the stored one changes nothing. The write is durable
// when Add returns.
func (ix *Index) Add(ctx context.Context, r match.Record) (string, error) {
	if err := validRef(r.Ref()); err != nil {
		return "", err
	}
	var person string
	err := ix.update(ctx, 1, func(w *writer) error {
		var err error
		person, err = w.add(&r, nil)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("mpi: add %s: %w", r.Ref(), err)
	}
	return person, nil
}

// Delete removes a record. Its person loses it; if the record was what held
// the person together, the person splits (EventMoved).
func (ix *Index) Delete(ctx context.Context, ref match.RecordRef) error {
	err := ix.update(ctx, 1, func(w *writer) error { return w.remove(ref) })
	if err != nil {
		return fmt.Errorf("mpi: delete %s: %w", ref, err)
	}
	return nil
}

// Load adds records from seq in transactions of [IndexOptions.LoadBatch]
// records, record by record exactly as [Index.Add] would, and returns how
// many it added. The next batch is prepared while one commits. A batch is
// durable when progress (if not nil) is called with the running count; a
// failure stops the load, and the records of the failed batch are not
// added.
func (ix *Index) Load(ctx context.Context, seq iter.Seq2[match.Record, error], progress func(n int)) (int, error) {
	n := 0
	// commit adds a prepared batch in one transaction, or in two halves
	// (each committed on its own) when the store cannot take it in one.
	var commit func(recs []match.Record, preps []prep) error
	commit = func(recs []match.Record, preps []prep) error {
		err := ix.update(ctx, len(recs), func(w *writer) error {
			for i := range recs {
				err := validRef(recs[i].Ref())
				if err == nil {
					_, err = w.add(&recs[i], &preps[i])
				}
				if err != nil {
					return fmt.Errorf("%s: %w", recs[i].Ref(), err)
				}
			}
			return nil
		})
		if h := len(recs) / 2; errors.Is(err, ErrTxnTooBig) && h > 0 {
			if err := commit(recs[:h], preps[:h]); err != nil {
				return err
			}
			return commit(recs[h:], preps[h:])
		}
		if err != nil {
			return fmt.Errorf("mpi: load: %w", err)
		}
		n += len(recs)
		if progress != nil {
			progress(n)
		}
		return nil
	}
	// A pipeline of two: next prepares a batch on another goroutine while
	// the one before it commits. Each record is prepared as Add would
	// prepare it, so the result is the same as adding them one by one.
	var pending []match.Record // prepared, not yet committed
	var pendingPreps []prep
	next := func(batch []match.Record) error {
		var preps []prep
		done := make(chan struct{})
		go func() {
			defer close(done)
			preps = ix.prepareBatch(batch)
		}()
		var err error
		if pending != nil {
			err = commit(pending, pendingPreps)
		}
		<-done
		pending, pendingPreps = batch, preps
		return err
	}
	batch := make([]match.Record, 0, ix.opt.LoadBatch)
	for r, err := range seq {
		if err != nil {
			return n, cmp.Or(next(nil), err)
		}
		if batch = append(batch, r); len(batch) == cap(batch) {
			if err := next(batch); err != nil {
				return n, err
			}
			batch = make([]match.Record, 0, ix.opt.LoadBatch)
		}
	}
	if len(batch) > 0 {
		if err := next(batch); err != nil {
			return n, err
		}
	}
	return n, next(nil)
}

// update runs fn as one durable transaction under the writer lock, sizing
// the writer's maps for about records records.
func (ix *Index) update(ctx context.Context, records int, fn func(w *writer) error) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for attempt := 0; ; attempt++ {
		if ix.shared {
			if err := ix.refreshLocked(ctx); err != nil {
				return err
			}
		}
		w := &writer{reader: reader{ix: ix, ov: newOverlay(records)}, ctr: *ix.ctr.Load(), now: ix.opt.Now().UTC()}
		err := ix.store.Update(ctx, func(tx Txn) error {
			w.tx = tx
			if ix.shared {
				// Another process may have written since the refresh
				// above: then this write is refused and retried.
				if cur, err := tx.Get(keyCounters); err != nil || !bytes.Equal(cur, ix.ctr.Load().encode()) {
					return cmp.Or(err, ErrConflict)
				}
			}
			if !ix.modelOK {
				// The first write pins the default model, so that the
				// blocking keys stored with records stay the ones it makes.
				if err := saveModel(tx, ix.opt.Model); err != nil {
					return err
				}
			}
			if err := fn(w); err != nil {
				return err
			}
			return tx.Set(keyCounters, w.ctr.encode())
		})
		if err == nil {
			ix.modelOK = true
			ix.publish(w)
			return nil
		}
		if !errors.Is(err, ErrConflict) || attempt == maxAttempts-1 {
			return err
		}
	}
}

// Query finds the persons whose records match r, best first: at most
// limit of them (zero means 10), graded possible or better. r is not
// stored. Query runs on a snapshot and does not wait for writers (over a
// [SharedStore] it first catches up with other processes' writes, which
// waits for this process's writer).
func (ix *Index) Query(ctx context.Context, r match.Record, limit int) ([]Candidate, error) {
	if limit <= 0 {
		limit = 10
	}
	pr := ix.prepare(&r)
	var out []Candidate
	err := ix.view(ctx, func(tx Txn) error {
		cands, err := reader{ix: ix, tx: tx}.candidates(pr, r.Ref(), nil)
		if err != nil {
			return err
		}
		best := map[string]int{} // person → index in out
		for _, c := range cands {
			if c.Grade == match.GradeCertainlyNot {
				continue
			}
			if i, ok := best[c.Person]; !ok {
				best[c.Person] = len(out)
				out = append(out, c)
			} else if compareCandidates(c, out[i]) < 0 {
				out[i] = c
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mpi: query: %w", err)
	}
	slices.SortFunc(out, compareCandidates)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

var gradeRank = map[match.Grade]int{match.GradeCertain: 3, match.GradeProbable: 2, match.GradePossible: 1}

// compareCandidates orders candidates best first: by grade, then weight,
// then person and record.
func compareCandidates(a, b Candidate) int {
	if c := cmp.Compare(gradeRank[b.Grade], gradeRank[a.Grade]); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Weight, a.Weight); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Person, b.Person); c != 0 {
		return c
	}
	return cmp.Compare(a.Record.String(), b.Record.String())
}

// read returns what fn reads in one snapshot taken by view: ix.view when
// fn reads the in-memory state, which must have caught up with the store,
// else ix.store.View.
func read[T any](ctx context.Context, ix *Index, view func(context.Context, func(Txn) error) error, fn func(rd reader) (T, error)) (T, error) {
	var out T
	err := view(ctx, func(tx Txn) error {
		var err error
		out, err = fn(reader{ix: ix, tx: tx})
		return err
	})
	return out, err
}

// PersonOf returns the enterprise person id of a record, or an error
// wrapping [ErrNotFound].
func (ix *Index) PersonOf(ctx context.Context, ref match.RecordRef) (string, error) {
	sr, err := read(ctx, ix, ix.store.View, func(rd reader) (*storedRecord, error) { return rd.stored(ref) })
	if err != nil {
		return "", fmt.Errorf("mpi: person of %s: %w", ref, err)
	}
	return sr.person, nil
}

// Record returns the stored record of ref.
func (ix *Index) Record(ctx context.Context, ref match.RecordRef) (match.Record, error) {
	var r match.Record
	sr, err := read(ctx, ix, ix.store.View, func(rd reader) (*storedRecord, error) { return rd.stored(ref) })
	if err == nil {
		err = decodeRecord(sr.raw, &r)
	}
	if err != nil {
		return match.Record{}, fmt.Errorf("mpi: record %s: %w", ref, err)
	}
	return r, nil
}

// Resolve returns the current id of a person id: the id itself while the
// person exists, or the survivor it was merged into (following merges
// after merges). An id never issued is [ErrNotFound].
func (ix *Index) Resolve(ctx context.Context, person string) (string, error) {
	cur, err := read(ctx, ix, ix.view, func(rd reader) (string, error) { return rd.resolve(person) })
	if err != nil {
		return "", fmt.Errorf("mpi: resolve person: %w", err)
	}
	return cur, nil
}

// Person returns a person and their records. A merged-away id returns the
// survivor (compare [Person.ID] with the id asked for).
func (ix *Index) Person(ctx context.Context, id string) (Person, error) {
	p, err := read(ctx, ix, ix.view, func(rd reader) (Person, error) {
		cur, err := rd.resolve(id)
		if err != nil {
			return Person{}, err
		}
		return Person{ID: cur, Records: rd.members(cur)}, nil
	})
	if err != nil {
		return Person{}, fmt.Errorf("mpi: person: %w", err)
	}
	return p, nil
}

// Decisions returns the decisions people have made about pairs that
// include ref.
func (ix *Index) Decisions(ctx context.Context, ref match.RecordRef) ([]Decision, error) {
	out, err := read(ctx, ix, ix.store.View, func(rd reader) ([]Decision, error) { return rd.decisions(ref) })
	if err != nil {
		return nil, fmt.Errorf("mpi: decisions of %s: %w", ref, err)
	}
	return out, nil
}

// pageSize is how many items the paged sequences read per snapshot.
const pageSize = 1024

// paged yields decode(key, value) for the keys under prefix from start on,
// reading pageSize of them per snapshot, so that the caller may write to
// the index while iterating. A failure is yielded once, last, wrapped with
// what.
func paged[T any](ctx context.Context, s Store, what string, prefix, start []byte, decode func(k, v []byte) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		from := start
		for {
			var page []T
			err := s.View(ctx, func(tx Txn) error {
				for kv, err := range tx.Scan(prefix, from) {
					if err != nil {
						return err
					}
					x, err := decode(kv.Key, kv.Value)
					if err != nil {
						return err
					}
					if page = append(page, x); len(page) == pageSize {
						from = append(bytes.Clone(kv.Key), 0) // the next key after it
						break
					}
				}
				return nil
			})
			if err != nil {
				var zero T
				yield(zero, fmt.Errorf("mpi: %s: %w", what, err))
				return
			}
			for _, x := range page {
				if !yield(x, nil) {
					return
				}
			}
			if len(page) < pageSize {
				return
			}
		}
	}
}

// Events yields the change log from event number since+1 onwards, in
// order, until the end of the log as it stands. Pages are read in separate
// snapshots, so the caller may write to the index while iterating. A
// failure is yielded once, last. Each call starts a new iteration.
func (ix *Index) Events(ctx context.Context, since uint64) iter.Seq2[Event, error] {
	return paged(ctx, ix.store, "events", []byte("e/"), eventKey(since+1), func(_, v []byte) (Event, error) { return decodeEvent(v) })
}

// Assignments yields every record and its person, in record key order (by
// source, then id, each ordered by length and then bytes). Pages are read
// in separate snapshots; a record written during the iteration may or may
// not be seen. A failure is yielded once, last.
func (ix *Index) Assignments(ctx context.Context) iter.Seq2[Assignment, error] {
	return paged(ctx, ix.store, "assignments", []byte("r/"), nil, func(k, v []byte) (Assignment, error) {
		d := decoder{b: k[2:]}
		ref := d.ref()
		var sr storedRecord
		if d.err != nil {
			return Assignment{}, fmt.Errorf("record key: %w", ErrCorrupt)
		}
		err := decodeStoredHeader(v, &sr)
		return Assignment{Record: ref, Person: sr.person}, err
	})
}

// Stats are counts kept by the index.
type Stats struct {
	// Records is the number of source records held.
	Records int
	// Persons is the number of persons with at least one record.
	Persons int
	// Events is the number of events logged.
	Events uint64
}

// Stats counts records and persons by scanning the index.
func (ix *Index) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	persons := map[string]struct{}{}
	for a, err := range ix.Assignments(ctx) {
		if err != nil {
			return Stats{}, err
		}
		st.Records++
		persons[a.Person] = struct{}{}
	}
	st.Persons = len(persons)
	st.Events = ix.ctr.Load().event - 1
	return st, nil
}

// Empty reports whether the index holds no records.
func (ix *Index) Empty(ctx context.Context) (bool, error) {
	return read(ctx, ix, ix.store.View, func(rd reader) (bool, error) {
		for _, err := range rd.tx.Scan([]byte("r/"), nil) {
			return false, err // a record, or a failure
		}
		return true, nil
	})
}

// HasModel reports whether the index's model was given or is saved in its
// store, rather than [match.DefaultModel] waiting for the first write to pin it
// (when a model trained on the first records can still take its place).
func (ix *Index) HasModel() bool { return ix.modelOK }

// Link records that a and b are the same person, by actor, and joins their
// persons (the older id survives). It fails with [ErrDecisionConflict] if
// that would put together records a person has said are different.
func (ix *Index) Link(ctx context.Context, a, b match.RecordRef, actor Actor) error {
	return ix.decide(ctx, a, b, actor, DecisionLink)
}

// NeverLink records that a and b are different people, by actor. If they
// are in one person it splits, and the model will never join them again.
func (ix *Index) NeverLink(ctx context.Context, a, b match.RecordRef, actor Actor) error {
	return ix.decide(ctx, a, b, actor, DecisionNeverLink)
}

func (ix *Index) decide(ctx context.Context, a, b match.RecordRef, actor Actor, kind DecisionKind) error {
	if err := actor.validate(); err != nil {
		return err
	}
	if a == b {
		return fmt.Errorf("%w: a record and itself", ErrInvalidDecision)
	}
	err := ix.update(ctx, 1, func(w *writer) error { return w.decide(a, b, actor, kind, 0, nil) })
	if err != nil {
		return fmt.Errorf("mpi: %s %s %s: %w", kind, a, b, err) // "mpi: link …", "mpi: never-link …"
	}
	return nil
}

// Revert reverses the change recorded by event seq, by actor, and records
// the reversal as a decision so the model does not redo it: a merge is
// undone (the merged-away person id is restored for its records, and the
// pair whose link caused it is never-linked); a split caused by a
// never-link decision, or the decision itself, is undone by linking the
// pair; a link decision is undone by never-linking the pair. Additions,
// updates and removals of records are [ErrNotReversible].
func (ix *Index) Revert(ctx context.Context, seq uint64, actor Actor) error {
	if err := actor.validate(); err != nil {
		return err
	}
	err := ix.update(ctx, 1, func(w *writer) error { return w.revert(seq, actor) })
	if err != nil {
		return fmt.Errorf("mpi: revert event %d: %w", seq, err)
	}
	return nil
}

// ---- reading ----

// reader reads the index inside one transaction.
type reader struct {
	ix *Index
	tx Txn
	// ov, when not nil, is the uncommitted changes of the writer this
	// reader reads for, which it sees over the memState.
	ov *overlay
}

// stored returns the stored record of ref, or ErrNotFound.
func (rd reader) stored(ref match.RecordRef) (*storedRecord, error) {
	if rd.ov != nil {
		if _, ok := rd.recordNum(ref); !ok {
			return nil, ErrNotFound
		}
	}
	v, err := rd.tx.Get(recordKey(ref))
	if err != nil {
		return nil, err
	}
	sr := &storedRecord{}
	if err := decodeStoredHeader(v, sr); err != nil {
		return nil, err
	}
	sr.raw = bytes.Clone(sr.raw)
	return sr, nil
}

// prepared returns the prepared form of record number n, whose state is
// st: from memory, or prepared from the stored record (and then kept in
// memory, unless the record changed meanwhile).
func (rd reader) prepared(n uint32, st recState) (*match.Prepared, error) {
	if st.p != nil {
		return st.p, nil
	}
	sr, err := reader{ix: rd.ix, tx: rd.tx}.stored(st.ref)
	if err != nil {
		return nil, err
	}
	var r match.Record
	if err := decodeRecord(sr.raw, &r); err != nil {
		return nil, err
	}
	p := rd.ix.m.Prepare(&r)
	if h := hashBytes(sr.raw); h == st.hash && rd.ov == nil {
		rd.ix.mem.setPrepared(n, h, p)
	}
	return p, nil
}

// member returns the prepared form and record number of a live record.
func (rd reader) member(ref match.RecordRef) (*match.Prepared, uint32, error) {
	n, ok := rd.recordNum(ref)
	st, live := rd.state(n)
	if !ok || !live {
		return nil, 0, ErrNotFound
	}
	p, err := rd.prepared(n, st)
	return p, n, err
}

func hashBytes(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// prep is a record prepared for scoring, with its blocks.
type prep struct {
	p      *match.Prepared
	blocks []uint64
}

// prepare prepares r for scoring and lists its blocks.
func (ix *Index) prepare(r *match.Record) prep {
	p := ix.m.Prepare(r)
	return prep{p, ix.blockKeys(p)}
}

// prepareBatch prepares records ahead of adding them, listing their blocks
// once the whole batch is prepared, so that the scorer is refreshed once
// for the batch rather than per record.
func (ix *Index) prepareBatch(batch []match.Record) []prep {
	out := make([]prep, len(batch))
	for i := range batch {
		out[i].p = ix.m.Prepare(&batch[i])
	}
	for i := range out {
		out[i].blocks = ix.blockKeys(out[i].p)
	}
	return out
}

func (ix *Index) blockKeys(p *match.Prepared) []uint64 {
	var blocks []uint64
	for _, h := range ix.m.BlockKeys(nil, p) {
		if !slices.Contains(blocks, h) {
			blocks = append(blocks, h)
		}
	}
	return blocks
}

// candidates scores pr against every record sharing one of its blocks
// (skipping blocks larger than MaxBlockSize), in record number order. When
// blocks is not nil it also returns there the postings it read for each of
// pr.blocks, in order.
func (rd reader) candidates(pr prep, self match.RecordRef, blocks *[]blockEdit) ([]Candidate, error) {
	var nums []uint32
	for _, h := range pr.blocks {
		over, block := rd.postings(h)
		if blocks != nil {
			*blocks = append(*blocks, blockEdit{over: over, recs: block})
		}
		if !over && len(block) <= rd.ix.opt.MaxBlockSize {
			nums = append(nums, block...)
		}
	}
	slices.Sort(nums)
	nums = slices.Compact(nums)
	out := make([]Candidate, 0, len(nums))
	need := []*match.Prepared{pr.p}
	for _, n := range nums {
		st, ok := rd.state(n)
		if !ok || st.ref == self {
			continue // deleted, or the record in hand
		}
		p, err := rd.prepared(n, st)
		if errors.Is(err, ErrNotFound) {
			continue // deleted in this snapshot
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Candidate{Person: st.person, Record: st.ref})
		need = append(need, p)
	}
	sc := rd.ix.m.Scorer(need...) // after preparing every candidate
	for i := range out {
		v, g := sc.Grade(pr.p, need[i+1], rd.ix.opt.Thresholds)
		out[i].Weight, out[i].Probability, out[i].Grade = v.Weight, v.Probability, g
	}
	return out, nil
}

// resolve follows merge aliases from person to its current id.
func (rd reader) resolve(person string) (string, error) {
	cur := person
	for range 1000 {
		v, err := rd.tx.Get(aliasKey(cur))
		if errors.Is(err, ErrNotFound) {
			if cur == person && len(rd.ix.mem.memberList(cur)) == 0 && (rd.ov == nil || len(rd.ov.members[cur]) == 0) {
				return "", ErrNotFound // never issued, or left with no records
			}
			return cur, nil
		}
		if err != nil {
			return "", err
		}
		cur = string(v)
	}
	return "", fmt.Errorf("person alias cycle: %w", ErrCorrupt)
}

// postings lists the records in block h, and whether it is oversized.
func (rd reader) postings(h uint64) (bool, []uint32) {
	if rd.ov != nil {
		if e, ok := rd.ov.blocks[h]; ok {
			return e.over, e.recs
		}
	}
	return rd.ix.mem.block(h)
}

// state returns the in-memory state of record number n.
func (rd reader) state(n uint32) (recState, bool) {
	if rd.ov != nil {
		if st, ok := rd.ov.recs[n]; ok {
			return st, st.ref.Source != ""
		}
	}
	return rd.ix.mem.rec(n)
}

// recordNum returns the record number of a live record.
func (rd reader) recordNum(ref match.RecordRef) (uint32, bool) {
	if rd.ov != nil {
		if n, ok := rd.ov.refs[ref]; ok {
			return n, n != 0
		}
	}
	return rd.ix.mem.recordNum(ref)
}

// members lists the records of person, in order.
func (rd reader) members(person string) []match.RecordRef {
	if rd.ov != nil {
		if ms, ok := rd.ov.members[person]; ok {
			return slices.Clone(ms)
		}
	}
	return slices.Clone(rd.ix.mem.memberList(person))
}

// storedDecision is one element of the decision list of a record.
type storedDecision struct {
	Other match.RecordRef `json:"other"`
	Decision
}

// decisions lists the decisions about pairs including ref.
func (rd reader) decisions(ref match.RecordRef) ([]Decision, error) {
	if rd.ov != nil {
		if _, ok := rd.ov.decided[ref]; !ok && !rd.ix.mem.hasDecisions(ref) {
			return nil, nil
		}
	}
	v, err := rd.tx.Get(decisionKey(ref))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var list []storedDecision
	if err := json.Unmarshal(v, &list); err != nil {
		return nil, fmt.Errorf("decision list: %w", ErrCorrupt)
	}
	out := make([]Decision, len(list))
	for i, d := range list {
		out[i] = d.Decision
		out[i].A, out[i].B = ref, d.Other
	}
	return out, nil
}

// ---- writing ----

// writer changes the index inside one read-write transaction. It reads
// as a reader over its own uncommitted changes (ov).
type writer struct {
	reader
	ctr counters
	now time.Time
}

func (w *writer) newPerson() string {
	id := fmt.Sprintf("P%010d", w.ctr.person)
	w.ctr.person++
	return id
}

func (w *writer) emit(e Event) (uint64, error) {
	e.Seq = w.ctr.event
	w.ctr.event++
	e.Time = w.now
	if e.By == "" {
		e.By = ByModel
	}
	return e.Seq, w.tx.Set(eventKey(e.Seq), encodeJSON(e))
}

func (w *writer) putStored(ref match.RecordRef, sr *storedRecord, p *match.Prepared) error {
	v := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(sr.person)+8*len(sr.blocks)+len(sr.raw))
	v = append(v, storedRecordVersion)
	v = binary.AppendUvarint(v, sr.seq)
	v = appendLP(v, sr.person)
	v = binary.AppendUvarint(v, uint64(len(sr.blocks)))
	for _, h := range sr.blocks {
		v = binary.BigEndian.AppendUint64(v, h)
	}
	v = append(v, sr.raw...)
	w.ov.recs[uint32(sr.seq)] = recState{ref: ref, person: sr.person, hash: hashBytes(sr.raw), blocks: sr.blocks, p: p}
	w.ov.refs[ref] = uint32(sr.seq)
	return w.tx.Set(recordKey(ref), v)
}

// add stores r and assigns its person; see Index.Add.
// pre, when not nil, is r prepared (see prepareBatch).
func (w *writer) add(r *match.Record, pre *prep) (string, error) {
	ref := r.Ref()
	raw := appendRecord(nil, r)
	old, err := w.stored(ref)
	switch {
	case errors.Is(err, ErrNotFound):
		old = nil
	case err != nil:
		return "", err
	case bytes.Equal(old.raw, raw):
		return old.person, nil // same data: nothing changes
	}
	if pre == nil {
		pr := w.ix.prepare(r)
		pre = &pr
	}
	sr := &storedRecord{seq: w.ctr.seq, blocks: pre.blocks, raw: raw}
	if old != nil {
		sr.seq = old.seq
		w.detach(ref, uint32(old.seq), old.person, old.blocks)
	} else {
		w.ctr.seq++
	}
	posts := make([]blockEdit, 0, len(pre.blocks))
	cands, err := w.candidates(*pre, ref, &posts)
	if err != nil {
		return "", err
	}
	person, err := w.assign(ref, pre.p, cands)
	if err != nil {
		return "", err
	}
	sr.person = person
	if err := w.putStored(ref, sr, pre.p); err != nil {
		return "", err
	}
	// Assigning the person changed no postings: the postings read for the
	// candidates are current.
	for i, h := range sr.blocks {
		w.postingAddTo(h, uint32(sr.seq), posts[i].over, posts[i].recs)
	}
	w.memberAdd(person, ref)
	if old == nil {
		_, err = w.emit(Event{Kind: EventAdded, Record: ref, To: person})
		return person, err
	}
	if _, err := w.emit(Event{Kind: EventUpdated, Record: ref, From: old.person, To: person}); err != nil {
		return "", err
	}
	// The old person may have been held together by this record's old data.
	if err := w.recluster(old.person, Actor{}, 0, nil); err != nil {
		return "", err
	}
	if person != old.person {
		if err := w.recluster(person, Actor{}, 0, nil); err != nil {
			return "", err
		}
	}
	st, _ := w.state(uint32(sr.seq)) // as the reclustering left it
	return st.person, nil
}

// detach takes record number n (ref, of person, posted under blocks) out
// of the index's memory: its blocks, its person's records and its number.
// Its stored record stays.
func (w *writer) detach(ref match.RecordRef, n uint32, person string, blocks []uint64) {
	for _, h := range blocks {
		if over, recs := w.postings(h); !over && slices.Contains(recs, n) {
			w.ov.blocks[h] = &blockEdit{recs: slices.DeleteFunc(slices.Clone(recs), func(x uint32) bool { return x == n })}
		}
	}
	w.memberRemove(person, ref)
	w.ov.recs[n], w.ov.refs[ref] = recState{}, 0
}

// postingAddTo adds record n to block h, given the block's current
// postings; a block that grows past MaxBlockSize is marked oversized and no
// longer kept.
func (w *writer) postingAddTo(h uint64, n uint32, over bool, recs []uint32) {
	if over || slices.Contains(recs, n) {
		return
	}
	if len(recs) >= w.ix.opt.MaxBlockSize {
		w.ov.blocks[h] = &blockEdit{over: true}
		return
	}
	w.ov.blocks[h] = &blockEdit{recs: append(slices.Clip(recs), n)} // a new slice: readers may hold recs
}

// memberAdd adds refs to person, keeping the list ordered.
func (w *writer) memberAdd(person string, refs ...match.RecordRef) {
	ms := w.members(person)
	for _, ref := range refs {
		if i, found := slices.BinarySearchFunc(ms, ref, compareRefs); !found {
			ms = slices.Insert(ms, i, ref)
		}
	}
	w.ov.members[person] = slices.Clip(ms)
}

func (w *writer) memberRemove(person string, ref match.RecordRef) {
	ms := w.members(person)
	w.ov.members[person] = slices.DeleteFunc(ms, func(r match.RecordRef) bool { return r == ref })
}

func (w *writer) remove(ref match.RecordRef) error {
	old, err := w.stored(ref)
	if err != nil {
		return err
	}
	w.detach(ref, uint32(old.seq), old.person, old.blocks)
	if err := w.tx.Delete(recordKey(ref)); err != nil {
		return err
	}
	if _, err := w.emit(Event{Kind: EventRemoved, Record: ref, From: old.person}); err != nil {
		return err
	}
	return w.recluster(old.person, Actor{}, 0, nil)
}

// group is a set of records being assembled into one person, with what
// constrains it.
type group struct {
	members map[match.RecordRef]struct{}
	never   map[match.RecordRef]struct{} // records it may not be joined with
	nhs     map[uint64]struct{}
}

func newGroup() *group {
	return &group{members: map[match.RecordRef]struct{}{}, never: map[match.RecordRef]struct{}{}, nhs: map[uint64]struct{}{}}
}

// conflicts reports whether joining g and o breaks a never-link decision,
// or (unless a person linked them) joins two different NHS numbers.
func (g *group) conflicts(o *group, human bool) bool {
	for m := range o.members {
		if _, ok := g.never[m]; ok {
			return true
		}
	}
	for m := range g.members {
		if _, ok := o.never[m]; ok {
			return true
		}
	}
	if !human && len(g.nhs) > 0 && len(o.nhs) > 0 {
		for n := range o.nhs {
			if _, ok := g.nhs[n]; !ok {
				return true
			}
		}
	}
	return false
}

func (g *group) absorb(o *group) {
	maps.Copy(g.members, o.members)
	maps.Copy(g.never, o.never)
	maps.Copy(g.nhs, o.nhs)
}

// addMember adds ref with its evidence and decisions to g.
func (g *group) addMember(ref match.RecordRef, p *match.Prepared, decs []Decision) {
	g.members[ref] = struct{}{}
	if p.HasNHSNumber() {
		g.nhs[p.NHSNumber()] = struct{}{}
	}
	for _, d := range decs {
		if d.Kind == DecisionNeverLink {
			g.never[d.B] = struct{}{}
		}
	}
}

// personGroup loads the members of person into a group.
func (w *writer) personGroup(person string) (*group, error) {
	ms := w.members(person)
	g := newGroup()
	for _, m := range ms {
		p, _, err := w.member(m)
		if err != nil {
			return nil, err
		}
		decs, err := w.decisions(m)
		if err != nil {
			return nil, err
		}
		g.addMember(m, p, decs)
	}
	return g, nil
}

// link is a reason to put two groups in one person: a person's decision,
// or a certain match of weight w.
type link struct {
	i, j  int
	w     float64
	human bool
}

// join unites groups along links, human links first and then the
// strongest (links is sorted so, stably), skipping a link that would join
// records a person said are different or, unless a person linked them, two
// NHS numbers. It returns each group's root.
func join(groups []*group, links []link) []int {
	slices.SortStableFunc(links, func(a, b link) int {
		if a.human != b.human {
			if a.human {
				return -1
			}
			return 1
		}
		return cmp.Compare(b.w, a.w)
	})
	root := make([]int, len(groups))
	for i := range root {
		root[i] = i
	}
	find := func(i int) int {
		for root[i] != i {
			root[i] = root[root[i]]
			i = root[i]
		}
		return i
	}
	for _, l := range links {
		a, b := find(l.i), find(l.j)
		if a != b && !groups[a].conflicts(groups[b], l.human) {
			groups[a].absorb(groups[b])
			root[b] = a
		}
	}
	for i := range root {
		root[i] = find(i)
	}
	return root
}

// assign picks the person for ref (not yet stored as a member): the
// persons of records a person linked it to, and of certain candidates,
// joined as far as decisions and NHS numbers allow (see join); merging
// them into the oldest. With none, a new person.
func (w *writer) assign(ref match.RecordRef, p *match.Prepared, cands []Candidate) (string, error) {
	decs, err := w.decisions(ref)
	if err != nil {
		return "", err
	}
	type target struct {
		human  bool
		weight float64
		via    match.RecordRef
		by     string // who linked via, or ByModel
	}
	targets := map[string]*target{}
	never := map[match.RecordRef]bool{}
	for _, d := range decs {
		if d.Kind == DecisionNeverLink {
			never[d.B] = true
			continue
		}
		sr, err := w.stored(d.B)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		targets[sr.person] = &target{human: true, weight: math.Inf(1), via: d.B, by: d.By}
	}
	for _, c := range cands {
		if c.Grade != match.GradeCertain || never[c.Record] {
			continue
		}
		if t := targets[c.Person]; t == nil {
			targets[c.Person] = &target{weight: c.Weight, via: c.Record, by: ByModel}
		} else if !t.human && c.Weight > t.weight {
			t.weight, t.via = c.Weight, c.Record
		}
	}
	persons := slices.Sorted(maps.Keys(targets)) // ties go to the older id
	groups := []*group{newGroup()}
	groups[0].addMember(ref, p, decs)
	var links []link
	for k, p := range persons {
		g, err := w.personGroup(p)
		if err != nil {
			return "", err
		}
		groups = append(groups, g)
		links = append(links, link{0, k + 1, targets[p].weight, targets[p].human})
	}
	root := join(groups, links)
	k := slices.IndexFunc(root[1:], func(r int) bool { return r == root[0] })
	if k < 0 {
		return w.newPerson(), nil
	}
	survivor := persons[k]    // the oldest id joined with ref
	for _, l := range links { // in the order join took them
		p, t := persons[l.j-1], targets[persons[l.j-1]]
		if root[l.j] != root[0] || p == survivor {
			continue
		}
		if err := w.merge(p, survivor, [2]match.RecordRef{ref, t.via}, Actor{By: t.by}, 0); err != nil {
			return "", err
		}
	}
	return survivor, nil
}

// merge moves every record of from into into and leaves an alias.
func (w *writer) merge(from, into string, pair [2]match.RecordRef, actor Actor, cause uint64) error {
	ms := w.members(from)
	for _, m := range ms {
		if err := w.setPerson(m, into); err != nil {
			return err
		}
	}
	w.memberAdd(into, ms...)
	w.ov.members[from] = nil
	if err := w.tx.Set(aliasKey(from), []byte(into)); err != nil {
		return err
	}
	_, err := w.emit(Event{Kind: EventMerged, From: from, To: into, Records: ms, Pair: pair,
		By: actor.By, Reason: actor.Reason, Cause: cause})
	return err
}

// setPerson rewrites the person of a stored record (not the member lists).
func (w *writer) setPerson(ref match.RecordRef, to string) error {
	sr, err := w.stored(ref)
	if err != nil {
		return err
	}
	st, _ := w.state(uint32(sr.seq))
	sr.person = to
	return w.putStored(ref, sr, st.p)
}

// recluster re-examines the links inside person and splits it into the
// components that links (human links first, then automatic ones by
// weight) join without breaking a decision. The component holding the
// earliest-added record keeps the id, unless restore names an id (merged
// into this person earlier) for one of its records.
func (w *writer) recluster(person string, actor Actor, cause uint64, restore map[match.RecordRef]string) error {
	ms := w.members(person)
	if len(ms) < 2 || len(ms) > maxRecluster {
		return nil
	}
	n := len(ms)
	ents := make([]*match.Prepared, n)
	seqs := make([]uint32, n)
	groups := make([]*group, n)
	human := map[[2]int]bool{}
	for i, m := range ms {
		var err error
		if ents[i], seqs[i], err = w.member(m); err != nil {
			return err
		}
		decs, err := w.decisions(m)
		if err != nil {
			return err
		}
		groups[i] = newGroup()
		groups[i].addMember(m, ents[i], decs)
		for _, d := range decs {
			if j, ok := slices.BinarySearchFunc(ms, d.B, compareRefs); ok && d.Kind == DecisionLink {
				human[[2]int{min(i, j), max(i, j)}] = true
			}
		}
	}
	var links []link
	sc := w.ix.m.Scorer(ents...)
	for i := range n {
		for j := i + 1; j < n; j++ {
			if human[[2]int{i, j}] {
				links = append(links, link{i, j, math.Inf(1), true})
			} else if v, g := sc.Grade(ents[i], ents[j], w.ix.opt.Thresholds); g == match.GradeCertain {
				links = append(links, link{i, j, v.Weight, false})
			}
		}
	}
	root := join(groups, links)
	comps := map[int][]int{}
	for i, r := range root {
		comps[r] = append(comps[r], i)
	}
	if len(comps) == 1 {
		return nil
	}
	list := slices.Collect(maps.Values(comps))
	first := func(c []int) uint32 {
		s := uint32(math.MaxUint32)
		for _, i := range c {
			s = min(s, seqs[i])
		}
		return s
	}
	slices.SortFunc(list, func(a, b []int) int { return cmp.Compare(first(a), first(b)) })
	ids := make([]string, len(list))
	kept := false
	for k, c := range list {
		for _, i := range c {
			if old, ok := restore[ms[i]]; ok && old != person {
				if cur, err := w.resolve(old); err == nil && cur == person {
					ids[k] = old
					break
				}
			}
		}
		if ids[k] == "" && !kept {
			ids[k], kept = person, true
		}
	}
	for k, c := range list {
		switch {
		case ids[k] == person:
			continue
		case ids[k] == "":
			ids[k] = w.newPerson()
		default:
			if err := w.tx.Delete(aliasKey(ids[k])); err != nil {
				return err
			}
		}
		for _, i := range c {
			if err := w.setPerson(ms[i], ids[k]); err != nil {
				return err
			}
			w.memberRemove(person, ms[i])
			w.memberAdd(ids[k], ms[i])
			if _, err := w.emit(Event{Kind: EventMoved, Record: ms[i], From: person, To: ids[k],
				By: actor.By, Reason: actor.Reason, Cause: cause}); err != nil {
				return err
			}
		}
	}
	return nil
}

// decide records a decision about a and b and applies it.
func (w *writer) decide(a, b match.RecordRef, actor Actor, kind DecisionKind, cause uint64, restore map[match.RecordRef]string) error {
	sa, err := w.stored(a)
	if err != nil {
		return fmt.Errorf("%s: %w", a, err)
	}
	sb, err := w.stored(b)
	if err != nil {
		return fmt.Errorf("%s: %w", b, err)
	}
	ek := EventLinked
	if kind == DecisionNeverLink {
		ek = EventNeverLinked
	}
	if kind == DecisionLink && sa.person != sb.person {
		ga, err := w.personGroup(sa.person)
		if err != nil {
			return err
		}
		gb, err := w.personGroup(sb.person)
		if err != nil {
			return err
		}
		// The pair's own never-link, if any, is being replaced.
		delete(ga.never, b)
		delete(gb.never, a)
		if ga.conflicts(gb, true) {
			return ErrDecisionConflict
		}
	}
	seq, err := w.emit(Event{Kind: ek, Pair: [2]match.RecordRef{a, b}, By: actor.By, Reason: actor.Reason, Cause: cause})
	if err != nil {
		return err
	}
	d := Decision{Kind: kind, By: actor.By, Reason: actor.Reason, Time: w.now, Event: seq}
	if err := w.putDecision(a, b, d); err != nil {
		return err
	}
	if err := w.putDecision(b, a, d); err != nil {
		return err
	}
	switch {
	case kind == DecisionLink && sa.person != sb.person:
		from, into := max(sa.person, sb.person), min(sa.person, sb.person)
		return w.merge(from, into, [2]match.RecordRef{a, b}, actor, seq)
	case kind == DecisionNeverLink && sa.person == sb.person:
		return w.recluster(sa.person, actor, seq, restore)
	}
	return nil
}

func (w *writer) revert(seq uint64, actor Actor) error {
	v, err := w.tx.Get(eventKey(seq))
	if err != nil {
		return err
	}
	e, err := decodeEvent(v)
	if err != nil {
		return err
	}
	actor.Reason = fmt.Sprintf("revert event %d: %s", seq, actor.Reason)
	switch e.Kind {
	case EventMerged:
		restore := map[match.RecordRef]string{}
		for _, r := range e.Records {
			restore[r] = e.From
		}
		return w.decide(e.Pair[0], e.Pair[1], actor, DecisionNeverLink, seq, restore)
	case EventLinked:
		return w.decide(e.Pair[0], e.Pair[1], actor, DecisionNeverLink, seq, nil)
	case EventNeverLinked:
		return w.decide(e.Pair[0], e.Pair[1], actor, DecisionLink, seq, nil)
	case EventMoved:
		if e.Cause == 0 {
			return ErrNotReversible
		}
		return w.revert(e.Cause, actor)
	}
	return ErrNotReversible
}

// putDecision records d about (a, b) in a's list, replacing any earlier
// decision about the same pair.
func (w *writer) putDecision(a, b match.RecordRef, d Decision) error {
	decs, err := w.decisions(a)
	if err != nil {
		return err
	}
	list := make([]storedDecision, 0, len(decs)+1)
	for _, x := range decs {
		if x.B != b {
			list = append(list, storedDecision{Other: x.B, Decision: x})
		}
	}
	list = append(list, storedDecision{Other: b, Decision: d})
	w.ov.decided[a] = struct{}{}
	return w.tx.Set(decisionKey(a), encodeJSON(list))
}
