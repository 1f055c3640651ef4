package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
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
	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/match/matchio"
	"github.com/carelens/carelens/match/report"
)

func init() {
	register(command{name: "link", summary: "link record files into clusters of the same person", run: runLink})
}

const linkSynopsis = "[--out FILE] [--id COLUMN] [--map FIELD=COLUMN[+COLUMN...]]... [--model FILE] [--save-model FILE] [--threshold P] [--pairs FILE] [--skip-bad] [--explain ID1,ID2]... [--report -|FILE.html] [--no-twin-guard] [--link-unique-name-dob] [--birth-dates FROM..TO] [--date-order SOURCE=dmy|mdy]... INPUT..."

// inputFlags are the flags link and train share for reading and preparing
// input files.
type inputFlags struct {
	id         *string
	maps       multiFlag
	skipBad    *bool
	birthDates *string
	dateOrders multiFlag
}

func addInputFlags(fs *flag.FlagSet) *inputFlags {
	f := &inputFlags{}
	f.id = fs.String("id", "", "column holding the record id (default: automatic)")
	fs.Var(&f.maps, "map", "map a field to columns, FIELD=COLUMN[+COLUMN...]; repeatable. FIELD is one of\n"+mapFieldsHelp())
	f.skipBad = fs.Bool("skip-bad", false, "report bad rows on stderr and skip them instead of failing")
	f.birthDates = fs.String("birth-dates", "", "plausible birth dates, FROM..TO (YYYY or YYYY-MM-DD, either may be empty);\n"+
		"dates outside are treated as missing and counted (default 1880..today; a historical file sets e.g. 1500..)")
	fs.Var(&f.dateOrders, "date-order", "read SOURCE's ambiguous dates (01/02/2003) day first or month first, SOURCE=dmy|mdy;\n"+
		"repeatable; by default each source's order is decided from its unambiguous dates and reported")
	return f
}

// prepareOptions returns the preparation options the flags ask for.
func (f *inputFlags) prepareOptions() (*match.PrepareOptions, error) {
	o := &match.PrepareOptions{}
	if *f.birthDates != "" {
		from, to, ok := strings.Cut(*f.birthDates, "..")
		if !ok {
			return nil, fmt.Errorf("%w: --birth-dates wants FROM..TO", errUsage)
		}
		for _, e := range []struct {
			s string
			d *match.Date
		}{{from, &o.BirthDates.From}, {to, &o.BirthDates.To}} {
			if e.s == "" {
				continue
			}
			d, st := match.ParseDate(e.s)
			if st != match.DateOK && st != match.DateOutOfRange || len(e.s) != 4 && len(e.s) != 10 {
				return nil, fmt.Errorf("%w: --birth-dates: %q is not YYYY or YYYY-MM-DD", errUsage, e.s)
			}
			*e.d = d
		}
		if !o.BirthDates.To.IsZero() && o.BirthDates.To.Year < o.BirthDates.From.Year {
			return nil, fmt.Errorf("%w: --birth-dates: FROM is after TO", errUsage)
		}
	}
	for _, spec := range f.dateOrders {
		src, ord, ok := strings.Cut(spec, "=")
		var order match.DateOrder
		switch strings.ToLower(ord) {
		case "dmy":
			order = match.DayFirst
		case "mdy":
			order = match.MonthFirst
		default:
			ok = false
		}
		if !ok || src == "" {
			return nil, fmt.Errorf("%w: --date-order wants SOURCE=dmy or SOURCE=mdy", errUsage)
		}
		if o.DateOrders == nil {
			o.DateOrders = map[string]match.DateOrder{}
		}
		o.DateOrders[src] = order
	}
	return o, nil
}

// reportData writes, one line each, what preparing the records set aside
// and how each source's ambiguous dates were read: never silently.
func reportData(w io.Writer, r match.DataReport) {
	for _, l := range r.Lines() {
		fmt.Fprintf(w, "carelens: data: %s\n", l)
	}
}

