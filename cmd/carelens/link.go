package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/internal/cliinput"
	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/match/matchio"
	"github.com/carelens/carelens/match/report"
)

func init() {
	register(command{name: "link", summary: "link record files into clusters of the same person", run: runLink})
}

const linkSynopsis = "[--out FILE] [--source NAME=FILE]... [--id [SOURCE:]COLUMN]... [--map [SOURCE:]FIELD=COLUMN[+COLUMN...]]... [--delimiter D] [--encoding E] [--date-order [SOURCE=]dmy|mdy|ymd]... [--model FILE] [--save-model FILE] [--threshold P] [--pairs FILE] [--skip-bad] [--explain ID1,ID2]... [--report -|FILE.html] [--no-twin-guard] [--link-unique-name-dob] [--birth-dates FROM..TO] INPUT..."

// reportData writes, one line each, what preparing the records set aside
// and how each source's ambiguous dates were read: never silently.
func reportData(w io.Writer, r match.DataReport) {
	for _, l := range r.Lines() {
		fmt.Fprintf(w, "carelens: data: %s\n", matchio.Printable(l))
	}
}

// readInputs reads every input file, the positional paths given and the
// --source ones. Each file is one source. For each CSV file it writes on
// stderr how it was read: delimiter, encoding, and each column with the
// field it maps to or "ignored", then any warning (an ignored column whose
// name suggests a field, a Latin-1 fallback, skipped rows).
func readInputs(f *cliinput.Flags, stderr io.Writer) ([]match.Record, error) {
	ins, err := f.Inputs()
	if err != nil {
		return nil, err
	}
	opts, err := f.ReadOptions(ins)
	if err != nil {
		return nil, err
	}
	// Files are read concurrently (each file is one source); records keep
	// the order of the inputs, and so do the lines written about them.
	parts := make([][]match.Record, len(ins))
	errs := make([]error, len(ins))
	notes := make([]bytes.Buffer, len(ins))
	var wg sync.WaitGroup
	for k, in := range ins {
		wg.Go(func() {
			w := &notes[k]
			if isFHIRFile(in.Path) {
				parts[k], errs[k] = readFHIRPatients(in.Path, in.Source, w)
				if errs[k] == nil && len(parts[k]) == 0 {
					errs[k] = fmt.Errorf("%s: no Patient resources", matchio.Printable(in.Path))
				}
				return
			}
			o := opts[in.Source]
			o.OnBad = func(e *matchio.RowError) { fmt.Fprintf(w, "carelens: skipped: %v\n", e) }
			var rep *matchio.Report
			parts[k], rep, errs[k] = matchio.ReadFileReport(in.Path, o)
			if rep != nil {
				for _, l := range rep.Lines() {
					fmt.Fprintf(w, "carelens: %s\n", l)
				}
				for _, l := range rep.Warnings() {
					fmt.Fprintf(w, "carelens: warning: %s\n", l)
				}
				// Such a column is always among the warnings above.
				if slices.ContainsFunc(rep.Columns, func(c matchio.Column) bool { return c.Suggests != "" && c.Field == matchio.FieldIgnore }) {
					fmt.Fprintf(w, "carelens: map such a column with --map %s:FIELD=COLUMN, or silence this with --map %s:ignore=COLUMN\n",
						matchio.Printable(in.Source), matchio.Printable(in.Source))
				}
			}
			if errors.Is(errs[k], matchio.ErrTruthLike) {
				errs[k] = fmt.Errorf("%w; score clusters against it with carelens eval --truth", errs[k])
			}
		})
	}
	wg.Wait()
	for k := range notes {
		stderr.Write(notes[k].Bytes())
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	recs := make([]match.Record, 0, n)
	for _, p := range parts {
		recs = append(recs, p...)
	}
	return recs, nil
}

// isFHIRFile reports whether path names a FHIR JSON or NDJSON file rather
// than CSV.
func isFHIRFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json", ".ndjson", ".jsonl":
		return true
	}
	return false
}

// readFHIRPatients reads the Patients of a FHIR file (one resource, a
// Bundle of any type, or NDJSON) as one source. Problems fhirutil repaired
// or skipped are written to w; they name resources and JSON paths, never
// patient data.
func readFHIRPatients(path, source string, w io.Writer) ([]match.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, issues, err := fhirutil.ReadPatients(f, source)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", matchio.Printable(path), err)
	}
	for _, is := range issues {
		fmt.Fprintf(w, "carelens: %s: %v\n", matchio.Printable(path), is)
	}
	fmt.Fprintf(w, "carelens: %s: source %s: %d FHIR Patients\n", matchio.Printable(path), matchio.Printable(source), len(recs))
	return recs, nil
}

