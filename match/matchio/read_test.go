package matchio_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/match/matchio"
)

// The two files of issue 16: the same people, different headers, US dates.
const (
	clinicA = "PatientID,FirstName,LastName,DOB,Gender,Zip\n" +
		"A1,Ann,Lee,04/05/1988,F,10001\n"
	clinicB = "MRN,Given,Surname,BirthDate,Sex,PostalCode\n" +
		"B7,Ann,Lee,04/05/1988,F,10001\n"
)

func TestReadCommonHeaderSpellings(t *testing.T) {
	want := match.Record{Given: []string{"Ann"}, Family: "Lee", BirthDate: "04/05/1988", Sex: "F", Postcode: "10001"}
	for name, tc := range map[string]struct{ csv, id string }{
		"clinic a": {clinicA, "A1"},
		"clinic b": {clinicB, "B7"},
	} {
		t.Run(name, func(t *testing.T) {
			recs, rep, err := matchio.ReadReport(strings.NewReader(tc.csv), "dir/src.csv", matchio.Options{})
			require.NoError(t, err)
			require.Len(t, recs, 1)
			w := want
			w.Source, w.ID = "src", tc.id
			assert.Equal(t, w, recs[0])
			for _, c := range rep.Columns {
				assert.NotEqual(t, matchio.FieldIgnore, c.Field, "column %s dropped", c.Name)
			}
		})
	}
}

func TestReadIDPriority(t *testing.T) {
	// PatientID ranks above MRN in the alias table: it is the record id and
	// the MRN is kept as an identifier.
	recs, err := matchio.Read(strings.NewReader("MRN,PatientID,Surname\nM1,P1,Lee\n"), "s.csv", matchio.Options{})
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, "P1", recs[0].ID)
	assert.Equal(t, []match.Identifier{{System: "MRN", Value: "M1"}}, recs[0].Identifiers)
}

func TestReadSniffsDelimiterAndEncoding(t *testing.T) {
	want := match.Record{Source: "s", ID: "1", Given: []string{"Zoë"}, Family: "Lee", Town: "Köln"}
	tests := []struct {
		name    string
		data    string
		opts    matchio.Options
		delim   rune
		enc     matchio.Encoding
		bom     bool
		warning string
	}{
		{name: "semicolon", data: "id;given;surname;city\n1;Zoë;Lee;Köln\n", delim: ';', enc: matchio.EncodingUTF8},
		{name: "tab", data: "id\tgiven\tsurname\tcity\n1\tZoë\tLee\tKöln\n", delim: '\t', enc: matchio.EncodingUTF8},
		{name: "pipe", data: "id|given|surname|city\n1|Zoë|Lee|Köln\n", delim: '|', enc: matchio.EncodingUTF8},
		{name: "quoted commas do not count", data: "id;given;surname;city;\"note, a, b, c\"\n1;Zoë;Lee;Köln;x\n", delim: ';', enc: matchio.EncodingUTF8},
		{name: "BOM and CRLF", data: "\ufeffid,given,surname,city\r\n1,Zoë,Lee,Köln\r\n", delim: ',', enc: matchio.EncodingUTF8, bom: true},
		{name: "Latin-1 flagged", data: "id;given;surname;city\n1;Zo\xeb;Lee;K\xf6ln\n", delim: ';', enc: matchio.EncodingLatin1,
			warning: "read as Latin-1"},
		{name: "delimiter set", data: "id;given;surname;city\n1;Zoë;Lee;Köln\n", opts: matchio.Options{Delimiter: ';'}, delim: ';', enc: matchio.EncodingUTF8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, rep, err := matchio.ReadReport(strings.NewReader(tc.data), "s.csv", tc.opts)
			require.NoError(t, err)
			require.Len(t, recs, 1)
			assert.Equal(t, want, recs[0])
			assert.Equal(t, tc.delim, rep.Delimiter)
			assert.Equal(t, tc.enc, rep.Encoding)
			assert.Equal(t, tc.bom, rep.BOM)
			w := strings.Join(rep.Warnings(), "\n")
			if tc.warning != "" {
				assert.Contains(t, w, tc.warning)
			} else {
				assert.Empty(t, w)
			}
		})
	}
}

