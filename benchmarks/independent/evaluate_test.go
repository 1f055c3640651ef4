package independent

import (
	"os"
	"path/filepath"
	"testing"
)

func TestScore(t *testing.T) {
	a1, a2, a3, b1, c1 := Key{"gp", "a1"}, Key{"hospital", "a2"}, Key{"gp", "a3"}, Key{"gp", "b1"}, Key{"gp", "c1"}
	truth := map[Key]string{a1: "A", a2: "A", a3: "A", b1: "B", c1: "C"}
	clusters := map[Key]string{a1: "1", a2: "1", b1: "1", a3: "2", c1: "3"}
	s := Score(truth, clusters)
	if s.TruePairs != 3 || s.Predicted != 3 || s.TruePositives != 1 || s.FalseMerges != 2 || s.Missed != 2 {
		t.Fatalf("pairs: %+v", s)
	}
	if s.Precision != 1.0/3 || s.Recall != 1.0/3 || s.FalseMergeShare != 2.0/3 || s.People != 3 || s.Clusters != 3 {
		t.Fatalf("figures: %+v", s)
	}
	if got := FalseMergePairs(truth, clusters, 0); len(got) != 2 {
		t.Errorf("false-merge pairs %v", got)
	}
	if got := MissedPairs(truth, clusters, 0); len(got) != 2 {
		t.Errorf("missed pairs %v", got)
	}

	delete(clusters, c1)
	clusters[Key{"gp", "zz"}] = "9"
	if s := Score(truth, clusters); s.Unclustered != 1 || s.Extra != 1 || s.FalseMerges != 2 {
		t.Errorf("a record missing from the clusters: %+v", s)
	}
	perfect := Score(truth, truth)
	if perfect.F1 != 1 || perfect.FalseMerges != 0 || perfect.Missed != 0 {
		t.Errorf("truth against itself: %+v", perfect)
	}
}

func TestReadFiles(t *testing.T) {
	dir := t.TempDir()
	lab := filepath.Join(dir, "clusters.csv")
	if err := os.WriteFile(lab, []byte("source,record_id,cluster_id\ngp,G1,1\nhospital,RX1,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadLabels(lab)
	if err != nil || len(got) != 2 || got[Key{"hospital", "RX1"}] != "1" {
		t.Fatalf("ReadLabels = %v, %v", got, err)
	}
	if err := os.WriteFile(lab, []byte("source,record_id,cluster_id\ngp,G1,1\ngp,G1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLabels(lab); err == nil {
		t.Error("a record twice: no error")
	}
	pairs := filepath.Join(dir, "pairs.csv")
	if err := os.WriteFile(pairs, []byte("source_a,record_id_a,source_b,record_id_b,weight,probability\nhospital,RX1,gp,G1,12.5,1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lp, err := ReadLinkedPairs(pairs)
	if err != nil || lp[makePair(Key{"gp", "G1"}, Key{"hospital", "RX1"})] != 12.5 {
		t.Fatalf("ReadLinkedPairs = %v, %v", lp, err)
	}
}
