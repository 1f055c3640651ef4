package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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
	err = run(t.Context(), []string{"link", "--date-order", "us=ydm", us}, nil, &stdout, &stderr)
	assert.ErrorIs(t, err, errUsage)
}

// usPeople writes n people to two CSV files with the headers of issue 16
// (PatientID,FirstName,LastName,DOB,Gender,Zip and MRN,Given,Surname,
// BirthDate,Sex,PostalCode), US month-first dates, person i as A<i> in
// one and B<i> in the other, and returns the paths.
func usPeople(t *testing.T, dir string, n int, sepB string) (a, b string) {
	t.Helper()
	given := []string{"Ann", "Bob", "Cara", "Dev", "Ema", "Finn", "Gus", "Hana", "Ivo", "Jia", "Kofi", "Lena", "Milo", "Nia", "Omar"}
	family := []string{"Lee", "Ng", "Okafor", "Patel", "Quinn", "Rossi", "Silva", "Tanaka", "Ueda", "Vance", "Wu", "Xu", "Young", "Zhou"}
	var ab, bb strings.Builder
	ab.WriteString("PatientID,FirstName,LastName,DOB,Gender,Zip\n")
	bb.WriteString(strings.Join([]string{"MRN", "Given", "Surname", "BirthDate", "Sex", "PostalCode"}, sepB) + "\r\n")
	for i := range n {
		g, f := given[i%len(given)], family[i%len(family)] // unique for i < 210
		dob := fmt.Sprintf("%02d/%02d/%d", 1+i%12, 1+(i*5)%28, 1940+i)
		sex := []string{"F", "M"}[i%2]
		zip := fmt.Sprintf("%05d", 10002+i*41) // no repeated-digit placeholder
		fmt.Fprintf(&ab, "A%d,%s,%s,%s,%s,%s\n", i, g, f, dob, sex, zip)
		fmt.Fprintf(&bb, "%s\r\n", strings.Join([]string{fmt.Sprintf("B%d", i), g, f, dob, sex, zip}, sepB))
	}
	a, b = filepath.Join(dir, "clinic_a.csv"), filepath.Join(dir, "clinic_b.csv")
	require.NoError(t, os.WriteFile(a, []byte(ab.String()), 0o644))
	require.NoError(t, os.WriteFile(b, []byte("\ufeff"+bb.String()), 0o644))
	return a, b
}

// TestLinkUserFilesDifferentHeaders is issue 16's new user: two files of
// their own with different headers (one semicolon-separated with a BOM and
// CRLF), US dates. Every column is mapped and reported, and each person's
// two records share a cluster and no others do.
func TestLinkUserFilesDifferentHeaders(t *testing.T) {
	dir := t.TempDir()
	a, b := usPeople(t, dir, 40, ";")
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"link", a, b}, nil, &stdout, &stderr), stderr.String())
	log := stderr.String()
	for _, l := range []string{
		"clinic_a.csv: source clinic_a: 40 records; comma-separated (detected), UTF-8 (detected)",
		"clinic_b.csv: source clinic_b: 40 records; semicolon-separated (detected), UTF-8 with byte order mark (detected)",
		"clinic_a.csv: column PatientID -> id", "clinic_a.csv: column Zip -> postcode", "clinic_a.csv: column DOB -> birth_date",
		"clinic_b.csv: column MRN -> id", "clinic_b.csv: column PostalCode -> postcode", "clinic_b.csv: column Surname -> family",
		"source clinic_a: ", "read month first (mm/dd/yyyy)",
	} {
		assert.Contains(t, log, l)
	}
	assert.NotContains(t, log, "ignored")
	assert.NotContains(t, log, "warning")
	cl := readClusters(t, stdout.Bytes())
	require.Len(t, cl, 80)
	for i := range 40 {
		for j := range 40 {
			same := cl[fmt.Sprintf("clinic_a/A%d", i)] == cl[fmt.Sprintf("clinic_b/B%d", j)]
			assert.Equal(t, i == j, same, "A%d and B%d", i, j)
		}
	}
}

