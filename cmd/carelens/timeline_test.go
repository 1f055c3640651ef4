package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/internal/shareddata"
	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/provenance"
)

var timelineSample = filepath.Join("..", "..", "examples", "sample", "timeline")

func sampleFile(name string) string { return filepath.Join(timelineSample, name) }

// runTimelineCmd runs carelens timeline and returns stdout, stderr and the error.
func runTimelineCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), append([]string{"timeline"}, args...), nil, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// timelineLines splits the output into entry lines (each split into its
// columns) and the summary line.
func timelineLines(t *testing.T, out string) ([][]string, string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.NotEmpty(t, lines)
	summary := lines[len(lines)-1]
	require.True(t, strings.HasPrefix(summary, "summary: "), summary)
	var rows [][]string
	for _, l := range lines[:len(lines)-1] {
		var cols []string
		for c := range strings.SplitSeq(l, "  ") {
			if c = strings.TrimSpace(c); c != "" {
				cols = append(cols, c)
			}
		}
		rows = append(rows, cols)
	}
	return rows, summary
}

// rowsWith returns the rows whose display column (the third) contains s.
func rowsWith(rows [][]string, s string) [][]string {
	var out [][]string
	for _, r := range rows {
		if len(r) > 2 && strings.Contains(r[2], s) {
			out = append(out, r)
		}
	}
	return out
}

func sampleArgs(extra ...string) []string {
	args := append([]string{"-rules", sampleFile("rules.json")}, extra...)
	return append(args, "gp="+sampleFile("gp.json"), sampleFile("hospital.json"))
}

func TestTimelineSample(t *testing.T) {
	out, stderr, err := runTimelineCmd(t, sampleArgs()...)
	require.NoError(t, err, stderr)
	assert.Empty(t, stderr, "the sample has no FHIR issues")
	rows, summary := timelineLines(t, out)

	hb := rowsWith(rows, "Haemoglobin")
	require.Len(t, hb, 1, out)
	assert.Equal(t, []string{"2025-03-04T09:12:00Z", "result", "Haemoglobin", "135 g/L", "gp+hospital"}, hb[0])
	assert.Empty(t, rowsWith(rows, "Hb"), "the GP's local Hb merged into the hospital's")

	var conflicts [][]string
	for _, r := range rows {
		if strings.HasPrefix(r[len(r)-1], "CONFLICT") {
			conflicts = append(conflicts, r)
		}
	}
	require.Len(t, conflicts, 2, out)
	assert.Equal(t, []string{"2025-03-04T09:12:00Z", "result", "Serum potassium", "5.9 mmol/L", "gp", "CONFLICT #1 (value)"}, conflicts[0])
	assert.Equal(t, []string{"2025-03-04T09:12:00Z", "result", "Potassium", "4.1 mmol/L", "hospital", "CONFLICT #1 (value)"}, conflicts[1])

	allergies := 0
	for _, r := range rows {
		if r[1] == "allergy" {
			allergies++
			assert.Equal(t, "gp+hospital", r[len(r)-1])
		}
	}
	assert.Equal(t, 1, allergies)

	assert.Equal(t, []string{"2019", "problem", "Hypertensive disorder", "-", "hospital"}, rowsWith(rows, "Hypertensive")[0])
	assert.Equal(t, []string{"2024-11-20", "medication", "Ramipril 5mg capsules", "One capsule once a day", "gp"}, rowsWith(rows, "Ramipril")[0])
	assert.Equal(t, "note", rowsWith(rows, "GP consultation")[0][1])
	assert.Len(t, rows, 7)
	for _, r := range rows {
		assert.NotContains(t, r, "Patient", "patients are identity, not timeline entries")
	}
	assert.Equal(t, "summary: 9 entries in, 7 out, 2 merged, 1 conflicts; gp: 5 in, 5 on timeline; hospital: 4 in, 4 on timeline", summary)
}

func TestTimelineWithoutRules(t *testing.T) {
	out, _, err := runTimelineCmd(t, sampleFile("gp.json"), sampleFile("hospital.json"))
	require.NoError(t, err)
	rows, summary := timelineLines(t, out)
	// Without the rules the GP's local code is another test.
	assert.Equal(t, []string{"2025-03-04", "result", "Hb", "13.5 g/dL", "gp"}, rowsWith(rows, "Hb")[0])
	assert.Equal(t, "hospital", rowsWith(rows, "Haemoglobin")[0][4])
	assert.Contains(t, summary, "8 out, 1 merged, 1 conflicts")
}

