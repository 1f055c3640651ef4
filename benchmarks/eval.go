package benchmarks

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// EvalOptions configures [Evaluate]. The zero value scores every pair.
type EvalOptions struct {
	// CrossSourceOnly scores only pairs whose two records come from
	// different sources (linking file A to file B, as in FEBRL4), so pairs
	// inside one source are neither true nor predicted. Every scored
	// record then needs a source, from the truth or the clusters.
	CrossSourceOnly bool
}

// Metrics is the result of [Evaluate]. Pair counts come from the
// contingency table of clusters against entities, so they are exact
// however many records there are.
type Metrics struct {
	// MatchedOn is "source+record_id" or "record_id": how truth and
	// cluster records were joined.
	MatchedOn string `json:"matched_on"`
	// CrossSourceOnly repeats the option the metrics were computed with.
	CrossSourceOnly bool `json:"cross_source_only"`
	// Records is the number of records scored.
	Records int `json:"records"`
	// Entities counts the true entities among scored records, singletons
	// included.
	Entities int `json:"entities"`
	// Clusters counts the predicted clusters among scored records,
	// singletons included.
	Clusters int `json:"clusters"`
	// MissingFromClusters counts truth records absent from the clusters
	// file; they are scored as singleton clusters, so their true pairs are
	// missed.
	MissingFromClusters int `json:"missing_from_clusters"`
	// MissingFromTruth counts clustered records the truth does not know;
	// they are not scored. With true-pairs truth a record absent from every
	// pair is a singleton entity instead, and this stays zero.
	MissingFromTruth int `json:"missing_from_truth"`
	// TruePairs is the number of record pairs that are one entity.
	TruePairs int64 `json:"true_pairs"`
	// PredictedPairs is the number of record pairs placed in one cluster.
	PredictedPairs int64 `json:"predicted_pairs"`
	// TruePositives is the number of pairs that are both.
	TruePositives int64 `json:"true_positives"`
	// FalseMerges is the number of pairs in one cluster that are different
	// entities (false positives).
	FalseMerges int64 `json:"false_merges"`
	// MissedPairs is the number of true pairs not in one cluster (false
	// negatives).
	MissedPairs int64 `json:"missed_pairs"`
	// Precision is TruePositives/PredictedPairs, 1 when nothing is
	// predicted.
	Precision float64 `json:"precision"`
	// Recall is TruePositives/TruePairs, 1 when there are no true pairs.
	Recall float64 `json:"recall"`
	// F1 is the harmonic mean of Precision and Recall, 0 when both are 0.
	F1 float64 `json:"f1"`
	// BCubedPrecision is the mean over records of the share of the
	// record's cluster that is its entity. The B-cubed measures always
	// count every scored record, whatever CrossSourceOnly.
	BCubedPrecision float64 `json:"bcubed_precision"`
	// BCubedRecall is the mean over records of the share of the record's
	// entity that is in its cluster.
	BCubedRecall float64 `json:"bcubed_recall"`
	// BCubedF1 is the harmonic mean of BCubedPrecision and BCubedRecall.
	BCubedF1 float64 `json:"bcubed_f1"`
}

