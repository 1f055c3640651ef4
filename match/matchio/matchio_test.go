package matchio_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/internal/shareddata"
	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/match/matchio"
)

func TestReadMapsCommonHeaders(t *testing.T) {
	tests := []struct {
		name string
		csv  string
		opts matchio.Options
		want match.Record
	}{
		{
			name: "febrl layout with comma-space separators",
			csv: "rec_id, given_name, surname, street_number, address_1, address_2, suburb, postcode, state, date_of_birth, soc_sec_id\n" +
				"rec-1-org, elk i, menzies, 1, lyster place, , northwood, 2585, vic, 19980624, 4970481\n",
			want: match.Record{Source: "f", ID: "rec-1-org", Given: []string{"elk i"}, Family: "menzies",
				Address: []string{"1", "lyster place"}, Town: "northwood", Postcode: "2585", State: "vic",
				BirthDate: "19980624", Identifiers: []match.Identifier{{System: "soc_sec_id", Value: "4970481"}}},
		},
		{
			name: "synthetic cohort layout",
			csv: "record_id,nhs_number,given,family,birth_date,sex,address,postcode,phone,email\n" +
				"g1,9434765919,Ann,Lee,1980-02-03,F,\"1 High St, Leeds\",LS1 1AA,07700 900000,a@b.uk\n",
			want: match.Record{Source: "f", ID: "g1", NHSNumber: "9434765919", Given: []string{"Ann"}, Family: "Lee",
				BirthDate: "1980-02-03", Sex: "F", Address: []string{"1 High St, Leeds"}, Postcode: "LS1 1AA",
				Phone: "07700 900000", Email: "a@b.uk"},
		},
		{
			name: "uganda layout: id-like columns become identifiers",
			csv: "rec_id,sex,date_of_birth,given_name,surname,phone_number,uganda_nin,art_number\n" +
				"rec-2-org, f,19671207, zuwena, acile, 712 300633,CF21927470OWMT, KMC-819708\n",
			want: match.Record{Source: "f", ID: "rec-2-org", Sex: "f", BirthDate: "19671207", Given: []string{"zuwena"},
				Family: "acile", Phone: "712 300633", Identifiers: []match.Identifier{
					{System: "uganda_nin", Value: "CF21927470OWMT"}, {System: "art_number", Value: "KMC-819708"}}},
		},
		{
			name: "map overrides: id column and given from two columns",
			csv:  "key,First Name,Middle,Last Name,rec_id\nk1,Mary,Ann,Smith,x\n",
			opts: matchio.Options{Source: "src", ID: "key", Map: map[matchio.Field][]string{"given": {"First Name", "Middle"}}},
			want: match.Record{Source: "src", ID: "k1", Given: []string{"Mary", "Ann"}, Family: "Smith"},
		},
		{
			name: "byte order mark before the header",
			csv:  "\ufeffid,surname\n7,Ng\n",
			want: match.Record{Source: "f", ID: "7", Family: "Ng"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := matchio.Read(strings.NewReader(tc.csv), "dir/f.csv", tc.opts)
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, tc.want, got[0])
		})
	}
}

func TestReadBadRows(t *testing.T) {
	tests := []struct {
		name      string
		csv       string
		wantLine  int
		wantField string
	}{
		{name: "short row", csv: "id,surname\n1,a\n2\n", wantLine: 3},
		{name: "empty id", csv: "id,surname\n1,a\n ,b\n", wantLine: 3, wantField: "id"},
		{name: "repeated id", csv: "id,surname\n1,a\n2,b\n1,c\n", wantLine: 4, wantField: "id"},
		{name: "bare quote", csv: "id,surname\n0,z\n1,a\"b\n", wantLine: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := matchio.Read(strings.NewReader(tc.csv), "in.csv", matchio.Options{})
			re, ok := errors.AsType[*matchio.RowError](err)
			require.True(t, ok, "want a RowError, got %v", err)
			assert.ErrorIs(t, err, matchio.ErrBadRow)
			assert.Equal(t, "in.csv", re.File)
			assert.Equal(t, tc.wantLine, re.Line)
			assert.Equal(t, tc.wantField, re.Field)
			assert.Contains(t, err.Error(), "in.csv:")

			var skipped []*matchio.RowError
			recs, err := matchio.Read(strings.NewReader(tc.csv), "in.csv", matchio.Options{
				SkipBad: true, OnBad: func(e *matchio.RowError) { skipped = append(skipped, e) }})
			require.NoError(t, err)
			assert.Len(t, skipped, 1)
			assert.NotEmpty(t, recs, "good rows survive a skipped bad one")
		})
	}
}

