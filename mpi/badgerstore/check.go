package badgerstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/carelens/carelens/mpi"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/ristretto/v2/z"
)

// A Problem is one thing wrong with the files of a store.
type Problem struct {
	// File is the file's name within the store directory.
	File string
	// What says what is wrong with it.
	What string

	unlisted bool // a table the MANIFEST does not list
}

func (p Problem) String() string { return p.File + ": " + p.What }

// Report is what [Check] found.
type Report struct {
	// Tables is the number of table files the MANIFEST lists.
	Tables int
	// Keys is the number of live keys read (zero when damage stopped the
	// check before reading them).
	Keys int
	// Problems lists the damage found; none means the store is sound.
	Problems []Problem
}

// Check reports the damage in the store in dir without changing anything:
// it reads the MANIFEST, verifies every table file against it and against
// its checksums, reads every log (.mem, .vlog) for damage before valid
// entries, and (when those are sound) opens the store read-only and reads
// every key and value. The error is for a store that cannot be checked
// (missing, in use by a writer, unreadable); damage is reported in the
// Report, not as an error.
func Check(dir string) (Report, error) {
	var rep Report
	if err := checkDir(dir, true); err != nil {
		return rep, err
	}
	unlock, err := probeLock(dir, true)
	if err != nil {
		return rep, err
	}
	st := inspect(dir)
	unlock()
	rep.Tables, rep.Problems = st.tables, st.problems
	if len(rep.Problems) > 0 {
		return rep, nil
	}
	// The files were inspected above: open the store as Open would after
	// its own inspection, without reading every table a second time.
	err = filesVerdict(dir, st, true)
	var s *Store
	if err == nil {
		s, err = openEngine(dir, Options{ReadOnly: true})
	}
	if err != nil {
		if errors.Is(err, mpi.ErrCorrupt) || errors.Is(err, mpi.ErrForeignStore) {
			rep.Problems = append(rep.Problems, Problem{File: ".", What: err.Error()})
			return rep, nil
		}
		return rep, err
	}
	defer s.Close()
	err = s.guard(func() error {
		txn := s.db.NewTransaction(false)
		defer txn.Discard()
		it := txn.NewIterator(badger.IteratorOptions{AllVersions: false})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if _, err := it.Item().ValueCopy(nil); err != nil {
				return err
			}
			rep.Keys++
		}
		return nil
	})
	if err != nil {
		rep.Problems = append(rep.Problems, Problem{File: ".", What: "reading every key: " + err.Error()})
	}
	return rep, nil
}

// state is what inspect learns about a store's files.
type state struct {
	tables      int
	problems    []Problem
	interrupted bool // a write-ahead log is left: the last session did not close
}

// inspect reads the MANIFEST, the table files and the logs of the store
// in dir without changing them: files are opened read-only, and a panic of
// the storage engine's table reader on damaged bytes is recovered.
// Problems are what Badger would otherwise "repair" by deleting files
// (tables the MANIFEST does not list) or data (log entries after damage),
// ignore (tables failing their checksums) or crash on (truncated tables).
func inspect(dir string) state {
	var st state
	entries, err := os.ReadDir(dir)
	if err != nil {
		st.problems = append(st.problems, Problem{File: ".", What: err.Error()})
		return st
	}
	onDisk := map[uint64]string{}
	var logs []string
	for _, e := range entries {
		name := e.Name()
		if isLogFile(name) {
			logs = append(logs, name)
		}
		if id, ok := table.ParseFileID(name); ok {
			onDisk[id] = name
		}
		if strings.HasSuffix(name, ".mem") {
			if fi, err := e.Info(); err == nil && fi.Size() > 0 {
				st.interrupted = true
			}
		}
	}
	if mf, ok := readManifest(dir, &st); ok {
		inspectTables(dir, mf, onDisk, &st)
	}
	st.problems = append(st.problems, checkLogs(dir, logs)...)
	return st
}

