package match

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/carelens/carelens/internal/shareddata"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readLinkageCSV reads a FEBRL-style or OpenCR CSV into records, mapping
// the known column names (a tiny local reader so this package's tests do
// not depend on match/matchio).
func readLinkageCSV(tb testing.TB, path string) []Record {
	tb.Helper()
	f, err := os.Open(path)
	require.NoError(tb, err)
	defer f.Close()
	r := csv.NewReader(f)
	r.TrimLeadingSpace = true
	rows, err := r.ReadAll()
	require.NoError(tb, err)
	src := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	hdr := rows[0]
	var recs []Record
	for _, row := range rows[1:] {
		rec := Record{Source: src}
		var addr [3]string
		for k, col := range hdr {
			v := strings.TrimSpace(row[k])
			switch col {
			case "rec_id":
				rec.ID = v
			case "given_name":
				if v != "" {
					rec.Given = []string{v}
				}
			case "surname":
				rec.Family = v
			case "street_number":
				addr[0] = v
			case "address_1":
				addr[1] = v
			case "address_2":
				addr[2] = v
			case "suburb":
				rec.Town = v
			case "postcode":
				rec.Postcode = v
			case "state":
				rec.State = v
			case "date_of_birth":
				rec.BirthDate = v
			case "sex":
				rec.Sex = v
			case "phone_number":
				rec.Phone = v
			case "soc_sec_id", "uganda_nin", "art_number":
				rec.Identifiers = append(rec.Identifiers, Identifier{System: col, Value: v})
			}
		}
		for _, a := range addr {
			if a != "" {
				rec.Address = append(rec.Address, a)
			}
		}
		recs = append(recs, rec)
	}
	return recs
}

var febrlEntity = regexp.MustCompile(`^rec-(\d+)-`)

// pairwiseF1 scores clusters against truth given by rec_id prefixes
// (rec-N-...), counting pairs within clusters. With crossOnly, only pairs
// from different sources count (FEBRL4 is scored on 4a×4b pairs).
func pairwiseF1(tb testing.TB, recs []Record, cluster []int, crossOnly bool) (p, r, f1 float64, fp, fn int) {
	tb.Helper()
	truth := map[string][]int{}
	for i, rec := range recs {
		m := febrlEntity.FindStringSubmatch(rec.ID)
		require.NotNil(tb, m, "record %s has no entity prefix", rec.ID)
		truth[m[1]] = append(truth[m[1]], i)
	}
	ent := make([]string, len(recs))
	for e, idx := range truth {
		for _, i := range idx {
			ent[i] = e
		}
	}
	var tp, truePairs, predPairs int
	for _, idx := range truth {
		for x := range idx {
			for y := x + 1; y < len(idx); y++ {
				if crossOnly && recs[idx[x]].Source == recs[idx[y]].Source {
					continue
				}
				truePairs++
			}
		}
	}
	byCluster := map[int][]int{}
	for i, c := range cluster {
		byCluster[c] = append(byCluster[c], i)
	}
	for _, idx := range byCluster {
		for x := range idx {
			for y := x + 1; y < len(idx); y++ {
				if crossOnly && recs[idx[x]].Source == recs[idx[y]].Source {
					continue
				}
				predPairs++
				if ent[idx[x]] == ent[idx[y]] {
					tp++
				}
			}
		}
	}
	p = float64(tp) / float64(max(predPairs, 1))
	r = float64(tp) / float64(max(truePairs, 1))
	if p+r > 0 {
		f1 = 2 * p * r / (p + r)
	}
	return p, r, f1, predPairs - tp, truePairs - tp
}

func TestLinkAccuracy(t *testing.T) {
	tests := []struct {
		name      string
		files     [][]string
		crossOnly bool
		minF1     float64
	}{
		{name: "febrl1", files: [][]string{{"linkage", "febrl", "dataset1.csv"}}, minF1: 0.999},
		{name: "febrl2", files: [][]string{{"linkage", "febrl", "dataset2.csv"}}, minF1: 0.999},
		{name: "febrl3", files: [][]string{{"linkage", "febrl", "dataset3.csv"}}, minF1: 0.998},
		{name: "febrl4", files: [][]string{{"linkage", "febrl", "dataset4a.csv"}, {"linkage", "febrl", "dataset4b.csv"}}, crossOnly: true, minF1: 0.999},
		{name: "uganda", files: [][]string{{"linkage", "opencr_uganda", "uganda_data_v21_20201501.csv"}}, minF1: 0.999},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var recs []Record
			for _, f := range tc.files {
				recs = append(recs, readLinkageCSV(t, shareddata.Path(t, f...))...)
			}
			truth := make([]string, len(recs))
			for i, rec := range recs {
				truth[i] = febrlEntity.FindString(rec.ID)
			}
			res, err := Link(t.Context(), recs, &LinkOptions{KeepPairs: os.Getenv("CARELENS_DEBUG_FN") != "", Truth: truth})
			require.NoError(t, err)
			p, r, f1, fp, fn := pairwiseF1(t, recs, res.Cluster, tc.crossOnly)
			t.Logf("%s: P=%.4f R=%.4f F1=%.4f FP=%d FN=%d; pair completeness %.4f of %d; %v; prior=%.3g replaced=%.4f timings=%v", tc.name, p, r, f1, fp, fn, res.Stats.PairCompleteness, res.Stats.TruePairs, res.Stats, res.Model.Prior, res.Model.Training.GivenReplacedRate, res.Stats.Timings)
			assert.GreaterOrEqual(t, f1, tc.minF1)
			if os.Getenv("CARELENS_DEBUG_FN") != "" {
				debugErrors(t, recs, res)
			}
		})
	}
}

// debugErrors logs the explanation of every missed and every false pair
// (levels and weights only) to help diagnose the model.
func debugErrors(t *testing.T, recs []Record, res *LinkResult) {
	byEnt := map[string][]int{}
	for i, rec := range recs {
		m := febrlEntity.FindStringSubmatch(rec.ID)
		byEnt[m[1]] = append(byEnt[m[1]], i)
	}
	ent := make([]string, len(recs))
	for e, idx := range byEnt {
		for _, i := range idx {
			ent[i] = e
		}
	}
	for _, pr := range res.Pairs {
		if ent[pr.A] != ent[pr.B] {
			e := res.Scorer.Explain(&res.Prepared[pr.A], &res.Prepared[pr.B])
			t.Logf("FP %s %s w=%.2f\n%v %v\n%s", recs[pr.A].ID, recs[pr.B].ID, e.Weight, recs[pr.A], recs[pr.B], e)
		}
	}
	for _, idx := range byEnt {
		for x := range idx {
			for y := x + 1; y < len(idx); y++ {
				a, b := idx[x], idx[y]
				if res.Cluster[a] != res.Cluster[b] {
					e := res.Scorer.Explain(&res.Prepared[a], &res.Prepared[b])
					t.Logf("FN %s %s w=%.2f\n%v %v\n%s", recs[a].ID, recs[b].ID, e.Weight, recs[a], recs[b], e)
				}
			}
		}
	}
}
