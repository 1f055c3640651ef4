package fhirutil

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/internal/shareddata"
	"github.com/carelens/carelens/provenance"
)

// TestSkimSameEntries: on every shared file, skimming unmapped types gives
// the entries, records, resource counts and issues of a full decode, and a
// skimmed resource renders to the JSON of the fully decoded one.
func TestSkimSameEntries(t *testing.T) {
	skimmed := 0
	for _, f := range testFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw := readFile(t, f)
			full, err := Decode(raw, &Options{Source: provenance.Source{ID: "s"}, Retrieved: testNow})
			require.NoError(t, err)
			skim, err := Decode(raw, &Options{Source: provenance.Source{ID: "s"}, Retrieved: testNow, SkimUnmapped: true})
			require.NoError(t, err)
			assert.Equal(t, full.Entries(), skim.Entries())
			assert.Equal(t, full.Patients(), skim.Patients())
			assert.Equal(t, full.CountByType(), skim.CountByType())
			assert.Equal(t, full.Bundles, skim.Bundles)
			assert.Equal(t, issueStrings(full.Issues), issueStrings(skim.Issues))
			require.Len(t, skim.Resources, len(full.Resources))
			for i, r := range skim.Resources {
				fr := full.Resources[i]
				assert.Equal(t, [5]string{fr.Type, fr.ID, fr.Version, fr.MetaSource, fr.Location}, [5]string{r.Type, r.ID, r.Version, r.MetaSource, r.Location})
				assert.True(t, fr.LastUpdated.Equal(r.LastUpdated))
				assert.Equal(t, fr.FullURL, r.FullURL)
				if !r.Skimmed() {
					continue
				}
				skimmed++
				assert.False(t, fullyDecoded[r.Type], r.Type)
				assert.False(t, r.Stub())
				want, err := fr.JSON()
				require.NoError(t, err)
				got, err := r.JSON()
				require.NoError(t, err)
				assert.JSONEq(t, string(want), string(got))
			}
		})
	}
	assert.NotZero(t, skimmed)
}

func issueStrings(is []*ResourceError) []string {
	var out []string
	for _, e := range is {
		out = append(out, e.Error())
	}
	return out
}

// TestSkimStatusCodes: for every type that can be skimmed and every code
// of its status, the skimmed entry equals the decoded one.
func TestSkimStatusCodes(t *testing.T) {
	n := 0
	for _, typ := range slices.Sorted(func(yield func(string) bool) {
		for k := range skimTypes() {
			if !yield(k) {
				return
			}
		}
	}) {
		st := skimTypes()[typ]
		codes := []string{""}
		for c := range st.status {
			codes = append(codes, c)
		}
		for _, c := range codes {
			in := `{"resourceType":"` + typ + `","id":"x1","meta":{"versionId":"3","lastUpdated":"2021-03-04T05:06:07.5-03:30","source":"urn:s"}`
			if c != "" {
				in += `,"status":"` + c + `"`
			}
			in += `}`
			full, err := Decode([]byte(in), &Options{Retrieved: testNow})
			require.NoError(t, err)
			require.NoError(t, full.Err(), in)
			skim, err := Decode([]byte(in), &Options{Retrieved: testNow, SkimUnmapped: true})
			require.NoError(t, err)
			require.Len(t, skim.Resources, 1)
			require.True(t, skim.Resources[0].Skimmed(), in)
			require.Equal(t, full.Entries(), skim.Entries(), in)
			n++
		}
	}
	t.Logf("%d type and status pairs", n)
	assert.Greater(t, n, 300)
}