// isTerminal reports whether w is a terminal, for the progress display.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// runLink links the input files and writes source,record_id,cluster_id for
// every record. Each input is one source named after the file: CSV, or FHIR
// R4 Patients as JSON (a resource or Bundle) or NDJSON, told by extension.
func runLink(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("link", stderr, linkSynopsis)
	in := cliinput.Add(fs)
	out := fs.String("out", "", "write clusters to FILE (default stdout)")
	modelPath := fs.String("model", "", "use the model in FILE instead of training on the input")
	saveModel := fs.String("save-model", "", "write the model used to FILE")
	threshold := fs.Float64("threshold", 0, "match probability at or above which pairs link (default: the model's, 0.5)")
	pairsPath := fs.String("pairs", "", "write linked pairs with weight and probability to FILE")
	var explain multiFlag
	fs.Var(&explain, "explain", "explain the score of two records, ID1,ID2 (record id or source/record_id); repeatable")
	seed := fs.Uint64("seed", 0, "random seed for training")
	reportFlag := fs.String("report", "", "the training report (levels, m, u, weights, how estimated, warnings): - prints it on stderr\n"+
		"(what the boolean --report did before); FILE.html writes it as one self-contained page with\n"+
		"SVG charts: weights per level, the scored pairs' weights with the threshold, a waterfall per --explain pair")
	noTwin := fs.Bool("no-twin-guard", false, "train with the twins guard off: a shared birth date with different given names may link (reported)")
	uniqueNameDOB := fs.Bool("link-unique-name-dob", false, "for files with only names and birth dates: link a pair on an exact name and birth date\n"+
		"that no source holds twice and that is rare for the file's size (reported; merges namesakes two sources each hold once)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ins, err := in.Inputs()
	if err != nil {
		return err
	}
	if len(ins) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: link needs at least one input file", errUsage)
	}
	inPaths := make([]string, len(ins))
	for i, x := range ins {
		inPaths[i] = x.Path
	}
	if *threshold < 0 || *threshold >= 1 {
		return fmt.Errorf("%w: --threshold must be in (0, 1)", errUsage)
	}
	var ex [][2]string
	for _, spec := range explain {
		a, b, ok := strings.Cut(spec, ",")
		if !ok || a == "" || b == "" {
			return fmt.Errorf("%w: --explain wants ID1,ID2", errUsage)
		}
		ex = append(ex, [2]string{strings.TrimSpace(a), strings.TrimSpace(b)})
	}
	htmlReport, err := reportPath(*reportFlag, inPaths)
	if err != nil {
		return err
	}
	textReport := *reportFlag == "-"
	start := time.Now()
	po, err := in.PrepareOptions()
	if err != nil {
		return err
	}
	for _, o := range []string{*out, *pairsPath, *saveModel} {
		if o != "" && slices.ContainsFunc(inPaths, func(p string) bool { return filepath.Clean(p) == filepath.Clean(o) }) {
			return fmt.Errorf("%w: output %s is an input file", errUsage, matchio.Printable(o))
		}
	}
	recs, err := readInputs(in, stderr)
	if err != nil {
		return err
	}
	opts := &match.LinkOptions{Threshold: *threshold, KeepPairs: *pairsPath != "", Prepare: po, UniqueNameDOB: *uniqueNameDOB,
		Train: match.TrainOptions{Seed: *seed, NoTwinGuard: *noTwin}}
	if *modelPath != "" {
		m, err := readModelFile(*modelPath)
		if err != nil {
			return err
		}
		opts.Model = m
	}
	if isTerminal(stderr) {
		opts.Progress = func(stage string) {
			fmt.Fprintf(stderr, "\rcarelens link: %-8s %6.1fs", stage, time.Since(start).Seconds())
		}
	}
	res, err := match.Link(ctx, recs, opts)
	if opts.Progress != nil {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	if *saveModel != "" {
		if err := writeFileWith(*saveModel, res.Model.WriteJSON); err != nil {
			return err
		}
	}
	if err := reportTraining(stderr, res.Model, textReport); err != nil {
		return err
	}
	if !textReport || res.Model.Training == nil || res.Model.Training.Data == nil {
		reportData(stderr, *res.Data)
	}
	if *uniqueNameDOB {
		fmt.Fprintf(stderr, "carelens: --link-unique-name-dob: %d pairs linked on name and birth date alone\n", res.Stats.UniqueNameDOBLinks)
	}
	var explained []report.Pair
	for _, x := range ex {
		ia, err := findRecord(recs, x[0])
		if err != nil {
			return err
		}
		ib, err := findRecord(recs, x[1])
		if err != nil {
			return err
		}
		explained = append(explained, report.Pair{Label: recs[ia].Key() + " vs " + recs[ib].Key(),
			Explanation: res.Scorer.Explain(&res.Prepared[ia], &res.Prepared[ib]), SameCluster: res.Cluster[ia] == res.Cluster[ib]})
	}
	if htmlReport != "" {
		note := fmt.Sprintf("Every candidate pair blocking made, %d, scored before constraints and clustering.", res.Stats.CandidatePairs)
		err := writeFileWith(htmlReport, func(w io.Writer) error {
			return report.WriteHTML(w, &report.Page{Title: "carelens link: " + strings.Join(sourceNamesOf(ins), ", "), Model: res.Model,
				Threshold: *threshold, Weights: res.Stats.Weights, WeightsNote: note, Pairs: explained})
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "carelens link: report written to %s\n", matchio.Printable(htmlReport))
	}
	for _, p := range explained {
		fmt.Fprintf(stdout, "%s (same cluster: %v)\n", matchio.Printable(p.Label), p.SameCluster)
		fmt.Fprint(stdout, p.Explanation.String())
	}
	if len(explained) > 0 && *out == "" {
		return nil
	}
	if *pairsPath != "" {
		err := writeFileWith(*pairsPath, func(w io.Writer) error {
			cw := csv.NewWriter(w)
			cw.Write([]string{"source_a", "record_id_a", "source_b", "record_id_b", "weight", "probability"})
			for _, p := range res.Pairs {
				a, b := &recs[p.A], &recs[p.B]
				cw.Write([]string{cell(a.Source, false), cell(a.ID, false), cell(b.Source, false), cell(b.ID, false), strconv.FormatFloat(p.Weight, 'f', 3, 64),
					strconv.FormatFloat(match.Probability(p.Weight), 'f', 6, 64)})
			}
			cw.Flush()
			return cw.Error()
		})
		if err != nil {
			return err
		}
	}
	tty := *out == "" && isTerminal(stdout)
	write := func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write([]string{"source", "record_id", "cluster_id"})
		for i := range recs {
			cw.Write([]string{cell(recs[i].Source, tty), cell(recs[i].ID, tty), strconv.Itoa(res.Cluster[i] + 1)})
		}
		cw.Flush()
		return cw.Error()
	}
	if err := writeOutput(*out, stdout, write); err != nil {
		return err
	}
	t := res.Stats.Timings
	fmt.Fprintf(stderr, "carelens link: %d records, %d clusters; %v; prepare %.2fs block %.2fs train %.2fs score %.2fs cluster %.2fs; total %.2fs\n",
		len(recs), res.Clusters, res.Stats, t["prepare"].Seconds(), t["block"].Seconds(), t["train"].Seconds(),
		t["score"].Seconds(), t["cluster"].Seconds(), time.Since(start).Seconds())
	return nil
}

// reportPath checks a --report value: "" or "-" (the text report on
// stderr) give "", an .html or .htm file its path. Anything else is refused,
// so that a --report written before an input file (the boolean flag it
// once was) cannot overwrite that file.
func reportPath(v string, inputs []string) (string, error) {
	if v == "" || v == "-" {
		return "", nil
	}
	if ext := strings.ToLower(filepath.Ext(v)); ext != ".html" && ext != ".htm" {
		return "", fmt.Errorf("%w: --report wants - (text on stderr) or FILE.html", errUsage)
	}
	for _, in := range inputs {
		if filepath.Clean(in) == filepath.Clean(v) {
			return "", fmt.Errorf("%w: --report %s is an input file", errUsage, v)
		}
	}
	return v, nil
}

// cell escapes a source or record id for a CSV file (a value a
// spreadsheet would run as a formula gets a leading apostrophe, which
// carelens eval removes) and, when the CSV goes to a terminal, also for the
// terminal (control characters as escapes).
func cell(s string, terminal bool) string {
	s = matchio.EscapeCSVField(s)
	if terminal {
		s = matchio.Printable(s)
	}
	return s
}

// sourceNamesOf returns the source name of each input.
func sourceNamesOf(ins []cliinput.Input) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.Source
	}
	return out
}

