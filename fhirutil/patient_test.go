package fhirutil

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/match"
)

var testNow = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// TestPatientsGolden maps every Patient of the shared files to a record
// and compares with testdata/patients.golden.json.
func TestPatientsGolden(t *testing.T) {
	got := map[string][]match.Record{}
	for _, f := range sharedFiles(t) {
		b, err := Decode(readFile(t, f), &Options{Retrieved: testNow})
		require.NoError(t, err)
		b.Source.ID = "test"
		if recs := b.Patients(); len(recs) > 0 {
			got[filepath.Base(f)] = recs
		}
	}
	golden(t, "patients.golden.json", got)
}

func TestPatientMapping(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   match.Record
		reason string
	}{
		{
			name: "NHS number by system, official name first",
			in: `{"resourceType":"Patient","id":"p","identifier":[{"system":"urn:x","value":"42"},{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}],
			"name":[{"use":"usual","given":["Bob"]},{"use":"official","family":"Smith","given":["Robert","James"]}],"gender":"male","birthDate":"1980-06"}`,
			want: match.Record{Source: "s", ID: "p", Given: []string{"Robert", "James"}, Family: "Smith",
				OtherNames: []match.Name{{Given: []string{"Bob"}, Use: "usual"}}, BirthDate: "1980-06", Sex: "male",
				NHSNumber: "9434765919", Identifiers: []match.Identifier{{System: "urn:x", Value: "42"}}},
			reason: "birthDate keeps its month precision",
		},
		{
			name: "current home address and telecom",
			in: `{"resourceType":"Patient","id":"p","address":[
			  {"use":"old","line":["1 Old St"],"postalCode":"AA1 1AA"},
			  {"use":"work","line":["2 Work St"],"postalCode":"BB1 1BB"},
			  {"use":"home","line":["3 Ended St"],"period":{"end":"2020-01-01"}},
			  {"use":"home","line":["4 Home St","Flat 2"],"city":"Leeds","postalCode":"LS1 1AA","state":"W Yorks"}],
			  "telecom":[{"system":"phone","value":"0111","use":"old"},{"system":"email","value":"a@b.example"},{"system":"phone","value":"0222"}]}`,
			want: match.Record{Source: "s", ID: "p", Address: []string{"4 Home St", "Flat 2"}, Town: "Leeds", Postcode: "LS1 1AA", State: "W Yorks",
				Phone: "0222", Email: "a@b.example"},
			reason: "old and ended addresses and telecoms are not current",
		},
		{
			name:   "text-only name",
			in:     `{"resourceType":"Patient","id":"p","name":[{"text":"Mary Ann Jones"}],"birthDate":"1970"}`,
			want:   match.Record{Source: "s", ID: "p", FullName: "Mary Ann Jones", BirthDate: "1970"},
			reason: "a source that does not split names",
		},
		{
			name:   "maiden name is not the main name",
			in:     `{"resourceType":"Patient","id":"p","name":[{"use":"maiden","family":"Brown"},{"family":"Green","given":["Ann"]}]}`,
			want:   match.Record{Source: "s", ID: "p", Given: []string{"Ann"}, Family: "Green", OtherNames: []match.Name{{Family: "Brown", Use: "maiden"}}},
			reason: "no official or usual name: the first name that is not old or maiden",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Decode([]byte(tc.in), &Options{Retrieved: testNow})
			require.NoError(t, err)
			require.NoError(t, b.Err())
			rec, ok := b.Resources[0].Record("s", testNow)
			require.True(t, ok)
			assert.Equal(t, tc.want, normalise(rec), tc.reason)
		})
	}
}

// normalise turns empty slices into nil so records compare by content.
func normalise(r match.Record) match.Record {
	if len(r.Given) == 0 {
		r.Given = nil
	}
	if len(r.OtherNames) == 0 {
		r.OtherNames = nil
	}
	for i := range r.OtherNames {
		if len(r.OtherNames[i].Given) == 0 {
			r.OtherNames[i].Given = nil
		}
	}
	if len(r.Address) == 0 {
		r.Address = nil
	}
	if len(r.Identifiers) == 0 {
		r.Identifiers = nil
	}
	return r
}

// roundTrip writes rec as a Patient and reads it back.
func roundTrip(t testing.TB, rec match.Record) match.Record {
	t.Helper()
	js, err := PatientJSON(rec)
	require.NoError(t, err)
	b, err := Decode(js, &Options{Retrieved: testNow})
	require.NoError(t, err)
	require.NoError(t, b.Err())
	require.Len(t, b.Resources, 1, "%s", js)
	got, ok := b.Resources[0].Record(rec.Source, testNow)
	require.True(t, ok)
	return normalise(got)
}

