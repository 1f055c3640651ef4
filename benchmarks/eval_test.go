package benchmarks

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/internal/shareddata"
)

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// labelled builds records from "source/id:label" or "id:label" strings.
func labelled(specs ...string) []LabelledRecord {
	var out []LabelledRecord
	for _, s := range specs {
		id, label, _ := strings.Cut(s, ":")
		src, rid, ok := strings.Cut(id, "/")
		if !ok {
			src, rid = "", id
		}
		out = append(out, LabelledRecord{Source: src, ID: rid, Label: label})
	}
	return out
}

func TestEvaluateHandComputed(t *testing.T) {
	tests := []struct {
		name       string
		truth      []string
		clusters   []string
		cross      bool
		tp, fp, fn int64
		truePairs  int64
		p, r, f1   float64
		bp, br     float64
		missC      int
		missT      int
		reason     string
	}{
		{
			name:  "split and wrong merge",
			truth: []string{"a:1", "b:1", "c:1", "d:2"}, clusters: []string{"a:x", "b:x", "c:y", "d:y"},
			tp: 1, fp: 1, fn: 2, truePairs: 3, p: 0.5, r: 1.0 / 3, f1: 0.4,
			bp: 0.75, br: 2.0 / 3,
			reason: "true pairs ab ac bc; predicted ab cd; B-cubed P (1+1+.5+.5)/4, R (2/3+2/3+1/3+1)/4",
		},
		{
			name:  "all singletons",
			truth: []string{"a:1", "b:1", "c:2"}, clusters: []string{"a:x", "b:y", "c:z"},
			tp: 0, fp: 0, fn: 1, truePairs: 1, p: 1, r: 0, f1: 0, bp: 1, br: (0.5 + 0.5 + 1) / 3,
			reason: "nothing predicted: precision is vacuously 1, recall 0",
		},
		{
			name:  "one big cluster",
			truth: []string{"a:1", "b:1", "c:2", "d:2"}, clusters: []string{"a:x", "b:x", "c:x", "d:x"},
			tp: 2, fp: 4, fn: 0, truePairs: 2, p: 1.0 / 3, r: 1, f1: 0.5, bp: 0.5, br: 1,
		},
		{
			name:  "truth record missing from clusters is a singleton",
			truth: []string{"a:1", "b:1", "c:1"}, clusters: []string{"a:x", "b:x"},
			tp: 1, fp: 0, fn: 2, truePairs: 3, p: 1, r: 1.0 / 3, f1: 0.5, bp: 1, br: (2.0/3 + 2.0/3 + 1.0/3) / 3, missC: 1,
		},
		{
			name:  "clustered record unknown to truth is not scored",
			truth: []string{"a:1", "b:1"}, clusters: []string{"a:x", "b:x", "z:x"},
			tp: 1, fp: 0, fn: 0, truePairs: 1, p: 1, r: 1, f1: 1, bp: 1, br: 1, missT: 1,
		},
		{
			name:  "cross-source only",
			truth: []string{"A/1:e1", "B/1:e1", "A/2:e1", "B/2:e2"}, clusters: []string{"A/1:x", "B/1:x", "A/2:y", "B/2:y"},
			cross: true, tp: 1, fp: 1, fn: 1, truePairs: 2, p: 0.5, r: 0.5, f1: 0.5,
			bp: 0.75, br: (2.0/3 + 2.0/3 + 1.0/3 + 1) / 4,
			reason: "A1-A2 is a true pair inside source A and is not scored; B-cubed counts all records",
		},
		{
			name:  "same data, all pairs",
			truth: []string{"A/1:e1", "B/1:e1", "A/2:e1", "B/2:e2"}, clusters: []string{"A/1:x", "B/1:x", "A/2:y", "B/2:y"},
			tp: 1, fp: 1, fn: 2, truePairs: 3, p: 0.5, r: 1.0 / 3, f1: 0.4, bp: 0.75, br: (2.0/3 + 2.0/3 + 1.0/3 + 1) / 4,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Evaluate(&Truth{Records: labelled(tc.truth...)}, &Clusters{Records: labelled(tc.clusters...)}, EvalOptions{CrossSourceOnly: tc.cross})
			require.NoError(t, err)
			assert.Equal(t, tc.tp, m.TruePositives, tc.reason)
			assert.Equal(t, tc.fp, m.FalseMerges, tc.reason)
			assert.Equal(t, tc.fn, m.MissedPairs, tc.reason)
			assert.Equal(t, tc.truePairs, m.TruePairs, tc.reason)
			assert.InDelta(t, tc.p, m.Precision, 1e-12, tc.reason)
			assert.InDelta(t, tc.r, m.Recall, 1e-12, tc.reason)
			assert.InDelta(t, tc.f1, m.F1, 1e-12, tc.reason)
			assert.InDelta(t, tc.bp, m.BCubedPrecision, 1e-12, tc.reason)
			assert.InDelta(t, tc.br, m.BCubedRecall, 1e-12, tc.reason)
			assert.Equal(t, tc.missC, m.MissingFromClusters)
			assert.Equal(t, tc.missT, m.MissingFromTruth)
		})
	}
}