// TestLinkPerSourceMapping: a source whose headers the table does not know
// is an error naming it; per-source --id and --map fix it without touching
// the other source, and --source names a file's source.
func TestLinkPerSourceMapping(t *testing.T) {
	dir := t.TempDir()
	a, _ := usPeople(t, dir, 20, ",")
	odd := filepath.Join(dir, "export 2024.csv")
	var b strings.Builder
	b.WriteString("Key,Fore,Fam,Born,PostCde\n")
	for _, line := range strings.Split(strings.TrimSpace(mustRead(t, a)), "\n")[1:] {
		f := strings.Split(line, ",")
		fmt.Fprintf(&b, "K%s,%s,%s,%s,%s\n", f[0][1:], f[1], f[2], f[3], f[5])
	}
	require.NoError(t, os.WriteFile(odd, []byte(b.String()), 0o644))

	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"link", a, odd}, nil, &stdout, &stderr)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), odd+":"), "file first: %v", err)
	assert.Contains(t, err.Error(), "no record id column")
	assert.Contains(t, stderr.String(), "column PostCde is ignored but its name suggests postcode")

	stdout.Reset()
	stderr.Reset()
	args := []string{"link", "--source", "lab=" + odd, "--id", "lab:Key", "--map", "lab:given=Fore", "--map", "lab:family=Fam",
		"--map", "lab:dob=Born", "--map", "lab:postcode=PostCde", "--map", "nowhere:given=x", a}
	err = run(t.Context(), args, nil, &stdout, &stderr)
	require.ErrorIs(t, err, errUsage, "a --map for a source no input has")
	assert.Contains(t, err.Error(), "nowhere")

	args = slices.Delete(args, len(args)-3, len(args)-1)
	require.NoError(t, run(t.Context(), args, nil, &stdout, &stderr), stderr.String())
	log := stderr.String()
	assert.Contains(t, log, "column Key -> id (set)")
	assert.Contains(t, log, "column Born -> birth_date (set)")
	assert.Contains(t, log, "clinic_a.csv: column PatientID -> id\n", "the other source keeps its automatic mapping")
	cl := readClusters(t, stdout.Bytes())
	for i := range 20 {
		assert.Equal(t, cl[fmt.Sprintf("clinic_a/A%d", i)], cl[fmt.Sprintf("lab/K%d", i)], "person %d", i)
	}

	// Two inputs with one source name are refused, not merged.
	other := filepath.Join(t.TempDir(), "clinic_a.csv")
	require.NoError(t, os.WriteFile(other, []byte(mustRead(t, a)), 0o644))
	err = run(t.Context(), []string{"link", a, other}, nil, &stdout, &stderr)
	assert.ErrorIs(t, err, errUsage)
	assert.Contains(t, err.Error(), "source name clinic_a")
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// TestLinkRefusesFilesWithoutRecords: an empty file, a header-only file,
// a file with no usable column, and a truth file among the inputs (what
// `link DIR/*.csv` after `synth` gives) are errors naming the file.
func TestLinkRefusesFilesWithoutRecords(t *testing.T) {
	gp, _ := writeInputs(t)
	dir := t.TempDir()
	synthDir := filepath.Join(dir, "cohort")
	var so, se bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"synth", "--people", "30", "--out", synthDir}, nil, &so, &se))
	matches, err := filepath.Glob(filepath.Join(synthDir, "*.csv"))
	require.NoError(t, err)
	require.Contains(t, matches, filepath.Join(synthDir, "truth.csv"), "the glob a user types")
	tests := []struct {
		name, file, data, want string
		inputs                 []string
	}{
		{name: "empty", file: "empty.csv", data: "", want: "empty file"},
		{name: "header only", file: "head.csv", data: "\ufeffid,surname\r\n", want: "header only"},
		{name: "ids only", file: "ids.csv", data: "PatientID,Notes\nP1,x\n", want: "no column maps"},
		{name: "truth file from synth", inputs: matches, file: "truth.csv", want: "carelens eval --truth"},
		{name: "FEBRL true pairs", file: "pairs.csv", data: "rec_id_l,rec_id_r\nrec-1-org,rec-1-dup-0\n", want: "truth or clusters file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inputs := tc.inputs
			path := filepath.Join(synthDir, tc.file)
			if tc.data != "" || tc.inputs == nil {
				path = filepath.Join(dir, tc.file)
				require.NoError(t, os.WriteFile(path, []byte(tc.data), 0o644))
				inputs = []string{gp, path}
			}
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), append([]string{"link"}, inputs...), nil, &stdout, &stderr)
			require.Error(t, err)
			assert.Contains(t, err.Error(), path+":")
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "matchio", "no internal package names")
			assert.Empty(t, stdout.String(), "no clusters written")
		})
	}
}

