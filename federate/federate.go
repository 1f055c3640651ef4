package federate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/carelens/carelens/nhsnumber"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/provenance"
	"github.com/carelens/carelens/source"
)

// Errors returned by this package.
var (
	// ErrConfig is returned by [New] for members or options that cannot work.
	ErrConfig = errors.New("federate: invalid configuration")
	// ErrAnchor is returned when an anchor has neither a valid NHS number
	// nor a source record.
	ErrAnchor = errors.New("federate: anchor needs a valid NHS number or a source record")
	// ErrUnknownSource is returned for a record of a source the federation
	// does not have.
	ErrUnknownSource = errors.New("federate: unknown source")
)

// Member is one source of a federation with its configuration (timeout,
// staleness limit).
type Member struct {
	Source source.Source
	Config source.Config
}

// Options configure a [Federation]. The zero value works.
type Options struct {
	// Model scores candidate records against the anchor; nil means
	// match.DefaultModel(nil).
	Model *match.Model
	// Merge configures the timeline merge (rules, source priority); nil
	// means the zero merge.Options.
	Merge *merge.Options
	// Decisions, when set, are people's link and never-link decisions;
	// they outrank the model.
	Decisions Decisions
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Decisions are people's judgements about pairs of source records, as
// the identity index keeps them.
type Decisions interface {
	// Decided returns the latest decision about the pair, if any.
	Decided(ctx context.Context, a, b match.RecordRef) (mpi.DecisionKind, bool, error)
}

// Linker is an optional capability of [Decisions]: the records a person
// linked to ref. Resolve adds them to what the sources' searches find, so a
// confirmed record stays with the patient even when a later search would
// not find it.
type Linker interface {
	Linked(ctx context.Context, ref match.RecordRef) ([]match.Record, error)
}

// Federation asks a fixed set of sources for one patient at a time. It is
// safe for concurrent use.
type Federation struct {
	members []Member
	byID    map[string]int
	model   *match.Model
	merge   *merge.Options
	engine  *merge.Engine
	dec     Decisions
	now     func() time.Time
}

// New returns a federation over members. Source ids must be unique and
// each source's Info must agree with its Config id.
func New(members []Member, o *Options) (*Federation, error) {
	if o == nil {
		o = &Options{}
	}
	f := &Federation{members: slices.Clone(members), byID: make(map[string]int, len(members)),
		model: o.Model, merge: o.Merge, dec: o.Decisions, now: o.Now}
	if f.model == nil {
		f.model = match.DefaultModel(nil)
	}
	if err := f.model.Validate(); err != nil {
		return nil, fmt.Errorf("%w: model: %w", ErrConfig, err)
	}
	if f.merge == nil {
		f.merge = &merge.Options{}
	}
	eng, err := merge.Compile(f.merge)
	if err != nil {
		return nil, fmt.Errorf("%w: merge: %w", ErrConfig, err)
	}
	f.engine = eng
	if f.now == nil {
		f.now = time.Now
	}
	for i, m := range f.members {
		if m.Source == nil {
			return nil, fmt.Errorf("%w: member %d has no source", ErrConfig, i)
		}
		id := m.Source.Info().ID
		if id == "" || (m.Config.ID != "" && m.Config.ID != id) {
			return nil, fmt.Errorf("%w: member %d: source id %q and config id %q differ", ErrConfig, i, id, m.Config.ID)
		}
		if _, dup := f.byID[id]; dup {
			return nil, fmt.Errorf("%w: source %q listed twice", ErrConfig, id)
		}
		f.byID[id] = i
	}
	return f, nil
}

// Sources returns the federation's sources in configuration order.
func (f *Federation) Sources() []provenance.Source {
	out := make([]provenance.Source, len(f.members))
	for i, m := range f.members {
		out[i] = m.Source.Info()
	}
	return out
}

// Source returns the source with the given id.
func (f *Federation) Source(id string) (provenance.Source, bool) {
	i, ok := f.byID[id]
	if !ok {
		return provenance.Source{}, false
	}
	return f.members[i].Source.Info(), true
}

// Engine returns the compiled merge engine the federation merges with.
func (f *Federation) Engine() *merge.Engine { return f.engine }

// State is how a source answered.
type State string

// The states of a source in one request.
const (
	// StateOK: the source answered.
	StateOK State = "ok"
	// StateNoRecord: the source answered and holds no record of the patient.
	StateNoRecord State = "no-record"
	// StateTimeout: the source did not answer within its timeout.
	StateTimeout State = "timeout"
	// StateFailed: the source answered with an error or could not be reached.
	StateFailed State = "failed"
	// StateSkipped: the caller chose not to ask the source (unticked, or
	// the patient does not share there).
	StateSkipped State = "skipped"
)

// SourceStatus is how one source answered one request.
type SourceStatus struct {
	Source provenance.Source
	State  State
	// Err is the failure for StateTimeout and StateFailed. It names the
	// source and operation, never patient values.
	Err error
	// Elapsed is how long the source took (or was waited for).
	Elapsed time.Duration
	// Timeout is the source's configured timeout.
	Timeout time.Duration
	// Records is how many of the source's patient records were used.
	Records int
	// Entries is how many clinical entries the source returned.
	Entries int
	// Unreadable is how many of the source's resources could not be read
	// (invalid, nested too deep, repeated keys) and so are not shown; a
	// viewer announces them rather than hiding them.
	Unreadable int
	// LastUpdated is the newest time the source says it recorded any of
	// the returned data (meta.lastUpdated); zero when unknown.
	LastUpdated time.Time
	// MaxAge is the configured staleness limit (zero: none) and Stale
	// reports whether LastUpdated is older than it.
	MaxAge time.Duration
	Stale  bool
}

// Available reports whether the source answered.
func (s SourceStatus) Available() bool { return s.State == StateOK || s.State == StateNoRecord }

// Message is a sentence for a banner when the source's data is missing,
// or "" when the source answered. It names the source, never the patient.
func (s SourceStatus) Message() string {
	name := displayName(s.Source)
	switch s.State {
	case StateTimeout:
		return fmt.Sprintf("%s did not answer within %s; its data is not shown.", name, roundDuration(s.Timeout))
	case StateFailed:
		return fmt.Sprintf("%s could not be reached; its data is not shown.", name)
	}
	return ""
}

func displayName(s provenance.Source) string {
	if s.Name != "" {
		return s.Name
	}
	return s.ID
}

func roundDuration(d time.Duration) string {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// Anchor is where a resolution starts: a valid NHS number the user gave,
// or a source record the user chose (with its demographics).
type Anchor struct {
	// NHSNumber is a valid NHS number, or "".
	NHSNumber string
	// Record is a source record chosen by a person; its Source and ID
	// must be set when NHSNumber is empty.
	Record *match.Record
}

// Key is a stable key of the anchor for caches: "nhs:<number>" or
// "rec:<source>/<id>".
func (a Anchor) Key() string {
	if a.NHSNumber != "" {
		return "nhs:" + nhsnumber.Normalise(a.NHSNumber)
	}
	if a.Record != nil {
		return "rec:" + a.Record.Ref().String()
	}
	return ""
}

// Candidate is one source record found for a patient, graded against the
// resolution's anchor record.
type Candidate struct {
	Source provenance.Source
	Record match.Record
	// Grade is the explanation's grade, or a person's decision's.
	Grade match.Grade
	// Explanation says why, comparison by comparison (against Against).
	Explanation match.Explanation
	// Against is the record the candidate was compared with; zero for the
	// anchor itself.
	Against match.RecordRef
	// Decided is set when a person's decision, not the model, placed the
	// candidate: mpi.DecisionLink or mpi.DecisionNeverLink.
	Decided mpi.DecisionKind
}

// Ref returns the candidate's record reference.
func (c Candidate) Ref() match.RecordRef { return c.Record.Ref() }

// Resolution is who the patient is at each source.
type Resolution struct {
	Anchor Anchor
	// Primary is the record the others were compared with: the chosen
	// record, or the identifier match that agrees best with the others.
	Primary *Candidate
	// Used are the records used for the view: the primary, certain
	// matches and records a person confirmed; in source order.
	Used []Candidate
	// Pending are probable and possible matches for a person to confirm
	// or reject; never used until confirmed.
	Pending []Candidate
	// Refused are records holding the patient's NHS number whose details
	// are another person's (graded certainly-not, or a person said they
	// are a different patient), in source order. They are never used, but
	// a viewer should say they exist: a number on the wrong person's
	// record is a safety issue at that source, not something to hide.
	Refused []Candidate
	// Sources are the searches' statuses, in federation order.
	Sources []SourceStatus
	// Resolved is when the sources were asked.
	Resolved time.Time
}

// Refs returns the references of the used records.
func (r *Resolution) Refs() []match.RecordRef {
	out := make([]match.RecordRef, len(r.Used))
	for i, c := range r.Used {
		out[i] = c.Ref()
	}
	return out
}

// NHSNumber returns the patient's NHS number: the anchor's, else the
// primary record's when valid, else "".
func (r *Resolution) NHSNumber() string {
	if r.Anchor.NHSNumber != "" {
		return nhsnumber.Normalise(r.Anchor.NHSNumber)
	}
	if r.Primary != nil && nhsnumber.Valid(r.Primary.Record.NHSNumber) {
		return nhsnumber.Normalise(r.Primary.Record.NHSNumber)
	}
	return ""
}

// Search asks every source (those for which ask returns true; nil asks
// all) for q in parallel and returns the records found with each
// source's status. It grades nothing: it is the first step of a search
// page, where a person picks the record to anchor on.
func (f *Federation) Search(ctx context.Context, q source.Query, ask func(provenance.Source) bool) ([]match.Record, []SourceStatus) {
	type res struct {
		recs []match.Record
		st   SourceStatus
	}
	results := make([]res, len(f.members))
	var wg sync.WaitGroup
	for i, m := range f.members {
		info := m.Source.Info()
		results[i].st = SourceStatus{Source: info, Timeout: m.Config.EffectiveTimeout(), MaxAge: time.Duration(m.Config.MaxAge)}
		if ask != nil && !ask(info) {
			results[i].st.State = StateSkipped
			continue
		}
		wg.Go(func() {
			recs, st := f.search(ctx, m, q)
			results[i].recs = recs
			results[i].st = st
		})
	}
	wg.Wait()
	var recs []match.Record
	sts := make([]SourceStatus, len(results))
	for i, r := range results {
		recs = append(recs, r.recs...)
		sts[i] = r.st
	}
	return dedupe(recs), sts
}

// search asks one member for q within its timeout.
func (f *Federation) search(ctx context.Context, m Member, q source.Query) ([]match.Record, SourceStatus) {
	st := SourceStatus{Source: m.Source.Info(), Timeout: m.Config.EffectiveTimeout(), MaxAge: time.Duration(m.Config.MaxAge)}
	ctx, cancel := context.WithTimeout(ctx, st.Timeout)
	defer cancel()
	start := time.Now()
	recs, err := m.Source.Search(ctx, q)
	st.Elapsed = time.Since(start)
	if err != nil {
		st.State, st.Err = failure(ctx, err)
		return nil, st
	}
	id := st.Source.ID
	out := recs[:0:0]
	for _, r := range recs {
		r.Source = id // a source speaks only for itself
		if r.ID != "" {
			out = append(out, r)
		}
	}
	st.State = StateOK
	if len(out) == 0 {
		st.State = StateNoRecord
	}
	return out, st
}

// failure classifies a source error.
func failure(ctx context.Context, err error) (State, error) {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return StateTimeout, err
	}
	return StateFailed, err
}

func dedupe(recs []match.Record) []match.Record {
	slices.SortStableFunc(recs, func(a, b match.Record) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.ID, b.ID))
	})
	return slices.CompactFunc(recs, func(a, b match.Record) bool { return a.Source == b.Source && a.ID == b.ID })
}

