package fhirutil

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/carelens/carelens/internal/shareddata"
	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/provenance"
)

func TestDecodeSharedFilesAllParse(t *testing.T) {
	for _, f := range sharedFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw := readFile(t, f)
			b, err := Decode(raw, &Options{Source: provenance.Source{ID: "s1"}, Validate: true})
			require.NoError(t, err)
			require.NoError(t, b.Err(), "no resource may be skipped")
			for _, is := range b.Issues {
				assert.True(t, is.Kept, "%v", is)
			}
			assert.Equal(t, countResources(t, raw), b.CountByType())
		})
	}
}

func TestDecodeSTU3Fails(t *testing.T) {
	f := shareddata.Path(t, "fhir-invalid", "stu3-synthea.bundle.json")
	raw := readFile(t, f)
	b, err := Decode(raw, nil)
	require.NoError(t, err, "the file is JSON; its resources are what fail")
	require.Error(t, b.Err())
	assert.ErrorIs(t, b.Err(), ErrInvalidElement)
	assert.ErrorIs(t, b.Err(), ErrUnknownElement)
	// The resources that happen to be valid R4 too are kept.
	assert.NotEmpty(t, b.Resources)
	assert.Less(t, len(b.Resources), countResources(t, raw)["Claim"]+len(b.Resources))
}

func TestDecodeWorkersDeterministic(t *testing.T) {
	dir := shareddata.Path(t, "fhir", "synthea-r4")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	require.NotEmpty(t, files)
	raw := readFile(t, files[0])
	retrieved := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	one, err := Decode(raw, &Options{Workers: 1, Retrieved: retrieved})
	require.NoError(t, err)
	for _, n := range []int{2, 3, 8} {
		many, err := Decode(raw, &Options{Workers: n, Retrieved: retrieved})
		require.NoError(t, err)
		assert.Equal(t, one.Entries(), many.Entries(), "workers=%d", n)
		assert.Equal(t, one.Patients(), many.Patients(), "workers=%d", n)
	}
}

const badBundle = `{"resourceType":"Bundle","type":"collection","entry":[
 {"resource":{"resourceType":"Patient","id":"p1","gender":"m","name":[{"family":"Zebedee","given":["Quentin"]}],"birthDate":"1961-02-03"}},
 {"resource":{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"Hb"},"effectiveDateTime":"2020-06-01T10:00:00","valueQuantity":{"value":131,"unit":"g/L"}}},
 {"resource":{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"Na","vendorNote":"Zebedee"},"effectiveDateTime":"2020-06-01T10:00:00Z"}},
 {"resource":{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p1"},"code":{"text":"Asthma"},"onsetDateTime":"2019"}},
 {"resource":{"resourceType":"Transport","id":"t1","status":"completed"}},
 {"resource":{"resourceType":"Patient","id":"p2","birthDate":"1961-13-03","name":[{"family":"Zebedee"}]}}
]}`

func TestDecodeBadResourcesSkippedStrict(t *testing.T) {
	b, err := Decode([]byte(badBundle), nil)
	require.NoError(t, err)
	require.Len(t, b.Resources, 1, "only the Condition is valid R4")
	assert.Equal(t, "Condition", b.Resources[0].Type)
	tests := []struct {
		name, location, id, path string
		want                     error
	}{
		{"bad code", "entry[0]", "p1", "Patient.gender", ErrInvalidElement},
		{"time without offset", "entry[1]", "o1", "Observation.effectiveDateTime", ErrMissingOffset},
		{"unknown element", "entry[2]", "o2", "Observation.code.vendorNote", ErrUnknownElement},
		{"R5 resource", "entry[4]", "t1", "", ErrUnknownResourceType},
		{"bad date", "entry[5]", "p2", "Patient.birthDate", ErrInvalidElement},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var found *ResourceError
			for _, is := range b.Issues {
				if is.Location == tc.location {
					found = is
				}
			}
			require.NotNil(t, found)
			assert.ErrorIs(t, found, tc.want)
			assert.False(t, found.Kept)
			assert.Equal(t, tc.id, found.ID)
			assert.Equal(t, tc.path, found.Path)
			assert.Contains(t, found.Error(), tc.location)
		})
	}
	assertNoPHI(t, b.Issues)
}