// TestLinkDateOrderForEverySource: --date-order without a source applies
// to every source without its own, ymd included.
func TestLinkDateOrderForEverySource(t *testing.T) {
	dir := t.TempDir()
	a, b := usPeople(t, dir, 12, ",")
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"link", "--date-order", "dmy", "--date-order", "clinic_b=mdy", a, b}, nil, &stdout, &stderr), stderr.String())
	log := stderr.String()
	assert.Regexp(t, `source clinic_a: \d+ ambiguous dates read day first \(dd/mm/yyyy\) \(chosen by option\)`, log)
	assert.Regexp(t, `source clinic_b: \d+ ambiguous dates read month first \(mm/dd/yyyy\) \(chosen by option\)`, log)
	stderr.Reset()
	require.NoError(t, run(t.Context(), []string{"link", "--date-order", "ymd", a, b}, nil, &stdout, &stderr), stderr.String())
	assert.Contains(t, stderr.String(), "24 records: birth date invalid, treated as missing", "year-last dates in ymd sources")
	for _, bad := range []string{"dym", "clinic_a=", "=mdy", "nosuch=mdy"} {
		err := run(t.Context(), []string{"link", "--date-order", bad, a, b}, nil, &stdout, &stderr)
		assert.ErrorIs(t, err, errUsage, bad)
	}
}

// TestLinkSkipBadCountsSwallowedLines: with --skip-bad, a quote left open
// is reported at its line with every line it took.
func TestLinkSkipBadCountsSwallowedLines(t *testing.T) {
	dir := t.TempDir()
	a, _ := usPeople(t, dir, 20, ",")
	lines := strings.Split(mustRead(t, a), "\n")
	lines[5] = strings.Replace(lines[5], ",", `,"`, 1) // line 6 opens a quote
	lines[15] += `"`                                   // line 16 closes it inside a field
	bad := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte(strings.Join(lines, "\n")), 0o644))
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"link", bad}, nil, &stdout, &stderr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), bad+":6:")
	stderr.Reset()
	require.NoError(t, run(t.Context(), []string{"link", "--skip-bad", bad}, nil, &stdout, &stderr))
	got := len(readClusters(t, stdout.Bytes()))
	assert.Less(t, got, 20)
	assert.Contains(t, stderr.String(), fmt.Sprintf("taking %d lines", 20-got), "every lost record is accounted for")
	assert.Contains(t, stderr.String(), "bad.csv:6:")
}

