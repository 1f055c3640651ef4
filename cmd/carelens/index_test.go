package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/carelens/carelens/mpi"
	"github.com/carelens/carelens/mpi/mpitest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/mpi/badgerstore"
)

// indexFixture writes two small source files: the same three people in
// both, plus one extra person in the hospital file.
func indexFixture(t *testing.T) (gp, hosp string) {
	t.Helper()
	dir := t.TempDir()
	gp = filepath.Join(dir, "gp.csv")
	hosp = filepath.Join(dir, "hospital.csv")
	require.NoError(t, os.WriteFile(gp, []byte(`record_id,nhs_number,given,family,birth_date,sex,address,postcode,phone
G1,9434765919,Amelia,Hartley,1984-03-07,F,12 Cardigan Road,LS6 2AB,07700 900101
G2,,Oliver,Nash,1950-11-30,M,3 Low Petergate,YO1 7HH,07700 900202
G3,,Isla,Okafor,2001-06-15,F,9 Mill Lane,M4 1AA,07700 900303
`), 0o644))
	require.NoError(t, os.WriteFile(hosp, []byte(`record_id,nhs_number,given,family,birth_date,sex,address,postcode,phone
H1,943 476 5919,AMELIA,HARTLEY,1984-03-07,F,,LS6 2AB,
H2,,Oliver,Nash,1950-11-30,M,3 Low Petergate,YO1 7HH,
H3,,Isla,Okafor,2001-06-15,F,,,
H4,,Noah,Begum,1999-02-14,M,1 Station Road,BD1 1AA,
`), 0o644))
	return gp, hosp
}

func carelens(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), args, nil, &stdout, &stderr)
	return stdout.String(), err
}

func readExport(t *testing.T, out string) map[string]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, rows)
	assert.Equal(t, []string{"source", "record_id", "cluster_id"}, rows[0])
	got := map[string]string{}
	for _, r := range rows[1:] {
		got[r[0]+"/"+r[1]] = r[2]
	}
	return got
}

func TestIndexCommand(t *testing.T) {
	gp, hosp := indexFixture(t)
	db := filepath.Join(t.TempDir(), "db")

	out, err := carelens(t, "index", "load", "--db", db, "--builtin-scorer", gp, hosp)
	require.NoError(t, err)
	assert.Contains(t, out, "loaded 7 records")

	out, err = carelens(t, "index", "export", "--db", db)
	require.NoError(t, err)
	clusters := readExport(t, out)
	require.Len(t, clusters, 7, "every record, singletons included")
	assert.Equal(t, clusters["gp/G1"], clusters["hospital/H1"], "same NHS number")
	assert.Equal(t, clusters["gp/G2"], clusters["hospital/H2"], "same name, birth date and address")
	assert.NotEqual(t, clusters["gp/G3"], clusters["hospital/H3"], "name and birth date alone never link")

	// Reloading the same files changes nothing.
	_, err = carelens(t, "index", "load", "--db", db, gp, hosp)
	require.NoError(t, err)
	out, err = carelens(t, "index", "export", "--db", db)
	require.NoError(t, err)
	assert.Equal(t, clusters, readExport(t, out), "enterprise ids are stable")

	out, err = carelens(t, "index", "query", "--db", db, "--given", "Isla", "--family", "Okafor", "--birth-date", "2001-06-15", "--json")
	require.NoError(t, err)
	var cands []map[string]any
	for line := range strings.Lines(out) {
		var c map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &c))
		cands = append(cands, c)
	}
	require.Len(t, cands, 2, "both of Isla's persons")
	for _, c := range cands {
		assert.Equal(t, "possible", c["grade"], "for a person to confirm")
	}

	// A person confirms: link, then show, then unlink.
	out, err = carelens(t, "index", "link", "--db", db, "--by", "clerk-1", "--reason", "confirmed at reception", "gp/G3", "hospital/H3")
	require.NoError(t, err)
	lines := strings.Fields(out)
	require.Len(t, lines, 6)
	assert.Equal(t, lines[2], lines[5], "linked")
	out, err = carelens(t, "index", "show", "--db", db, "gp/G3")
	require.NoError(t, err)
	assert.Contains(t, out, "hospital/H3")
	assert.Contains(t, out, "link hospital/H3 by clerk-1")
	assert.Contains(t, out, "confirmed at reception")
	assert.NotContains(t, out, "Okafor", "show prints no demographics")

	out, err = carelens(t, "index", "unlink", "--db", db, "--by", "clerk-2", "gp/G1", "hospital/H1")
	require.NoError(t, err)
	lines = strings.Fields(out)
	assert.NotEqual(t, lines[2], lines[5], "split")

	out, err = carelens(t, "index", "events", "--db", db)
	require.NoError(t, err)
	var evs []mpi.Event
	for line := range strings.Lines(out) {
		var e mpi.Event
		require.NoError(t, json.Unmarshal([]byte(line), &e))
		evs = append(evs, e)
	}
	var neverLinked uint64
	for _, e := range evs {
		if e.Kind == mpi.EventNeverLinked {
			neverLinked = e.Seq
		}
	}
	require.NotZero(t, neverLinked)
	_, err = carelens(t, "index", "revert", "--db", db, "--by", "clerk-3", "--reason", "mistake", strconv.FormatUint(neverLinked, 10))
	require.NoError(t, err)
	out, err = carelens(t, "index", "export", "--db", db)
	require.NoError(t, err)
	after := readExport(t, out)
	assert.Equal(t, after["gp/G1"], after["hospital/H1"], "the unlink was reverted")
}

