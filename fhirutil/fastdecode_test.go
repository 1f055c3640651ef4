package fhirutil

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/carelens/carelens/benchmarks"
)

// The fast decoder is checked against jsonformat itself, the oracle: a
// resource it accepts must be one jsonformat's strict unmarshaller (the
// one Decode uses without Validate) accepts with no finding, and the two
// protos must be equal.

// checkFast applies the property to one resource's bytes and reports
// whether the fast decoder took it.
func checkFast(t testing.TB, raw []byte) bool {
	t.Helper()
	compact, sh := prescan(raw, 0, make([]byte, 0, len(raw)))
	if sh.tooDeep >= 0 || sh.nested > MaxNestedBytes || sh.ndups > 0 {
		return false // Decode never sends these to either decoder as they are
	}
	cr, ok := fastDecode(compact)
	if !ok {
		return false
	}
	u := getUnmarshaller(true)
	defer putUnmarshaller(true, u)
	want, err := u.Unmarshal(compact)
	if err != nil {
		t.Fatalf("fast decoder accepted what jsonformat rejects (%v):\n%s", err, compact)
	}
	if !proto.Equal(want, cr) {
		t.Fatalf("fast decoder and jsonformat differ:\nfast: %v\njsonformat: %v\ninput: %s", cr, want, compact)
	}
	return true
}

