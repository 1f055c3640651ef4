package fhirutil

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file tests the hostile inputs of issue 15: JSON nested deep enough
// to exhaust memory, repeated keys and truncated input.

// deepPatient returns a Patient whose extension nests levels extensions
// deep (each level is an array and an object: 2 JSON levels), with leaf
// bytes of string at the bottom.
func deepPatient(id string, levels, leaf int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"resourceType":"Patient","id":%q,"extension":[`, id)
	for range levels - 1 {
		b.WriteString(`{"url":"http://example.org/e","extension":[`)
	}
	b.WriteString(`{"url":"http://example.org/e","valueString":"`)
	b.WriteString(strings.Repeat("a", leaf))
	b.WriteString(`"}`)
	for range levels - 1 {
		b.WriteString(`]}`)
	}
	b.WriteString(`],"gender":"female"}`)
	return b.String()
}

// bundleOf wraps resources in a collection Bundle.
func bundleOf(resources ...string) string {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[`)
	for i, r := range resources {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"fullUrl":"urn:uuid:%d","resource":%s}`, i, r)
	}
	b.WriteString(`]}`)
	return b.String()
}

// depthAt returns how many objects and arrays are open just after the
// byte at off (the input is valid JSON).
func depthAt(in string, off int) int {
	d, inString := 0, false
	for i := 0; i <= off; i++ {
		switch c := in[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && (c == '{' || c == '['):
			d++
		case !inString && (c == '}' || c == ']'):
			d--
		}
	}
	return d
}

// nest returns an object nested n deep: {"a":{"a":...{}}}.
func nest(n int) string {
	return strings.Repeat(`{"a":`, n-1) + "{}" + strings.Repeat("}", n-1)
}

func TestDecodeDepthLimit(t *testing.T) {
	// A Patient at depth 1 with extensions of k levels is 2k+1 deep.
	atLimit := (MaxDepth - 1) / 2
	inBundle := (MaxDepth - 4) / 2 // the resource starts 4 deep
	tests := []struct {
		name      string
		in        string
		opts      Options
		kept      int
		wantIssue string // the first issue, "" for none
		reason    string
	}{
		{name: "at the limit", in: deepPatient("p", atLimit, 1), kept: 1},
		{
			name: "one level too deep", in: deepPatient("p", atLimit+1, 1),
			wantIssue: "fhirutil: Patient/p: Patient.extension: objects and arrays nested more than 64 deep at byte 1381 (resource skipped)",
		},
		{
			name: "lenient skips too", in: deepPatient("p", atLimit+1, 1), opts: Options{Lenient: true},
			wantIssue: "fhirutil: Patient/p: Patient.extension: objects and arrays nested more than 64 deep at byte 1381 (resource skipped)",
			reason:    "dropping the element would still need the bytes decoded; the viewer shows the issue",
		},
		{name: "entry at the limit", in: bundleOf(deepPatient("p", inBundle, 1)), kept: 1},
		{
			name: "entry too deep, the others kept", in: bundleOf(`{"resourceType":"Patient","id":"a"}`, deepPatient("p", inBundle+1, 1), `{"resourceType":"Patient","id":"b"}`),
			kept:      2,
			wantIssue: "fhirutil: entry[1] Patient/p: Patient.extension: objects and arrays nested more than 64 deep at byte 1498 (resource skipped)",
			reason:    "the depth counts from the top of the input: a Bundle's resources start 4 deep",
		},
		{
			name: "skimmed type", in: `{"resourceType":"Claim","id":"c","status":"active","item":[` + nest(MaxDepth) + `]}`, opts: Options{SkimUnmapped: true},
			wantIssue: "fhirutil: Claim/c: Claim.item: objects and arrays nested more than 64 deep at byte 369 (resource skipped)",
			reason:    "the skim does not read item, but it must not recurse into it either",
		},
		{
			name: "nested Bundle with a deep entry is opened",
			in:   bundleOf(bundleOf(`{"resourceType":"Patient","id":"a"}`, deepPatient("p", inBundle-1, 1))),
			kept: 1, wantIssue: "fhirutil: entry[0].resource.entry[1] Patient/p: Patient.extension: objects and arrays nested more than 64 deep at byte 1502 (resource skipped)",
		},
		{
			name: "unknown element name not quoted", in: `{"resourceType":"Patient","id":"p","not a name 1974":` + nest(MaxDepth) + `}`,
			wantIssue: "fhirutil: Patient/p: Patient.?: objects and arrays nested more than 64 deep at byte 368 (resource skipped)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Decode([]byte(tc.in), &tc.opts)
			require.NoError(t, err)
			assert.Len(t, b.Resources, tc.kept, tc.reason)
			if tc.wantIssue == "" {
				assert.Empty(t, b.Issues)
				return
			}
			require.NotEmpty(t, b.Issues)
			assert.Equal(t, tc.wantIssue, b.Issues[0].Error(), tc.reason)
			assert.ErrorIs(t, b.Issues[0], ErrTooDeep)
			// The offset is that of the first bracket past the limit.
			var off int
			_, err = fmt.Sscanf(b.Issues[0].Detail, "objects and arrays nested more than 64 deep at byte %d", &off)
			require.NoError(t, err)
			assert.Contains(t, "{[", tc.in[off:off+1])
			assert.Equal(t, MaxDepth+1, depthAt(tc.in, off))
		})
	}
}

func TestDecodeNestedBundlesChain(t *testing.T) {
	// 5,000 Bundles each inside the last: opened at most MaxDepth/3 deep,
	// so decoding stays linear-ish and does not recurse 5,000 times.
	const n = 5000
	var b strings.Builder
	for range n {
		b.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[{"resource":`)
	}
	b.WriteString(`{"resourceType":"Patient","id":"p"}`)
	for range n {
		b.WriteString(`}]}`)
	}
	got, err := Decode([]byte(b.String()), &Options{Lenient: true})
	require.NoError(t, err)
	assert.Empty(t, got.Resources)
	require.Len(t, got.Issues, 1)
	assert.ErrorIs(t, got.Issues[0], ErrTooDeep)
	assert.LessOrEqual(t, got.Bundles, MaxDepth/3+1)
}

func TestDecodeNestedBytesLimit(t *testing.T) {
	// A string of MaxNestedBytes/4 bytes 5 deep: over the limit, though
	// well within MaxDepth.
	leaf := MaxNestedBytes/4 + 1
	in := deepPatient("p", 2, leaf)
	b, err := Decode([]byte(in), nil)
	require.NoError(t, err)
	assert.Empty(t, b.Resources)
	require.Len(t, b.Issues, 1)
	assert.ErrorIs(t, b.Issues[0], ErrTooDeep)
	assert.Equal(t, "fhirutil: Patient/p: nested bytes over 128 MiB (bytes times depth) (resource skipped)", b.Issues[0].Error())
	if testing.Short() {
		return
	}
	// The same string at the top level is well within it.
	flat := `{"resourceType":"Patient","id":"p","extension":[{"url":"http://example.org/e","valueString":"` + strings.Repeat("a", leaf) + `"}]}`
	b, err = Decode([]byte(flat), nil)
	require.NoError(t, err)
	assert.Len(t, b.Resources, 1)
}

// TestDecodeHostileMemory pins what decoding the issue's hostile inputs
// allocates in all: before the depth cap, the Patient with extensions
// 4,900 deep allocated gigabytes (and peaked at 2 GB RSS).
func TestDecodeHostileMemory(t *testing.T) {
	patient := deepPatient("deep", 4900, 1)
	var ps []string
	for i := range 8 {
		ps = append(ps, deepPatient("deep"+strconv.Itoa(i), 4900, 1))
	}
	tests := []struct {
		name     string
		in       string
		maxAlloc uint64
	}{
		{"Patient 4,900 deep", patient, 8 << 20},
		{"Bundle of eight", bundleOf(ps...), 32 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b, err := Decode([]byte(tc.in), &Options{Lenient: true})
			runtime.ReadMemStats(&after)
			require.NoError(t, err)
			assert.Empty(t, b.Resources)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes in: %d bytes allocated", len(tc.in), alloc)
			assert.Less(t, alloc, tc.maxAlloc)
		})
	}
}

// The child-process helper: peak RSS of one decode, for the figures in
// the issue's table (run by TestPeakRSS and BenchmarkStreamLargeBundle).
const peakRSSEnv = "FHIRUTIL_PEAK_RSS_FILE"

// TestPeakRSSChild decodes the file named in FHIRUTIL_PEAK_RSS_FILE and
// prints the process's peak RSS; it does nothing in a normal run.
func TestPeakRSSChild(t *testing.T) {
	path := os.Getenv(peakRSSEnv)
	if path == "" {
		t.Skip("helper for peakRSS")
	}
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	mode := os.Getenv(peakRSSEnv + "_MODE")
	resources := 0
	switch mode {
	case "read":
		b, err := Read(f, &Options{Lenient: true, Validate: true})
		require.NoError(t, err)
		resources = len(b.Resources)
	case "stream": // as carelens fhir check does
		for b, err := range Stream(f, &Options{Lenient: true, Validate: true}) {
			require.NoError(t, err)
			resources += len(b.Resources)
		}
	default:
		t.Fatalf("unknown mode %q", mode)
	}
	fmt.Printf("resources=%d vmhwm_kb=%d\n", resources, vmHWM(t))
}

// vmHWM reads this process's peak resident set size in KiB.
func vmHWM(t testing.TB) int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Skip("no VmHWM")
	return 0
}

// peakRSS decodes path in a child process (mode "read" or "stream") and
// returns its peak RSS in KiB and how many resources it kept.
func peakRSS(t testing.TB, path, mode string) (kb, resources int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPeakRSSChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), peakRSSEnv+"="+path, peakRSSEnv+"_MODE="+mode, "GOMAXPROCS=2")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for l := range strings.SplitSeq(string(out), "\n") {
		if _, err := fmt.Sscanf(l, "resources=%d vmhwm_kb=%d", &resources, &kb); err == nil {
			return kb, resources
		}
	}
	t.Fatalf("no figure in the child's output: %s", out)
	return 0, 0
}

func TestPeakRSSHostileNesting(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	dir := t.TempDir()
	var ps []string
	for i := range 8 {
		ps = append(ps, deepPatient("deep"+strconv.Itoa(i), 4900, 1))
	}
	// Within the limits, the worst there is: eight Patients nested just
	// under MaxDepth with the largest leaf MaxNestedBytes allows.
	var worst []string
	for i := range 8 {
		worst = append(worst, deepPatient("w"+strconv.Itoa(i), (MaxDepth-4)/2, MaxNestedBytes/(MaxDepth+2)))
	}
	for _, tc := range []struct {
		name string
		in   string
	}{
		{"deep-patient", deepPatient("deep", 4900, 1)},
		{"deep-bundle", bundleOf(ps...)},
		{"worst-within-limits", bundleOf(worst...)},
	} {
		path := dir + "/" + tc.name + ".json"
		require.NoError(t, os.WriteFile(path, []byte(tc.in), 0o644))
		kb, n := peakRSS(t, path, "read")
		t.Logf("%s: %d bytes, %d resources kept, peak RSS %d MiB", tc.name, len(tc.in), n, kb>>10)
		assert.Less(t, kb, 600<<10, "peak RSS")
	}
}

// prescanOracle finds, with encoding/json's tokenizer, the nesting depth
// of valid JSON and how many keys repeat within one object.
func prescanOracle(data []byte) (depth, dups int, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	type obj struct {
		keys    map[string]bool
		isObj   bool
		wantKey bool
	}
	var stack []*obj
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return depth, dups, len(stack) == 0
		}
		if err != nil {
			return 0, 0, false
		}
		top := func() *obj {
			if len(stack) == 0 {
				return nil
			}
			return stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if p := top(); p != nil && p.isObj {
					p.wantKey = true
				}
				stack = append(stack, &obj{keys: map[string]bool{}, isObj: v == '{', wantKey: v == '{'})
				depth = max(depth, len(stack))
			default:
				stack = stack[:len(stack)-1]
				if p := top(); p != nil && p.isObj {
					p.wantKey = true
				}
			}
		case string:
			if p := top(); p != nil && p.isObj && p.wantKey {
				if p.keys[v] {
					dups++
				}
				p.keys[v] = true
				p.wantKey = false
				continue
			}
			if p := top(); p != nil && p.isObj {
				p.wantKey = true
			}
		default:
			if p := top(); p != nil && p.isObj {
				p.wantKey = true
			}
		}
	}
}

// FuzzPrescan checks the prescan against encoding/json on valid JSON:
// it stops exactly at the first bracket past MaxDepth, and finds every
// repeated key (escaped or not); its compacted output is the input's
// value.
func FuzzPrescan(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":{"a":2,"a":3},"c":[{"x":1},{"x":2,"x":3}]}`), 0)
	f.Add([]byte(`{"a":1,"\u0061":2}`), 3)
	f.Add([]byte(nest(MaxDepth)), 0)
	f.Add([]byte(nest(MaxDepth-2)), 3)
	f.Add([]byte(`[[[[{"k":"v","k":{}}]]]]`), 60)
	f.Fuzz(func(t *testing.T, data []byte, base int) {
		base = min(max(base, 0), MaxDepth)
		depth, dups, ok := prescanOracle(data)
		if !ok {
			return
		}
		out, sh := prescan(data, base, []byte{})
		if tooDeep := base+depth > MaxDepth; tooDeep != (sh.tooDeep >= 0) {
			t.Fatalf("depth %d from %d: tooDeep at %d", depth, base, sh.tooDeep)
		}
		if sh.tooDeep >= 0 {
			return
		}
		if sh.ndups != dups {
			t.Fatalf("prescan found %d repeated keys, encoding/json %d", sh.ndups, dups)
		}
		var a, b any
		if json.Unmarshal(data, &a) == nil {
			if err := json.Unmarshal(out, &b); err != nil {
				t.Fatalf("compacted output invalid: %v", err)
			}
			if !assert.Equal(t, a, b) {
				t.FailNow()
			}
		}
	})
}

