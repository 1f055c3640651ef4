package linker

import (
	"bufio"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/match/matchio"
)

// Result is what a run found, as [Options.Result] receives it. It holds
// record indexes (input order), weights and counts: no PHI.
type Result struct {
	Records        int `json:"records"`
	Clusters       int `json:"clusters"`
	CandidatePairs int `json:"candidatePairs"`
	LinkedPairs    int `json:"linkedPairs"`
	GuardedPairs   int `json:"guardedPairs"`
	// UniqueNameDOBLinks counts the linked pairs that match.Link counts
	// in LinkStats.UniqueNameDOBLinks.
	UniqueNameDOBLinks int          `json:"uniqueNameDOBLinks"`
	Splits             match.Splits `json:"splits"`
	// Pairs are the linked pairs sorted by (A, B), as match.Link keeps
	// them.
	Pairs []match.ScoredPair `json:"pairs"`
	// Cluster is each record's cluster number, 0-based, numbered in order
	// of each cluster's first record, as match.Link numbers them.
	Cluster []int `json:"cluster"`
}

// ReadResult reads a Result written by a run.
func ReadResult(r io.Reader) (*Result, error) {
	var res Result
	if err := json.NewDecoder(r).Decode(&res); err != nil {
		return nil, fmt.Errorf("linker: read result: %w", err)
	}
	return &res, nil
}

// writeFn gathers the clusters, numbers them and writes the outputs: one
// worker writes each file, in input order.
type writeFn struct {
	Run    string
	Cfg    settings
	Out    string
	Pairs  string
	Result string
}

func (f *writeFn) ProcessElement(ctx context.Context, _ []byte, rows func(*Row) bool, assigns func(*Assign) bool, edges func(*Edge) bool,
	tallies func(*Tally) bool, splits func(*match.Splits) bool) error {
	st, err := load(f.Run, &f.Cfg, rows)
	if err != nil {
		return err
	}
	n := len(st.recs)
	res := Result{Records: n, Cluster: make([]int, n)}
	rep := make([]int, n)
	for i := range rep {
		rep[i] = i
	}
	var a Assign
	for assigns(&a) {
		rep[a.Record] = int(a.Cluster)
	}
	// A cluster is named by its smallest record, so in input order a
	// cluster's first record is the one that names it.
	number := make([]int, n)
	for i, r := range rep {
		if r == i {
			number[i] = res.Clusters
			res.Clusters++
		}
		res.Cluster[i] = number[r]
	}
	var e Edge
	for edges(&e) {
		res.Pairs = append(res.Pairs, match.ScoredPair{A: int(e.A), B: int(e.B), Weight: e.W})
	}
	slices.SortFunc(res.Pairs, func(a, b match.ScoredPair) int { return cmp.Or(cmp.Compare(a.A, b.A), cmp.Compare(a.B, b.B)) })
	res.LinkedPairs = len(res.Pairs)
	var t Tally
	for tallies(&t) {
		res.CandidatePairs += t.Candidates
		res.GuardedPairs += t.Guarded
		res.UniqueNameDOBLinks += t.Unique
	}
	var sp match.Splits
	for splits(&sp) {
		res.Splits = sumSplits(res.Splits, sp)
	}

	err = writeFile(ctx, f.Out, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write([]string{"source", "record_id", "cluster_id"})
		for i := range st.recs {
			r := &st.recs[i]
			cw.Write([]string{matchio.EscapeCSVField(r.Source), matchio.EscapeCSVField(r.ID), strconv.Itoa(res.Cluster[i] + 1)})
		}
		cw.Flush()
		return cw.Error()
	})
	if err != nil {
		return err
	}
	if f.Pairs != "" {
		err := writeFile(ctx, f.Pairs, func(w io.Writer) error {
			cw := csv.NewWriter(w)
			cw.Write([]string{"source_a", "record_id_a", "source_b", "record_id_b", "weight", "probability"})
			for _, p := range res.Pairs {
				a, b := &st.recs[p.A], &st.recs[p.B]
				cw.Write([]string{matchio.EscapeCSVField(a.Source), matchio.EscapeCSVField(a.ID), matchio.EscapeCSVField(b.Source),
					matchio.EscapeCSVField(b.ID), strconv.FormatFloat(p.Weight, 'f', 3, 64), strconv.FormatFloat(match.Probability(p.Weight), 'f', 6, 64)})
			}
			cw.Flush()
			return cw.Error()
		})
		if err != nil {
			return err
		}
	}
	if f.Result != "" {
		return writeFile(ctx, f.Result, func(w io.Writer) error { return json.NewEncoder(w).Encode(&res) })
	}
	return nil
}

// writeFile writes path, in any file system Beam knows, through fn.
func writeFile(ctx context.Context, path string, fn func(io.Writer) error) (err error) {
	fsys, err := filesystem.New(ctx, path)
	if err != nil {
		return fmt.Errorf("linker: %s: %w", matchio.Printable(path), err)
	}
	defer fsys.Close()
	wc, err := fsys.OpenWrite(ctx, path)
	if err != nil {
		return fmt.Errorf("linker: %s: %w", matchio.Printable(path), err)
	}
	bw := bufio.NewWriter(wc)
	err = fn(bw)
	err = errors.Join(err, bw.Flush(), wc.Close())
	if err != nil {
		return fmt.Errorf("linker: write %s: %w", matchio.Printable(path), err)
	}
	return nil
}
