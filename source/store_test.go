package source_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/internal/shareddata"
	"github.com/carelens/carelens/source"
)

// testStore is the Store over testdata: gp.json (a collection with two
// patients), hospital.json (a transaction with urn:uuid references) and
// community.ndjson.
func testStore(t testing.TB) *source.Store {
	t.Helper()
	st, err := source.LoadStore(os.DirFS("testdata"), 0)
	require.NoError(t, err)
	return st
}

func keys(items []source.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Type + "/" + it.ID
	}
	return out
}

func TestStoreEverything(t *testing.T) {
	st := testStore(t)
	assert.Equal(t, []string{"c-1", "gp-1", "gp-2", "h-1"}, st.PatientIDs(), "files in lexical order, patients in file order")
	tests := []struct {
		name   string
		id     string
		since  time.Time
		want   []string
		reason string
	}{
		{
			name: "relative, absolute and _history references", id: "gp-1",
			want:   []string{"Patient/gp-1", "AllergyIntolerance/gp-allergy-1", "Observation/gp-hb-1", "MedicationStatement/gp-med-1"},
			reason: "the Organization of a file with two patients belongs to neither",
		},
		{
			name: "a reference from another file", id: "gp-2",
			want: []string{"Patient/gp-2", "Condition/c-cond-gp2", "Condition/gp-cond-2"},
		},
		{
			name: "urn:uuid references and the file's only patient", id: "h-1",
			want: []string{"Patient/h-1", "Encounter/h-enc-1", "Observation/h-k-1", "Organization/h-trust"},
		},
		{
			name: "ndjson", id: "c-1",
			want:   []string{"Patient/c-1", "Observation/c-bp-1"},
			reason: "a resource that names a patient the store does not hold belongs to no one, not to the file's only patient",
		},
		{
			name: "since", id: "gp-1", since: time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC),
			want:   []string{"Patient/gp-1", "MedicationStatement/gp-med-1"},
			reason: "strictly after: the Observation updated at that instant is left out; the Patient is always in",
		},
		{
			name: "since leaves out resources without lastUpdated", id: "gp-2", since: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
			want: []string{"Patient/gp-2", "Condition/gp-cond-2"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items, err := st.Everything(tc.id, tc.since)
			require.NoError(t, err)
			assert.ElementsMatch(t, tc.want, keys(items), tc.reason)
			assert.Equal(t, tc.want[0], keys(items)[0], "the Patient comes first")
		})
	}
	_, err := st.Everything("nobody", time.Time{})
	assert.ErrorIs(t, err, source.ErrNotFound)
}

func TestStoreSearch(t *testing.T) {
	st := testStore(t)
	nhs := "https://fhir.nhs.uk/Id/nhs-number|"
	tests := []struct {
		name    string
		query   string
		want    []string
		wantErr bool
		reason  string
	}{
		{name: "nhs number", query: "identifier=" + url.QueryEscape(nhs+"9990000018"), want: []string{"gp-1", "h-1"}},
		{name: "value in any system", query: "identifier=G100", want: []string{"gp-1"}},
		{name: "no system", query: "identifier=%7C9990000026", want: nil, reason: "|value asks for an identifier without a system"},
		{name: "any value in a system", query: "identifier=" + url.QueryEscape(nhs), want: []string{"gp-1", "gp-2", "h-1"}},
		{name: "identifier or", query: "identifier=C-77,G100", want: []string{"c-1", "gp-1"}},
		{name: "family and birthdate", query: "family=sample&birthdate=1970-01-01", want: []string{"gp-1", "h-1"}},
		{name: "family starts with", query: "family=SAM&birthdate=1970-01-01", want: []string{"gp-1", "h-1"}, reason: "FHIR string search: case-insensitive, starts with"},
		{name: "family exact", query: "family:exact=Sample", want: []string{"gp-1"}},
		{name: "an old name", query: "family=smith", want: []string{"gp-1"}},
		{name: "given prefix", query: "family=sample&given=alexa", want: []string{"h-1"}},
		{name: "second given name", query: "given=jordan", want: []string{"gp-1"}},
		{name: "birth year", query: "birthdate=1970", want: []string{"gp-1", "h-1"}},
		{name: "birthdate eq", query: "birthdate=eq1985-06-15", want: []string{"gp-2"}},
		{name: "wrong birthdate", query: "family=sample&birthdate=1970-01-02", want: nil},
		{name: "repeated parameter is and", query: "family=sample&family=bloggs", want: nil},
		{name: "comma is or", query: "family=sample,bloggs", want: []string{"gp-1", "gp-2", "h-1"}},
		{name: "lastUpdated ge", query: "_lastUpdated=ge2025-01-01", want: []string{"gp-1", "h-1"}, reason: "c-1 has no lastUpdated"},
		{name: "lastUpdated lt", query: "_lastUpdated=lt2025", want: []string{"gp-2"}},
		{name: "lastUpdated gt instant", query: "_lastUpdated=gt2025-02-01T00:00:00Z", want: []string{"gp-1"}},
		{name: "lastUpdated eq day", query: "_lastUpdated=2025-02-01", want: []string{"h-1"}},
		{name: "lastUpdated range", query: "_lastUpdated=ge2024-01-01&_lastUpdated=le2025-02-01T00:00:00%2B00:00", want: []string{"gp-2", "h-1"}},
		{name: "lastUpdated ne", query: "_lastUpdated=ne2025", want: []string{"gp-2"}},
		{name: "empty values are ignored", query: "family=&identifier=", want: []string{"c-1", "gp-1", "gp-2", "h-1"}},
		{name: "paging parameters are the caller's", query: "_count=1&family=bloggs", want: []string{"gp-2"}},
		{name: "unknown parameter", query: "address=Leeds", wantErr: true},
		{name: "unknown modifier", query: "family:contains=amp", wantErr: true},
		{name: "birthdate prefix", query: "birthdate=gt1970-01-01", wantErr: true},
		{name: "bad birthdate", query: "birthdate=01/01/1970", wantErr: true},
		{name: "lastUpdated without offset", query: "_lastUpdated=2025-02-01T00:00:00", wantErr: true},
		{name: "lastUpdated approximate", query: "_lastUpdated=ap2025", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params, err := url.ParseQuery(tc.query)
			require.NoError(t, err)
			items, err := st.Search(params)
			if tc.wantErr {
				require.ErrorIs(t, err, source.ErrQuery)
				for _, vs := range params {
					for _, v := range vs {
						assert.NotContains(t, err.Error(), v, "errors name parameters, not values")
					}
				}
				return
			}
			require.NoError(t, err)
			var ids []string
			for _, it := range items {
				assert.Equal(t, "Patient", it.Type)
				ids = append(ids, it.ID)
			}
			assert.Equal(t, tc.want, ids, tc.reason)
		})
	}
}

