package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/internal/shareddata"
	"github.com/carelens/carelens/match"
)

const gpCSV = `record_id,nhs_number,given,family,birth_date,sex,address,postcode,phone
g1,9434765919,Jonathan,Smith,1984-03-07,M,"12 High Street, Leeds",LS1 4AP,07700 900123
g2,4010232137,Mary,Brown,1950-11-02,F,"3 Park Road, York",YO1 7HH,07700 900456
g3,,Ahmed,Khan,1990-05-20,M,"8 Mill Lane, Bradford",BD1 2AB,
`

const hospCSV = `record_id,nhs_number,given,family,birth_date,sex,address,postcode,phone
h1,943 476 5919,JOHNATHAN,SMITH,07/03/1984,male,"12 High St, Leeds",ls14ap,+44 7700 900123
h2,5738563913,Mary,Browne,1950-11-02,F,"3 Park Road, York",YO1 7HH,07700 900456
`

func writeInputs(t *testing.T) (gp, hosp string) {
	t.Helper()
	dir := t.TempDir()
	gp, hosp = filepath.Join(dir, "gp.csv"), filepath.Join(dir, "hospital.csv")
	require.NoError(t, os.WriteFile(gp, []byte(gpCSV), 0o644))
	require.NoError(t, os.WriteFile(hosp, []byte(hospCSV), 0o644))
	return gp, hosp
}

func readClusters(t *testing.T, data []byte) map[string]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"source", "record_id", "cluster_id"}, rows[0])
	out := map[string]string{}
	for _, r := range rows[1:] {
		out[r[0]+"/"+r[1]] = r[2]
	}
	return out
}

func TestLinkCommand(t *testing.T) {
	gp, hosp := writeInputs(t)
	dir := t.TempDir()
	modelPath, pairsPath := filepath.Join(dir, "model.json"), filepath.Join(dir, "pairs.csv")
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"link", "--save-model", modelPath, "--pairs", pairsPath, gp, hosp}, nil, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	cl := readClusters(t, stdout.Bytes())
	assert.Len(t, cl, 5, "one row per input record, singletons included")
	assert.Equal(t, cl["gp/g1"], cl["hospital/h1"], "same NHS number, typo and format differences")
	assert.NotEqual(t, cl["gp/g2"], cl["hospital/h2"], "different valid NHS numbers never share a cluster")
	assert.NotContains(t, stderr.String(), "Jonathan", "no record values in logs")

	// The saved model is loadable and gives the same clusters.
	stdout.Reset()
	require.NoError(t, run(t.Context(), []string{"link", "--model", modelPath, gp, hosp}, nil, &stdout, &stderr))
	assert.Equal(t, cl, readClusters(t, stdout.Bytes()))

	pairs, err := os.ReadFile(pairsPath)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(pairs), "source_a,record_id_a,source_b,record_id_b,weight,probability\n"))

	stdout.Reset()
	require.NoError(t, run(t.Context(), []string{"link", "--explain", "g1,h1", gp, hosp}, nil, &stdout, &stderr))
	assert.Contains(t, stdout.String(), "NHS number")
	assert.Contains(t, stdout.String(), "same cluster: true")
}

func TestLinkCommandErrors(t *testing.T) {
	gp, _ := writeInputs(t)
	tests := []struct {
		name  string
		args  []string
		usage bool
	}{
		{name: "no inputs", args: []string{"link"}, usage: true},
		{name: "bad threshold", args: []string{"link", "--threshold", "1.5", gp}, usage: true},
		{name: "bad explain", args: []string{"link", "--explain", "g1", gp}, usage: true},
		{name: "bad map", args: []string{"link", "--map", "nonsense", gp}, usage: true},
		{name: "missing file", args: []string{"link", filepath.Join(t.TempDir(), "absent.csv")}},
		{name: "missing model", args: []string{"link", "--model", filepath.Join(t.TempDir(), "absent.json"), gp}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tc.args, nil, &stdout, &stderr)
			require.Error(t, err)
			assert.Equal(t, tc.usage, errors.Is(err, errUsage), err.Error())
		})
	}
}

func TestTrainCommand(t *testing.T) {
	gp, hosp := writeInputs(t)
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"train", "--seed", "3", gp, hosp}, nil, &stdout, &stderr), stderr.String())
	m, err := match.ReadModel(&stdout)
	require.NoError(t, err)
	assert.NotNil(t, m.Training)
	assert.EqualValues(t, 3, m.Training.Seed)
}

// TestLinkFEBRL4EndToEnd runs the command on FEBRL4 as a user would and
// checks every record is written once.
func TestLinkFEBRL4EndToEnd(t *testing.T) {
	a := shareddata.Path(t, "linkage", "febrl", "dataset4a.csv")
	b := shareddata.Path(t, "linkage", "febrl", "dataset4b.csv")
	out := filepath.Join(t.TempDir(), "clusters.csv")
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"link", "--out", out, a, b}, nil, &stdout, &stderr), stderr.String())
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	cl := readClusters(t, data)
	assert.Len(t, cl, 10000)
	assert.Equal(t, cl["dataset4a/rec-0-org"], cl["dataset4b/rec-0-dup-0"])
}

// TestLinkSkipBad checks that a malformed row fails the run with its file
// and line (never its values), and that --skip-bad reports and skips it.
func TestLinkSkipBad(t *testing.T) {
	gp, hosp := writeInputs(t)
	bad := filepath.Join(t.TempDir(), "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("record_id,given,family\nb1,Secretname,Smith\nb2,Only-two-fields\n"), 0o644))
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"link", gp, hosp, bad}, nil, &stdout, &stderr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bad.csv:3")
	assert.NotContains(t, err.Error(), "Only-two-fields")

	stdout.Reset()
	stderr.Reset()
	require.NoError(t, run(t.Context(), []string{"link", "--skip-bad", gp, hosp, bad}, nil, &stdout, &stderr))
	cl := readClusters(t, stdout.Bytes())
	assert.Contains(t, cl, "bad/b1")
	assert.NotContains(t, cl, "bad/b2")
	assert.Contains(t, stderr.String(), "skipped 1 bad rows")
	assert.NotContains(t, stderr.String(), "Secretname")
}
