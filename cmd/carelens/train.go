package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/carelens/carelens/internal/cliinput"
	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/match/report"
)

func init() {
	register(command{name: "train", summary: "train a matching model on unlabelled record files", run: runTrain})
}

// runTrain trains a model on the input files and writes it as JSON.
func runTrain(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("train", stderr, "[--out MODEL.json] [--id COLUMN] [--map FIELD=COLUMN[+COLUMN...]]... [--seed S] [--threshold P] [--skip-bad] [--no-twin-guard] [--birth-dates FROM..TO] [--date-order SOURCE=dmy|mdy]... [--report -|FILE.html] INPUT...")
	in := cliinput.Add(fs)
	out := fs.String("out", "", "write the model to FILE (default stdout)")
	seed := fs.Uint64("seed", 0, "random seed (training is deterministic for a seed)")
	threshold := fs.Float64("threshold", 0, "match probability stored in the model as its threshold")
	noTwin := fs.Bool("no-twin-guard", false, "train with the twins guard off: a shared birth date with different given names may link (reported)")
	rep := fs.String("report", "", "the training report is always printed on stderr (- asks for just that);\n"+
		"FILE.html also writes it as one self-contained page with SVG charts: weights per level and the\n"+
		"training candidate pairs' weights under the trained model with the threshold")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("%w: train needs at least one input file", errUsage)
	}
	htmlReport, err := reportPath(*rep, fs.Args())
	if err != nil {
		return err
	}
	po, err := in.PrepareOptions()
	if err != nil {
		return err
	}
	recs, err := readInputs(in, stderr)
	if err != nil {
		return err
	}
	m, err := match.Train(ctx, recs, nil, &match.TrainOptions{Seed: *seed, NoTwinGuard: *noTwin, Prepare: po})
	if err != nil {
		return err
	}
	if *threshold > 0 {
		m.Threshold = *threshold
	}
	if err := m.WriteTrainingReport(stderr); err != nil {
		return err
	}
	if htmlReport != "" {
		note := fmt.Sprintf("The training data's %d candidate pairs, scored with the trained model.", m.Training.CandidatePairs)
		err := writeFileWith(htmlReport, func(w io.Writer) error {
			return report.WriteHTML(w, &report.Page{Title: "carelens train: " + strings.Join(sourceNames(fs.Args()), ", "), Model: m,
				Weights: m.Training.Weights, WeightsNote: note})
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "carelens train: report written to %s\n", htmlReport)
	}
	if *out == "" {
		return m.WriteJSON(stdout)
	}
	if err := writeFileWith(*out, m.WriteJSON); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "carelens train: %d records, %d candidate pairs, prior %.3g\n", len(recs), m.Training.CandidatePairs, m.Prior)
	return nil
}
