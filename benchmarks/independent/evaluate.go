package independent

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
)

// Key names a record: its source and its id there.
type Key struct{ Source, ID string }

// Pair is two records, A before B in (source, id) order.
type Pair struct{ A, B Key }

func makePair(a, b Key) Pair {
	if b.Source < a.Source || (b.Source == a.Source && b.ID < a.ID) {
		a, b = b, a
	}
	return Pair{a, b}
}

// ReadLabels reads a CSV file whose first three columns are source,
// record_id and a label (a person id in a truth file, a cluster id in
// carelens link's output), after a header row.
func ReadLabels(path string) (map[Key]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	out := map[Key]string{}
	for line := 0; ; line++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if line == 0 {
			continue
		}
		if len(row) < 3 {
			return nil, fmt.Errorf("%s: line %d: %d columns, want at least 3", path, line+1, len(row))
		}
		k := Key{row[0], row[1]}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%s: line %d: record %s/%s twice", path, line+1, k.Source, k.ID)
		}
		out[k] = row[2]
	}
}

// ReadLinkedPairs reads the --pairs file of carelens link: the weight of
// each pair that scored above the threshold.
func ReadLinkedPairs(path string) (map[Pair]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for _, h := range []string{"source_a", "record_id_a", "source_b", "record_id_b", "weight"} {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("%s: no column %q", path, h)
		}
	}
	out := map[Pair]float64{}
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		w, err := strconv.ParseFloat(row[col["weight"]], 64)
		if err != nil {
			return nil, fmt.Errorf("%s: weight: %w", path, err)
		}
		out[makePair(Key{row[col["source_a"]], row[col["record_id_a"]]}, Key{row[col["source_b"]], row[col["record_id_b"]]})] = w
	}
}

// Scores are pairwise figures of a clustering against the truth. A pair is
// two records; a true pair has one person, a predicted pair one cluster.
type Scores struct {
	Records, People, Clusters int
	Unclustered               int // truth records absent from the clusters (scored as singletons)
	Extra                     int // clustered records absent from the truth
	TruePairs, Predicted      int64
	TruePositives             int64
	FalseMerges               int64 // predicted pairs of two people
	Missed                    int64 // true pairs in different clusters
	Precision, Recall, F1     float64
	FalseMergeShare           float64 // FalseMerges / TruePairs
}

func choose2(n int) int64 { return int64(n) * int64(n-1) / 2 }

// Score compares clusters with truth, both keyed by record. Pairs are
// counted from the contingency table of (cluster, person), so the cost is
// linear in records whatever the cluster sizes.
func Score(truth, clusters map[Key]string) Scores {
	var s Scores
	s.Records = len(truth)
	type cell struct{ c, p string }
	cells := map[cell]int{}
	byPerson := map[string]int{}
	byCluster := map[string]int{}
	for k, p := range truth {
		c, ok := clusters[k]
		if !ok {
			s.Unclustered++
			c = "\x00missing " + k.Source + "/" + k.ID
		}
		cells[cell{c, p}]++
		byPerson[p]++
		byCluster[c]++
	}
	for k := range clusters {
		if _, ok := truth[k]; !ok {
			s.Extra++
		}
	}
	s.People, s.Clusters = len(byPerson), len(byCluster)
	for _, n := range cells {
		s.TruePositives += choose2(n)
	}
	for _, n := range byPerson {
		s.TruePairs += choose2(n)
	}
	for _, n := range byCluster {
		s.Predicted += choose2(n)
	}
	s.FalseMerges = s.Predicted - s.TruePositives
	s.Missed = s.TruePairs - s.TruePositives
	if s.Predicted > 0 {
		s.Precision = float64(s.TruePositives) / float64(s.Predicted)
	}
	if s.TruePairs > 0 {
		s.Recall = float64(s.TruePositives) / float64(s.TruePairs)
		s.FalseMergeShare = float64(s.FalseMerges) / float64(s.TruePairs)
	}
	if s.Precision+s.Recall > 0 {
		s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
	}
	return s
}

// FalseMergePairs lists the pairs of records one cluster holds that belong
// to two people, at most limit (0: all).
func FalseMergePairs(truth, clusters map[Key]string, limit int) []Pair {
	members := group(clusters)
	var out []Pair
	for _, ks := range members {
		for i := range ks {
			for j := i + 1; j < len(ks); j++ {
				if truth[ks[i]] != truth[ks[j]] {
					out = append(out, makePair(ks[i], ks[j]))
					if limit > 0 && len(out) == limit {
						return out
					}
				}
			}
		}
	}
	return out
}

// MissedPairs lists the pairs of records of one person that are in two
// clusters, at most limit (0: all).
func MissedPairs(truth, clusters map[Key]string, limit int) []Pair {
	members := group(truth)
	var out []Pair
	for _, ks := range members {
		for i := range ks {
			for j := i + 1; j < len(ks); j++ {
				ci, oki := clusters[ks[i]]
				cj, okj := clusters[ks[j]]
				if !oki || !okj || ci != cj {
					out = append(out, makePair(ks[i], ks[j]))
					if limit > 0 && len(out) == limit {
						return out
					}
				}
			}
		}
	}
	return out
}

// group lists the keys under each label, in a deterministic order.
func group(labels map[Key]string) [][]Key {
	m := map[string][]Key{}
	for k, l := range labels {
		m[l] = append(m[l], k)
	}
	ls := make([]string, 0, len(m))
	for l := range m {
		ls = append(ls, l)
	}
	slices.Sort(ls)
	out := make([][]Key, 0, len(ls))
	for _, l := range ls {
		ks := m[l]
		slices.SortFunc(ks, func(a, b Key) int {
			if a.Source != b.Source {
				if a.Source < b.Source {
					return -1
				}
				return 1
			}
			if a.ID < b.ID {
				return -1
			}
			if a.ID > b.ID {
				return 1
			}
			return 0
		})
		out = append(out, ks)
	}
	return out
}