func TestReadErrorsNeverQuoteValues(t *testing.T) {
	_, err := matchio.Read(strings.NewReader("id,surname\nSECRETID,Secretname\nSECRETID,Other\n"), "in.csv", matchio.Options{})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "SECRET")
	assert.NotContains(t, err.Error(), "Secretname")
}

func TestReadMappingErrors(t *testing.T) {
	_, err := matchio.Read(strings.NewReader("surname\nx\n"), "in.csv", matchio.Options{})
	assert.ErrorIs(t, err, matchio.ErrNoIDColumn)
	_, err = matchio.Read(strings.NewReader("id\nx\n"), "in.csv", matchio.Options{ID: "nope"})
	assert.ErrorIs(t, err, matchio.ErrUnknownColumn)
	_, err = matchio.ParseMap(nil, "colour=eyes")
	assert.ErrorIs(t, err, matchio.ErrUnknownField)
	_, err = matchio.ParseMap(nil, "given")
	assert.Error(t, err)
	m, err := matchio.ParseMap(nil, "address=a+b")
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, m[matchio.FieldAddress])
}

func TestReadSharedLinkageFiles(t *testing.T) {
	tests := []struct {
		path []string
		n    int
	}{
		{[]string{"linkage", "febrl", "dataset1.csv"}, 1000},
		{[]string{"linkage", "febrl", "dataset3.csv"}, 5000},
		{[]string{"linkage", "febrl", "dataset4a.csv"}, 5000},
		{[]string{"linkage", "opencr_uganda", "uganda_data_v21_20201501.csv"}, 5000},
	}
	for _, tc := range tests {
		t.Run(tc.path[len(tc.path)-1], func(t *testing.T) {
			recs, err := matchio.ReadFile(shareddata.Path(t, tc.path...), matchio.Options{})
			require.NoError(t, err)
			require.Len(t, recs, tc.n)
			for _, r := range recs {
				assert.True(t, strings.HasPrefix(r.ID, "rec-"), "record id mapped")
				assert.Equal(t, matchio.SourceName(tc.path[len(tc.path)-1]), r.Source)
			}
		})
	}
}

// FuzzRead checks that no input panics and that every error names its file.
func FuzzRead(f *testing.F) {
	f.Add("id,given,surname\n1,a,b\n")
	f.Add("rec_id, given_name\nrec-1-org, x\n\"\n")
	f.Add("\ufeffid\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		recs, err := matchio.Read(strings.NewReader(in), "fz.csv", matchio.Options{})
		if err != nil {
			assert.Contains(t, err.Error(), "fz.csv")
			return
		}
		seen := map[string]bool{}
		for _, r := range recs {
			assert.NotEmpty(t, r.ID)
			assert.False(t, seen[r.ID], "duplicate id survived")
			seen[r.ID] = true
		}
	})
}

func TestParseMapAliases(t *testing.T) {
	tests := []struct {
		name, spec string
		want       matchio.Field
		wantErr    bool
		reason     string
	}{
		{name: "field", spec: "town=City", want: matchio.FieldTown},
		{name: "alias city", spec: "city=Municipality", want: matchio.FieldTown, reason: "city is a column alias of town"},
		{name: "alias surname", spec: "Surname=LAST", want: matchio.FieldFamily},
		{name: "alias dob", spec: "dob=born", want: matchio.FieldBirthDate},
		{name: "unknown", spec: "shoe_size=x", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := matchio.ParseMap(nil, tc.spec)
			if tc.wantErr {
				require.ErrorIs(t, err, matchio.ErrUnknownField)
				return
			}
			require.NoError(t, err)
			assert.Len(t, m[tc.want], 1)
		})
	}
	for _, f := range matchio.Fields() {
		for _, a := range matchio.Aliases()[f] {
			m, err := matchio.ParseMap(nil, a+"=col")
			require.NoError(t, err, a)
			assert.Contains(t, m, f, "alias %s", a)
		}
	}
}
