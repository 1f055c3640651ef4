package fhirutil

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/provenance"
)

// setStreamChunk sets streamChunk for the test.
func setStreamChunk(t testing.TB, n int) {
	old := streamChunk
	streamChunk = n
	t.Cleanup(func() { streamChunk = old })
}

// crossRefBundle has every reference Batch.Entries resolves across the
// Bundle, each pointing both ways: requests before and after the
// Medication they name, a Medication given twice (the later wins),
// Provenance before and after its targets, two DetectedIssues marking
// one resource (the later wins), and a contained Medication.
var crossRefBundle = bundleOf(
	`{"resourceType":"MedicationRequest","id":"r1","status":"active","intent":"order","medicationReference":{"reference":"Medication/m1","display":"by reference"},"authoredOn":"2024-01-02"}`,
	`{"resourceType":"Provenance","id":"p1","target":[{"reference":"MedicationRequest/r1"},{"reference":"urn:uuid:7"}],"recorded":"2024-01-02T00:00:00Z","agent":[{"who":{"display":"x"}}],"entity":[{"role":"source","what":{"reference":"Observation/lab-1/_history/2"},"agent":[{"who":{"identifier":{"system":"`+SourceSystem+`","value":"lab"}}}]}]}`,
	`{"resourceType":"Medication","id":"m1","code":{"coding":[{"system":"http://snomed.info/sct","code":"111","display":"first"}]}}`,
	`{"resourceType":"MedicationStatement","id":"s1","status":"active","medicationReference":{"reference":"urn:uuid:5"},"subject":{"reference":"Patient/p"},"effectiveDateTime":"2024-02-03"}`,
	`{"resourceType":"Medication","id":"m1","code":{"coding":[{"system":"http://snomed.info/sct","code":"222","display":"second"}]}}`,
	`{"resourceType":"Medication","id":"m2","code":{"text":"by fullUrl"}}`,
	`{"resourceType":"MedicationDispense","id":"d1","status":"completed","contained":[{"resourceType":"Medication","id":"c","code":{"text":"contained"}}],"medicationReference":{"reference":"#c"}}`,
	`{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"Potassium"},"effectiveDateTime":"2024-01-02"}`,
	`{"resourceType":"DetectedIssue","id":"i1","status":"final","identifier":[{"system":"`+ConflictSystem+`","value":"3"}],"code":{"coding":[{"system":"`+ConflictSystem+`","code":"value"}]},"implicated":[{"reference":"Observation/o1"},{"reference":"urn:uuid:0"}]}`,
	`{"resourceType":"DetectedIssue","id":"i2","status":"final","identifier":[{"system":"`+ConflictSystem+`","value":"4"}],"code":{"coding":[{"system":"`+ConflictSystem+`","code":"time"}]},"implicated":[{"reference":"urn:uuid:7"}]}`,
	`{"resourceType":"Patient","id":"p"}`,
)

// readEntriesOracle is the whole-input path: Read, then Batch.Entries,
// with the issues Read found.
func readEntriesOracle(t *testing.T, data []byte, o *Options) ([]merge.Entry, []string, error) {
	t.Helper()
	b, err := Read(bytes.NewReader(data), o)
	if err != nil {
		return nil, nil, err
	}
	var issues []string
	for _, is := range b.Issues {
		issues = append(issues, is.Error())
	}
	return b.Entries(), issues, nil
}

func readEntriesStream(data []byte, o *Options) ([]merge.Entry, []string, error) {
	var issues []string
	entries, err := ReadEntries(bytes.NewReader(data), o, func(is *ResourceError) { issues = append(issues, is.Error()) })
	return entries, issues, err
}