// TestLinkEscapesIDs: ids a spreadsheet would run or a terminal would obey
// are escaped in the clusters and pairs files, and eval reads them back.
func TestLinkEscapesIDs(t *testing.T) {
	dir := t.TempDir()
	ids := []string{`=HYPERLINK("http://x","y")`, "+1", "@SUM(A1)", "-2"}
	var a, b, truth bytes.Buffer
	aw, bw, tw := csv.NewWriter(&a), csv.NewWriter(&b), csv.NewWriter(&truth)
	aw.Write([]string{"id", "given", "surname", "dob"})
	bw.Write([]string{"id", "given", "surname", "dob"})
	tw.Write([]string{"source", "record_id", "person_id"})
	for i, id := range ids {
		name, dob := []string{"Ann", "Bob", "Cara", "Dev"}[i], fmt.Sprintf("1980-01-0%d", i+1)
		aw.Write([]string{id, name, "Lee", dob})
		bw.Write([]string{"b" + id, name, "Lee", dob})
		tw.Write([]string{"a", id, fmt.Sprint("p", i)})
		tw.Write([]string{"b", "b" + id, fmt.Sprint("p", i)})
	}
	aw.Flush()
	bw.Flush()
	tw.Flush()
	pa, pb, pt := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv"), filepath.Join(dir, "t.txt")
	out, pairs := filepath.Join(dir, "out.csv"), filepath.Join(dir, "pairs.csv")
	require.NoError(t, os.WriteFile(pa, a.Bytes(), 0o644))
	require.NoError(t, os.WriteFile(pb, b.Bytes(), 0o644))
	require.NoError(t, os.WriteFile(pt, truth.Bytes(), 0o644))
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"link", "--out", out, "--pairs", pairs, pa, pb}, nil, &stdout, &stderr), stderr.String())
	rows, err := csv.NewReader(strings.NewReader(mustRead(t, out))).ReadAll()
	require.NoError(t, err)
	for _, r := range rows[1:] {
		assert.NotContains(t, "=+-@", r[1][:1], "cell %q starts a formula", r[1])
	}
	assert.Contains(t, mustRead(t, out), `'=HYPERLINK`)
	stdout.Reset()
	require.NoError(t, run(t.Context(), []string{"eval", "--truth", pt, "--clusters", out, "--json"}, nil, &stdout, &stderr), stderr.String())
	assert.Contains(t, stdout.String(), `"missing_from_truth": 0`, "escaped ids read back as the truth's")

	assert.Equal(t, `\x1b]0;x\a`, cell("\x1b]0;x\a", true))
	assert.Equal(t, "'=1+1", cell("=1+1", false))
}

// TestWriteFileWithIsAtomic: an error while writing leaves the old file
// whole and no temporary file behind; success replaces it.
func TestWriteFileWithIsAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "clusters.csv")
	require.NoError(t, os.WriteFile(p, []byte("old contents\n"), 0o640))
	err := writeFileWith(p, func(w io.Writer) error {
		io.WriteString(w, strings.Repeat("partial,", 10000))
		return errors.New("disk full")
	})
	require.Error(t, err)
	assert.Equal(t, "old contents\n", mustRead(t, p))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left")

	require.NoError(t, writeFileWith(p, func(w io.Writer) error { _, err := io.WriteString(w, "new\n"); return err }))
	assert.Equal(t, "new\n", mustRead(t, p))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm(), "an existing file keeps its permissions")
	entries, _ = os.ReadDir(dir)
	assert.Len(t, entries, 1)
}

// TestLinkDelimiterAndEncodingFlags: sniffing is reported and the flags
// override it; a Latin-1 file is read and flagged.
func TestLinkDelimiterAndEncodingFlags(t *testing.T) {
	dir := t.TempDir()
	a, _ := usPeople(t, dir, 12, ",")
	lat := filepath.Join(dir, "latin.csv")
	data := strings.ReplaceAll(strings.ReplaceAll(mustRead(t, a), ",", "|"), "Ema", "Em\xe9")
	require.NoError(t, os.WriteFile(lat, []byte(data), 0o644))
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"link", a, lat}, nil, &stdout, &stderr), stderr.String())
	assert.Contains(t, stderr.String(), "latin.csv: source latin: 12 records; pipe-separated (detected), Latin-1 (detected)")
	assert.Contains(t, stderr.String(), "carelens: warning: "+lat+": not valid UTF-8; read as Latin-1")

	stderr.Reset()
	require.NoError(t, run(t.Context(), []string{"link", "--delimiter", "pipe", "--encoding", "latin-1", lat}, nil, &stdout, &stderr), stderr.String())
	assert.Contains(t, stderr.String(), "pipe-separated (set), Latin-1 (set)")
	assert.NotContains(t, stderr.String(), "warning")

	err := run(t.Context(), []string{"link", "--encoding", "utf-8", lat}, nil, &stdout, &stderr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), lat+":")
	assert.Contains(t, err.Error(), "not valid UTF-8")
	err = run(t.Context(), []string{"link", "--delimiter", "comma", lat}, nil, &stdout, &stderr)
	require.Error(t, err, "a wrong delimiter leaves no usable column")
	for _, bad := range [][]string{{"--delimiter", "colon"}, {"--encoding", "utf-16"}} {
		err := run(t.Context(), append(append([]string{"link"}, bad...), a), nil, &stdout, &stderr)
		assert.ErrorIs(t, err, errUsage, "%v", bad)
	}
}