func TestReadTruthFormats(t *testing.T) {
	dir := t.TempDir()
	// Every format describes the same entities {r1,r2,r3} {r4,r5} {r6}.
	tests := []struct {
		name    string
		files   map[string]string
		format  TruthFormat
		ids     []string // record ids of the clusters file, all singletons
		sources []string
	}{
		{
			name:   "source,record_id,person_id",
			files:  map[string]string{"t.csv": "source,record_id,person_id\ns,r1,P1\ns,r2,P1\ns,r3,P1\ns,r4,P2\ns,r5,P2\ns,r6,P3\n"},
			format: TruthSourced,
		},
		{
			name:   "record_id,entity_id",
			files:  map[string]string{"t.csv": "record_id,entity_id\nr1,1\nr2,1\nr3,1\nr4,2\nr5,2\nr6,3\n"},
			format: TruthEntities,
		},
		{
			name:   "any two columns, first a record id",
			files:  map[string]string{"t.csv": "id,who\nr1,1\nr2,1\nr3,1\nr4,2\nr5,2\nr6,3\n"},
			format: TruthEntities,
		},
		{
			name:   "any two columns, record then label",
			files:  map[string]string{"t.csv": "patient_ref,person\nr1,1\nr2,1\nr3,1\nr4,2\nr5,2\nr6,3\n"},
			format: TruthEntities,
		},
		{
			name: "FEBRL data file with comma-space separators",
			files: map[string]string{"dataset9.csv": "rec_id, given_name, surname, date_of_birth\n" +
				"rec-1-org, ann, lee, 19800101\nrec-1-dup-0, anne, lee, 19800101\nrec-1-dup-1, ann, leigh, \n" +
				"rec-2-org, bo, ng, 19700202\nrec-2-dup-0, bob, ng, 19700202\nrec-3-org, cy, ox, 19600303\n"},
			format: TruthFEBRL,
		},
		{
			name:   "true pairs, union-found into entities",
			files:  map[string]string{"t.csv": "rec_id_l,rec_id_r\nr1,r2\nr3,r2\nr5,r4\n"},
			format: TruthPairs,
		},
		{
			name:   "OpenCR true links",
			files:  map[string]string{"t.csv": "rec_id_1,rec_id_2\nr2,r1\nr2,r3\nr4,r5\n"},
			format: TruthPairs,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sub := t.TempDir()
			var paths []string
			for name, content := range tc.files {
				paths = append(paths, writeFile(t, sub, name, content))
			}
			tr, err := ReadTruth(paths...)
			require.NoError(t, err)
			assert.Equal(t, []TruthFormat{tc.format}, tr.Formats)
			ids := []string{"r1", "r2", "r3", "r4", "r5", "r6"}
			if tc.format == TruthFEBRL {
				ids = []string{"rec-1-org", "rec-1-dup-0", "rec-1-dup-1", "rec-2-org", "rec-2-dup-0", "rec-3-org"}
			}
			// Clusters equal to the truth entities: perfect scores.
			groups := []int{1, 1, 1, 2, 2, 3}
			var cl strings.Builder
			cl.WriteString("record_id,cluster_id\n")
			for i, id := range ids {
				fmt.Fprintf(&cl, "%s,c%d\n", id, groups[i])
			}
			c, err := ReadClusters(writeFile(t, dir, "cl.csv", cl.String()))
			require.NoError(t, err)
			m, err := Evaluate(tr, c, EvalOptions{})
			require.NoError(t, err)
			assert.Equal(t, int64(4), m.TruePairs, "3 pairs in the triple, 1 in the pair")
			assert.Equal(t, 6, m.Records)
			assert.Equal(t, 3, m.Entities)
			assert.Equal(t, 1.0, m.F1)
			assert.Zero(t, m.MissingFromTruth, "r6 is a singleton even when only the clusters list it")
			assert.Zero(t, m.MissingFromClusters)
		})
	}
}

