package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/carelens/carelens/internal/cliinput"
	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/mpi/badgerstore"
)

func init() {
	register(command{name: "index", summary: "the persistent identity index: load, query, link, unlink, show, export, check", run: runIndex})
}

// indexSynopsis gives each index subcommand's flags and arguments.
var indexSynopsis = map[string]string{
	"load":    "--db DIR [--model FILE | --builtin-scorer] [--id COLUMN] [--map FIELD=COLUMN[+COLUMN...]]... [--skip-bad] [--batch N] [--progress DURATION] [--no-sync] INPUT.csv...",
	"query":   "--db DIR --given G --family F --birth-date D [--date-order dmy|mdy|ymd] [--postcode P] [--nhs N] [--sex S] [--limit N] [--json]",
	"check":   "--db DIR",
	"recover": "--db DIR",
	"link":    "--db DIR --by WHO [--reason TEXT] SOURCE/ID SOURCE/ID",
	"unlink":  "--db DIR --by WHO [--reason TEXT] SOURCE/ID SOURCE/ID",
	"show":    "--db DIR SOURCE/ID | PERSON_ID",
	"export":  "--db DIR [--out FILE]",
	"events":  "--db DIR [--since SEQ]",
	"revert":  "--db DIR --by WHO [--reason TEXT] EVENT_SEQ",
}

// indexCommands are the subcommands of carelens index.
var indexCommands = map[string]subcommand{
	"load": indexLoad, "query": indexQuery, "link": indexLink, "unlink": indexUnlink,
	"show": indexShow, "export": indexExport, "events": indexEvents, "revert": indexRevert,
	"check": indexCheck, "recover": indexRecover,
}

func runIndex(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	return dispatch(ctx, "index", indexCommands, indexSynopsis, args, stdout, stderr)
}

// indexFlags are the flags every index subcommand has.
type indexFlags struct {
	db     *string
	noSync *bool
}

func newIndexFlagSet(name string, stderr io.Writer) (*flag.FlagSet, *indexFlags) {
	fs := newFlagSet("index "+name, stderr, indexSynopsis[name])
	f := &indexFlags{
		db:     fs.String("db", "", "index directory (created by load when missing; read commands never create one)"),
		noSync: fs.Bool("no-sync", false, "do not sync each write to disk (faster; a crash may lose acknowledged writes)"),
	}
	addStoreFlag(fs, f.db)
	return fs, f
}

// Read commands open the index read-only; the others for writing.
const (
	forReading = true
	forWriting = false
)

// openStore opens the store named by --db: for reading only, a Badger
// directory or a PostgreSQL schema is opened read-only (nothing in it is
// created, migrated or changed, and a missing one is an error naming it).
func (f *indexFlags) openStore(ctx context.Context, readOnly bool) (mpi.Store, error) {
	if *f.db == "" {
		return nil, fmt.Errorf("%w: --db is required", errUsage)
	}
	s, err := openIndexStore(ctx, *f.db, *f.noSync, readOnly)
	if errors.Is(err, badgerstore.ErrNeedsRecovery) {
		return nil, fmt.Errorf("%w (carelens index recover --db %s does that)", err, *f.db)
	}
	return s, err
}

// name names --db in messages: the directory, but not a postgres:// URL,
// which may hold a password.
func (f *indexFlags) name() string {
	if isPostgresURL(*f.db) {
		return "(the PostgreSQL store)"
	}
	return *f.db
}

// open opens the store and index in --db.
func (f *indexFlags) open(ctx context.Context, o *mpi.IndexOptions, readOnly bool) (*mpi.Index, func() error, error) {
	s, err := f.openStore(ctx, readOnly)
	if err != nil {
		return nil, nil, err
	}
	ix, err := f.openIndex(ctx, s, o)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return ix, closeOnce(s), nil
}

// openIndex opens the index held in s, naming --db in its error.
func (f *indexFlags) openIndex(ctx context.Context, s mpi.Store, o *mpi.IndexOptions) (*mpi.Index, error) {
	ix, err := mpi.OpenIndex(ctx, s, o)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", f.name(), err)
	}
	return ix, nil
}