// TestReadEntriesMatchesEntries: the streaming path gives the entries
// and issues of the whole-input path (Read, then Batch.Entries) on the
// shared HL7 and Synthea files, the timeline sample, a Bundle
// TimelineBundle wrote (Provenance and a DetectedIssue after their
// targets) and one with every cross-reference both ways, in strict and
// lenient mode, whatever the chunk size (1 byte: every entry its own
// Batch, so no index is complete when an entry is made).
func TestReadEntriesMatchesEntries(t *testing.T) {
	inputs := map[string][]byte{"cross references": []byte(crossRefBundle)}
	for _, f := range testFiles(t) {
		inputs[filepath.Base(f)] = readFile(t, f)
	}
	for _, f := range []string{"gp.json", "hospital.json"} {
		inputs["sample "+f] = readFile(t, filepath.Join("..", "examples", "sample", "timeline", f))
	}
	inputs["timeline bundle"] = conflictTimelineBundle(t)

	retrieved := time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)
	for _, chunk := range []int{1, 4 << 10, streamChunk} {
		setStreamChunk(t, chunk)
		for name, data := range inputs {
			for _, lenient := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/chunk=%d/lenient=%v", name, chunk, lenient), func(t *testing.T) {
					o := &Options{Source: provenance.Source{ID: "src"}, Retrieved: retrieved, Lenient: lenient, SkimUnmapped: true}
					want, wantIssues, wantErr := readEntriesOracle(t, data, o)
					got, gotIssues, err := readEntriesStream(data, o)
					require.Equal(t, wantErr, err)
					assert.Equal(t, wantIssues, gotIssues)
					require.Equal(t, len(want), len(got))
					for i := range want {
						require.Equal(t, want[i], got[i], "entry %d", i)
					}
				})
			}
		}
	}
}

// conflictTimelineBundle renders a merged timeline with a conflict, as
// carelens timeline -fhir writes it.
func conflictTimelineBundle(t *testing.T) []byte {
	t.Helper()
	at := time.Date(2024, 3, 4, 10, 30, 0, 0, time.UTC)
	k := func(src, id string, v float64, at time.Time) merge.Entry {
		return merge.Entry{Category: merge.CategoryResult, Time: at, Precision: merge.PrecisionMinute, Status: "final",
			Codes: []merge.Code{{System: LOINCSystem, Code: "2823-3", Display: "Potassium"}}, Display: "Potassium",
			Value:   &merge.Quantity{Value: v, Unit: "mmol/L"},
			Lineage: provenance.Of(provenance.Tag{Source: src, ResourceType: "Observation", ResourceID: id, Version: "3"})}
	}
	eng, err := merge.Compile(nil)
	require.NoError(t, err)
	tl, err := eng.MergeSlices([][]merge.Entry{{k("hospital", "h1", 4.1, at)}, {k("gp", "g1", 5.9, at.Add(time.Minute))}})
	require.NoError(t, err)
	require.Len(t, tl.Conflicts, 1)
	out, err := TimelineBundle(tl.Entries(), &TimelineOptions{Conflicts: tl.Conflicts, Recorded: testNow})
	require.NoError(t, err)
	return out
}

// TestReadEntriesCrossRefs checks the cross-references against values
// written by hand, whatever the chunk size.
func TestReadEntriesCrossRefs(t *testing.T) {
	for _, chunk := range []int{1, streamChunk} {
		setStreamChunk(t, chunk)
		entries, err := ReadEntries(strings.NewReader(crossRefBundle), &Options{Source: provenance.Source{ID: "src"}}, nil)
		require.NoError(t, err)
		require.Len(t, entries, 8, "every resource but the Patient and the two conflict issues")
		by := map[string]merge.Entry{}
		for _, e := range entries {
			for _, tag := range e.Lineage.Tags() {
				if tag.Source == "src" {
					by[tag.ResourceType+"/"+tag.ResourceID] = e
				}
			}
		}

		r1 := by["MedicationRequest/r1"]
		assert.Equal(t, []merge.Code{{System: "http://snomed.info/sct", Code: "222", Display: "second"}}, r1.Codes, "the later Medication m1")
		assert.Equal(t, "by reference", r1.Display, "the reference's display comes first")
		assert.Equal(t, []string{"lab", "src"}, r1.Lineage.Sources(), "the Provenance after it")
		assert.Equal(t, merge.ConflictID(3), r1.Conflict, "implicated by fullUrl urn:uuid:0")

		s1 := by["MedicationStatement/s1"]
		assert.Equal(t, "by fullUrl", s1.Display)
		assert.Equal(t, []string{"src"}, s1.Lineage.Sources())
		assert.Equal(t, "contained", by["MedicationDispense/d1"].Display)

		o1 := by["Observation/o1"]
		assert.Equal(t, merge.ConflictID(4), o1.Conflict, "the later DetectedIssue wins")
		assert.Equal(t, []string{"lab", "src"}, o1.Lineage.Sources(), "the Provenance before it, by fullUrl")
	}
}