func TestEvaluateFEBRLSeveralFilesCrossSource(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "dataset4a.csv", "rec_id, given_name\nrec-1-org, ann\nrec-2-org, bob\nrec-3-org, cy\n")
	b := writeFile(t, dir, "dataset4b.csv", "rec_id, given_name\nrec-1-dup-0, anne\nrec-2-dup-0, bob\nrec-3-dup-0, cyd\n")
	// One right link, one wrong link, one missed.
	cl := writeFile(t, dir, "cl.csv", "source,record_id,cluster_id\n"+
		"dataset4a,rec-1-org,x\ndataset4b,rec-1-dup-0,x\n"+
		"dataset4a,rec-2-org,y\ndataset4b,rec-3-dup-0,y\n"+
		"dataset4a,rec-3-org,z\ndataset4b,rec-2-dup-0,w\n")
	tr, err := ReadTruth(a, b)
	require.NoError(t, err)
	assert.Equal(t, []TruthFormat{TruthFEBRL, TruthFEBRL}, tr.Formats)
	c, err := ReadClusters(cl)
	require.NoError(t, err)
	m, err := Evaluate(tr, c, EvalOptions{CrossSourceOnly: true})
	require.NoError(t, err)
	assert.Equal(t, "source+record_id", m.MatchedOn)
	assert.Equal(t, int64(3), m.TruePairs)
	assert.Equal(t, int64(1), m.TruePositives)
	assert.Equal(t, int64(1), m.FalseMerges)
	assert.Equal(t, int64(2), m.MissedPairs)
}

func TestEvaluateJoinRules(t *testing.T) {
	t.Run("sources on one side only join on record id", func(t *testing.T) {
		m, err := Evaluate(&Truth{Records: labelled("A/1:e", "B/2:e")}, &Clusters{Records: labelled("1:x", "2:x")}, EvalOptions{CrossSourceOnly: true})
		require.NoError(t, err)
		assert.Equal(t, "record_id", m.MatchedOn)
		assert.Equal(t, 1.0, m.F1)
	})
	t.Run("disjoint source names join on record id", func(t *testing.T) {
		m, err := Evaluate(&Truth{Records: labelled("dataset1/1:e", "dataset1/2:e")}, &Clusters{Records: labelled("febrl1/1:x", "febrl1/2:x")}, EvalOptions{})
		require.NoError(t, err)
		assert.Equal(t, "record_id", m.MatchedOn)
		assert.Equal(t, int64(1), m.TruePositives)
	})
	t.Run("ambiguous id", func(t *testing.T) {
		_, err := Evaluate(&Truth{Records: labelled("A/1:e", "B/1:f")}, &Clusters{Records: labelled("1:x")}, EvalOptions{})
		require.ErrorIs(t, err, ErrAmbiguous)
		assert.Contains(t, err.Error(), `"1"`)
	})
	t.Run("cross-source without sources", func(t *testing.T) {
		_, err := Evaluate(&Truth{Records: labelled("1:e", "2:e")}, &Clusters{Records: labelled("1:x", "2:x")}, EvalOptions{CrossSourceOnly: true})
		require.ErrorIs(t, err, ErrBadOptions)
	})
	t.Run("record in two entities", func(t *testing.T) {
		_, err := Evaluate(&Truth{Records: labelled("1:e", "1:f")}, &Clusters{Records: labelled("1:x")}, EvalOptions{})
		require.ErrorIs(t, err, ErrMalformed)
	})
	t.Run("record in two clusters", func(t *testing.T) {
		_, err := Evaluate(&Truth{Records: labelled("1:e")}, &Clusters{Records: labelled("1:x", "1:y")}, EvalOptions{})
		require.ErrorIs(t, err, ErrMalformed)
	})
}