// closeOnce closes s on its first call and does nothing after, so that a
// deferred close after an explicit one is harmless.
func closeOnce(s mpi.Store) func() error {
	var done bool
	return func() error {
		if done {
			return nil
		}
		done = true
		return s.Close()
	}
}

// afterTraining, when set (by tests), runs after index load has trained a
// model and before it loads: the directory lock is still held.
var afterTraining func()

// indexLoad adds the records of the input files, record by record.
func indexLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f := newIndexFlagSet("load", stderr)
	in := cliinput.Add(fs)
	modelPath := fs.String("model", "", "score with the model in FILE (default: the index's model; for a new index, one trained on the input)")
	builtin := fs.Bool("builtin-scorer", false, "for a new index, use the built-in fixed-weight scorer instead of training a model on the input")
	batch := fs.Int("batch", 0, fmt.Sprintf("records committed per transaction (default %d)", mpi.DefaultLoadBatch))
	seed := fs.Uint64("seed", 0, "random seed for training")
	every := fs.Duration("progress", 10*time.Second, "when stderr is not a terminal, report the records durably acknowledged this often (0: after every batch)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("%w: index load needs at least one input file", errUsage)
	}
	start := time.Now()
	recs, err := readInputs(in, stderr)
	if err != nil {
		return err
	}
	read := time.Since(start)
	prep, err := in.PrepareOptions()
	if err != nil {
		return err
	}
	// The index reads birth dates as the flags say (range and per-source
	// order), when it trains and when it scores: one preparation.
	opts := &mpi.IndexOptions{LoadBatch: *batch, Prepare: prep}
	if *modelPath != "" {
		if opts.Model, err = readModelFile(*modelPath); err != nil {
			return err
		}
	}
	// The store stays open, and its directory locked, from here to the end
	// of the load, training included: a second load meanwhile fails.
	s, err := f.openStore(ctx, forWriting)
	if err != nil {
		return err
	}
	closeStore := closeOnce(s)
	defer closeStore()
	ix, err := f.openIndex(ctx, s, opts)
	if err != nil {
		return err
	}
	var trained time.Duration
	empty, err := ix.Empty(ctx)
	if err != nil {
		return err
	}
	if empty && !ix.HasModel() && !*builtin {
		t0 := time.Now()
		m, err := match.Train(ctx, recs, nil, &match.TrainOptions{Seed: *seed, Prepare: prep})
		if err != nil {
			return err
		}
		trained = time.Since(t0)
		if afterTraining != nil {
			afterTraining()
		}
		opts.Model = m
		if ix, err = f.openIndex(ctx, s, opts); err != nil {
			return err
		}
	}
	t0 := time.Now()
	progress := loadProgress(stderr, len(recs), *every, t0)
	n, err := ix.Load(ctx, slicesSeq2(recs), progress)
	if isTerminal(stderr) {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return fmt.Errorf("%w (%d records were durably acknowledged before it)", err, n)
	}
	loadTime := time.Since(t0)
	st, err := ix.Stats(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "loaded %d records in %.1fs (%.0f records/s; read %.1fs, train %.1fs); index holds %d records, %d persons, %d events\n",
		n, loadTime.Seconds(), float64(n)/loadTime.Seconds(), read.Seconds(), trained.Seconds(), st.Records, st.Persons, st.Events)
	return closeStore()
}

// loadProgress returns the progress function of index load: a line
// rewritten in place on a terminal; otherwise a line at most every
// interval, so that a scripted load's log says how far it durably got
// (and where to resume).
func loadProgress(stderr io.Writer, total int, every time.Duration, start time.Time) func(int) {
	if isTerminal(stderr) {
		return func(n int) {
			el := time.Since(start).Seconds()
			fmt.Fprintf(stderr, "\rcarelens index load: %d/%d records durably acknowledged, %.0f/s", n, total, float64(n)/el)
		}
	}
	var last time.Time
	return func(n int) {
		now := time.Now()
		if n < total && now.Sub(last) < every {
			return
		}
		last = now
		fmt.Fprintf(stderr, "carelens index load: %d of %d records durably acknowledged (%.0fs)\n", n, total, now.Sub(start).Seconds())
	}
}