// Resolve finds the anchor's records at every source that ask allows
// (nil allows all) and grades them. With a valid NHS number every source
// is asked by identifier and, with the demographics of what that finds,
// by family name and birth date; with a chosen record, by its NHS number
// (when valid) and its family name and birth date at once.
func (f *Federation) Resolve(ctx context.Context, a Anchor, ask func(provenance.Source) bool) (*Resolution, error) {
	res := &Resolution{Anchor: a, Resolved: f.now()}
	switch {
	case a.NHSNumber != "":
		if !nhsnumber.Valid(a.NHSNumber) {
			return nil, ErrAnchor
		}
	case a.Record != nil && a.Record.Source != "" && a.Record.ID != "":
		if _, ok := f.byID[a.Record.Source]; !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownSource, a.Record.Source)
		}
	default:
		return nil, ErrAnchor
	}

	var recs []match.Record
	var sts []SourceStatus
	if a.NHSNumber != "" {
		recs, sts = f.Search(ctx, source.Query{NHSNumber: nhsnumber.Normalise(a.NHSNumber)}, ask)
		// Records holding exactly this NHS number anchor the search; a
		// source answering with another is ignored for this step.
		recs = slices.DeleteFunc(recs, func(r match.Record) bool {
			return nhsnumber.Normalise(r.NHSNumber) != nhsnumber.Normalise(a.NHSNumber)
		})
		if len(recs) == 0 {
			res.Sources = sts
			return res, nil
		}
		primary := f.pickPrimary(recs)
		more, sts2 := f.Search(ctx, demographicQuery(&primary), ask)
		recs = dedupe(append(recs, more...))
		sts = joinStatus(sts, sts2)
		res.Primary = &Candidate{Source: f.info(primary.Source), Record: primary, Grade: match.GradeCertain}
	} else {
		primary := *a.Record
		q := demographicQuery(&primary)
		recs, sts = f.Search(ctx, q, ask)
		if nhsnumber.Valid(primary.NHSNumber) {
			more, sts2 := f.Search(ctx, source.Query{NHSNumber: nhsnumber.Normalise(primary.NHSNumber)}, ask)
			recs = dedupe(append(recs, more...))
			sts = joinStatus(sts, sts2)
		}
		// The chosen record as the source holds it now, when it answered.
		if i := slices.IndexFunc(recs, func(r match.Record) bool { return r.Ref() == primary.Ref() }); i >= 0 {
			primary = recs[i]
		}
		res.Primary = &Candidate{Source: f.info(primary.Source), Record: primary, Grade: match.GradeCertain}
	}
	res.Sources = sts
	if l, ok := f.dec.(Linker); ok {
		linked, err := l.Linked(ctx, res.Primary.Ref())
		if err != nil {
			return nil, fmt.Errorf("federate: linked records of %s: %w", res.Primary.Ref(), err)
		}
		for _, r := range linked {
			src, known := f.Source(r.Source)
			if known && (ask == nil || ask(src)) {
				recs = append(recs, r)
			}
		}
		recs = dedupe(recs)
	}
	if err := f.grade(ctx, res, recs); err != nil {
		return nil, err
	}
	return res, nil
}