func TestReadMalformed(t *testing.T) {
	tests := []struct {
		name, file, content string
		clusters            bool
		want                string // file:line prefix the error must name
		secret              string // personal data that must not appear
	}{
		{name: "short row", file: "t.csv", content: "source,record_id,person_id\ns,1,P1\ns,2\n", want: "t.csv:3"},
		{name: "bad quoting", file: "t.csv", content: "record_id,entity_id\n1,a\n\"2,b\n", want: "t.csv:3"},
		{name: "empty file", file: "t.csv", content: "", want: "t.csv:1"},
		{name: "unknown header", file: "t.csv", content: "a,b,c\n1,2,3\n", want: "t.csv:1"},
		{name: "bad FEBRL id", file: "d.csv", content: "rec_id, given_name, surname\nrec-1-org, ann, lee\nrec-x-dup-0, waller, smithers\n", want: "d.csv:3", secret: "waller"},
		{name: "empty entity", file: "t.csv", content: "record_id,entity_id\n1,a\n2,\n", want: "t.csv:3"},
		{name: "clusters with four columns", file: "c.csv", content: "a,b,c,d\n", clusters: true, want: "c.csv:1"},
		{name: "clusters with three columns but no source", file: "c.csv", content: "record_id,cluster_id,score\n1,a,0.9\n", clusters: true, want: "c.csv:1"},
		{name: "clusters empty label", file: "c.csv", content: "record_id,cluster_id\n1,\n", clusters: true, want: "c.csv:2"},
		{name: "clusters long row", file: "c.csv", content: "record_id,cluster_id\n1,a\n2,b,extra\n", clusters: true, want: "c.csv:3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), tc.file, tc.content)
			var err error
			if tc.clusters {
				_, err = ReadClusters(p)
			} else {
				_, err = ReadTruth(p)
			}
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrMalformed), "error %v should wrap ErrMalformed", err)
			assert.Contains(t, err.Error(), tc.want)
			if tc.secret != "" {
				assert.NotContains(t, err.Error(), tc.secret)
			}
		})
	}
	_, err := ReadTruth(filepath.Join(t.TempDir(), "absent.csv"))
	assert.Error(t, err)
	_, err = ReadTruth()
	assert.ErrorIs(t, err, ErrBadOptions)
}

// bruteForce scores by enumerating pairs: the reference for Evaluate.
func bruteForce(truth, clusters []LabelledRecord, cross bool) (tp, pred, real int64) {
	for i := range truth {
		for j := i + 1; j < len(truth); j++ {
			if cross && truth[i].Source == truth[j].Source {
				continue
			}
			same := truth[i].Label == truth[j].Label
			together := clusters[i].Label == clusters[j].Label
			if same {
				real++
			}
			if together {
				pred++
			}
			if same && together {
				tp++
			}
		}
	}
	return tp, pred, real
}

func TestEvaluateMatchesPairEnumeration(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 2))
	for trial := range 200 {
		n := 1 + r.IntN(40)
		var truth, clusters []LabelledRecord
		for i := range n {
			src := fmt.Sprintf("s%d", r.IntN(3))
			id := fmt.Sprintf("r%d", i)
			truth = append(truth, LabelledRecord{Source: src, ID: id, Label: fmt.Sprint(r.IntN(1 + n/3))})
			clusters = append(clusters, LabelledRecord{Source: src, ID: id, Label: fmt.Sprint(r.IntN(1 + n/2))})
		}
		for _, cross := range []bool{false, true} {
			tp, pred, real := bruteForce(truth, clusters, cross)
			m, err := Evaluate(&Truth{Records: truth}, &Clusters{Records: clusters}, EvalOptions{CrossSourceOnly: cross})
			require.NoError(t, err)
			require.Equal(t, tp, m.TruePositives, "trial %d cross %v", trial, cross)
			require.Equal(t, pred, m.PredictedPairs, "trial %d cross %v", trial, cross)
			require.Equal(t, real, m.TruePairs, "trial %d cross %v", trial, cross)
		}
	}
}