func TestIndexCommandErrors(t *testing.T) {
	foreign := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("x"), 0o644))
	tests := []struct {
		name string
		args []string
		want error
	}{
		{name: "no subcommand", args: []string{"index"}, want: errUsage},
		{name: "unknown subcommand", args: []string{"index", "frobnicate"}, want: errUsage},
		{name: "no db", args: []string{"index", "export"}, want: errUsage},
		{name: "query without family", args: []string{"index", "query", "--db", t.TempDir()}, want: errUsage},
		{name: "link without by", args: []string{"index", "link", "--db", t.TempDir(), "a/1", "b/2"}, want: errUsage},
		{name: "bad record ref", args: []string{"index", "link", "--db", t.TempDir(), "--by", "x", "a1", "b/2"}, want: errUsage},
		{name: "foreign directory", args: []string{"index", "export", "--db", foreign}, want: mpi.ErrForeignStore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := carelens(t, tc.args...)
			require.Error(t, err)
			assert.True(t, errors.Is(err, tc.want), "got %v", err)
		})
	}
}

// TestIndexLoadReadsDateFlags: index load reads birth dates as --birth-dates
// and --date-order say, like link and train; before, it accepted them and
// ignored them.
func TestIndexLoadReadsDateFlags(t *testing.T) {
	gp, hosp := indexFixture(t)
	db := filepath.Join(t.TempDir(), "ix")
	_, err := carelens(t, "index", "load", "--db", db, "--birth-dates", "2000..1900", gp, hosp)
	require.ErrorIs(t, err, errUsage)
	_, err = carelens(t, "index", "load", "--db", db, "--date-order", "hospital=ydm", gp, hosp)
	require.ErrorIs(t, err, errUsage)
	out, err := carelens(t, "index", "load", "--db", db, "--birth-dates", "1500..", "--date-order", "hospital=mdy", gp, hosp)
	require.NoError(t, err)
	assert.Contains(t, out, "loaded 7 records")
}

// loadedIndex loads the fixture into a new index and returns its
// directory.
func loadedIndex(t *testing.T) string {
	t.Helper()
	gp, hosp := indexFixture(t)
	db := filepath.Join(t.TempDir(), "db")
	_, err := carelens(t, "index", "load", "--db", db, "--builtin-scorer", gp, hosp)
	require.NoError(t, err)
	return db
}