// TestSkimFallsBack: whatever the skim is not sure of goes to jsonformat,
// which reports it as without the skim (or keeps the resource).
func TestSkimFallsBack(t *testing.T) {
	tests := []struct{ name, in string }{
		{"mapped type", `{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"}}`},
		{"unknown type", `{"resourceType":"Transport","id":"t1","status":"completed"}`},
		{"no type", `{"id":"t1"}`},
		{"bad id", `{"resourceType":"Claim","id":"a b"}`},
		{"long id", `{"resourceType":"Claim","id":"` + strings.Repeat("a", 65) + `"}`},
		{"empty id", `{"resourceType":"Claim","id":""}`},
		{"numeric id", `{"resourceType":"Claim","id":7}`},
		{"null id", `{"resourceType":"Claim","id":null}`},
		{"bad status", `{"resourceType":"Claim","id":"c","status":"done"}`},
		{"capital status", `{"resourceType":"Claim","id":"c","status":"Active"}`},
		{"status key capitalised", `{"resourceType":"Claim","id":"c","Status":"active"}`},
		{"escaped key", `{"resourceType":"Claim","id":"c","st\u0061tus":"bogus"}`},
		{"escaped id", `{"resourceType":"Claim","id":"c\u0031"}`},
		{"duplicate meta", `{"resourceType":"Claim","id":"c","meta":{"versionId":"1"},"meta":{"source":"urn:x"}}`},
		{"meta not object", `{"resourceType":"Claim","id":"c","meta":[]}`},
		{"bad version", `{"resourceType":"Claim","id":"c","meta":{"versionId":"1 2"}}`},
		{"no offset", `{"resourceType":"Claim","id":"c","meta":{"lastUpdated":"2020-01-02T03:04:05"}}`},
		{"date only", `{"resourceType":"Claim","id":"c","meta":{"lastUpdated":"2020-01-02"}}`},
		{"day zero", `{"resourceType":"Claim","id":"c","meta":{"lastUpdated":"2020-01-00T03:04:05Z"}}`},
		{"nanoseconds", `{"resourceType":"Claim","id":"c","meta":{"lastUpdated":"2020-01-02T03:04:05.123456789Z"}}`},
		{"offset 14", `{"resourceType":"Claim","id":"c","meta":{"lastUpdated":"2020-01-02T03:04:05+14:00"}}`},
		{"offset 15", `{"resourceType":"Claim","id":"c","meta":{"lastUpdated":"2020-01-02T03:04:05+15:00"}}`},
		{"invalid UTF-8", "{\"resourceType\":\"Claim\",\"id\":\"c\",\"patient\":{\"display\":\"\xff\"}}"},
		{"bad literal", `{"resourceType":"Claim","id":"c","x":tru}`},
		{"unknown element kept by the skim", `{"resourceType":"Claim","id":"c","vendorNote":"x"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, lenient := range []bool{false, true} {
				full, ferr := Decode([]byte(tc.in), &Options{Retrieved: testNow, Lenient: lenient})
				skim, serr := Decode([]byte(tc.in), &Options{Retrieved: testNow, Lenient: lenient, SkimUnmapped: true})
				require.Equal(t, ferr != nil, serr != nil)
				if ferr != nil {
					continue
				}
				if len(skim.Resources) == 1 && skim.Resources[0].Skimmed() {
					// Kept without a check: JSON decodes it and reports
					// what the full decode reported.
					r := skim.Resources[0]
					_, jerr := r.JSON()
					if full.Err() != nil {
						require.Error(t, jerr)
						assert.Equal(t, full.Err().Error(), jerr.Error())
					} else {
						require.NoError(t, jerr)
						assert.Equal(t, full.Entries(), skim.Entries())
					}
					continue
				}
				assert.Equal(t, issueStrings(full.Issues), issueStrings(skim.Issues))
				assert.Equal(t, full.Entries(), skim.Entries())
			}
		})
	}
}

// TestSkimSkipsOnlyUnmapped: an unmapped resource with an unknown element
// is kept when skimmed (and reported by JSON), and the one-bad-resource
// rules still apply to the mapped types.
func TestSkimSkipsOnlyUnmapped(t *testing.T) {
	in := `{"resourceType":"Bundle","type":"collection","entry":[
	 {"resource":{"resourceType":"Claim","id":"c1","status":"active","vendorNote":"x"}},
	 {"resource":{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"Na","vendorNote":"y"}}}]}`
	b, err := Decode([]byte(in), &Options{SkimUnmapped: true})
	require.NoError(t, err)
	require.Len(t, b.Resources, 1)
	assert.True(t, b.Resources[0].Skimmed())
	assert.Equal(t, "active", b.Entries()[0].Status)
	_, jerr := b.Resources[0].JSON()
	var re *ResourceError
	require.ErrorAs(t, jerr, &re)
	assert.Equal(t, "entry[0]", re.Location)
	assert.Equal(t, "Claim.vendorNote", re.Path)
	assert.ErrorIs(t, jerr, ErrUnknownElement)
	require.Len(t, b.Issues, 1)
	assert.Equal(t, "Observation.code.vendorNote", b.Issues[0].Path)

	// Lenient skimmed resources decode leniently.
	b, err = Decode([]byte(in), &Options{SkimUnmapped: true, Lenient: true})
	require.NoError(t, err)
	require.Len(t, b.Resources, 2)
	js, err := b.Resources[0].JSON()
	require.NoError(t, err)
	assert.NotContains(t, string(js), "vendorNote")

	// Validate asks for every resource to be decoded.
	b, err = Decode([]byte(in), &Options{SkimUnmapped: true, Validate: true})
	require.NoError(t, err)
	assert.Empty(t, b.Resources)
}

// TestSkimSTU3: the STU3 bundle is still rejected where it matters with
// the skim (its mapped resources), and in full without it.
func TestSkimSTU3(t *testing.T) {
	raw := readFile(t, shareddata.Path(t, "fhir-invalid", "stu3-synthea.bundle.json"))
	b, err := Decode(raw, &Options{SkimUnmapped: true})
	require.NoError(t, err)
	assert.ErrorIs(t, b.Err(), ErrUnknownElement)
	for _, r := range b.Resources {
		if r.Skimmed() {
			assert.False(t, fullyDecoded[r.Type])
		}
	}
}

// TestParseInstant compares the skim's instants with jsonformat's.
func TestParseInstant(t *testing.T) {
	for _, s := range []string{
		"2021-03-04T05:06:07Z", "2021-03-04T05:06:07.1Z", "2021-03-04T05:06:07.123456+05:45",
		"1900-02-28T23:59:59-12:00", "2024-02-29T00:00:00+14:00", "2021-03-04T05:06:07.000-00:00",
		"0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "2021-13-04T05:06:07Z",
		"2021-03-04T24:00:00Z", "2021-03-04T05:60:07Z", "2021-03-04T05:06:60Z", "2021-02-30T05:06:07Z",
		"2021-03-04T05:06:07+01", "2021-03-04T05:06:07+0100", "2021-03-04T05:06:07.Z", "2021-03-04 05:06:07Z",
		"2021-03-04T05:06:07z", "+2021-03-04T05:06:07Z", "2021-03-04T05:06:07+13:60",
	} {
		in := `{"resourceType":"Claim","id":"c","meta":{"lastUpdated":"` + s + `"}}`
		full, err := Decode([]byte(in), nil)
		require.NoError(t, err)
		got, ok := parseInstant(s)
		if !ok {
			continue // left to jsonformat
		}
		require.NoError(t, full.Err(), s)
		require.Len(t, full.Resources, 1)
		assert.Equal(t, full.Resources[0].LastUpdated, got, s)
		assert.Equal(t, time.UTC, got.Location())
	}
}

// FuzzSkim checks that skimming changes nothing a caller of Entries sees:
// every resource a full decode keeps is kept with the same entry, and a
// resource kept only by the skim is one the full decode skipped, whose
// JSON now fails with the full decode's issues.
func FuzzSkim(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Claim","id":"c","status":"active","meta":{"versionId":"1","lastUpdated":"2021-03-04T05:06:07.1+01:00","source":"urn:x"}}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Goal","id":"g","lifecycleStatus":"active"}},{"resource":{"resourceType":"CarePlan","status":"bogus"}}]}`))
	f.Add([]byte("{\"resourceType\":\"Organization\",\"id\":\"o\"}\n{\"resourceType\":\"Condition\",\"id\":\"c\"}\n"))
	addExampleSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		full, ferr := Decode(data, &Options{Workers: 1, Retrieved: testNow})
		skim, serr := Decode(data, &Options{Workers: 1, Retrieved: testNow, SkimUnmapped: true})
		if (ferr == nil) != (serr == nil) {
			t.Fatalf("whole-input errors differ: %v / %v", ferr, serr)
		}
		if ferr != nil {
			return
		}
		kept := map[string]*Resource{}
		for _, r := range full.Resources {
			kept[r.Location] = r
		}
		skimmedBad := map[string]bool{}
		for _, r := range skim.Resources {
			fr := kept[r.Location]
			if fr == nil {
				if !r.Skimmed() {
					t.Fatalf("%s kept by the skim only, not skimmed", r.Location)
				}
				if _, err := r.JSON(); err == nil {
					t.Fatalf("%s skimmed, skipped by the full decode, but its JSON decodes", r.Location)
				}
				skimmedBad[r.Location] = true
				continue
			}
			if a, b := mustJSON(fr.Entry("s", testNow)), mustJSON(r.Entry("s", testNow)); a != b {
				t.Fatalf("%s: entries differ:\n%s\n%s", r.Location, a, b)
			}
			if r.Skimmed() {
				want, err := fr.JSON()
				if err != nil {
					continue
				}
				got, err := r.JSON()
				if err != nil || string(got) != string(want) {
					t.Fatalf("%s: skimmed JSON differs: %v", r.Location, err)
				}
			}
		}
		if len(skim.Resources)-len(skimmedBad) != len(full.Resources) {
			t.Fatalf("skim kept %d resources (%d unchecked), full decode %d", len(skim.Resources), len(skimmedBad), len(full.Resources))
		}
		var fullIssues []string
		for _, is := range full.Issues {
			if !skimmedBad[is.Location] {
				fullIssues = append(fullIssues, is.Error())
			}
		}
		if a, b := strings.Join(fullIssues, "\n"), strings.Join(issueStrings(skim.Issues), "\n"); a != b {
			t.Fatalf("issues differ:\n%s\n--\n%s", a, b)
		}
	})
}

// FuzzSkimSyntax checks the skim's syntax check against encoding/json.
func FuzzSkimSyntax(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,-0.5e+3,true,false,null,"\u00e9\n"]}`, `{"a":01}`, `{"a":1 2}`, `{"a":"\x01"}`, `{"a":tru}`, `{"a":{}} x`, `{"a":"\q"}`, `{"a":-}`, `{"a":1.}`, `{"a":[1,]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &scanner{data: data}
		got := s.peek() == '{' && s.value()
		s.ws()
		got = got && s.pos == len(data)
		want := json.Valid(data) && bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{"))
		if got != want {
			t.Fatalf("syntax check %v, encoding/json %v: %q", got, want, data)
		}
	})
}