// TestEvaluatePerfectClusteringProperty: clusters equal to the truth (under
// any relabelling and order) score P = R = F1 = 1 with no false merges.
func TestEvaluatePerfectClusteringProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 1))
	for trial := range 100 {
		n := 1 + r.IntN(300)
		var truth, clusters []LabelledRecord
		for i := range n {
			src := fmt.Sprintf("s%d", r.IntN(4))
			ent := r.IntN(1 + n/2)
			truth = append(truth, LabelledRecord{Source: src, ID: fmt.Sprint(i), Label: fmt.Sprint(ent)})
			clusters = append(clusters, LabelledRecord{Source: src, ID: fmt.Sprint(i), Label: fmt.Sprintf("cluster-%d", ent*7+3)})
		}
		r.Shuffle(len(clusters), func(i, j int) { clusters[i], clusters[j] = clusters[j], clusters[i] })
		for _, cross := range []bool{false, true} {
			m, err := Evaluate(&Truth{Records: truth}, &Clusters{Records: clusters}, EvalOptions{CrossSourceOnly: cross})
			require.NoError(t, err)
			assert.Equal(t, 1.0, m.Precision, "trial %d", trial)
			assert.Equal(t, 1.0, m.Recall, "trial %d", trial)
			assert.Equal(t, 1.0, m.F1, "trial %d", trial)
			assert.Zero(t, m.FalseMerges)
			assert.Zero(t, m.MissedPairs)
			assert.InDelta(t, 1.0, m.BCubedF1, 1e-12)
		}
	}
}