// TestReadEntriesErrors: a bad resource is an issue naming its place,
// type, id and element, never its value, and the other entries are
// kept; a truncated Bundle is an error naming the byte and the entry.
func TestReadEntriesErrors(t *testing.T) {
	setStreamChunk(t, 1)
	in := bundleOf(
		`{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"ok"}}`,
		`{"resourceType":"Observation","id":"o2","status":"SECRETVALUE","code":{"text":"bad"}}`,
		`{"resourceType":"Condition","id":"c1","code":{"text":"kept"}}`,
	)
	var issues []*ResourceError
	entries, err := ReadEntries(strings.NewReader(in), nil, func(is *ResourceError) { issues = append(issues, is) })
	require.NoError(t, err)
	assert.Len(t, entries, 2)
	require.Len(t, issues, 1)
	assert.Equal(t, "entry[1]", issues[0].Location)
	assert.Equal(t, "Observation", issues[0].ResourceType)
	assert.Equal(t, "o2", issues[0].ID)
	assert.Contains(t, issues[0].Error(), "status")
	assert.NotContains(t, issues[0].Error(), "SECRETVALUE")

	cut := in[:strings.Index(in, `"Condition"`)+5]
	_, err = ReadEntries(strings.NewReader(cut), nil, nil)
	require.ErrorIs(t, err, ErrInvalidJSON)
	assert.Contains(t, err.Error(), fmt.Sprintf("unexpected end of input at byte %d in entry[2]", len(cut)))

	_, err = ReadEntries(io.MultiReader(strings.NewReader(in[:100]), errReader{}), nil, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "read")
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, fmt.Errorf("disk gone") }

// TestReadEntriesMemory bounds what ReadEntries holds while it reads: the
// live heap, sampled after a collection at each read from the input, for
// a Bundle four times larger grows by far less than the input (the
// entries only), where Read's grows with the input. Resources carry 20
// KB of narrative each, which no entry keeps.
func TestReadEntriesMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 40 MB")
	}
	const n = 500 // resources in the smaller Bundle, 10 MB
	small, large := narrativeBundle(n), narrativeBundle(4*n)

	streamed := func(data []byte) uint64 {
		r := &heapSampler{r: bytes.NewReader(data)}
		entries, err := ReadEntries(r, &Options{SkimUnmapped: true}, nil)
		require.NoError(t, err)
		require.Len(t, entries, bytes.Count(data, []byte(`"resourceType":"Observation"`)))
		return r.peak
	}
	whole := func(data []byte) uint64 {
		r := &heapSampler{r: bytes.NewReader(data)}
		b, err := Read(r, &Options{SkimUnmapped: true})
		require.NoError(t, err)
		require.NotEmpty(t, b.Entries())
		return r.peak
	}
	base := liveHeap()
	s1, s4 := streamed(small)-base, streamed(large)-base
	w1, w4 := whole(small)-base, whole(large)-base
	t.Logf("live heap over the baseline: streamed %d KB -> %d KB, whole %d KB -> %d KB, input %d KB -> %d KB",
		s1>>10, s4>>10, w1>>10, w4>>10, len(small)>>10, len(large)>>10)
	// The oracle: the whole-input path holds the input.
	assert.Greater(t, w4, w1+uint64(len(large)-len(small))/2, "Read holds the whole input")
	// Streaming holds a window of the input and the entries made so far:
	// 3n entries more cost far less than 3n resources (30 MB).
	assert.Less(t, s4, s1+uint64(len(large)-len(small))/10, "streamed live heap grew with the input")
	assert.Less(t, s4, uint64(len(large))/2)
}

// narrativeBundle is a Bundle of n Observations, each with 20 KB of
// narrative that no entry keeps.
func narrativeBundle(n int) []byte {
	div := `<div xmlns=\"http://www.w3.org/1999/xhtml\">` + strings.Repeat("narrative ", 2<<10) + `</div>`
	var b bytes.Buffer
	b.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"fullUrl":"urn:uuid:%d","resource":{"resourceType":"Observation","id":"o%d","text":{"status":"generated","div":"%s"},"status":"final","code":{"text":"Potassium"},"effectiveDateTime":"2024-01-02","valueQuantity":{"value":%d,"unit":"mmol/L"}}}`, i, i, div, i%7)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// heapSampler reads r and records the largest live heap seen at a read.
type heapSampler struct {
	r    io.Reader
	peak uint64
}

func (h *heapSampler) Read(p []byte) (int, error) {
	h.peak = max(h.peak, liveHeap())
	return h.r.Read(p)
}

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
