package linker

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local" // local paths
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/match/matchio"
)

func init() {
	register.DoFn3x1[context.Context, []byte, func(Row), error](&readFn{})
	register.DoFn4x1[context.Context, Row, func(*Row) bool, func(int64, Member), error](&blockKeysFn{})
	register.DoFn5x1[context.Context, int64, func(*Member) bool, func(*Row) bool, func(int64, int64), error](&blockPairsFn{})
	register.DoFn6x1[context.Context, int64, func(*int64) bool, func(*Row) bool, func(Edge), func(Tally), error](&scoreFn{})
	register.DoFn3x0[Edge, func(*Components) bool, func(int64, ComponentEdge)](&byComponentFn{})
	register.DoFn6x1[context.Context, int64, func(*ComponentEdge) bool, func(*Row) bool, func(Assign), func(match.Splits), error](&clusterFn{})
	register.DoFn7x1[context.Context, []byte, func(*Row) bool, func(*Assign) bool, func(*Edge) bool, func(*Tally) bool, func(*match.Splits) bool, error](&writeFn{})
	register.Combiner3[unionFind, Edge, Components](&componentsFn{})
	register.Function2x1(sumSplits)
	register.Function2x1(sumTallies)
	register.Emitter1[Row]()
	register.Emitter2[int64, Member]()
	register.Emitter2[int64, int64]()
	register.Emitter1[Edge]()
	register.Emitter1[Tally]()
	register.Emitter2[int64, ComponentEdge]()
	register.Emitter1[Assign]()
	register.Emitter1[match.Splits]()
	register.Iter1[Row]()
	register.Iter1[Member]()
	register.Iter1[int64]()
	register.Iter1[Edge]()
	register.Iter1[ComponentEdge]()
	register.Iter1[Components]()
	register.Iter1[Assign]()
	register.Iter1[match.Splits]()
	register.Iter1[Tally]()
	beam.RegisterCoder(reflect.TypeFor[unionFind](), encodeUnionFind, decodeUnionFind)
}

// fileSpec is an input file with its position among the inputs.
type fileSpec struct {
	File  int
	Input Input
}

// Edge is a linked pair: record indexes A < B and the match weight.
type Edge struct {
	A, B int64
	W    float64
}

// Member is a record in a block: the rule, the key, the record's index.
type Member struct {
	Rule   int64
	Key    uint64
	Record int64
}

// ComponentEdge is a linked pair with its component.
type ComponentEdge struct {
	Root int64
	Edge Edge
}

// Tally counts scored candidate pairs by outcome.
type Tally struct {
	Candidates, Guarded, Unique int
}

// Assign gives a linked record its cluster, named by the cluster's
// smallest record index.
type Assign struct {
	Record, Cluster int64
}

// Components lists linked records (Node) with their components (Root, the
// component's smallest record index).
type Components struct {
	Node, Root []int64
}

func newRunID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// readFn reads one input file, as carelens link reads it.
type readFn struct{}

func (f *readFn) ProcessElement(ctx context.Context, spec []byte, emit func(Row)) error {
	var fs fileSpec
	if err := json.Unmarshal(spec, &fs); err != nil {
		return fmt.Errorf("linker: input spec: %w", err)
	}
	in := fs.Input
	fsys, err := filesystem.New(ctx, in.Path)
	if err != nil {
		return fmt.Errorf("linker: %s: %w", matchio.Printable(in.Path), err)
	}
	defer fsys.Close()
	rc, err := fsys.OpenRead(ctx, in.Path)
	if err != nil {
		return fmt.Errorf("linker: %s: %w", matchio.Printable(in.Path), err)
	}
	defer rc.Close()
	recs, err := matchio.Read(rc, in.Path, matchio.Options{Source: in.Source, ID: in.ID, Map: in.Map,
		Delimiter: in.Delimiter, Encoding: in.Encoding})
	if err != nil {
		return err // matchio's errors name the file and row
	}
	for n := range recs {
		b, err := json.Marshal(&recs[n])
		if err != nil {
			return fmt.Errorf("linker: %s record %d: %w", matchio.Printable(in.Path), n+1, err)
		}
		emit(Row{File: fs.File, N: n, Record: b})
	}
	return nil
}