// TestPatientRoundTripShared: FHIR Patient -> Record -> FHIR -> Record
// keeps every field Record keeps, for every Patient in the shared data.
func TestPatientRoundTripShared(t *testing.T) {
	for _, f := range testFiles(t) {
		b, err := Decode(readFile(t, f), &Options{Retrieved: testNow})
		require.NoError(t, err)
		for _, r := range b.Resources {
			rec, ok := r.Record("s", testNow)
			if !ok {
				continue
			}
			if !fhirID.MatchString(rec.ID) {
				rec.ID = "" // a fullUrl is not a Patient id; it cannot be written as one
			}
			t.Run(filepath.Base(f)+"/"+r.Key(), func(t *testing.T) {
				assert.Equal(t, normalise(rec), roundTrip(t, rec))
			})
		}
	}
}

// randomRecord generates a record in the canonical form Record produces.
func randomRecord(r *rand.Rand) match.Record {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	word := func() string {
		const letters = "abcdefghijklmnopqrstuvwxyz'-"
		n := 1 + r.IntN(8)
		var b strings.Builder
		b.WriteByte(byte('A' + r.IntN(26)))
		for range n {
			b.WriteByte(letters[r.IntN(len(letters))])
		}
		return b.String()
	}
	rec := match.Record{Source: "src", ID: fmt.Sprintf("id-%d", r.IntN(1e6))}
	if r.IntN(5) == 0 {
		rec.FullName = word() + " " + word()
	} else {
		for range r.IntN(3) {
			rec.Given = append(rec.Given, word())
		}
		rec.Family = word()
		if len(rec.Given) == 0 && r.IntN(2) == 0 {
			rec.Family = word() + " " + word()
		}
	}
	for range r.IntN(3) {
		n := match.Name{Family: word(), Use: pick("", "usual", "maiden", "nickname", "old", "temp")}
		if n.Use == "usual" && rec.Family == "" {
			n.Use = "maiden" // a usual name would become the main name
		}
		if r.IntN(2) == 0 {
			n.Given = []string{word()}
		}
		if n.Use == "" && len(rec.Given) == 0 && rec.Family == "" {
			n.Use = "old"
		}
		rec.OtherNames = append(rec.OtherNames, n)
	}
	d := time.Date(1900+r.IntN(125), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
	rec.BirthDate = pick(d.Format("2006"), d.Format("2006-01"), d.Format("2006-01-02"), d.Format("2006-01-02"), "")
	rec.Sex = pick("male", "female", "other", "unknown", "")
	if r.IntN(4) > 0 {
		rec.Address = []string{fmt.Sprintf("%d %s Road", 1+r.IntN(200), word())}
		rec.Town, rec.Postcode = word(), fmt.Sprintf("LS%d %dAB", r.IntN(30), r.IntN(10))
		if r.IntN(2) == 0 {
			rec.State = word()
		}
	}
	if r.IntN(2) == 0 {
		rec.Phone = fmt.Sprintf("07%09d", r.IntN(1e9))
	}
	if r.IntN(2) == 0 {
		rec.Email = strings.ToLower(word()) + "@example.org"
	}
	if r.IntN(2) == 0 {
		rec.NHSNumber = fmt.Sprintf("%010d", r.IntN(1e10))
	}
	for range r.IntN(3) {
		rec.Identifiers = append(rec.Identifiers, match.Identifier{System: "urn:oid:1.2." + fmt.Sprint(r.IntN(100)), Value: fmt.Sprint(r.IntN(1e8))})
	}
	return normalise(rec)
}

// TestPatientRoundTripProperty: Record -> FHIR -> Record is the identity
// on records in canonical form.
func TestPatientRoundTripProperty(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 50
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		rec := randomRecord(r)
		require.Equal(t, rec, roundTrip(t, rec), "case %d", i)
	}
}

func TestReadPatients(t *testing.T) {
	in := `{"resourceType":"Patient","id":"a","name":[{"family":"X"}],"gender":"m"}
{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"}}
{"resourceType":"Patient","id":"b","name":[{"family":"Y"}]}
not json`
	recs, issues, err := ReadPatients(strings.NewReader(in), "hospital")
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, "hospital", recs[0].Source)
	assert.Equal(t, "a", recs[0].ID)
	assert.Equal(t, "b", recs[1].ID)
	require.Len(t, issues, 2, "the dropped gender and the bad line")
	for _, is := range issues {
		_, ok := is.(*ResourceError)
		assert.True(t, ok)
	}
}