func slicesSeq2(recs []match.Record) iter.Seq2[match.Record, error] {
	return func(yield func(match.Record, error) bool) {
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// indexQuery prints the candidates for the demographics given.
func indexQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f := newIndexFlagSet("query", stderr)
	given := fs.String("given", "", "given name(s)")
	family := fs.String("family", "", "family name")
	dob := fs.String("birth-date", "", "date of birth")
	dateOrder := fs.String("date-order", "", "how --birth-date is written when ambiguous (01/02/2003): dmy, mdy or ymd (default: as the index reads unmarked dates, day first)")
	postcode := fs.String("postcode", "", "postcode")
	nhs := fs.String("nhs", "", "NHS number")
	sex := fs.String("sex", "", "sex")
	phone := fs.String("phone", "", "phone number")
	limit := fs.Int("limit", 10, "most candidates to list")
	asJSON := fs.Bool("json", false, "print JSON lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || (*family == "" && *nhs == "") {
		fs.Usage()
		return fmt.Errorf("%w: index query needs --family (or --nhs) and takes no arguments", errUsage)
	}
	birthDate, err := queryBirthDate(*dob, *dateOrder)
	if err != nil {
		return err
	}
	q := match.Record{Source: "query", ID: "query", Family: *family, BirthDate: birthDate, Postcode: *postcode,
		NHSNumber: *nhs, Sex: *sex, Phone: *phone}
	if *given != "" {
		q.Given = strings.Fields(*given)
	}
	ix, closeStore, err := f.open(ctx, nil, forReading)
	if err != nil {
		return err
	}
	defer closeStore()
	t0 := time.Now()
	cands, err := ix.Query(ctx, q, *limit)
	if err != nil {
		return err
	}
	took := time.Since(t0)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, c := range cands {
			if err := enc.Encode(map[string]any{"person": c.Person, "source": c.Record.Source, "record_id": c.Record.ID,
				"grade": c.Grade, "probability": c.Probability, "weight": c.Weight}); err != nil {
				return err
			}
		}
		return closeStore()
	}
	if len(cands) == 0 {
		fmt.Fprintln(stdout, "no candidates")
	}
	for i, c := range cands {
		fmt.Fprintf(stdout, "%2d  %-12s %-14s p=%.6f w=%7.2f  %s\n", i+1, c.Person, c.Grade, c.Probability, c.Weight, c.Record)
	}
	fmt.Fprintf(stderr, "carelens index query: %d candidates in %v\n", len(cands), took.Round(time.Microsecond))
	return closeStore()
}

// queryBirthDate reads the query's birth date in the order given and
// writes it as ISO, which the index reads the same whatever its sources'
// orders. The value typed is not repeated in errors.
func queryBirthDate(value, order string) (string, error) {
	o, err := match.ParseDateOrder(order)
	if err != nil {
		return "", fmt.Errorf("%w: --date-order: want dmy, mdy or ymd", errUsage)
	}
	if value == "" {
		return "", nil
	}
	d, st := match.ParseDateIn(value, o)
	switch st {
	case match.DateOK, match.DatePlaceholder:
		return d.ISO(), nil
	case match.DateOutOfRange:
		return "", fmt.Errorf("%w: --birth-date is outside 1880-2100", errUsage)
	}
	if o != match.DateOrderAuto {
		return "", fmt.Errorf("%w: --birth-date is not a date written %s", errUsage, o)
	}
	return "", fmt.Errorf("%w: --birth-date is not a date", errUsage)
}

