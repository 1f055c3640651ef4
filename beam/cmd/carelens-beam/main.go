// Command carelens-beam links patient records on Apache Beam: the batch
// linkage of carelens link, run as a Beam pipeline (package linker), with
// a model trained beforehand.
//
//	carelens-beam --model model.json --out clusters.csv [flags] FILE.csv...
//
// It reads the CSV files carelens link reads (each file one source), with
// carelens link's input flags (--source, --id, --map, --delimiter,
// --encoding, --birth-dates, --date-order; internal/cliinput), and writes
// the clusters as carelens link does (source, record_id, cluster_id). The runner is Prism, in-process, unless the standard Beam
// flags say otherwise: --runner=flink|spark|universal with --endpoint
// (a job server) and --environment_type, or --runner=dataflow with its
// project, region and staging flags (see beam/README.md). Input and
// output paths must then be readable and writable by the workers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"

	"github.com/carelens/carelens/beam/linker"
	"github.com/carelens/carelens/internal/cliinput"
	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/match/matchio"
)

// errUsage marks a command line that cannot be run.
var errUsage = cliinput.ErrUsage

// cmdFlags are carelens-beam's own flags, beside Beam's, and the input
// flags carelens link has (internal/cliinput).
type cmdFlags struct {
	fs            *flag.FlagSet
	in            *cliinput.Flags
	model         *string
	out           *string
	pairs         *string
	result        *string
	threshold     *float64
	uniqueNameDOB *bool
}

func addFlags(fs *flag.FlagSet) *cmdFlags {
	f := &cmdFlags{fs: fs}
	f.model = fs.String("model", "", "the trained model to link with (carelens link --save-model or carelens train); required")
	f.out = fs.String("out", "", "write clusters to FILE (source, record_id, cluster_id); required")
	f.pairs = fs.String("pairs", "", "write linked pairs with weight and probability to FILE")
	f.result = fs.String("result", "", "write the linked pairs with exact weights, every record's cluster and the counts to FILE as JSON")
	f.threshold = fs.Float64("threshold", 0, "match probability at or above which pairs link (default: the model's)")
	f.uniqueNameDOB = fs.Bool("link-unique-name-dob", false, "link a pair on an exact name and birth date that no source holds twice\n"+
		"and that is rare for the file's size (as carelens link --link-unique-name-dob)")
	f.in = cliinput.Add(fs)
	return f
}

// options turns the parsed flags into the pipeline's options.
func (f *cmdFlags) options() (*linker.Options, error) {
	o := &linker.Options{Out: *f.out, Pairs: *f.pairs, Result: *f.result, Threshold: *f.threshold, UniqueNameDOB: *f.uniqueNameDOB}
	if f.in.SkipBad() {
		return nil, fmt.Errorf("%w: --skip-bad is not supported here: the pipeline stops at a bad row", errUsage)
	}
	ins, err := f.in.Inputs()
	if err != nil {
		return nil, err
	}
	ros, err := f.in.ReadOptions(ins)
	if err != nil {
		return nil, err
	}
	for _, in := range ins {
		ro := ros[in.Source]
		o.Inputs = append(o.Inputs, linker.Input{Path: in.Path, Source: in.Source, ID: ro.ID, Map: ro.Map, Delimiter: ro.Delimiter, Encoding: ro.Encoding})
	}
	if o.Prepare, err = f.in.PrepareOptions(); err != nil {
		return nil, err
	}
	switch {
	case len(o.Inputs) == 0:
		return nil, fmt.Errorf("%w: no input files", errUsage)
	case *f.model == "":
		return nil, fmt.Errorf("%w: --model is required: train one with carelens link --save-model", errUsage)
	case *f.out == "":
		return nil, fmt.Errorf("%w: --out is required", errUsage)
	case *f.threshold < 0 || *f.threshold >= 1:
		return nil, fmt.Errorf("%w: --threshold must be in (0, 1)", errUsage)
	}
	m, err := readModel(*f.model)
	if err != nil {
		return nil, err
	}
	o.Model = m
	return o, nil
}

func readModel(path string) (*match.Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *fs.PathError names the file
	}
	defer f.Close()
	m, err := match.ReadModel(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", matchio.Printable(path), err)
	}
	return m, nil
}

func main() {
	f := addFlags(flag.CommandLine)
	flag.Parse()
	beam.Init() // a worker started by a runner does its work here and never returns
	if err := run(context.Background(), f); err != nil {
		fmt.Fprintln(os.Stderr, "carelens-beam:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, f *cmdFlags) error {
	o, err := f.options()
	if err != nil {
		return err
	}
	p, err := linker.New(o)
	if err != nil {
		return err
	}
	return beamx.Run(ctx, p)
}