// partition spreads x over parts groups.
func partition(x uint64, parts int64) int64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return int64(x % uint64(parts))
}

// blockKeysFn emits a record under each of its blocking keys, keyed by
// the partition of the block.
type blockKeysFn struct {
	Run   string
	Cfg   settings
	Parts int64
}

func (f *blockKeysFn) ProcessElement(_ context.Context, r Row, rows func(*Row) bool, emit func(int64, Member)) error {
	st, err := load(f.Run, &f.Cfg, rows)
	if err != nil {
		return err
	}
	i := st.index(&r)
	for rule := range st.batch.Rules() {
		if k := st.batch.BlockKey(rule, i); k != 0 {
			emit(partition(k^uint64(rule)*0x9e3779b97f4a7c15, f.Parts), Member{Rule: int64(rule), Key: k, Record: int64(i)})
		}
	}
	return nil
}

// blockPairsFn gathers one partition's blocks and emits their candidate
// pairs, keyed by the partition of the pair, so that a pair several rules
// find meets its copies.
type blockPairsFn struct {
	Run   string
	Cfg   settings
	Parts int64
}

func (f *blockPairsFn) ProcessElement(ctx context.Context, _ int64, members func(*Member) bool, rows func(*Row) bool, emit func(int64, int64)) error {
	st, err := load(f.Run, &f.Cfg, rows)
	if err != nil {
		return err
	}
	type block struct {
		rule int64
		key  uint64
	}
	blocks := map[block][]uint32{}
	var m Member
	for members(&m) {
		b := block{m.Rule, m.Key}
		blocks[b] = append(blocks[b], uint32(m.Record))
	}
	for _, blk := range blocks {
		if len(blk) < 2 {
			continue
		}
		if st.batch.BlockPairs(blk, func(i, j uint32) {
			id := pairID(i, j)
			emit(partition(uint64(id), f.Parts), id)
		}) {
			oversized.Inc(ctx, 1)
		}
	}
	return nil
}

var oversized = beam.NewCounter("carelens", "oversized_blocks")

func pairID(i, j uint32) int64      { return int64(i)<<32 | int64(j) }
func pairOf(id int64) (i, j uint32) { return uint32(id >> 32), uint32(id) }

// scoreFn takes one partition's candidate pairs, counts a pair several
// rules found once, weighs and judges each, and emits the linked pairs
// and the partition's tally.
type scoreFn struct {
	Run string
	Cfg settings
}

func (f *scoreFn) ProcessElement(_ context.Context, _ int64, pairs func(*int64) bool, rows func(*Row) bool, emitEdge func(Edge), emitTally func(Tally)) error {
	st, err := load(f.Run, &f.Cfg, rows)
	if err != nil {
		return err
	}
	seen := map[int64]bool{}
	var t Tally
	var id int64
	for pairs(&id) {
		if seen[id] {
			continue
		}
		seen[id] = true
		i, j := pairOf(id)
		w, out := st.batch.Score(i, j)
		t.Candidates++
		switch out {
		case match.Guarded:
			t.Guarded++
		case match.LinkedUnique:
			t.Unique++
			emitEdge(Edge{A: int64(i), B: int64(j), W: w})
		case match.Linked:
			emitEdge(Edge{A: int64(i), B: int64(j), W: w})
		}
	}
	emitTally(t)
	return nil
}

func sumTallies(a, b Tally) Tally {
	return Tally{Candidates: a.Candidates + b.Candidates, Guarded: a.Guarded + b.Guarded, Unique: a.Unique + b.Unique}
}

// unionFind is the components combine's accumulator: each linked record's
// parent, every root the smallest record of its tree.
type unionFind struct {
	parent map[int64]int64
}

