package fhirutil

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/carelens/carelens/internal/shareddata"
)

// FuzzDecode fuzzes the JSON entry point and checks properties, not just
// crashes:
//   - Decode fails as a whole only with ErrEmpty or ErrInvalidJSON;
//   - the result does not depend on the number of workers;
//   - lenient mode keeps every resource strict mode keeps;
//   - no issue message quotes a value of the input that looks like
//     personal data (a string of 6+ characters holding a digit, such as a
//     date, phone number or identifier), ids excepted;
//   - every Patient round-trips: Patient -> Record -> Patient -> Record
//     gives the same record.
//
// The seed corpus is in testdata/fuzz/FuzzDecode, plus the small shared
// HL7 examples when present.
func FuzzDecode(f *testing.F) {
	addExampleSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		strict, err := Decode(data, &Options{Workers: 1})
		if err != nil {
			if !isWholeInputError(err) {
				t.Fatalf("unexpected whole-input error: %v", err)
			}
			return
		}
		par, err := Decode(data, &Options{Workers: 3, Retrieved: strict.Retrieved})
		if err != nil {
			t.Fatalf("workers=3 failed where workers=1 did not: %v", err)
		}
		if len(par.Resources) != len(strict.Resources) || len(par.Issues) != len(strict.Issues) {
			t.Fatalf("result depends on workers: %d/%d resources, %d/%d issues",
				len(strict.Resources), len(par.Resources), len(strict.Issues), len(par.Issues))
		}
		for i := range strict.Issues {
			if strict.Issues[i].Error() != par.Issues[i].Error() {
				t.Fatalf("issue %d depends on workers", i)
			}
		}
		lenient, err := Decode(data, &Options{Lenient: true, Workers: 2})
		if err != nil {
			t.Fatalf("lenient failed where strict did not: %v", err)
		}
		if len(lenient.Resources) < len(strict.Resources) {
			t.Fatalf("lenient kept %d resources, strict %d", len(lenient.Resources), len(strict.Resources))
		}
		phi := personalValues(data)
		for _, b := range []*Batch{strict, lenient} {
			for _, is := range b.Issues {
				msg := is.Error()
				for _, v := range phi {
					if strings.Contains(msg, v) {
						t.Fatalf("issue quotes an input value: %q in %q", v, msg)
					}
				}
			}
			_ = b.Entries()
		}
		for _, r := range strict.Resources {
			rec, ok := r.Record("s", testNow)
			if !ok {
				continue
			}
			if !fhirID.MatchString(rec.ID) {
				rec.ID = ""
			}
			rec = normalise(rec)
			js, err := PatientJSON(rec)
			if err != nil {
				t.Fatalf("PatientJSON: %v", err)
			}
			back, err := Decode(js, &Options{Workers: 1})
			if err != nil || len(back.Resources) != 1 {
				t.Fatalf("re-reading the written Patient: %v %v", err, back.Issues)
			}
			got, _ := back.Resources[0].Record("s", testNow)
			if a, b := mustJSON(rec), mustJSON(normalise(got)); a != b {
				t.Fatalf("Patient round trip changed the record:\n%s\n%s", a, b)
			}
		}
	})
}

func isWholeInputError(err error) bool {
	return strings.HasPrefix(err.Error(), ErrEmpty.Error()) || strings.HasPrefix(err.Error(), ErrInvalidJSON.Error())
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// personalValues returns the string values of the input that look like
// personal data, less those also used as ids or element names.
func personalValues(data []byte) []string {
	var doc any
	if json.Unmarshal(data, &doc) != nil {
		// NDJSON: look at each line.
		var out []string
		for l := range strings.SplitSeq(string(data), "\n") {
			if json.Unmarshal([]byte(l), &doc) == nil {
				out = append(out, collect(doc)...)
			}
		}
		return out
	}
	return collect(doc)
}

func collect(doc any) []string {
	allowed := map[string]bool{}
	var vals []string
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				allowed[k] = true
				walk(c, k)
			}
		case []any:
			for _, c := range x {
				walk(c, key)
			}
		case string:
			if key == "id" || key == "resourceType" {
				allowed[x] = true
				return
			}
			if len(x) >= 6 && strings.ContainsFunc(x, unicode.IsDigit) {
				vals = append(vals, x)
			}
		}
	}
	walk(doc, "")
	var out []string
	for _, v := range vals {
		if !allowed[v] {
			out = append(out, v)
		}
	}
	return out
}

// addExampleSeeds adds the shared HL7 R4 examples under 16 KiB, when
// present, to a fuzz target's seed corpus.
func addExampleSeeds(f *testing.F) {
	if root := shareddata.Root(); root != "" {
		files, _ := filepath.Glob(filepath.Join(root, "fhir", "hl7-r4-examples", "*.json"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil && len(b) < 16<<10 {
				f.Add(b)
			}
		}
	}
}