// sourceNames returns the source name of each input path.
func sourceNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = matchio.SourceName(p)
	}
	return out
}

// reportTraining writes the full training report when asked, and
// otherwise only its warnings, one line each.
func reportTraining(w io.Writer, m *match.Model, full bool) error {
	if full {
		return m.WriteTrainingReport(w)
	}
	if m.Training == nil {
		return nil
	}
	for _, c := range m.Training.Comparisons {
		for _, wn := range c.Warnings {
			fmt.Fprintf(w, "carelens: training: %s: %s\n", c.Name, wn)
		}
	}
	for _, wn := range m.Training.Warnings {
		fmt.Fprintf(w, "carelens: training: %s\n", wn)
	}
	return nil
}

// findRecord finds a record by "source/id" or by id alone (which must then
// be unique).
func findRecord(recs []match.Record, key string) (int, error) {
	found := -1
	for i := range recs {
		if recs[i].Key() == key {
			return i, nil
		}
		if recs[i].ID == key {
			if found >= 0 {
				return 0, fmt.Errorf("%w: record id %s is in several sources; use source/id", errUsage, matchio.Printable(key))
			}
			found = i
		}
	}
	if found < 0 {
		return 0, fmt.Errorf("--explain: record %s not found", matchio.Printable(key))
	}
	return found, nil
}