func TestReadEncodingSet(t *testing.T) {
	data := "id;given;surname\n1;Zo\xeb;Lee\n"
	_, err := matchio.Read(strings.NewReader(data), "s.csv", matchio.Options{Encoding: matchio.EncodingUTF8})
	re, ok := errors.AsType[*matchio.RowError](err)
	require.True(t, ok, "invalid UTF-8 under --encoding utf-8 is a bad row, got %v", err)
	assert.Equal(t, 2, re.Line)
	assert.Equal(t, "given", re.Field)
	_, err = matchio.Read(strings.NewReader("\xff\xfei\x00d\x00\n\x00"), "s.csv", matchio.Options{})
	assert.ErrorIs(t, err, matchio.ErrEncoding)
	assert.Contains(t, err.Error(), "s.csv: ")
}

func TestReadRefusesFilesWithoutRecords(t *testing.T) {
	tests := []struct {
		name, data string
		want       error
	}{
		{name: "empty", data: "", want: matchio.ErrNoRecords},
		{name: "header only", data: "id,surname\n", want: matchio.ErrNoRecords},
		{name: "header only with BOM and CRLF", data: "\ufeffid,surname\r\n", want: matchio.ErrNoRecords},
		{name: "no usable column", data: "PatientID,Colour\nP1,red\n", want: matchio.ErrNoFields},
		{name: "all headers unknown", data: "a,b,c\n1,2,3\n", want: matchio.ErrNoIDColumn},
		{name: "truth file", data: "source,record_id,person_id\nclinic,A1,p1\n", want: matchio.ErrTruthLike},
		{name: "true pairs file", data: "rec_id_l,rec_id_r\nrec-1-org,rec-1-dup-0\n", want: matchio.ErrTruthLike},
		{name: "clusters file", data: "source,record_id,cluster_id\nclinic,A1,1\n", want: matchio.ErrTruthLike},
		{name: "every row bad", data: "id,surname\n,a\n,b\n", want: matchio.ErrNoRecords},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := matchio.Read(strings.NewReader(tc.data), "dir/in.csv", matchio.Options{SkipBad: true})
			require.ErrorIs(t, err, tc.want)
			fe, ok := errors.AsType[*matchio.FileError](err)
			require.True(t, ok, "want a FileError, got %T", err)
			assert.Equal(t, "dir/in.csv", fe.File)
			assert.True(t, strings.HasPrefix(err.Error(), "dir/in.csv"), "file first: %s", err)
			assert.NotContains(t, err.Error(), "matchio", "no package name in a message a user sees")
		})
	}
}

func TestReadWarnsAboutIgnoredDemographics(t *testing.T) {
	_, rep, err := matchio.ReadReport(strings.NewReader("id,Surname,PostCde,Notes,Birth_Dt\n1,Lee,LS1,x,1980\n"), "s.csv", matchio.Options{})
	require.NoError(t, err)
	w := strings.Join(rep.Warnings(), "\n")
	assert.Contains(t, w, "column PostCde is ignored but its name suggests postcode")
	assert.NotContains(t, w, "Notes")
	lines := strings.Join(rep.Lines(), "\n")
	assert.Contains(t, lines, "s.csv: column Notes -> ignored")
	assert.Contains(t, lines, "s.csv: column Surname -> family")
	assert.Contains(t, lines, "s.csv: column Birth_Dt -> birth_date")
}

