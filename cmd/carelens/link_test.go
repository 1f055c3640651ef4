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

// TestLinkReportsDates checks that link says what it set aside and how it
// read each source's ambiguous dates, and that --birth-dates and
// --date-order change both.
func TestLinkReportsDates(t *testing.T) {
	dir := t.TempDir()
	us := filepath.Join(dir, "us.csv")
	require.NoError(t, os.WriteFile(us, []byte(`record_id,given,family,birth_date
u1,Ada,Lovelace,12/10/1815
u2,Charles,Babbage,12/26/1791
u3,Mary,Brown,03/04/1950
u4,John,Smith,1900-01-01
`), 0o644))
	tests := []struct {
		name      string
		args      []string
		want, not []string
	}{
		{name: "defaults", want: []string{
			"carelens: data: 2 records: birth date outside 1880-",
			"carelens: data: 1 records: birth date a placeholder, treated as missing",
			"carelens: data: source us: 2 ambiguous dates read month first (mm/dd/yyyy) (0 values only day first reads, 1 only month first reads)"}},
		{name: "historical", args: []string{"--birth-dates", "1500..2000"},
			not: []string{"outside"}},
		{name: "order set", args: []string{"--date-order", "us=dmy"},
			want: []string{"2 ambiguous dates read day first (dd/mm/yyyy) (chosen by option)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append(append([]string{"link"}, tc.args...), us)
			require.NoError(t, run(t.Context(), args, nil, &stdout, &stderr), stderr.String())
			for _, w := range tc.want {
				assert.Contains(t, stderr.String(), w)
			}
			for _, w := range tc.not {
				assert.NotContains(t, stderr.String(), w)
			}
			assert.NotContains(t, stderr.String(), "Lovelace", "no record values in logs")
			assert.NotContains(t, stderr.String(), "1815", "no record values in logs")
		})
	}
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"link", "--birth-dates", "1500", us}, nil, &stdout, &stderr)
	assert.ErrorIs(t, err, errUsage)
	err = run(t.Context(), []string{"link", "--date-order", "us=ymd", us}, nil, &stdout, &stderr)
	assert.ErrorIs(t, err, errUsage)
}
