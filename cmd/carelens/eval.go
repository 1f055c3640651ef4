package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/carelens/carelens/benchmarks"
)

func init() {
	register(command{name: "eval", summary: "score clusters against truth (pairwise and B-cubed P/R/F1)", run: runEval})
}

// runEval parses the eval flags, reads truth and clusters and prints
// [benchmarks.Metrics].
func runEval(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", stderr, "--truth T[,T2...] --clusters C [--cross-source] [--json]")
	var truth multiFlag
	fs.Var(&truth, "truth", "truth file; repeat or comma-separate for several (FEBRL files take their source from the file name)")
	clusters := fs.String("clusters", "", "clusters file: source,record_id,cluster_id or record_id,cluster_id")
	cross := fs.Bool("cross-source", false, "score only pairs whose records come from different sources")
	asJSON := fs.Bool("json", false, "print metrics as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var paths []string
	for _, t := range truth {
		for p := range strings.SplitSeq(t, ",") {
			if p = strings.TrimSpace(p); p != "" {
				paths = append(paths, p)
			}
		}
	}
	if len(paths) == 0 || *clusters == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: eval needs --truth and --clusters and no arguments", errUsage)
	}
	t, err := benchmarks.ReadTruth(paths...)
	if err != nil {
		return err
	}
	c, err := benchmarks.ReadClusters(*clusters)
	if err != nil {
		return err
	}
	m, err := benchmarks.Evaluate(t, c, benchmarks.EvalOptions{CrossSourceOnly: *cross})
	if err != nil {
		return err
	}
	if *asJSON {
		return m.WriteJSON(stdout)
	}
	return m.WriteText(stdout)
}