// TestIndexReadCommandsNeverCreate: query, show, export and events on a
// missing (typo'd) --db, an empty directory or a store holding no index
// are errors naming the path; nothing is created (before, each created an
// empty index and answered "no candidates" or nothing, exit 0).
func TestIndexReadCommandsNeverCreate(t *testing.T) {
	reads := [][]string{
		{"query", "--family", "Hartley"},
		{"show", "gp/G1"},
		{"export"},
		{"events"},
	}
	for _, r := range reads {
		t.Run(r[0], func(t *testing.T) {
			typo := filepath.Join(t.TempDir(), "tpyo")
			_, err := carelens(t, append([]string{"index", r[0], "--db", typo}, r[1:]...)...)
			require.Error(t, err)
			assert.ErrorIs(t, err, badgerstore.ErrNoStore)
			assert.Contains(t, err.Error(), typo)
			_, statErr := os.Stat(typo)
			assert.ErrorIs(t, statErr, fs.ErrNotExist, "not created")

			empty := t.TempDir()
			_, err = carelens(t, append([]string{"index", r[0], "--db", empty}, r[1:]...)...)
			assert.ErrorIs(t, err, badgerstore.ErrNoStore)
			entries, _ := os.ReadDir(empty)
			assert.Empty(t, entries, "nothing created")
		})
	}
}

// TestIndexReadCommandsOnDamagedStore: with the MANIFEST truncated (the
// store then deleted all its tables and export printed 0 rows, exit 0) or
// random bytes in a table (a panic), export fails naming the damage, check
// reports it, and no file changes.
func TestIndexReadCommandsOnDamagedStore(t *testing.T) {
	damages := map[string]func(t *testing.T, db string){
		"truncated MANIFEST": func(t *testing.T, db string) {
			require.NoError(t, os.Truncate(filepath.Join(db, "MANIFEST"), 8))
		},
		"random bytes in a table": func(t *testing.T, db string) {
			ts, err := filepath.Glob(filepath.Join(db, "*.sst"))
			require.NoError(t, err)
			require.NotEmpty(t, ts)
			f, err := os.OpenFile(ts[0], os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteAt(bytes.Repeat([]byte{0xA5, 0x13, 0x77}, 1365), 100)
			require.NoError(t, err)
			require.NoError(t, f.Close())
		},
	}
	for name, damage := range damages {
		t.Run(name, func(t *testing.T) {
			db := loadedIndex(t)
			out, err := carelens(t, "index", "check", "--db", db)
			require.NoError(t, err)
			assert.Contains(t, out, "no damage found")
			assert.Contains(t, out, "7 records")

			damage(t, db)
			before := mpitest.HashDir(t, db)
			out, err = carelens(t, "index", "export", "--db", db)
			require.Error(t, err, "export printed %q", out)
			assert.ErrorIs(t, err, mpi.ErrCorrupt)
			assert.Contains(t, err.Error(), ".sst")
			assert.Equal(t, before, mpitest.HashDir(t, db), "export changed nothing")

			out, err = carelens(t, "index", "check", "--db", db)
			assert.ErrorIs(t, err, mpi.ErrCorrupt)
			assert.Contains(t, out, "damaged: ")
			assert.Equal(t, before, mpitest.HashDir(t, db), "check changed nothing")

			_, err = carelens(t, "index", "link", "--db", db, "--by", "x", "gp/G1", "hospital/H4")
			assert.ErrorIs(t, err, mpi.ErrCorrupt, "a write command refuses too")
			assert.Equal(t, before, mpitest.HashDir(t, db), "and changes nothing")
		})
	}
}

// TestIndexReadCommandWritesNothing: export of a sound index leaves every
// file as it was.
func TestIndexReadCommandWritesNothing(t *testing.T) {
	db := loadedIndex(t)
	before := mpitest.HashDir(t, db)
	for _, args := range [][]string{{"export"}, {"events"}, {"show", "gp/G1"}, {"query", "--family", "Hartley"}, {"check"}} {
		_, err := carelens(t, append([]string{"index", args[0], "--db", db}, args[1:]...)...)
		require.NoError(t, err, args[0])
		assert.Equal(t, before, mpitest.HashDir(t, db), "%s wrote", args[0])
	}
}

// TestIndexLoadHoldsLockWhileTraining: a second load, or a reader, started
// while the first trains its model fails with ErrLocked (before, the lock
// was released during training and the second load wrote into the index).
func TestIndexLoadHoldsLockWhileTraining(t *testing.T) {
	gp, hosp := indexFixture(t)
	db := filepath.Join(t.TempDir(), "db")
	var second, reader error
	ran := false
	afterTraining = func() {
		ran = true
		_, second = carelens(t, "index", "load", "--db", db, "--builtin-scorer", gp)
		_, reader = carelens(t, "index", "export", "--db", db)
	}
	t.Cleanup(func() { afterTraining = nil })
	out, err := carelens(t, "index", "load", "--db", db, gp, hosp)
	require.NoError(t, err)
	require.True(t, ran, "the load trained")
	assert.Contains(t, out, "loaded 7 records")
	assert.ErrorIs(t, second, badgerstore.ErrLocked)
	assert.ErrorIs(t, reader, badgerstore.ErrLocked)
}

// TestIndexLoadProgressWithoutTerminal: with stderr not a terminal, load
// reports the records durably acknowledged (before: nothing).
func TestIndexLoadProgressWithoutTerminal(t *testing.T) {
	gp, hosp := indexFixture(t)
	db := filepath.Join(t.TempDir(), "db")
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"index", "load", "--db", db, "--builtin-scorer", "--batch", "2", "--progress", "0", gp, hosp}, nil, &stdout, &stderr)
	require.NoError(t, err)
	var counts []int
	for line := range strings.Lines(stderr.String()) {
		var n, total int
		if _, err := fmt.Sscanf(line, "carelens index load: %d of %d records durably acknowledged", &n, &total); err == nil {
			assert.Equal(t, 7, total)
			counts = append(counts, n)
		}
	}
	assert.Equal(t, []int{2, 4, 6, 7}, counts, "stderr: %s", stderr.String())
}