// TestReadOpenQuote: a quote left open swallows the lines after it; it is
// an error at the line it opened, and with SkipBad every swallowed line
// is counted.
func TestReadOpenQuote(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,surname\n")
	for i := range 20 {
		if i == 4 {
			b.WriteString("5,\"Lee\n") // line 6 opens a quote
			continue
		}
		if i == 13 {
			b.WriteString("14,Ng\"\n") // line 15 closes it with a bare quote
			continue
		}
		b.WriteString(string(rune('a'+i)) + ",Ng\n")
	}
	data := b.String()
	_, err := matchio.Read(strings.NewReader(data), "q.csv", matchio.Options{})
	re, ok := errors.AsType[*matchio.RowError](err)
	require.True(t, ok, "want a RowError, got %v", err)
	assert.Equal(t, 6, re.Line, "the line the quote opened")
	assert.Greater(t, re.LastLine, 6)

	var skipped []*matchio.RowError
	recs, rep, err := matchio.ReadReport(strings.NewReader(data), "q.csv", matchio.Options{SkipBad: true,
		OnBad: func(e *matchio.RowError) { skipped = append(skipped, e) }})
	require.NoError(t, err)
	lost := 20 - len(recs)
	assert.Equal(t, lost, rep.SkippedLines, "every record not read is counted as a skipped line")
	n := 0
	for _, e := range skipped {
		n += e.Lines()
	}
	assert.Equal(t, lost, n)
	assert.Contains(t, strings.Join(rep.Warnings(), "\n"), "taking")

	// A quote closed cleanly on a later line: the field holds a line end.
	_, err = matchio.Read(strings.NewReader("id,surname\n1,\"Lee\n2,Ng\"\n3,Ng\n"), "q.csv", matchio.Options{})
	re, ok = errors.AsType[*matchio.RowError](err)
	require.True(t, ok, "want a RowError, got %v", err)
	assert.Equal(t, 2, re.Line)
	assert.Equal(t, 3, re.LastLine)

	// Left open to the end of the file.
	_, err = matchio.Read(strings.NewReader("id,surname\n1,Lee\n2,\"Ng\n3,Ng\n4,Ng\n"), "q.csv", matchio.Options{})
	re, ok = errors.AsType[*matchio.RowError](err)
	require.True(t, ok, "want a RowError, got %v", err)
	assert.Equal(t, 3, re.Line)
	assert.GreaterOrEqual(t, re.LastLine, 5)
}

func TestReadLineBound(t *testing.T) {
	data := "id,surname\n1," + strings.Repeat("a", matchio.MaxLineBytes+1) + "\n"
	_, err := matchio.Read(strings.NewReader(data), "long.csv", matchio.Options{SkipBad: true})
	require.ErrorIs(t, err, matchio.ErrLineTooLong)
	assert.Contains(t, err.Error(), "long.csv:2:")
}

func TestReadFileErrorNamesFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "empty.csv")
	require.NoError(t, os.WriteFile(p, nil, 0o600))
	_, err := matchio.ReadFile(p, matchio.Options{})
	require.ErrorIs(t, err, matchio.ErrNoRecords)
	assert.Contains(t, err.Error(), p)
	_, err = matchio.ReadFile(filepath.Join(dir, "missing.csv"), matchio.Options{})
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "missing.csv")
}

func TestAliasTableIsConsistent(t *testing.T) {
	seen := map[string]matchio.Field{}
	for f, names := range matchio.Aliases() {
		for _, n := range names {
			_, dup := seen[n]
			assert.False(t, dup, "alias %s twice", n)
			seen[n] = f
			cols := matchio.AutoMap([]string{n})
			assert.Equal(t, f, cols[0].Field, "alias %s reads as its field", n)
		}
	}
	for _, h := range []string{"PatientID", "patient_id", "MRN", "person_id", "pid", "hospital_number", "Hospital Number"} {
		assert.Equal(t, matchio.FieldID, matchio.AutoMap([]string{h})[0].Field, h)
	}
	for h, f := range map[string]matchio.Field{"PostalCode": matchio.FieldPostcode, "ZIP": matchio.FieldPostcode,
		"FirstName": matchio.FieldGiven, "LastName": matchio.FieldFamily, "BirthDate": matchio.FieldBirthDate,
		"Date of Birth": matchio.FieldBirthDate, "NHSNumber": matchio.FieldNHSNumber, "eMail": matchio.FieldEmail} {
		assert.Equal(t, f, matchio.AutoMap([]string{h})[0].Field, h)
	}
}

func TestEscapeCSVField(t *testing.T) {
	for _, s := range []string{"=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx", "'=x", "''+y", "plain", "", "'", "O'Neil"} {
		e := matchio.EscapeCSVField(s)
		assert.Equal(t, s, matchio.UnescapeCSVField(e), "round trip of %q", s)
		if u := strings.TrimLeft(s, "'"); u != "" && strings.ContainsRune("=+-@\t", rune(u[0])) {
			assert.True(t, strings.HasPrefix(e, "'"), "%q escaped", s)
		}
	}
	assert.Equal(t, "plain", matchio.EscapeCSVField("plain"))
}