func TestStoreDuplicates(t *testing.T) {
	older := `{"resourceType":"Observation","id":"o1","meta":{"lastUpdated":"2024-01-01T00:00:00Z"},"status":"final","code":{"text":"old"},"subject":{"reference":"Patient/p1"}}`
	newer := `{"resourceType":"Observation","id":"o1","meta":{"lastUpdated":"2025-01-01T00:00:00Z"},"status":"final","code":{"text":"new"},"subject":{"reference":"Patient/p2"}}`
	p1 := `{"resourceType":"Patient","id":"p1"}`
	p2 := `{"resourceType":"Patient","id":"p2"}`
	for _, order := range [][]string{{older, newer}, {newer, older}} {
		st, err := source.NewStore([]source.File{
			{Name: "a.ndjson", Data: []byte(p1 + "\n" + p2 + "\n" + order[0])},
			{Name: "b.json", Data: []byte(order[1])},
		})
		require.NoError(t, err)
		for _, id := range []string{"p1", "p2"} {
			items, err := st.Everything(id, time.Time{})
			require.NoError(t, err)
			require.Len(t, items, 2, "the resource belongs to the patients of both copies")
			assert.Contains(t, string(items[1].JSON), `"new"`, "the later lastUpdated wins")
		}
	}
}

func TestNewStoreErrors(t *testing.T) {
	secret := "Kreiger"
	tests := []struct {
		name  string
		files []source.File
		index int
		want  error
	}{
		{name: "not JSON", files: []source.File{{Name: "ok.json", Data: []byte(`{"resourceType":"Patient","id":"a"}`)}, {Name: secret + ".json", Data: []byte(secret)}}, index: 1, want: fhirutil.ErrInvalidJSON},
		{name: "no resourceType", files: []source.File{{Name: secret + ".json", Data: []byte(`{"id":"` + secret + `"}`)}}, want: fhirutil.ErrInvalidResource},
		{name: "bad ndjson line", files: []source.File{{Name: secret + ".ndjson", Data: []byte("{\"resourceType\":\"Patient\",\"id\":\"a\"}\n[" + secret + "\n")}}, want: fhirutil.ErrInvalidJSON},
		{name: "bad entry", files: []source.File{{Name: "b.json", Data: []byte(`{"resourceType":"Bundle","entry":[{"resource":{"name":"` + secret + `"}}]}`)}}, want: fhirutil.ErrInvalidResource},
		{name: "entry not a list", files: []source.File{{Name: "b.json", Data: []byte(`{"resourceType":"Bundle","entry":{"x":"` + secret + `"}}`)}}, want: fhirutil.ErrInvalidResource},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := source.NewStore(tc.files)
			require.ErrorIs(t, err, tc.want)
			fe, ok := errors.AsType[*source.FileError](err)
			require.True(t, ok)
			assert.Equal(t, tc.index, fe.Index)
			assert.Equal(t, tc.files[tc.index].Name, fe.Name)
			assert.NotContains(t, err.Error(), secret, "neither the file name nor its content is in the message")
		})
	}
}