// TestIndexQueryDateOrder: --date-order says how an ambiguous
// --birth-date is written; the query then finds what the ISO date finds.
func TestIndexQueryDateOrder(t *testing.T) {
	db := loadedIndex(t)
	query := func(args ...string) (string, error) {
		return carelens(t, append([]string{"index", "query", "--db", db, "--given", "Amelia", "--family", "Hartley", "--json"}, args...)...)
	}
	iso, err := query("--birth-date", "1984-03-07")
	require.NoError(t, err)
	require.NotEmpty(t, iso)
	mdy, err := query("--birth-date", "03/07/1984", "--date-order", "mdy")
	require.NoError(t, err)
	assert.Equal(t, iso, mdy, "month first: 7 March 1984")
	dmy, err := query("--birth-date", "03/07/1984", "--date-order", "dmy")
	require.NoError(t, err)
	assert.NotEqual(t, iso, dmy, "day first it is 3 July, another date")
	dmyDefault, err := query("--birth-date", "03/07/1984")
	require.NoError(t, err)
	assert.Equal(t, dmy, dmyDefault, "unmarked dates are read day first")

	_, err = query("--birth-date", "03/07/1984", "--date-order", "ydm")
	assert.ErrorIs(t, err, errUsage)
	_, err = query("--birth-date", "25/12/1984", "--date-order", "ymd")
	assert.ErrorIs(t, err, errUsage, "a year-last date is not year first")
	assert.NotContains(t, err.Error(), "25/12", "the value is not repeated")
}

// TestIndexRecoverAfterCrash: an index whose writer died cannot be read
// without a write; export says so and names the command, changing
// nothing; index recover replays the log, and export then shows every
// record.
func TestIndexRecoverAfterCrash(t *testing.T) {
	db := loadedIndex(t)
	s, err := badgerstore.Open(db, nil)
	require.NoError(t, err)
	ix, err := mpi.OpenIndex(t.Context(), s, nil)
	require.NoError(t, err)
	_, err = ix.Add(t.Context(), match.Record{Source: "gp", ID: "G9", Given: []string{"Ada"}, Family: "Byron", BirthDate: "1990-12-10"})
	require.NoError(t, err)
	crashed := t.TempDir() // the files as a kill -9 would leave them
	entries, err := os.ReadDir(db)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(db, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(crashed, e.Name()), b, 0o600))
	}
	require.NoError(t, s.Close())

	before := mpitest.HashDir(t, crashed)
	_, err = carelens(t, "index", "export", "--db", crashed)
	assert.ErrorIs(t, err, badgerstore.ErrNeedsRecovery)
	assert.Contains(t, err.Error(), "index recover")
	assert.Equal(t, before, mpitest.HashDir(t, crashed))

	_, err = carelens(t, "index", "recover", "--db", crashed)
	require.NoError(t, err)
	out, err := carelens(t, "index", "export", "--db", crashed)
	require.NoError(t, err)
	assert.Len(t, readExport(t, out), 8, "the seven loaded and the one added")
}