func TestTimelineWithout(t *testing.T) {
	out, stderr, err := runTimelineCmd(t, sampleArgs("-without", "hospital")...)
	require.NoError(t, err, stderr)
	rows, summary := timelineLines(t, out)
	assert.NotContains(t, out, "CONFLICT")
	assert.NotContains(t, out, "hospital\n")
	assert.Empty(t, rowsWith(rows, "Hypertensive"), "hospital-only entry")
	assert.Empty(t, rowsWith(rows, "Haemoglobin"))
	assert.Equal(t, []string{"2025-03-04", "result", "Hb", "13.5 g/dL", "gp"}, rowsWith(rows, "Hb")[0])
	k := rowsWith(rows, "potassium")
	require.Len(t, k, 1)
	assert.Equal(t, []string{"2025-03-04T09:12:00Z", "result", "Serum potassium", "5.9 mmol/L", "gp"}, k[0])
	for _, r := range rows {
		assert.Equal(t, "gp", r[len(r)-1])
	}
	assert.Len(t, rows, 5)
	assert.Equal(t, "summary: 5 entries in, 5 out, 0 merged, 0 conflicts; gp: 5 in, 5 on timeline; hospital: left out", summary)
}

func TestTimelinePriority(t *testing.T) {
	out, _, err := runTimelineCmd(t, sampleArgs("-priority", "gp")...)
	require.NoError(t, err)
	rows, _ := timelineLines(t, out)
	// The GP's wording now represents the merged Hb.
	assert.Equal(t, []string{"2025-03-04", "result", "Hb", "13.5 g/dL", "gp+hospital"}, rowsWith(rows, "Hb")[0])
}

func TestTimelineFHIROut(t *testing.T) {
	dir := t.TempDir()
	bundle := filepath.Join(dir, "timeline.json")
	txt := filepath.Join(dir, "timeline.txt")
	out, stderr, err := runTimelineCmd(t, sampleArgs("-fhir", bundle, "-o", txt)...)
	require.NoError(t, err, stderr)
	assert.Empty(t, out, "-o takes the timeline")
	text, err := os.ReadFile(txt)
	require.NoError(t, err)
	rows, _ := timelineLines(t, string(text))

	data, err := os.ReadFile(bundle)
	require.NoError(t, err)
	b, err := fhirutil.Decode(data, &fhirutil.Options{Source: provenance.Source{ID: "carelens", Kind: provenance.KindOther}})
	require.NoError(t, err)
	require.NoError(t, b.Err())
	var entries int
	for _, e := range b.Entries() {
		if e.Display == "Provenance" {
			continue
		}
		entries++
	}
	assert.Equal(t, len(rows), entries)
	assert.Equal(t, len(rows), b.CountByType()["Provenance"])
}

func TestTimelineIssuesOnStderr(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "clinic.ndjson")
	require.NoError(t, os.WriteFile(bad, []byte(
		`{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"Secret test"},"effectiveDateTime":"2024-01-02","valueString":"SECRETVALUE","bogus":1}`+"\n"+
			`{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/x"},"code":{"text":"Asthma"},"recordedDate":"2020-05-01"}`+"\n"), 0o644))
	out, stderr, err := runTimelineCmd(t, bad)
	require.NoError(t, err)
	assert.Contains(t, stderr, bad+": fhirutil: line 1 Observation/o1")
	assert.NotContains(t, stderr, "SECRETVALUE")
	assert.Contains(t, out, "Asthma")
	assert.NotContains(t, out, "SECRETVALUE", "strict mode skips the bad resource")
	assert.Contains(t, out, "clinic: 1 in, 1 on timeline")

	out, stderr, err = runTimelineCmd(t, "-lenient", bad)
	require.NoError(t, err)
	assert.Contains(t, stderr, "(dropped, resource kept)")
	assert.Contains(t, out, "SECRETVALUE")

	eq := filepath.Join(dir, "a=b")
	require.NoError(t, os.Mkdir(eq, 0o755))
	moved := filepath.Join(eq, "clinic.ndjson")
	require.NoError(t, os.Rename(bad, moved))
	out, _, err = runTimelineCmd(t, moved)
	require.NoError(t, err, "a path holding = is a FILE")
	assert.Contains(t, out, "clinic: 1 in")
}