// Evaluate scores predicted clusters against the truth.
//
// Records are joined on (source, record id) when both sides carry sources
// and share at least one source name, and on the record id alone
// otherwise; a record id that then occurs under two sources on one side is
// an [ErrAmbiguous] error. A truth record missing from the clusters is a
// singleton cluster. A clustered record unknown to the truth is left out
// and counted, except with true-pairs truth ([Truth.Open]), where it is a
// singleton entity. A record listed twice with different labels is an
// error.
func Evaluate(truth *Truth, clusters *Clusters, opts EvalOptions) (Metrics, error) {
	var m Metrics
	m.CrossSourceOnly = opts.CrossSourceOnly
	tSrc, cSrc := allSourced(truth.Records), allSourced(clusters.Records)
	bySource := tSrc && cSrc && sharesSource(truth.Records, clusters.Records)
	m.MatchedOn = "record_id"
	if bySource {
		m.MatchedOn = "source+record_id"
	}
	key := func(r LabelledRecord) string {
		if bySource {
			return r.Source + "\x1f" + r.ID
		}
		return r.ID
	}
	if !bySource {
		if err := checkUnambiguous("truth", truth.Records); err != nil {
			return m, err
		}
		if err := checkUnambiguous("clusters", clusters.Records); err != nil {
			return m, err
		}
	}

	// Records known to the truth, with their entity.
	index := make(map[string]int32, len(truth.Records)+len(clusters.Records)/8)
	var sources []string
	srcID := map[string]int32{"": 0}
	internSource := func(s string) int32 {
		id, ok := srcID[s]
		if !ok {
			id = int32(len(srcID))
			srcID[s] = id
			sources = append(sources, s)
		}
		return id
	}
	type rec struct{ c, e, s int32 }
	var recs []rec
	entity := make(map[string]int32, len(truth.Records)/2)
	pairFirst := map[string]int32{}
	var uf unionFind
	for _, r := range truth.Records {
		k := key(r)
		i, seen := index[k]
		if !seen {
			i = int32(len(recs))
			index[k] = i
			recs = append(recs, rec{c: -1, e: -1, s: internSource(r.Source)})
			uf.add()
		}
		if truth.Open {
			// Labels name pairs; records sharing one are joined.
			if first, ok := pairFirst[r.Label]; ok {
				uf.union(first, i)
			} else {
				pairFirst[r.Label] = i
			}
			continue
		}
		e, ok := entity[r.Label]
		if !ok {
			e = int32(len(entity))
			entity[r.Label] = e
		}
		if seen && recs[i].e != e {
			return m, fmt.Errorf("%w: truth lists record %q twice with different entities", ErrMalformed, k)
		}
		recs[i].e = e
	}
	if truth.Open {
		for i := range recs {
			recs[i].e = uf.find(int32(i))
		}
	}
	nTruth := len(recs)

	// Clusters.
	cluster := make(map[string]int32, len(clusters.Records)/2)
	nextEntity := int32(len(recs))
	for _, r := range clusters.Records {
		k := key(r)
		i, ok := index[k]
		if !ok {
			if !truth.Open {
				m.MissingFromTruth++
				index[k] = -1
				continue
			}
			i = int32(len(recs))
			index[k] = i
			recs = append(recs, rec{c: -1, e: nextEntity, s: internSource(r.Source)})
			nextEntity++
		}
		if i < 0 {
			continue // unknown record listed again
		}
		c, ok := cluster[r.Label]
		if !ok {
			c = int32(len(cluster))
			cluster[r.Label] = c
		}
		if recs[i].c >= 0 && recs[i].c != c {
			return m, fmt.Errorf("%w: clusters list record %q in two clusters", ErrMalformed, k)
		}
		recs[i].c = c
		if recs[i].s == 0 && r.Source != "" {
			recs[i].s = internSource(r.Source)
		}
	}
	nextCluster := int32(len(cluster))
	for i := range nTruth {
		if recs[i].c < 0 {
			m.MissingFromClusters++
			recs[i].c = nextCluster
			nextCluster++
		}
	}
	if opts.CrossSourceOnly {
		for _, r := range recs {
			if r.s == 0 {
				return m, fmt.Errorf("%w: cross-source scoring needs a source for every record; neither truth nor clusters give one", ErrBadOptions)
			}
		}
	}
	m.Records = len(recs)

	// Contingency counts. Sorting by (cluster, entity, source) makes
	// clusters, cells and cell-source groups contiguous runs.
	pairs := func(n int64) int64 { return n * (n - 1) / 2 }
	// Cluster and entity ids are dense small integers: count in slices.
	clusterSize := make([]int64, nextCluster)
	entitySize := make([]int64, max(nextEntity, int32(len(entity))))
	for _, r := range recs {
		clusterSize[r.c]++
		entitySize[r.e]++
	}
	for _, n := range clusterSize {
		if n > 0 {
			m.Clusters++
			m.PredictedPairs += pairs(n)
		}
	}
	for _, n := range entitySize {
		if n > 0 {
			m.Entities++
			m.TruePairs += pairs(n)
		}
	}
	slices.SortFunc(recs, func(a, b rec) int {
		return cmp.Or(cmp.Compare(a.c, b.c), cmp.Compare(a.e, b.e), cmp.Compare(a.s, b.s))
	})
	var bp, br float64
	runs(recs, func(a, b rec) bool { return a.c == b.c && a.e == b.e }, func(lo, hi int) {
		n := int64(hi - lo)
		m.TruePositives += pairs(n)
		bp += float64(n*n) / float64(clusterSize[recs[lo].c])
		br += float64(n*n) / float64(entitySize[recs[lo].e])
		if opts.CrossSourceOnly {
			runs(recs[lo:hi], func(a, b rec) bool { return a.s == b.s }, func(l, h int) { m.TruePositives -= pairs(int64(h - l)) })
		}
	})
	if opts.CrossSourceOnly {
		// Remove same-source pairs from predicted and true pair counts.
		recs2 := slices.Clone(recs)
		slices.SortFunc(recs2, func(a, b rec) int { return cmp.Or(cmp.Compare(a.c, b.c), cmp.Compare(a.s, b.s)) })
		runs(recs2, func(a, b rec) bool { return a.c == b.c && a.s == b.s }, func(lo, hi int) { m.PredictedPairs -= pairs(int64(hi - lo)) })
		slices.SortFunc(recs2, func(a, b rec) int { return cmp.Or(cmp.Compare(a.e, b.e), cmp.Compare(a.s, b.s)) })
		runs(recs2, func(a, b rec) bool { return a.e == b.e && a.s == b.s }, func(lo, hi int) { m.TruePairs -= pairs(int64(hi - lo)) })
	}
	m.FalseMerges = m.PredictedPairs - m.TruePositives
	m.MissedPairs = m.TruePairs - m.TruePositives
	m.Precision, m.Recall = ratio(m.TruePositives, m.PredictedPairs), ratio(m.TruePositives, m.TruePairs)
	m.F1 = harmonic(m.Precision, m.Recall)
	if n := float64(len(recs)); n > 0 {
		m.BCubedPrecision, m.BCubedRecall = bp/n, br/n
	} else {
		m.BCubedPrecision, m.BCubedRecall = 1, 1
	}
	m.BCubedF1 = harmonic(m.BCubedPrecision, m.BCubedRecall)
	return m, nil
}