func readModelFile(path string) (*match.Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := match.ReadModel(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// writeOutput writes with fn to the file at path, or to stdout when path is
// empty, through a buffer either way.
func writeOutput(path string, stdout io.Writer, fn func(io.Writer) error) error {
	if path != "" {
		return writeFileWith(path, fn)
	}
	bw := bufio.NewWriter(stdout)
	if err := fn(bw); err != nil {
		return err
	}
	return bw.Flush()
}

// writeFileWith writes path with fn through a buffer, atomically: into a
// temporary file beside it, synced, then renamed over path, so that a
// crash, a full disk or an error in fn leaves the old file (or none), never
// a part of the new one. A path that exists and is not a regular file
// (/dev/stdout, a named pipe) is written directly.
func writeFileWith(path string, fn func(io.Writer) error) (err error) {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return writeDirect(path, fn)
	}
	af, err := createAtomic(path)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			af.abort()
		}
	}()
	if err := fn(af.w); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return af.commit()
}

// atomicFile is a file being written under a temporary name beside its
// path; commit renames it into place, abort removes it.
type atomicFile struct {
	path string
	f    *os.File
	w    *bufio.Writer
	mode os.FileMode
}

// createAtomic starts writing path. The file gets path's permissions when
// path exists, else 0644.
func createAtomic(path string) (*atomicFile, error) {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, err
	}
	return &atomicFile{path: path, f: f, w: bufio.NewWriter(f), mode: mode}, nil
}

// commit flushes, syncs and closes the file and renames it over path.
func (a *atomicFile) commit() error {
	fail := func(err error) error {
		a.abort()
		return fmt.Errorf("write %s: %w", a.path, err)
	}
	if err := a.w.Flush(); err != nil {
		return fail(err)
	}
	if err := a.f.Chmod(a.mode); err != nil {
		return fail(err)
	}
	if err := a.f.Sync(); err != nil {
		return fail(err)
	}
	if err := a.f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(a.f.Name(), a.path); err != nil {
		os.Remove(a.f.Name())
		return err
	}
	if d, err := os.Open(filepath.Dir(a.path)); err == nil {
		d.Sync() // the rename's durability; not every file system supports it
		d.Close()
	}
	return nil
}

// abort closes and removes the temporary file; path is untouched.
func (a *atomicFile) abort() {
	a.f.Close()
	os.Remove(a.f.Name())
}

// writeDirect writes an existing non-regular file (a device or pipe).
func writeDirect(path string, fn func(io.Writer) error) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	bw := bufio.NewWriter(f)
	if err := fn(bw); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return bw.Flush()
}