func (f *Federation) info(id string) provenance.Source {
	if s, ok := f.Source(id); ok {
		return s
	}
	return provenance.Source{ID: id}
}

// demographicQuery is the family-name and birth-date search for r.
func demographicQuery(r *match.Record) source.Query {
	q := source.Query{Family: r.Family}
	if d, st := match.ParseDate(r.BirthDate); st == match.DateOK && d.Day != 0 {
		q.BirthDate = fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
	}
	if q.Family == "" || q.BirthDate == "" {
		return source.Query{}
	}
	return q
}

// joinStatus combines two searches' statuses of the same sources: the
// worse state wins, times add up.
func joinStatus(a, b []SourceStatus) []SourceStatus {
	out := slices.Clone(a)
	for i := range out {
		if i >= len(b) {
			break
		}
		x, y := out[i], b[i]
		x.Elapsed += y.Elapsed
		switch {
		case x.State == StateSkipped || y.State == StateSkipped:
			x.State = StateSkipped
		case !x.Available():
		case !y.Available():
			x.State, x.Err = y.State, y.Err
		case x.State == StateOK || y.State == StateOK:
			x.State = StateOK
		}
		out[i] = x
	}
	return out
}

// pickPrimary returns, of records sharing one NHS number, the one that
// agrees best with the others (the highest total match weight), ties to
// source order then id: a source that mistyped the number onto another
// person is then compared against, not anchored on.
func (f *Federation) pickPrimary(recs []match.Record) match.Record {
	if len(recs) == 1 {
		return recs[0]
	}
	m, err := match.NewMatcher(f.model, nil)
	if err != nil {
		return recs[0]
	}
	prep := m.PrepareAll(recs)
	s := m.Scorer(prep...)
	best, bestW := 0, 0.0
	for i := range prep {
		var w float64
		for j := range prep {
			if i != j {
				w += s.Score(prep[i], prep[j])
			}
		}
		if i == 0 || w > bestW || (w == bestW && f.order(recs[i].Source) < f.order(recs[best].Source)) {
			best, bestW = i, w
		}
	}
	return recs[best]
}