// assertNoPHI checks that no issue message quotes the test inputs' names,
// dates or values.
func assertNoPHI(t *testing.T, issues []*ResourceError) {
	t.Helper()
	for _, is := range issues {
		msg := is.Error()
		for _, phi := range []string{"Zebedee", "Quentin", "1961", "2020-06-01", "131", `"m"`, "10:00"} {
			assert.NotContains(t, msg, phi, "issue leaks input data")
		}
	}
}

func TestDecodeLenient(t *testing.T) {
	b, err := Decode([]byte(badBundle), &Options{Lenient: true, Source: provenance.Source{ID: "gp"}})
	require.NoError(t, err)
	assertNoPHI(t, b.Issues)
	got := map[string]*Resource{}
	for _, r := range b.Resources {
		got[r.Type+"/"+r.ID] = r
	}
	for _, k := range []string{"Patient/p1", "Observation/o1", "Observation/o2", "Condition/c1", "Transport/t1", "Patient/p2"} {
		assert.Contains(t, got, k, "lenient mode keeps %s", k)
	}
	assert.True(t, got["Transport/t1"].Stub())
	require.NoError(t, b.Err(), "every problem was repaired")

	entries := map[string]merge.Entry{}
	for _, e := range b.Entries() {
		entries[e.Lineage.Tags()[0].ResourceID] = e
	}
	o1 := entries["o1"]
	assert.Equal(t, time.Date(2020, 6, 1, 10, 0, 0, 0, time.UTC), o1.Time, "a time without offset is read as UTC")
	assert.Equal(t, merge.PrecisionSecond, o1.Precision)
	require.NotNil(t, o1.Value)
	assert.InDelta(t, 131, o1.Value.Value, 1e-9)
	assert.Equal(t, "Na", entries["o2"].Display, "the resource survives its unknown element")
	assert.Equal(t, merge.CategoryOther, entries["t1"].Category)

	recs := b.Patients()
	require.Len(t, recs, 2)
	assert.Empty(t, recs[0].Sex, "the invalid gender is dropped")
	assert.Equal(t, "Zebedee", recs[0].Family)
	assert.Empty(t, recs[1].BirthDate, "the invalid date is dropped")

	kinds := map[error]int{}
	for _, is := range b.Issues {
		assert.True(t, is.Kept)
		kinds[errors.Unwrap(is)]++
	}
	assert.Equal(t, map[error]int{ErrInvalidElement: 2, ErrMissingOffset: 1, ErrUnknownElement: 1, ErrUnknownResourceType: 1}, kinds)
}

func TestDecodeLenientNestedAndContained(t *testing.T) {
	in := `{"resourceType":"Patient","id":"p","contained":[{"resourceType":"Medication","id":"m","zz":1,"code":{"text":"x"}}],
	"name":[{"family":"A","period":{"start":"2020-01-01T10:00"}},{"family":"B","bogus":true}]}`
	b, err := Decode([]byte(in), &Options{Lenient: true})
	require.NoError(t, err)
	require.Len(t, b.Resources, 1)
	paths := []string{}
	for _, is := range b.Issues {
		paths = append(paths, is.Path)
	}
	assert.ElementsMatch(t, []string{"Patient.contained[0].Medication.zz", "Patient.name[0].period.start", "Patient.name[1].bogus"}, paths)
	rec := b.Patients()[0]
	assert.Equal(t, "A", rec.Family)
}

func TestDecodeValidationKeeps(t *testing.T) {
	in := `{"resourceType":"Observation","id":"o","code":{"text":"x"}}` // no status
	b, err := Decode([]byte(in), &Options{Validate: true})
	require.NoError(t, err)
	require.Len(t, b.Resources, 1)
	require.Len(t, b.Issues, 1)
	assert.ErrorIs(t, b.Issues[0], ErrValidation)
	assert.True(t, b.Issues[0].Kept)
	assert.NoError(t, b.Err())

	b, err = Decode([]byte(in), nil)
	require.NoError(t, err)
	assert.Len(t, b.Resources, 1)
	assert.Empty(t, b.Issues)
}

func TestDecodeNDJSON(t *testing.T) {
	in := strings.Join([]string{
		`{"resourceType":"Patient","id":"a","name":[{"family":"Zebedee"}]}`,
		``,
		`{"resourceType":"Patient","id":"b",`,
		`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Patient","id":"c"}}]}`,
		`{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"}}`,
	}, "\n")
	b, err := Decode([]byte(in), nil)
	require.NoError(t, err)
	var ids []string
	for _, r := range b.Resources {
		ids = append(ids, r.ID)
	}
	assert.Equal(t, []string{"a", "c", "o"}, ids)
	require.Len(t, b.Issues, 1)
	assert.Equal(t, "line 3", b.Issues[0].Location)
	assert.ErrorIs(t, b.Issues[0], ErrInvalidJSON)
	assert.Equal(t, 1, b.Bundles)
	assert.Equal(t, "line 4.resource.entry[0]", b.Resources[1].Location)
}

func TestDecodeWholeInputErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "  \n", ErrEmpty},
		{"array", `[{"resourceType":"Patient"}]`, ErrInvalidJSON},
		{"truncated", `{"resourceType":"Patient"`, ErrInvalidJSON},
		{"text", `hello`, ErrInvalidJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.in), nil)
			assert.ErrorIs(t, err, tc.want)
		})
	}
}

func TestDecodeNestedBundleWithBadEntry(t *testing.T) {
	in := `{"resourceType":"Bundle","type":"batch-response","entry":[
	 {"resource":{"resourceType":"Bundle","type":"searchset","entry":[
	   {"resource":{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p"},"code":{"text":"a"}}},
	   {"resource":{"resourceType":"Condition","id":"c2","subject":{"reference":"Patient/p"},"code":{"text":"b"},"severity":"high"}}]},
	  "response":{"status":"200"}},
	 {"response":{"status":"404"}}]}`
	b, err := Decode([]byte(in), nil)
	require.NoError(t, err)
	require.Len(t, b.Resources, 1)
	assert.Equal(t, "c1", b.Resources[0].ID)
	assert.Equal(t, "entry[0].resource.entry[0]", b.Resources[0].Location)
	require.NotEmpty(t, b.Issues)
	assert.Equal(t, "entry[0].resource.entry[1]", b.Issues[0].Location)
	assert.Equal(t, "c2", b.Issues[0].ID)
	assert.Equal(t, 2, b.Bundles)
}

func TestTagFromMeta(t *testing.T) {
	in := `{"resourceType":"Condition","id":"c1","meta":{"versionId":"7","lastUpdated":"2021-03-04T05:06:07.123+01:00","source":"http://gp.example/fhir"},
	"subject":{"reference":"Patient/p"},"code":{"text":"a"},"onsetDateTime":"2019-05"}`
	retrieved := time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600))
	b, err := Decode([]byte(in), &Options{Source: provenance.Source{ID: "gp1"}, Retrieved: retrieved})
	require.NoError(t, err)
	require.Len(t, b.Resources, 1)
	assert.Equal(t, "http://gp.example/fhir", b.Resources[0].MetaSource)
	e := b.Entries()[0]
	want := provenance.Tag{Source: "gp1", ResourceType: "Condition", ResourceID: "c1", Version: "7",
		Asserted: time.Date(2021, 3, 4, 4, 6, 7, 123e6, time.UTC), Retrieved: retrieved.UTC()}
	assert.Equal(t, []provenance.Tag{want}, e.Lineage.Tags())
	assert.Equal(t, time.UTC, e.Lineage.Tags()[0].Asserted.Location())
	assert.Equal(t, time.Date(2019, 5, 1, 0, 0, 0, 0, time.UTC), e.Time)
	assert.Equal(t, merge.PrecisionMonth, e.Precision)
}

// TestResourceJSONRoundTrip: every decoded resource renders to JSON that
// decodes to an equal proto, or (when jsonformat stores a reference in a
// different but equivalent form, or re-encodes a contained resource) to one
// that renders to the same JSON.
func TestResourceJSONRoundTrip(t *testing.T) {
	equal, sameJSON := 0, 0
	for _, f := range testFiles(t) {
		b, err := Decode(readFile(t, f), nil)
		require.NoError(t, err)
		for _, r := range b.Resources {
			js, err := r.JSON()
			require.NoError(t, err)
			back, err := Decode(js, nil)
			require.NoError(t, err)
			require.Len(t, back.Resources, 1)
			if proto.Equal(r.cr, back.Resources[0].cr) {
				equal++
				continue
			}
			again, err := back.Resources[0].JSON()
			require.NoError(t, err)
			if string(js) != string(again) {
				t.Errorf("%s %s/%s changed in a JSON round trip:\n%s\n%s", filepath.Base(f), r.Type, r.ID, js, again)
				continue
			}
			sameJSON++
		}
	}
	t.Logf("%d resources proto-equal after a round trip, %d equal as JSON", equal, sameJSON)
}