// parseRef parses SOURCE/ID (the id may itself contain slashes).
func parseRef(s string) (match.RecordRef, error) {
	src, id, ok := strings.Cut(s, "/")
	if !ok || src == "" || id == "" {
		return match.RecordRef{}, fmt.Errorf("%w: record %q: want SOURCE/ID", errUsage, s)
	}
	return match.RecordRef{Source: src, ID: id}, nil
}

func indexDecide(ctx context.Context, name string, args []string, stdout, stderr io.Writer,
	do func(ix *mpi.Index, a, b match.RecordRef, actor mpi.Actor) error) error {
	fs, f := newIndexFlagSet(name, stderr)
	by := fs.String("by", "", "who decides (a user id)")
	reason := fs.String("reason", "", "why (kept with the decision; no patient details)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 || *by == "" {
		fs.Usage()
		return fmt.Errorf("%w: index %s needs --by and two records", errUsage, name)
	}
	a, err := parseRef(fs.Arg(0))
	if err != nil {
		return err
	}
	b, err := parseRef(fs.Arg(1))
	if err != nil {
		return err
	}
	ix, closeStore, err := f.open(ctx, nil, forWriting)
	if err != nil {
		return err
	}
	defer closeStore()
	if err := do(ix, a, b, mpi.Actor{By: *by, Reason: *reason}); err != nil {
		return err
	}
	pa, err := ix.PersonOf(ctx, a)
	if err != nil {
		return err
	}
	pb, err := ix.PersonOf(ctx, b)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s -> %s\n%s -> %s\n", a, pa, b, pb)
	return closeStore()
}

func indexLink(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return indexDecide(ctx, "link", args, stdout, stderr, func(ix *mpi.Index, a, b match.RecordRef, actor mpi.Actor) error {
		return ix.Link(ctx, a, b, actor)
	})
}

func indexUnlink(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return indexDecide(ctx, "unlink", args, stdout, stderr, func(ix *mpi.Index, a, b match.RecordRef, actor mpi.Actor) error {
		return ix.NeverLink(ctx, a, b, actor)
	})
}

// indexShow prints a person (given a record or a person id): the current
// id, its records and the decisions about them. It prints no demographics.
func indexShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f := newIndexFlagSet("show", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("%w: index show needs one record (SOURCE/ID) or person id", errUsage)
	}
	ix, closeStore, err := f.open(ctx, nil, forReading)
	if err != nil {
		return err
	}
	defer closeStore()
	id := fs.Arg(0)
	if strings.Contains(id, "/") {
		ref, err := parseRef(id)
		if err != nil {
			return err
		}
		if id, err = ix.PersonOf(ctx, ref); err != nil {
			return err
		}
	}
	p, err := ix.Person(ctx, id)
	if err != nil {
		return err
	}
	if p.ID != id {
		fmt.Fprintf(stdout, "%s was merged into %s\n", id, p.ID)
	}
	fmt.Fprintf(stdout, "person %s: %d records\n", p.ID, len(p.Records))
	for _, r := range p.Records {
		fmt.Fprintf(stdout, "  %s\n", r)
		decs, err := ix.Decisions(ctx, r)
		if err != nil {
			return err
		}
		for _, d := range decs {
			fmt.Fprintf(stdout, "    %s %s by %s at %s", d.Kind, d.B, d.By, d.Time.Format(time.RFC3339))
			if d.Reason != "" {
				fmt.Fprintf(stdout, ": %s", d.Reason)
			}
			fmt.Fprintln(stdout)
		}
	}
	return closeStore()
}

// indexExport writes source,record_id,cluster_id for every record, as
// carelens link does, the cluster id being the enterprise person id.
func indexExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f := newIndexFlagSet("export", stderr)
	out := fs.String("out", "", "write to FILE (default stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: index export takes no arguments", errUsage)
	}
	ix, closeStore, err := f.open(ctx, nil, forReading)
	if err != nil {
		return err
	}
	defer closeStore()
	write := func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write([]string{"source", "record_id", "cluster_id"})
		for a, err := range ix.Assignments(ctx) {
			if err != nil {
				return err
			}
			cw.Write([]string{a.Record.Source, a.Record.ID, a.Person})
		}
		cw.Flush()
		return cw.Error()
	}
	if err := writeOutput(*out, stdout, write); err != nil {
		return err
	}
	return closeStore()
}