func (f *Federation) order(id string) int {
	if i, ok := f.byID[id]; ok {
		return i
	}
	return len(f.members)
}

// grade scores every record against the primary and sorts them into
// used and pending.
func (f *Federation) grade(ctx context.Context, res *Resolution, recs []match.Record) error {
	primary := res.Primary.Record
	all := append([]match.Record{primary}, recs...)
	m, err := match.NewMatcher(f.model, nil)
	if err != nil {
		return fmt.Errorf("federate: scorer: %w", err)
	}
	prep := m.PrepareAll(all)
	res.Used = append(res.Used, *res.Primary)
	for i := 1; i < len(all); i++ {
		r := all[i]
		if r.Ref() == primary.Ref() {
			continue
		}
		e := m.Explain(prep[0], prep[i])
		c := Candidate{Source: f.info(r.Source), Record: r, Explanation: e, Against: primary.Ref(), Grade: e.Grade}
		if f.dec != nil {
			kind, ok, err := f.dec.Decided(ctx, primary.Ref(), r.Ref())
			if err != nil {
				return fmt.Errorf("federate: decisions for %s: %w", r.Ref(), err)
			}
			if ok {
				c.Decided = kind
				switch kind {
				case mpi.DecisionLink:
					c.Grade = match.GradeCertain
				case mpi.DecisionNeverLink:
					c.Grade = match.GradeCertainlyNot
				}
			}
		}
		switch c.Grade {
		case match.GradeCertain:
			res.Used = append(res.Used, c)
		case match.GradeProbable, match.GradePossible:
			res.Pending = append(res.Pending, c)
		case match.GradeCertainlyNot:
			if nhs := res.NHSNumber(); nhs != "" && nhsnumber.Normalise(r.NHSNumber) == nhs {
				res.Refused = append(res.Refused, c)
			}
		}
	}
	bySource := func(a, b Candidate) int {
		return cmp.Or(cmp.Compare(f.order(a.Record.Source), f.order(b.Record.Source)), strings.Compare(a.Record.ID, b.Record.ID))
	}
	slices.SortStableFunc(res.Used, bySource)
	slices.SortStableFunc(res.Refused, bySource)
	slices.SortStableFunc(res.Pending, func(a, b Candidate) int {
		return cmp.Or(cmp.Compare(b.Explanation.Weight, a.Explanation.Weight), bySource(a, b))
	})
	return nil
}