func FuzzEscapeCSVField(f *testing.F) {
	f.Add("=1+1")
	f.Add("''-x")
	f.Fuzz(func(t *testing.T, s string) {
		e := matchio.EscapeCSVField(s)
		if s != matchio.UnescapeCSVField(e) {
			t.Fatalf("round trip of %q gave %q", s, matchio.UnescapeCSVField(e))
		}
		if e != "" && strings.ContainsRune("=+-@\t\r", rune(e[0])) {
			t.Fatalf("escaped %q still starts a formula", e)
		}
	})
}

func TestPrintable(t *testing.T) {
	assert.Equal(t, "Zoë O'Neil", matchio.Printable("Zoë O'Neil"))
	p := matchio.Printable("id\x1b]0;pwned\x07\u202egnp.exe")
	assert.NotContains(t, p, "\x1b")
	assert.NotContains(t, p, "\u202e")
	assert.Contains(t, p, `\x1b`)
	assert.Contains(t, p, `\u202e`)
}

// TestReadLineBoundExact: a line of exactly MaxLineBytes reads; one byte
// more fails, at the right line, wherever the reads split the input.
func TestReadLineBoundExact(t *testing.T) {
	for _, extra := range []int{0, 1} {
		long := strings.Repeat("a", matchio.MaxLineBytes-len("2,")+extra)
		data := "id,surname\n1,x\n2," + long + "\n3,y\n"
		recs, err := matchio.Read(iotest.OneByteReader(strings.NewReader(data)), "l.csv", matchio.Options{})
		if extra == 0 {
			require.NoError(t, err)
			assert.Len(t, recs, 3)
			continue
		}
		require.ErrorIs(t, err, matchio.ErrLineTooLong)
		assert.Contains(t, err.Error(), "l.csv:3:")
	}
}

// FuzzReadSkipBadCounts checks, over any input and each delimiter and
// encoding, that skipping is honest: the records read and the lines the
// skipped rows took never exceed the file's lines after the header, and
// every error names the file first without the package's name.
func FuzzReadSkipBadCounts(f *testing.F) {
	f.Add("id,surname\n1,a\n2,\"b\n3,c\n4,d\"x\n5,e\n", uint8(0))
	f.Add("\ufeffPatientID;Surname\r\n1;a\r\n", uint8(1))
	f.Add("MRN\tGiven\n1\tZo\xeb\n", uint8(2))
	f.Fuzz(func(t *testing.T, in string, mode uint8) {
		opts := matchio.Options{SkipBad: true}
		switch mode % 4 {
		case 1:
			opts.Delimiter = ';'
		case 2:
			opts.Encoding = matchio.EncodingLatin1
		case 3:
			opts.Encoding = matchio.EncodingUTF8
		}
		recs, rep, err := matchio.ReadReport(strings.NewReader(in), "fz.csv", opts)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fz.csv") || strings.Contains(err.Error(), "matchio") {
				t.Fatalf("error %q does not start with the file or names the package", err)
			}
			return
		}
		lines := strings.Count(in, "\n")
		if !strings.HasSuffix(in, "\n") {
			lines++
		}
		if len(recs)+rep.SkippedLines > lines-1 {
			t.Fatalf("%d records and %d skipped lines from %d lines after the header", len(recs), rep.SkippedLines, lines-1)
		}
		if rep.Records != len(recs) {
			t.Fatalf("report says %d records, read %d", rep.Records, len(recs))
		}
	})
}

func TestErrorsEscapeFileNames(t *testing.T) {
	_, err := matchio.Read(strings.NewReader(""), "evil\x1b[2J.csv", matchio.Options{})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "\x1b")
	assert.Contains(t, err.Error(), `evil\x1b[2J.csv`)
	_, err = matchio.Read(strings.NewReader("id,surname\n,a\n"), "evil\x1b[2J.csv", matchio.Options{})
	require.ErrorIs(t, err, matchio.ErrBadRow)
	assert.NotContains(t, err.Error(), "\x1b")
}