func TestLoadStoreLimits(t *testing.T) {
	fsys := fstest.MapFS{
		"a/Patient-one.json": {Data: []byte(`{"resourceType":"Patient","id":"one"}`)},
		"notes.txt":          {Data: []byte("not read")},
	}
	st, err := source.LoadStore(fsys, 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"one"}, st.PatientIDs(), "sub-directories are read, other extensions are not")

	_, err = source.LoadStore(fsys, 10)
	require.ErrorIs(t, err, source.ErrTooLarge)
	assert.NotContains(t, err.Error(), "Patient-one")
}

// TestLoadStoreHL7 reads the HL7 R4 examples: single resources in files
// of their own, found by their "Patient/{id}" references.
func TestLoadStoreHL7(t *testing.T) {
	dir := sharedData(t, "hl7-r4-examples")
	st, err := source.LoadStore(os.DirFS(dir), 0)
	require.NoError(t, err)
	items, err := st.Everything("example", time.Time{})
	require.NoError(t, err)
	got := keys(items)
	for _, want := range []string{"Patient/example", "Observation/example", "Condition/example", "AllergyIntolerance/example", "Encounter/example", "List/current-allergies"} {
		assert.Contains(t, got, want)
	}
	items, err = st.Everything("f001", time.Time{})
	require.NoError(t, err)
	assert.Contains(t, keys(items), "Observation/f001")
	assert.Contains(t, keys(items), "Consent/consent-example-Out")

	found, err := st.Search(url.Values{"family": {"chalmers"}, "birthdate": {"1974-12-25"}})
	require.NoError(t, err)
	assert.Contains(t, keys(found), "Patient/example", "the transaction example holds more Chalmers")
}

// TestLoadStoreSynthea reads the Synthea transaction bundles: every entry
// of a bundle belongs to its only patient, shared Organizations and
// Practitioners included.
func TestLoadStoreSynthea(t *testing.T) {
	dir := sharedData(t, "synthea-r4")
	st, err := source.LoadStore(os.DirFS(dir), 0)
	require.NoError(t, err)
	require.Equal(t, 3, st.Len())
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	require.NoError(t, err)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		var b struct {
			Entry []struct {
				Resource struct {
					ResourceType string `json:"resourceType"`
					ID           string `json:"id"`
				} `json:"resource"`
			} `json:"entry"`
		}
		require.NoError(t, json.Unmarshal(data, &b))
		want := map[string]bool{}
		patient := ""
		for _, e := range b.Entry {
			want[e.Resource.ResourceType+"/"+e.Resource.ID] = true
			if e.Resource.ResourceType == "Patient" {
				patient = e.Resource.ID
			}
		}
		items, err := st.Everything(patient, time.Time{})
		require.NoError(t, err)
		assert.Len(t, items, len(want))
		for _, k := range keys(items) {
			assert.True(t, want[k], k)
		}
	}
}

// sharedData returns a folder of the shared FHIR data, skipping the test
// when it is absent.
func sharedData(t testing.TB, name string) string {
	t.Helper()
	return shareddata.Path(t, "fhir", name)
}

// FuzzNewStore reads arbitrary files: a Store is built or a *FileError
// returned, never a panic, and a built Store is consistent: a search
// without criteria finds every Patient, and $everything of each starts
// with it.
func FuzzNewStore(f *testing.F) {
	for _, name := range []string{"gp.json", "hospital.json", "community.ndjson"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(f, err)
		f.Add(name, data)
	}
	f.Add("x.json", []byte(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Bundle","entry":[{"fullUrl":"a","resource":{"resourceType":"Patient","id":"a"}}]}}]}`))
	f.Add("x.ndjson", []byte("{\"resourceType\":\"Observation\",\"subject\":{\"reference\":\"Patient/\\u0061\"}}\n{\"resourceType\":\"Patient\",\"id\":\"a\"}"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		st, err := source.NewStore([]source.File{{Name: name, Data: data}})
		if err != nil {
			_, ok := errors.AsType[*source.FileError](err)
			require.True(t, ok)
			return
		}
		all, err := st.Search(url.Values{})
		require.NoError(t, err)
		require.Len(t, all, st.Len())
		for _, id := range st.PatientIDs() {
			items, err := st.Everything(id, time.Time{})
			require.NoError(t, err)
			require.Equal(t, "Patient", items[0].Type)
			require.Equal(t, id, items[0].ID)
			for _, it := range items {
				require.True(t, json.Valid(it.JSON))
			}
		}
	})
}
