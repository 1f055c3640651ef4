package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/carelens/carelens/benchmarks"
)

func init() {
	register(command{name: "synth", summary: "generate a synthetic multi-source cohort with known truth", run: runSynth})
}

// runSynth parses the synth flags and calls [benchmarks.Synth].
func runSynth(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("synth", stderr, "[--people N] [--sources gp,hospital,community] [--seed S] [--out DIR] [--error-scale K]")
	people := fs.Int("people", benchmarks.DefaultPeople, "number of distinct people")
	sources := fs.String("sources", strings.Join(benchmarks.DefaultSources, ","), "comma-separated source names; each writes DIR/<source>.csv")
	seed := fs.Uint64("seed", 0, "random seed; the same seed gives identical files")
	out := fs.String("out", benchmarks.DefaultOut, "output directory")
	scale := fs.Float64("error-scale", 1, "multiply every error rate by this; 0 for a clean cohort")
	if err := fs.Parse(args); err != nil {
		return err
	}
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