// nhsPatient has two identifier arrays: the first holds the NHS number.
const nhsPatient = `{"resourceType":"Patient","id":"p",` +
	`"identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}],` +
	`"gender":"female",` +
	`"identifier":[{"system":"urn:oid:1.2.3","value":"H12345"}]}`

func TestDecodeDuplicateKeys(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		lenient bool
		kept    int
		want    []string
		reason  string
	}{
		{
			name: "strict: resource skipped", in: nhsPatient,
			want:   []string{"fhirutil: Patient/p: Patient.identifier: duplicate key at byte 136 (resource skipped)"},
			reason: "the last identifier would win silently and the NHS number be lost",
		},
		{
			name: "lenient: reported, the last value kept", in: nhsPatient, lenient: true, kept: 1,
			want: []string{"fhirutil: Patient/p: Patient.identifier: duplicate key at byte 136 (last value kept, resource kept)"},
		},
		{
			name: "nested path", in: `{"resourceType":"Patient","id":"p","name":[{"family":"A"},{"given":["B"],"given":["C"]}]}`,
			want: []string{"fhirutil: Patient/p: Patient.name[1].given: duplicate key at byte 73 (resource skipped)"},
		},
		{
			name: "escaped repeat", in: `{"resourceType":"Patient","id":"p","gender":"male","\u0067ender":"female"}`,
			want: []string{"fhirutil: Patient/p: Patient.?: duplicate key at byte 51 (resource skipped)"},
		},
		{
			name: "same key in sibling objects is fine", in: `{"resourceType":"Patient","id":"p","name":[{"family":"A"},{"family":"B"}]}`,
			kept: 1,
		},
		{
			name: "in a Bundle: only that entry", in: bundleOf(`{"resourceType":"Patient","id":"a"}`, nhsPatient),
			kept: 1,
			want: []string{"fhirutil: entry[1] Patient/p: Patient.identifier: duplicate key at byte 297 (resource skipped)"},
		},
		{
			name: "skimmed type", in: `{"resourceType":"Claim","id":"c","status":"active","use":"claim","use":"claim"}`,
			want:   []string{"fhirutil: Claim/c: Claim.use: duplicate key at byte 65 (resource skipped)"},
			reason: "the skim does not read use, the prescan does",
		},
		{
			name: "entry with two resources",
			in:   `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"a"},"resource":{"resourceType":"Patient","id":"b"}}]}`,
			want: []string{"fhirutil: entry[0] Patient/b: entry.resource: duplicate key at byte 113 (resource skipped)"},
		},
		{
			name: "Bundle with two entry arrays: both read", lenient: true,
			in:   `{"resourceType":"Bundle","id":"x","entry":[{"resource":{"resourceType":"Patient","id":"a"}}],"entry":[{"resource":{"resourceType":"Patient","id":"b"}}]}`,
			kept: 2,
			want: []string{"fhirutil: Bundle/x: Bundle.entry: duplicate key at byte 101 (last value kept, resource kept)"},
		},
		{
			name: "nested Bundle: its entries checked one by one",
			in:   bundleOf(bundleOf(`{"resourceType":"Patient","id":"a"}`, nhsPatient)),
			kept: 1,
			want: []string{"fhirutil: entry[0].resource.entry[1] Patient/p: Patient.identifier: duplicate key at byte 386 (resource skipped)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Decode([]byte(tc.in), &Options{Lenient: tc.lenient, SkimUnmapped: true})
			require.NoError(t, err)
			assert.Len(t, b.Resources, tc.kept, tc.reason)
			var got []string
			for _, is := range b.Issues {
				got = append(got, is.Error())
				assert.ErrorIs(t, is, ErrDuplicateKey)
				if is.Path != "Bundle.entry" && is.Path != "entry.resource" {
					// The offset points at the repeated key's quote.
					var off int
					_, err := fmt.Sscanf(is.Detail, "duplicate key at byte %d", &off)
					require.NoError(t, err)
					assert.Equal(t, `"`, tc.in[off:off+1])
				}
			}
			assert.Equal(t, tc.want, got, tc.reason)
			assertNoPHI(t, b.Issues)
		})
	}
}

func TestDecodeDuplicateKeysCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Patient","id":"p"`)
	for range 1000 {
		b.WriteString(`,"gender":"male"`)
	}
	b.WriteString(`}`)
	got, err := Decode([]byte(b.String()), &Options{Lenient: true})
	require.NoError(t, err)
	require.Len(t, got.Issues, maxDups)
	assert.Contains(t, got.Issues[maxDups-1].Error(), "(and 991 more)")
}

func TestDecodeTruncatedLocated(t *testing.T) {
	full := bundleOf(`{"resourceType":"Patient","id":"a"}`, `{"resourceType":"Patient","id":"b","gender":"male"}`)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"Bundle cut in its second entry", full[:len(full)-20], "fhirutil: invalid JSON: unexpected end of input at byte 195 in entry[1]"},
		{"Bundle cut after its entries", full[:len(full)-1], "fhirutil: invalid JSON: unexpected end of input at byte 214"},
		{"syntax error between entries", strings.Replace(full, `},{"fullUrl"`, `} {"fullUrl"`, 1), "fhirutil: invalid JSON: syntax error at byte 126 after entry[0]"},
		{"resource cut", `{"resourceType":"Patient","id":"a","gender":"fem`, "fhirutil: invalid JSON: unexpected end of input at byte 48"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.in), nil)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidJSON)
			assert.Equal(t, tc.want, err.Error())
		})
	}
	// A syntax error inside a resource: that entry is an issue.
	bad := strings.Replace(full, `"id":"b",`, `"id":"b" `, 1)
	b, err := Decode([]byte(bad), nil)
	require.NoError(t, err)
	require.Len(t, b.Issues, 1)
	assert.Equal(t, "fhirutil: entry[1] resource: invalid JSON: syntax error at byte 196 (resource skipped)", b.Issues[0].Error())
	assert.Equal(t, `"`, bad[196:197], "the offset is the unexpected token's")
	assert.Len(t, b.Resources, 1)
	// An NDJSON line cut short: that line is an issue with its offset.
	nd := "{\"resourceType\":\"Patient\",\"id\":\"a\"}\n{\"resourceType\":\"Patient\",\"id\":\"b\",\"gen"
	b, err = Decode([]byte(nd), nil)
	require.NoError(t, err)
	require.Len(t, b.Issues, 1)
	assert.Equal(t, "fhirutil: line 2 resource: invalid JSON: unexpected end of input at byte 75 (resource skipped)", b.Issues[0].Error())
	assert.Len(t, b.Resources, 1)
}