// mapFieldsHelp lists the fields --map accepts with the column names the
// automatic mapping reads as each (any of which also names the field).
func mapFieldsHelp() string {
	var b strings.Builder
	al := matchio.Aliases()
	for _, f := range matchio.Fields() {
		a := slices.DeleteFunc(al[f], func(n string) bool { return n == string(f) })
		if len(a) == 0 {
			fmt.Fprintf(&b, "    %s\n", f)
			continue
		}
		fmt.Fprintf(&b, "    %-12s (also %s)\n", f, strings.Join(a, ", "))
	}
	return b.String()
}

// read reads every input file; each file is one source named after it.
func (f *inputFlags) read(paths []string, stderr io.Writer) ([]match.Record, error) {
	var m map[matchio.Field][]string
	for _, spec := range f.maps {
		var err error
		if m, err = matchio.ParseMap(m, spec); err != nil {
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	// Files are read concurrently (each file is one source); records keep
	// the order of the files on the command line.
	parts := make([][]match.Record, len(paths))
	errs := make([]error, len(paths))
	var mu sync.Mutex
	skipped := 0
	var wg sync.WaitGroup
	for k, p := range paths {
		wg.Go(func() {
			if isFHIRFile(p) {
				parts[k], errs[k] = readFHIRPatients(p, stderr, &mu)
				return
			}
			parts[k], errs[k] = matchio.ReadFile(p, matchio.Options{ID: *f.id, Map: m, SkipBad: *f.skipBad,
				OnBad: func(e *matchio.RowError) {
					mu.Lock()
					defer mu.Unlock()
					skipped++
					fmt.Fprintln(stderr, "carelens: skipped:", e)
				}})
		})
	}
	wg.Wait()
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
	if skipped > 0 {
		fmt.Fprintf(stderr, "carelens: skipped %d bad rows\n", skipped)
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
// Bundle of any type, or NDJSON) as one source named after the file.
// Problems fhirutil repaired or skipped are reported on stderr; they name
// resources and JSON paths, never patient data.
func readFHIRPatients(path string, stderr io.Writer, mu *sync.Mutex) ([]match.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, issues, err := fhirutil.ReadPatients(f, matchio.SourceName(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, is := range issues {
		fmt.Fprintf(stderr, "carelens: %s: %v\n", path, is)
	}
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
	in := addInputFlags(fs)
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
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("%w: link needs at least one input file", errUsage)
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
	htmlReport, err := reportPath(*reportFlag, fs.Args())
	if err != nil {
		return err
	}
	textReport := *reportFlag == "-"
	start := time.Now()
	po, err := in.prepareOptions()
	if err != nil {
		return err
	}
	recs, err := in.read(fs.Args(), stderr)
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
		reportData(stderr, res.Preparer.Report())
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
			return report.WriteHTML(w, &report.Page{Title: "carelens link: " + strings.Join(sourceNames(fs.Args()), ", "), Model: res.Model,
				Threshold: *threshold, Weights: res.Stats.Weights, WeightsNote: note, Pairs: explained})
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "carelens link: report written to %s\n", htmlReport)
	}
	for _, p := range explained {
		fmt.Fprintf(stdout, "%s (same cluster: %v)\n", p.Label, p.SameCluster)
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
				cw.Write([]string{a.Source, a.ID, b.Source, b.ID, strconv.FormatFloat(p.Weight, 'f', 3, 64),
					strconv.FormatFloat(match.Probability(p.Weight), 'f', 6, 64)})
			}
			cw.Flush()
			return cw.Error()
		})
		if err != nil {
			return err
		}
	}
	write := func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write([]string{"source", "record_id", "cluster_id"})
		for i := range recs {
			cw.Write([]string{recs[i].Source, recs[i].ID, strconv.Itoa(res.Cluster[i] + 1)})
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
				return 0, fmt.Errorf("%w: record id %s is in several sources; use source/id", errUsage, key)
			}
			found = i
		}
	}
	if found < 0 {
		return 0, fmt.Errorf("link: record %s not found", key)
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

// writeFileWith creates path and writes it with fn through a buffer.
func writeFileWith(path string, fn func(io.Writer) error) (err error) {
	f, err := os.Create(path)
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
		return errors.Join(fmt.Errorf("write %s", path), err)
	}
	return bw.Flush()
}