// cohortResources returns every resource of a generated cohort of n people
// at the three demo sources, as the sources serve them.
func cohortResources(t testing.TB, people int) [][]byte {
	t.Helper()
	var out [][]byte
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	_, err := benchmarks.SynthFHIR(context.Background(), benchmarks.FHIROptions{
		People: people, Sources: []string{"gp", "hospital", "community"}, Seed: 5, Now: now,
	}, func(_ benchmarks.FHIRPatient, bundle []byte) error {
		out = append(out, bundleResources(t, slices.Clone(bundle))...) // bundle is reused
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, out)
	return out
}

// bundleResources returns the resources of a JSON document, opening
// Bundles, read with encoding/json (independent of the splitter).
func bundleResources(t testing.TB, data []byte) [][]byte {
	t.Helper()
	var head struct {
		ResourceType string `json:"resourceType"`
		Entry        []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if json.Unmarshal(data, &head) != nil {
		return nil
	}
	if head.ResourceType != "Bundle" {
		return [][]byte{data}
	}
	var out [][]byte
	for _, e := range head.Entry {
		if len(e.Resource) > 0 {
			out = append(out, bundleResources(t, e.Resource)...)
		}
	}
	return out
}

func TestFastDecodeAgreesWithJSONFormat(t *testing.T) {
	t.Run("cohort", func(t *testing.T) {
		rs := cohortResources(t, 40)
		fast := 0
		for _, r := range rs {
			if checkFast(t, r) {
				fast++
			}
		}
		// The generated sources write what the viewer's demo serves: every
		// resource should take the fast path, or the viewer pays
		// jsonformat's price for it.
		t.Logf("fast: %d of %d", fast, len(rs))
		require.Equal(t, len(rs), fast, "resources of the generated cohort that fell back to jsonformat")
	})
	t.Run("shared", func(t *testing.T) {
		fast, all := 0, 0
		for _, f := range testFiles(t) {
			for _, r := range bundleResources(t, readFile(t, f)) {
				all++
				if checkFast(t, r) {
					fast++
				}
			}
		}
		t.Logf("fast: %d of %d", fast, all)
		require.Positive(t, fast)
	})
	t.Run("invalid", func(t *testing.T) {
		files, _ := filepath.Glob(filepath.Join(sharedDir(t, "fhir-invalid"), "*.json"))
		for _, f := range files {
			for _, r := range bundleResources(t, readFile(t, f)) {
				checkFast(t, r)
			}
		}
	})
}

func sharedDir(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(filepath.Dir(filepath.Dir(sharedFiles(t)[0])), "..", name)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no %s data", name)
	}
	return dir
}

// fastMutations are edits of valid resources, each of which jsonformat
// either rejects or reads differently; the fast decoder must agree or
// give up.
var fastMutations = []struct{ name, from, to string }{
	{"unknown key", `"status":`, `"statux":`},
	{"capitalised key", `"status":`, `"Status":`},
	{"primitive extension", `"status":`, `"_status":{"id":"a"},"status":`},
	{"status not a code", `"status":"final"`, `"status":"fine"`},
	{"status upper case", `"status":"final"`, `"status":"FINAL"`},
	{"status number", `"status":"final"`, `"status":7`},
	{"code with spaces", `"code":"`, `"code":" `},
	{"code empty", `"code":"`, `"code":"","x":"`},
	{"system not a uri", `"system":"http`, `"system":"ht tp:%zz`},
	{"date day zero", `T`, `-00T`},
	{"dateTime without zone", `:00Z"`, `:00"`},
	{"dateTime offset", `:00Z"`, `:00+05:30"`},
	{"dateTime fraction", `:00Z"`, `:00.1234567Z"`},
	{"dateTime millis", `:00Z"`, `:00.120Z"`},
	{"date only", `T`, `"`},
	{"decimal as string", `"value":`, `"value":"1",`},
	{"decimal exponent", `"value":`, `"value":1e2,"x":`},
	{"null", `"status":`, `"status":null,"x":`},
	{"empty array", `"coding":[`, `"coding":[],"x":[`},
	{"empty object", `"subject":{`, `"subject":{},"x":{`},
	{"escape", `"display":"`, `"display":"\u0041\n\t\"`},
	{"control escape", `"display":"`, `"display":"\u0001`},
	{"array for object", `"subject":{`, `"subject":[{`},
	{"reference history", `"reference":"Patient/`, `"reference":"Patient/x/_history/`},
	{"reference fragment", `"reference":"Patient/`, `"reference":"#`},
	{"reference url", `"reference":"Patient/`, `"reference":"http://x/Patient/`},
	{"reference unknown type", `"reference":"Patient/`, `"reference":"Nothing/`},
	{"choice twice", `"effectiveDateTime":`, `"effectivePeriod":{"start":"2020-01-01"},"effectiveDateTime":`},
	{"contained", `"status":`, `"contained":[{"resourceType":"Medication","id":"m"}],"status":`},
	{"extension", `"status":`, `"extension":[{"url":"http://x","valueString":"y"}],"status":`},
	{"base64 with space", `"data":"`, `"data":"QUJD REVG`},
	{"integer", `"status":`, `"x":2147483648,"status":`},
	{"bool string", `"active":`, `"active":"true","x":`},
	{"resourceType later", `{"resourceType":`, `{"id":"a","resourceType":`},
	{"trailing", ``, ``},
}

func TestFastDecodeMutations(t *testing.T) {
	rs := cohortResources(t, 6)
	for _, m := range fastMutations {
		t.Run(m.name, func(t *testing.T) {
			applied := 0
			for _, r := range rs {
				compact, _ := prescan(r, 0, make([]byte, 0, len(r)))
				s := string(compact)
				if m.from == "" {
					s += " {}"
				} else if i := strings.Index(s, m.from); i >= 0 {
					s = s[:i] + m.to + s[i+len(m.from):]
				} else {
					continue
				}
				applied++
				checkFast(t, []byte(s))
			}
			if applied == 0 {
				t.Skip("no resource of the cohort holds the text to change")
			}
		})
	}
}

// TestDecodeFastSameBatch decodes whole $everything-style answers with
// and without the fast decoder: the resources (protos included), issues
// and entries must be the same.
func TestDecodeFastSameBatch(t *testing.T) {
	var docs [][]byte
	_, err := benchmarks.SynthFHIR(context.Background(), benchmarks.FHIROptions{People: 10, Seed: 3}, func(_ benchmarks.FHIRPatient, b []byte) error {
		docs = append(docs, slices.Clone(b)) // b is reused
		return nil
	})
	require.NoError(t, err)
	for _, f := range testFiles(t) {
		docs = append(docs, readFile(t, f))
	}
	retrieved := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	decode := func(data []byte, fast, lenient bool) *Batch {
		useFastDecode = fast
		defer func() { useFastDecode = true }()
		b, err := Decode(data, &Options{Retrieved: retrieved, Lenient: lenient, Workers: 1})
		require.NoError(t, err)
		return b
	}
	for i, d := range docs {
		for _, lenient := range []bool{false, true} {
			got, want := decode(d, true, lenient), decode(d, false, lenient)
			require.Equal(t, len(want.Resources), len(got.Resources), "doc %d", i)
			for k := range want.Resources {
				w, g := want.Resources[k], got.Resources[k]
				require.True(t, proto.Equal(w.cr, g.cr), "doc %d resource %d", i, k)
				w.cr, g.cr = nil, nil
				require.Equal(t, w, g, "doc %d resource %d", i, k)
			}
			require.Equal(t, fmt.Sprint(want.Issues), fmt.Sprint(got.Issues), "doc %d", i)
			require.Equal(t, len(want.Issues), len(got.Issues))
			require.Equal(t, want.Bundles, got.Bundles)
		}
	}
}

// FuzzFastDecode checks the property on arbitrary input, seeded with
// resources of the cohort and the shared examples.
func FuzzFastDecode(f *testing.F) {
	for i, r := range cohortResources(f, 2) {
		if i%7 == 0 {
			f.Add(r)
		}
	}
	for _, m := range fastMutations {
		f.Add([]byte(`{"resourceType":"Observation",` + strings.TrimPrefix(m.to, "{") + `"x"}`))
	}
	f.Add([]byte(`{"resourceType":"Observation","status":"final","code":{"text":"a"},"valueQuantity":{"value":1.50,"comparator":"<"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
			return
		}
		checkFast(t, data)
	})
}

// FuzzFastPatterns checks the hand-written value patterns against the
// regular expressions in the R4 descriptors, and that a URI taken
// without url.Parse is one url.Parse accepts.
func FuzzFastPatterns(f *testing.F) {
	for _, s := range []string{"final", "a b", " a", "a  b", "a\tb", "a\fb", "", "1.50", "-0", "01", "1e5", "1.", "-1.5E-3",
		"http://loinc.org", "https://x.y/a_b~c/d", "urn:oid:1.2.3", "urn:uuid:a-b", "http://", "http://a:80", "urn:", "GP-1.2", strings.Repeat("a", 65)} {
		f.Add(s)
	}
	code := regexp.MustCompile(`^[^\s]+(\s[^\s]+)*$`)
	decimal := regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)
	id := regexp.MustCompile(`^[A-Za-z0-9\-\.]{1,64}$`)
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isCode(s), code.MatchString(s); got != want {
			t.Errorf("isCode(%q) = %v, the pattern says %v", s, got, want)
		}
		if got, want := isDecimal(s), decimal.MatchString(s); got != want {
			t.Errorf("isDecimal(%q) = %v, the pattern says %v", s, got, want)
		}
		if got, want := validID(s), id.MatchString(s); got != want {
			t.Errorf("validID(%q) = %v, the pattern says %v", s, got, want)
		}
		if _, err := url.Parse(s); plainURI(s) && err != nil {
			t.Errorf("plainURI(%q) but url.Parse fails: %v", s, err)
		}
	})
}

// BenchmarkDecodeCohort decodes the $everything answers of a generated
// cohort (the viewer's demo data) with the fast decoder and with
// jsonformat alone.
func BenchmarkDecodeCohort(b *testing.B) {
	var docs [][]byte
	size := 0
	_, err := benchmarks.SynthFHIR(context.Background(), benchmarks.FHIROptions{People: 20, Seed: 11}, func(_ benchmarks.FHIRPatient, d []byte) error {
		docs = append(docs, slices.Clone(d))
		size += len(d)
		return nil
	})
	require.NoError(b, err)
	for _, fast := range []bool{true, false} {
		b.Run(fmt.Sprintf("fast=%v", fast), func(b *testing.B) {
			useFastDecode = fast
			defer func() { useFastDecode = true }()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				for _, d := range docs {
					if _, err := Decode(d, &Options{Workers: 1}); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