// indexEvents prints the change log as JSON lines.
func indexEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f := newIndexFlagSet("events", stderr)
	since := fs.Uint64("since", 0, "print events after this sequence number")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ix, closeStore, err := f.open(ctx, nil, forReading)
	if err != nil {
		return err
	}
	defer closeStore()
	bw := bufio.NewWriter(stdout)
	enc := json.NewEncoder(bw)
	for e, err := range ix.Events(ctx, *since) {
		if err != nil {
			return err
		}
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return closeStore()
}

// indexRevert reverts a merge, a split or a decision by its event number.
func indexRevert(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f := newIndexFlagSet("revert", stderr)
	by := fs.String("by", "", "who decides (a user id)")
	reason := fs.String("reason", "", "why")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *by == "" {
		fs.Usage()
		return fmt.Errorf("%w: index revert needs --by and an event number", errUsage)
	}
	seq, err := strconv.ParseUint(fs.Arg(0), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: event number %q", errUsage, fs.Arg(0))
	}
	ix, closeStore, err := f.open(ctx, nil, forWriting)
	if err != nil {
		return err
	}
	defer closeStore()
	if err := ix.Revert(ctx, seq, mpi.Actor{By: *by, Reason: *reason}); err != nil {
		if errors.Is(err, mpi.ErrNotReversible) {
			return fmt.Errorf("%w (only merges, splits and decisions can be reverted)", err)
		}
		return err
	}
	fmt.Fprintf(stdout, "reverted event %d\n", seq)
	return closeStore()
}

// indexCheck reports damage to the index's files without changing
// anything: the store's MANIFEST and tables (checksums included), every
// key, and then the index's own records, persons and events.
func indexCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f := newIndexFlagSet("check", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *f.db == "" {
		fs.Usage()
		return fmt.Errorf("%w: index check needs --db and takes no arguments", errUsage)
	}
	if isPostgresURL(*f.db) {
		return fmt.Errorf("%w: index check reads a Badger directory; PostgreSQL checks its own pages", errUsage)
	}
	rep, err := badgerstore.Check(*f.db)
	if err != nil {
		return err
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(stdout, "damaged: %s\n", p)
	}
	if len(rep.Problems) > 0 {
		return fmt.Errorf("index check %s: %w: %d problems; nothing was changed", *f.db, mpi.ErrCorrupt, len(rep.Problems))
	}
	ix, closeStore, err := f.open(ctx, nil, forReading)
	if err != nil {
		return err
	}
	defer closeStore()
	st, err := ix.Stats(ctx)
	if err != nil {
		return fmt.Errorf("index check %s: %w", *f.db, err)
	}
	fmt.Fprintf(stdout, "%s: no damage found: %d tables, %d keys; %d records, %d persons, %d events\n",
		*f.db, rep.Tables, rep.Keys, st.Records, st.Persons, st.Events)
	return closeStore()
}

// indexRecover opens an index its last writer did not close (a crash) for
// writing once, which replays its write-ahead log, so that read commands
// can open it again.
func indexRecover(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f := newIndexFlagSet("recover", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *f.db == "" {
		fs.Usage()
		return fmt.Errorf("%w: index recover needs --db and takes no arguments", errUsage)
	}
	if isPostgresURL(*f.db) {
		return fmt.Errorf("%w: index recover is for a Badger directory", errUsage)
	}
	if _, err := os.Stat(filepath.Join(*f.db, "MANIFEST")); err != nil {
		return fmt.Errorf("index recover %s: %w", *f.db, badgerstore.ErrNoStore)
	}
	_, closeStore, err := f.open(ctx, nil, forWriting)
	if err != nil {
		return err
	}
	if err := closeStore(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: log replayed; the index can be read again\n", *f.db)
	return nil
}
