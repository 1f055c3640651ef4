package badgerstore_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/carelens/carelens/mpi"
	"github.com/carelens/carelens/mpi/mpitest"

	"github.com/carelens/carelens/mpi/badgerstore"
)

// FuzzDamagedFiles overwrites bytes of a table file or of the MANIFEST of
// a real store and opens it, read-only and for writing: whatever the
// bytes, Open and every read either succeed with all the keys or fail with
// ErrCorrupt, never panic, and a failed open changes no file.
func FuzzDamagedFiles(f *testing.F) {
	f.Add(false, uint32(100), []byte{0xff, 0x00, 0x13})
	f.Add(true, uint32(9), []byte{0x01})
	f.Add(false, uint32(1<<20), []byte("garbage"))
	templateDir := f.TempDir()
	filledStore(f, templateDir)
	f.Fuzz(func(t *testing.T, manifest bool, off uint32, junk []byte) {
		if len(junk) == 0 || len(junk) > 8192 {
			return
		}
		dir := copyDir(t, templateDir)
		target := filepath.Join(dir, "MANIFEST")
		if !manifest {
			target = tables(t, dir)[0]
		}
		fi, err := os.Stat(target)
		if err != nil {
			t.Fatal(err)
		}
		at := int64(off) % fi.Size()
		fh, err := os.OpenFile(target, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fh.WriteAt(junk, at); err != nil {
			t.Fatal(err)
		}
		fh.Close()
		for _, ro := range []bool{true, false} {
			before := mpitest.HashDir(t, dir)
			s, err := badgerstore.Open(dir, &badgerstore.Options{ReadOnly: ro, ReserveBytes: -1})
			if err != nil {
				if !errors.Is(err, mpi.ErrCorrupt) && !errors.Is(err, mpi.ErrForeignStore) {
					t.Fatalf("read-only=%v: %v, want ErrCorrupt", ro, err)
				}
				after := mpitest.HashDir(t, dir)
				for name, h := range before {
					if after[name] != h {
						t.Fatalf("read-only=%v: failed open changed %s", ro, name)
					}
				}
				continue
			}
			n := 0
			err = s.View(t.Context(), func(tx mpi.Txn) error {
				for _, err := range tx.Scan(nil, nil) {
					if err != nil {
						return err
					}
					n++
				}
				return nil
			})
			s.Close()
			if err == nil && n != damageKeys {
				t.Fatalf("read-only=%v: opened with %d of %d keys", ro, n, damageKeys)
			}
			if err != nil && !errors.Is(err, mpi.ErrCorrupt) {
				t.Fatalf("read-only=%v: scan: %v", ro, err)
			}
		}
	})
}