// inspectTables verifies the table files onDisk (by id) against the
// MANIFEST mf and their checksums.
func inspectTables(dir string, mf badger.Manifest, onDisk map[uint64]string, st *state) {
	st.tables = len(mf.Tables)
	ids := make([]uint64, 0, len(mf.Tables))
	for id := range mf.Tables {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		name := table.IDToFilename(id)
		if _, ok := onDisk[id]; !ok {
			st.problems = append(st.problems, Problem{File: name, What: "listed in the MANIFEST but missing"})
			continue
		}
		if err := verifyTable(filepath.Join(dir, name), mf.Tables[id]); err != nil {
			st.problems = append(st.problems, Problem{File: name, What: err.Error()})
		}
	}
	var orphans []string
	for id, name := range onDisk {
		if _, ok := mf.Tables[id]; !ok {
			orphans = append(orphans, name)
		}
	}
	slices.Sort(orphans)
	for _, name := range orphans {
		st.problems = append(st.problems, Problem{File: name, unlisted: true,
			What: "table not listed in the MANIFEST (a damaged MANIFEST, or a write interrupted by a crash)"})
	}
}

// readManifest replays the MANIFEST read-only. A damaged tail is a
// problem: Badger would cut it off.
func readManifest(dir string, st *state) (badger.Manifest, bool) {
	f, err := os.Open(filepath.Join(dir, badger.ManifestFilename))
	if err != nil {
		st.problems = append(st.problems, Problem{File: badger.ManifestFilename, What: err.Error()})
		return badger.Manifest{}, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		st.problems = append(st.problems, Problem{File: badger.ManifestFilename, What: err.Error()})
		return badger.Manifest{}, false
	}
	var (
		mf  badger.Manifest
		end int64
	)
	err = recoverErr(func() error {
		var err error
		mf, end, err = badger.ReplayManifestFile(f, 0, badger.DefaultOptions(dir))
		return err
	})
	if err != nil {
		st.problems = append(st.problems, Problem{File: badger.ManifestFilename, What: "unreadable: " + err.Error()})
		return badger.Manifest{}, false
	}
	if end < fi.Size() {
		st.problems = append(st.problems, Problem{File: badger.ManifestFilename,
			What: fmt.Sprintf("damaged after byte %d of %d", end, fi.Size())})
	}
	return mf, true
}

// verifyTable opens one table file read-only, checks its structure and
// the checksum of every block, and closes it.
func verifyTable(path string, tm badger.TableManifest) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Size() == 0 {
		return errors.New("empty table file")
	}
	mf, err := z.OpenMmapFile(path, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("cannot map: %w", err)
	}
	var t *table.Table
	err = recoverErr(func() error {
		var err error
		t, err = table.OpenTable(mf, table.Options{
			ReadOnly:    true,
			ChkMode:     options.OnTableRead,
			Compression: tm.Compression,
			BlockSize:   4 << 10,
		})
		return err
	})
	if t != nil {
		_ = t.Close(-1)
	} else if err != nil {
		_ = z.Munmap(mf.Data)
		_ = mf.Fd.Close()
	}
	if err != nil {
		return fmt.Errorf("fails verification: %w", err)
	}
	return nil
}

// recoverErr runs fn, turning a panic into a *panicError.
func recoverErr(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{r}
		}
	}()
	return fn()
}

// panicError is a panic of the storage engine, recovered.
type panicError struct{ v any }

// Error names a runtime error (such as a slice index out of range) but
// not the text of other panics: Badger's include dumps of the damaged
// bytes, which may hold record keys.
func (p *panicError) Error() string {
	if re, ok := p.v.(runtime.Error); ok {
		return "storage engine failed: " + re.Error()
	}
	return "storage engine failed (panic) reading damaged data"
}

// problemsError is the error Open returns for a damaged store.
func problemsError(dir string, ps []Problem) error {
	var b strings.Builder
	for i, p := range ps {
		if i == 5 {
			fmt.Fprintf(&b, "; and %d more", len(ps)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return fmt.Errorf("badgerstore: open %s: %w: %s; nothing was changed (carelens index check lists the damage)",
		dir, mpi.ErrCorrupt, b.String())
}