func TestEvaluateSharedFEBRL(t *testing.T) {
	tests := []struct {
		data, pairs string
		truePairs   int64
	}{
		{"dataset1.csv", "dataset1_true_pairs.csv", 500},
		{"dataset2.csv", "dataset2_true_pairs.csv", 1934},
		{"dataset3.csv", "dataset3_true_pairs.csv", 6538},
	}
	for _, tc := range tests {
		t.Run(tc.data, func(t *testing.T) {
			data := shareddata.Path(t, "linkage", "febrl", tc.data)
			pairs := shareddata.Path(t, "linkage", "febrl", tc.pairs)
			fromData, err := ReadTruth(data)
			require.NoError(t, err)
			fromPairs, err := ReadTruth(pairs)
			require.NoError(t, err)
			// Clusters = the entities the data file encodes.
			var cl Clusters
			for _, r := range fromData.Records {
				cl.Records = append(cl.Records, LabelledRecord{ID: r.ID, Label: r.Label})
			}
			for name, tr := range map[string]*Truth{"data": fromData, "pairs": fromPairs} {
				m, err := Evaluate(tr, &cl, EvalOptions{})
				require.NoError(t, err, name)
				assert.Equal(t, tc.truePairs, m.TruePairs, name)
				assert.Equal(t, 1.0, m.F1, name)
				assert.Equal(t, 5000-4000*btoi(tc.data == "dataset1.csv"), m.Records, name)
			}
		})
	}
	t.Run("dataset4 cross-source", func(t *testing.T) {
		a := shareddata.Path(t, "linkage", "febrl", "dataset4a.csv")
		b := shareddata.Path(t, "linkage", "febrl", "dataset4b.csv")
		pairs := shareddata.Path(t, "linkage", "febrl", "dataset4_true_pairs.csv")
		tr, err := ReadTruth(a, b)
		require.NoError(t, err)
		// Every 4a record alone, every 4b record alone: recall 0.
		var cl Clusters
		for _, r := range tr.Records {
			cl.Records = append(cl.Records, LabelledRecord{Source: r.Source, ID: r.ID, Label: r.Source + r.ID})
		}
		m, err := Evaluate(tr, &cl, EvalOptions{CrossSourceOnly: true})
		require.NoError(t, err)
		assert.Equal(t, int64(5000), m.TruePairs)
		assert.Equal(t, int64(5000), m.MissedPairs)
		trp, err := ReadTruth(pairs)
		require.NoError(t, err)
		m, err = Evaluate(trp, &cl, EvalOptions{CrossSourceOnly: true})
		require.NoError(t, err)
		assert.Equal(t, "record_id", m.MatchedOn)
		assert.Equal(t, int64(5000), m.TruePairs)
	})
	t.Run("OpenCR", func(t *testing.T) {
		data := shareddata.Path(t, "linkage", "opencr_uganda", "uganda_data_v21_20201501.csv")
		links := shareddata.Path(t, "linkage", "opencr_uganda", "uganda_data_v21_20201501_true_links.csv")
		fromData, err := ReadTruth(data)
		require.NoError(t, err)
		fromLinks, err := ReadTruth(links)
		require.NoError(t, err)
		var cl Clusters
		for _, r := range fromData.Records {
			cl.Records = append(cl.Records, LabelledRecord{ID: r.ID, Label: r.ID}) // all singletons
		}
		for _, tr := range []*Truth{fromData, fromLinks} {
			m, err := Evaluate(tr, &cl, EvalOptions{})
			require.NoError(t, err)
			assert.Equal(t, int64(1000), m.TruePairs)
			assert.Equal(t, 5000, m.Records)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestEvaluateSynthTruthAgainstItself(t *testing.T) {
	dir := t.TempDir()
	st, err := Synth(t.Context(), SynthOptions{People: 5000, Seed: 1, Out: dir})
	require.NoError(t, err)
	tr, err := ReadTruth(filepath.Join(dir, "truth.csv"))
	require.NoError(t, err)
	c, err := ReadClusters(filepath.Join(dir, "truth.csv"))
	require.NoError(t, err)
	for _, cross := range []bool{false, true} {
		m, err := Evaluate(tr, c, EvalOptions{CrossSourceOnly: cross})
		require.NoError(t, err)
		want := st.TruePairs
		if cross {
			want = st.CrossSourcePairs
		}
		assert.Equal(t, want, m.TruePairs)
		assert.Equal(t, 1.0, m.F1)
		assert.Equal(t, st.TotalRecords, m.Records)
		assert.Equal(t, st.PeopleWithRecords, m.Entities)
	}
}

func TestMetricsOutput(t *testing.T) {
	m, err := Evaluate(&Truth{Records: labelled("a:1", "b:1", "c:1", "d:2")}, &Clusters{Records: labelled("a:x", "b:x", "c:y", "d:y")}, EvalOptions{})
	require.NoError(t, err)
	var text, js strings.Builder
	require.NoError(t, m.WriteText(&text))
	require.NoError(t, m.WriteJSON(&js))
	assert.Contains(t, text.String(), "0.5000 / 0.3333 / 0.4000")
	assert.Contains(t, text.String(), "false merges")
	assert.Contains(t, js.String(), `"false_merges": 1`)
	assert.Contains(t, js.String(), `"missed_pairs": 2`)
}

// FuzzReadTruth: any file either reads or fails with ErrMalformed or
// ErrBadOptions (never a panic), and whatever reads can be evaluated
// against itself with perfect pairwise scores when it is not a pair list.
func FuzzReadTruth(f *testing.F) {
	f.Add("source,record_id,person_id\ns,1,P1\ns,2,P1\n")
	f.Add("record_id,entity_id\n1,a\n2,a\n")
	f.Add("rec_id, given_name, surname\nrec-1-org, a, b\nrec-1-dup-0, c, d\n")
	f.Add("rec_id_l,rec_id_r\na,b\nb,c\n")
	f.Add("\"unterminated\n")
	f.Fuzz(func(t *testing.T, content string) {
		p := writeFile(t, t.TempDir(), "truth.csv", content)
		tr, err := ReadTruth(p)
		if err != nil {
			assert.True(t, errors.Is(err, ErrMalformed) || errors.Is(err, ErrBadOptions), "unexpected error %v", err)
			return
		}
		if tr.Open {
			return
		}
		var cl Clusters
		for _, r := range tr.Records {
			cl.Records = append(cl.Records, LabelledRecord{Source: r.Source, ID: r.ID, Label: r.Label})
		}
		m, err := Evaluate(tr, &cl, EvalOptions{})
		if err != nil {
			// A record listed twice with two entities is the only error.
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		assert.Equal(t, 1.0, m.F1)
		assert.Zero(t, m.FalseMerges)
	})
}
