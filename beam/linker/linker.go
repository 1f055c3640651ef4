package linker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/match/matchio"
)

// Input is one input file and how to read it (see matchio.Options).
type Input struct {
	// Path is the file's path, in any file system Beam's filesystem
	// package knows (local paths; gs:// with the GCS file system).
	Path string
	// Source is the records' source id; "" means the file's base name
	// without extension, as carelens link names it.
	Source string
	// ID names the column holding the record id; "" maps it
	// automatically.
	ID string
	// Map overrides the automatic column mapping (see matchio.Options).
	Map map[matchio.Field][]string
	// Delimiter separates fields; 0 sniffs it.
	Delimiter rune
	// Encoding is the file's character encoding; "" sniffs it.
	Encoding matchio.Encoding
}

// Options configure [New].
type Options struct {
	// Inputs are the files to link; each is one source.
	Inputs []Input
	// Model is the trained model to link with; required (train it with
	// carelens link --save-model or carelens train).
	Model *match.Model
	// Threshold, UniqueNameDOB, NoChainGuard, MaxBlockSize, Window and
	// Prepare mean what they mean in match.LinkOptions.
	Threshold     float64
	UniqueNameDOB bool
	NoChainGuard  bool
	MaxBlockSize  int
	Window        int
	Prepare       *match.PrepareOptions
	// Out receives the clusters as CSV (source, record_id, cluster_id),
	// as carelens link writes them; required.
	Out string
	// Pairs, when set, receives the linked pairs as CSV, as carelens link
	// --pairs writes them.
	Pairs string
	// Partitions is the number of groups blocks, candidate pairs and
	// components are shuffled into (each group holds many, kept apart
	// inside it): fewer, larger groups cost a runner less than one per
	// block. Zero means DefaultPartitions.
	Partitions int
	// Result, when set, receives a [Result] as JSON: the linked pairs with
	// their exact weights, every record's cluster and the counts.
	Result string
}

// DefaultPartitions is the default [Options.Partitions].
const DefaultPartitions = 256

// Errors.
var (
	// ErrOptions is returned by New for incomplete options.
	ErrOptions = errors.New("linker: invalid options")
)

// New returns the linkage pipeline for o. Its runs are independent: each
// has its own whole-file state on the workers.
func New(o *Options) (*beam.Pipeline, error) {
	switch {
	case o == nil || len(o.Inputs) == 0:
		return nil, fmt.Errorf("%w: no input files", ErrOptions)
	case o.Model == nil:
		return nil, fmt.Errorf("%w: no model", ErrOptions)
	case o.Out == "":
		return nil, fmt.Errorf("%w: no output file for the clusters", ErrOptions)
	}
	var model bytes.Buffer
	if err := o.Model.WriteJSON(&model); err != nil {
		return nil, fmt.Errorf("linker: model: %w", err)
	}
	cfg := settings{Model: model.Bytes(), Threshold: o.Threshold, UniqueNameDOB: o.UniqueNameDOB,
		NoChainGuard: o.NoChainGuard, MaxBlockSize: o.MaxBlockSize, Window: o.Window}
	if o.Prepare != nil {
		b, err := json.Marshal(o.Prepare)
		if err != nil {
			return nil, fmt.Errorf("linker: prepare options: %w", err)
		}
		cfg.Prepare = b
	}
	run := newRunID()
	p, s := beam.NewPipelineWithRoot()

	files := make([][]byte, len(o.Inputs))
	for k, in := range o.Inputs {
		b, err := json.Marshal(fileSpec{File: k, Input: in})
		if err != nil {
			return nil, fmt.Errorf("linker: input %s: %w", matchio.Printable(in.Path), err)
		}
		files[k] = b
	}
	rows := beam.ParDo(s.Scope("read"), &readFn{}, beam.CreateList(s, files))
	side := beam.SideInput{Input: rows}

	parts := int64(o.Partitions)
	if parts <= 0 {
		parts = DefaultPartitions
	}
	keyed := beam.ParDo(s.Scope("block keys"), &blockKeysFn{Run: run, Cfg: cfg, Parts: parts}, rows, side)
	found := beam.ParDo(s.Scope("block pairs"), &blockPairsFn{Run: run, Cfg: cfg, Parts: parts}, beam.GroupByKey(s, keyed), side)
	edges, tallies := beam.ParDo2(s.Scope("score"), &scoreFn{Run: run, Cfg: cfg}, beam.GroupByKey(s, found), side)
	tally := beam.Combine(s.Scope("sum tallies"), sumTallies, tallies)

	comps := beam.Combine(s.Scope("components"), &componentsFn{}, edges)
	byComp := beam.ParDo(s.Scope("key by component"), &byComponentFn{Run: run, Parts: parts}, edges, beam.SideInput{Input: comps})
	assigned, splits := beam.ParDo2(s.Scope("cluster"), &clusterFn{Run: run, Cfg: cfg}, beam.GroupByKey(s, byComp), side)
	split := beam.Combine(s.Scope("sum splits"), sumSplits, splits)

	beam.ParDo0(s.Scope("write"), &writeFn{Run: run, Cfg: cfg, Out: o.Out, Pairs: o.Pairs, Result: o.Result},
		beam.Impulse(s), side, beam.SideInput{Input: assigned}, beam.SideInput{Input: edges},
		beam.SideInput{Input: tally}, beam.SideInput{Input: split})
	return p, nil
}