func TestTimelineErrors(t *testing.T) {
	dir := t.TempDir()
	badRules := filepath.Join(dir, "rules.json")
	require.NoError(t, os.WriteFile(badRules, []byte(`{"concepts":[],"windws":[]}`), 0o644))
	notJSON := filepath.Join(dir, "x.json")
	require.NoError(t, os.WriteFile(notJSON, []byte("hello"), 0o644))
	gp, hosp := sampleFile("gp.json"), sampleFile("hospital.json")
	cut := filepath.Join(dir, "cut.json")
	require.NoError(t, os.WriteFile(cut, []byte(`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"a"}},{"resource":{"resourceType":"Observ`), 0o644))

	tests := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no arguments", nil, true, "at least one SOURCE=FILE"},
		{"missing file", []string{"gp=" + gp, "lab=" + filepath.Join(dir, "nope.json")}, false, "nope.json"},
		{"not FHIR", []string{notJSON}, false, "x.json"},
		{"truncated", []string{"gp=" + gp, "lab=" + cut}, false, "source lab: " + cut + ": fhirutil: invalid JSON: unexpected end of input at byte 138 in entry[1]"},
		{"duplicate id", []string{"gp=" + hosp, gp}, true, `duplicate source id "gp"`},
		{"unknown without", []string{"-without", "lab", gp, hosp}, true, `-without "lab" is not one of the sources`},
		{"bad rules", []string{"-rules", badRules, gp, hosp}, false, "rules.json"},
		{"missing rules", []string{"-rules", filepath.Join(dir, "none.json"), gp}, false, "none.json"},
		{"empty id", []string{"=" + gp}, true, "want SOURCE=FILE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runTimelineCmd(t, tc.args...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			if tc.usage {
				assert.ErrorIs(t, err, errUsage)
			} else {
				assert.NotErrorIs(t, err, errUsage)
			}
		})
	}
}

// wholeFileTimeline is carelens timeline as it was before it streamed:
// each file read whole (fhirutil.Read, then Batch.Entries), merged, and
// printed. It is the oracle for the streaming command.
func wholeFileTimeline(t *testing.T, rulesPath string, args []string) (string, string) {
	t.Helper()
	srcs, err := parseTimelineSources(args)
	require.NoError(t, err)
	opts := &merge.Options{Rules: &merge.Rules{}}
	if rulesPath != "" {
		opts.Rules, err = loadRulesFile(rulesPath)
		require.NoError(t, err)
	}
	eng, err := merge.Compile(opts)
	require.NoError(t, err)
	var streams [][]merge.Entry
	var issues strings.Builder
	for _, s := range srcs {
		data, err := os.ReadFile(s.path)
		require.NoError(t, err)
		b, err := fhirutil.Read(bytes.NewReader(data), &fhirutil.Options{Source: s.src, SkimUnmapped: true})
		require.NoError(t, err)
		for _, is := range b.Issues {
			fmt.Fprintf(&issues, "%s: %v\n", s.path, is)
		}
		s.entries = b.Entries()
		eng.Sort(s.entries)
		streams = append(streams, s.entries)
	}
	tl, err := eng.MergeSlices(streams)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, writeTimeline(&out, tl, srcs, nil))
	return out.String(), issues.String()
}

// TestTimelineStreamedMatchesWholeFile: the streaming command prints,
// byte for byte, the timeline and issues of the whole-file path, on the
// sample (with a conflict), the shared Synthea patients as three sources,
// and the HL7 example Bundles (a searchset with a Medication after the
// request naming it, a document, batch responses holding Bundles).
func TestTimelineStreamedMatchesWholeFile(t *testing.T) {
	dir := shareddata.Path(t, "fhir")
	synthea, err := filepath.Glob(filepath.Join(dir, "synthea-r4", "*.json"))
	require.NoError(t, err)
	require.Len(t, synthea, 3)
	hl7, err := filepath.Glob(filepath.Join(dir, "hl7-r4-examples", "Bundle-*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, hl7)
	cases := map[string]struct {
		rules string
		args  []string
	}{
		"sample":  {sampleFile("rules.json"), []string{"gp=" + sampleFile("gp.json"), sampleFile("hospital.json")}},
		"synthea": {"", []string{"gp=" + synthea[0], "hospital=" + synthea[1], "community=" + synthea[2]}},
		"hl7":     {"", hl7},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			want, wantIssues := wholeFileTimeline(t, tc.rules, tc.args)
			var args []string
			if tc.rules != "" {
				args = append(args, "-rules", tc.rules)
			}
			got, gotIssues, err := runTimelineCmd(t, append(args, tc.args...)...)
			require.NoError(t, err)
			assert.Equal(t, want, got)
			assert.Equal(t, wantIssues, gotIssues)
			assert.Greater(t, strings.Count(got, "\n"), 3)
		})
	}
}
