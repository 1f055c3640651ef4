package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/carelens/carelens/benchmarks"
)

func init() {
	register(command{name: "synth", summary: "generate a synthetic multi-source cohort with known truth", run: runSynth})
}

// runSynth parses the synth flags and calls [benchmarks.Synth].
func runSynth(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("synth", stderr, "[--fhir] [--people N] [--sources gp,hospital,community] [--seed S] [--out DIR] [--error-scale K]")
	people := fs.Int("people", benchmarks.DefaultPeople, "number of distinct people")
	sources := fs.String("sources", strings.Join(benchmarks.DefaultSources, ","), "comma-separated source names; each writes DIR/<source>.csv")
	seed := fs.Uint64("seed", 0, "random seed; the same seed gives identical files")
	out := fs.String("out", benchmarks.DefaultOut, "output directory")
	scale := fs.Float64("error-scale", 1, "multiply every error rate by this; 0 for a clean cohort")
	fhir := fs.Bool("fhir", false, fmt.Sprintf("write FHIR R4 bundles with clinical records instead: DIR/<source>/<patient id>.json, DIR/truth.csv and DIR/rules.json (--people defaults to %d)", benchmarks.DefaultFHIRPeople))
	if err := fs.Parse(args); err != nil {
		return err
	}
	peopleSet := false
	fs.Visit(func(f *flag.Flag) { peopleSet = peopleSet || f.Name == "people" })
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: synth takes no arguments", errUsage)
	}
	if *people <= 0 {
		return fmt.Errorf("%w: --people must be positive", errUsage)
	}
	if *scale < 0 {
		return fmt.Errorf("%w: --error-scale must not be negative", errUsage)
	}
	opts := benchmarks.SynthOptions{People: *people, Seed: *seed, Out: *out, ErrorScale: *scale}
	if *scale == 0 {
		opts.ErrorScale = -1 // the library's "no errors"
	}
	for s := range strings.SplitSeq(*sources, ",") {
		if s = strings.TrimSpace(s); s != "" {
			opts.Sources = append(opts.Sources, s)
		}
	}
	if *fhir {
		fo := benchmarks.FHIROptions{People: opts.People, Sources: opts.Sources, Seed: opts.Seed, ErrorScale: opts.ErrorScale}
		if !peopleSet {
			fo.People = benchmarks.DefaultFHIRPeople
		}
		return synthFHIR(ctx, fo, *out, stdout)
	}
	st, err := benchmarks.Synth(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "people %d (with records %d), records %d", st.People, st.PeopleWithRecords, st.TotalRecords)
	for _, s := range opts.Sources {
		fmt.Fprintf(stdout, ", %s %d", s, st.Records[s])
	}
	fmt.Fprintf(stdout, "\ntrue pairs %d (cross-source %d)\n", st.TruePairs, st.CrossSourcePairs)
	for _, f := range st.Files {
		fmt.Fprintln(stdout, "wrote", f)
	}
	return nil
}

// synthFHIR writes a FHIR cohort into dir: one Bundle per source record in
// dir/<source>/<patient id>.json, the truth (source,record_id,person_id,
// the header [benchmarks.Synth] writes, which `carelens eval` reads) in
// dir/truth.csv beside the source folders, and the merge rules in
// dir/rules.json for `carelens timeline -rules`.
func synthFHIR(ctx context.Context, o benchmarks.FHIROptions, dir string, stdout io.Writer) error {
	sources := o.Sources
	if len(sources) == 0 {
		sources = benchmarks.DefaultSources
	}
	rules, err := benchmarks.FHIRRules(sources)
	if err != nil {
		return err
	}
	for _, s := range sources {
		if err := os.MkdirAll(filepath.Join(dir, s), 0o755); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
	}
	// The truth and every bundle are written atomically: a failure leaves
	// no half-written file under its final name.
	tf, err := createAtomic(filepath.Join(dir, "truth.csv"))
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			tf.abort()
		}
	}()
	truth := csv.NewWriter(tf.w)
	if err := truth.Write(benchmarks.TruthHeader); err != nil {
		return fmt.Errorf("synth: truth.csv: %w", err)
	}
	st, err := benchmarks.SynthFHIR(ctx, o, func(p benchmarks.FHIRPatient, bundle []byte) error {
		name := filepath.Join(dir, p.Source, p.PatientID+".json")
		if err := writeFileWith(name, func(w io.Writer) error { _, err := w.Write(bundle); return err }); err != nil {
			return fmt.Errorf("synth: bundle %s/%s: %w", p.Source, p.PatientID, err)
		}
		return truth.Write([]string{p.Source, p.PatientID, p.PersonID})
	})
	if err != nil {
		return err
	}
	truth.Flush()
	if err := truth.Error(); err != nil {
		return fmt.Errorf("synth: truth.csv: %w", err)
	}
	committed = true
	if err := tf.commit(); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	rj, err := json.MarshalIndent(rules, "", "  ")
	if err != nil {
		return fmt.Errorf("synth: rules.json: %w", err)
	}
	if err := writeFileWith(filepath.Join(dir, "rules.json"), func(w io.Writer) error { _, err := w.Write(append(rj, '\n')); return err }); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	var per []string
	for _, s := range sources {
		per = append(per, fmt.Sprintf("%s %d", s, st.Bundles[s]))
	}
	fmt.Fprintf(stdout, "people %d (with records %d), bundles %s, resources %d, facts %d (%d held by several sources, %d disagreeing copies); wrote %s\n",
		st.People, st.PeopleWithRecords, strings.Join(per, ", "), st.TotalResources, st.Facts, st.SharedFacts, st.Conflicts, dir)
	return nil
}