func (u unionFind) find(x int64) int64 {
	if _, ok := u.parent[x]; !ok {
		u.parent[x] = x
		return x
	}
	for {
		p := u.parent[x]
		if p == x {
			return x
		}
		gp := u.parent[p]
		u.parent[x] = gp // path halving
		x = gp
	}
}

func (u unionFind) union(a, b int64) {
	ra, rb := u.find(a), u.find(b)
	switch {
	case ra < rb:
		u.parent[rb] = ra
	case rb < ra:
		u.parent[ra] = rb
	}
}

func encodeUnionFind(u unionFind) []byte {
	b := make([]byte, 0, 8*len(u.parent))
	for x, p := range u.parent {
		b = binary.AppendVarint(b, x)
		b = binary.AppendVarint(b, p)
	}
	return b
}

func decodeUnionFind(b []byte) (unionFind, error) {
	u := unionFind{parent: map[int64]int64{}}
	for len(b) > 0 {
		x, n := binary.Varint(b)
		if n <= 0 {
			return u, fmt.Errorf("linker: corrupt union-find accumulator")
		}
		p, m := binary.Varint(b[n:])
		if m <= 0 {
			return u, fmt.Errorf("linker: corrupt union-find accumulator")
		}
		u.parent[x] = p
		b = b[n+m:]
	}
	return u, nil
}

// componentsFn finds the connected components of the linked pairs (see
// the package documentation, step 5).
type componentsFn struct{}

func (componentsFn) CreateAccumulator() unionFind { return unionFind{parent: map[int64]int64{}} }

func (componentsFn) AddInput(u unionFind, e Edge) unionFind {
	u.union(e.A, e.B)
	return u
}

func (componentsFn) MergeAccumulators(a, b unionFind) unionFind {
	if len(a.parent) < len(b.parent) {
		a, b = b, a
	}
	for x, p := range b.parent {
		a.union(x, p)
	}
	return a
}

func (componentsFn) ExtractOutput(u unionFind) Components {
	c := Components{Node: make([]int64, 0, len(u.parent)), Root: make([]int64, 0, len(u.parent))}
	for x := range u.parent {
		c.Node = append(c.Node, x)
		c.Root = append(c.Root, u.find(x))
	}
	return c
}

// byComponentFn keys a linked pair by the partition of its component.
type byComponentFn struct {
	Run   string
	Parts int64
}

func (f *byComponentFn) ProcessElement(e Edge, comps func(*Components) bool, emit func(int64, ComponentEdge)) {
	root := loadComponents(f.Run, comps)[e.A]
	emit(partition(uint64(root), f.Parts), ComponentEdge{Root: root, Edge: e})
}

// clusterFn clusters the components of one partition, each whole and
// apart from the others, with match's clustering.
type clusterFn struct {
	Run string
	Cfg settings
}

func (f *clusterFn) ProcessElement(_ context.Context, _ int64, edges func(*ComponentEdge) bool, rows func(*Row) bool, emit func(Assign), emitSplits func(match.Splits)) error {
	st, err := load(f.Run, &f.Cfg, rows)
	if err != nil {
		return err
	}
	comps := map[int64][]match.ScoredPair{}
	var ce ComponentEdge
	for edges(&ce) {
		comps[ce.Root] = append(comps[ce.Root], match.ScoredPair{A: int(ce.Edge.A), B: int(ce.Edge.B), Weight: ce.Edge.W})
	}
	var total match.Splits
	for _, pairs := range comps {
		records, cluster, splits := st.batch.Cluster(pairs)
		for k, i := range records {
			emit(Assign{Record: int64(i), Cluster: int64(cluster[k])})
		}
		total = sumSplits(total, splits)
	}
	emitSplits(total)
	return nil
}

func sumSplits(a, b match.Splits) match.Splits {
	return match.Splits{Constraint: a.Constraint + b.Constraint, ChainGuard: a.ChainGuard + b.ChainGuard, Apart: a.Apart + b.Apart}
}