// runs calls f(lo, hi) for each maximal run of consecutive elements of s
// for which same holds between neighbours.
func runs[T any](s []T, same func(a, b T) bool, f func(lo, hi int)) {
	lo := 0
	for i := 1; i <= len(s); i++ {
		if i == len(s) || !same(s[lo], s[i]) {
			if lo < i {
				f(lo, i)
			}
			lo = i
		}
	}
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

func harmonic(p, r float64) float64 {
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

func allSourced(rs []LabelledRecord) bool {
	for _, r := range rs {
		if r.Source == "" {
			return false
		}
	}
	return len(rs) > 0
}

func sharesSource(a, b []LabelledRecord) bool {
	set := map[string]bool{}
	for _, r := range a {
		set[r.Source] = true
	}
	for _, r := range b {
		if set[r.Source] {
			return true
		}
	}
	return false
}

// checkUnambiguous fails when, joining on record id alone, one id occurs
// under two sources of one side.
func checkUnambiguous(side string, rs []LabelledRecord) error {
	first := map[string]string{}
	for _, r := range rs {
		if r.Source == "" {
			continue
		}
		if s, ok := first[r.ID]; ok && s != r.Source {
			return fmt.Errorf("%w: joining on record id alone, %s has record %q in sources %q and %q", ErrAmbiguous, side, r.ID, s, r.Source)
		}
		first[r.ID] = r.Source
	}
	return nil
}

// unionFind is a disjoint-set forest over 0..n-1 with path halving.
type unionFind struct{ parent []int32 }

func (u *unionFind) add() { u.parent = append(u.parent, int32(len(u.parent))) }

func (u *unionFind) find(x int32) int32 {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

func (u *unionFind) union(a, b int32) {
	ra, rb := u.find(a), u.find(b)
	if ra != rb {
		u.parent[max(ra, rb)] = min(ra, rb)
	}
}

// WriteText writes m as a human-readable summary.
func (m Metrics) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	scope := "all pairs"
	if m.CrossSourceOnly {
		scope = "cross-source pairs only"
	}
	fmt.Fprintf(tw, "records scored\t%d\t(joined on %s; %s)\n", m.Records, m.MatchedOn, scope)
	fmt.Fprintf(tw, "entities / clusters\t%d / %d\t\n", m.Entities, m.Clusters)
	fmt.Fprintf(tw, "missing from clusters\t%d\t(scored as singletons)\n", m.MissingFromClusters)
	fmt.Fprintf(tw, "missing from truth\t%d\t(not scored)\n", m.MissingFromTruth)
	fmt.Fprintf(tw, "true pairs\t%d\t\n", m.TruePairs)
	fmt.Fprintf(tw, "predicted pairs\t%d\t\n", m.PredictedPairs)
	fmt.Fprintf(tw, "true positives\t%d\t\n", m.TruePositives)
	fmt.Fprintf(tw, "false merges\t%d\t(pairs in one cluster, different entities)\n", m.FalseMerges)
	fmt.Fprintf(tw, "missed pairs\t%d\t(true pairs split across clusters)\n", m.MissedPairs)
	fmt.Fprintf(tw, "pairwise P / R / F1\t%.4f / %.4f / %.4f\t\n", m.Precision, m.Recall, m.F1)
	fmt.Fprintf(tw, "B-cubed P / R / F1\t%.4f / %.4f / %.4f\t\n", m.BCubedPrecision, m.BCubedRecall, m.BCubedF1)
	return tw.Flush()
}

// WriteJSON writes m as one indented JSON object.
func (m Metrics) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}
