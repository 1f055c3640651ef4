package badgerstore_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carelens/carelens/mpi"
	"github.com/carelens/carelens/mpi/mpitest"

	"github.com/carelens/carelens/mpi/badgerstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests below damage Badger's logs, the memtable write-ahead log
// (.mem) and the value log (.vlog), each a run of entries (header, key,
// value, CRC32). Opened for writing, Badger reads a log up to its first
// bad entry and cuts the file there, dropping the entries after it. They
// find entries by their keys, which appear verbatim in both logs, so they
// do not depend on the code under test to parse the format.

const logRecords = 20

// logHeader is the length of the header of a Badger log file.
const logHeader = 20

func logKey(i int) string { return fmt.Sprintf("rec/%03d", i) }

// writeRecords writes n records into s, one synced transaction each (so
// each is acknowledged on its own), with values of valueLen bytes.
func writeRecords(t testing.TB, s mpi.Store, n, valueLen int) {
	t.Helper()
	for i := range n {
		v := []byte(strings.Repeat("x", valueLen))
		require.NoError(t, s.Update(t.Context(), func(tx mpi.Txn) error {
			return tx.Set([]byte(logKey(i)), v)
		}))
	}
}

// crashedStore returns a copy of a store holding logRecords synced
// records, taken while its writer had it open: the store as a crash
// leaves it, whose records are only in its memtable log (.mem).
func crashedStore(t testing.TB) string {
	t.Helper()
	src := t.TempDir()
	s, err := badgerstore.Open(src, &badgerstore.Options{MemTableBytes: 1 << 20})
	require.NoError(t, err)
	writeRecords(t, s, logRecords, 40)
	crashed := sparseCopy(t, src)
	require.NoError(t, s.Close())
	// The value log holds no value here (they are small); dropping its
	// unwritten space (128 MiB) keeps the copies and their hashing quick,
	// and Badger reads a log that ends there as one ending in zeros.
	vlog := onlyFile(t, crashed, ".vlog")
	b, err := os.ReadFile(vlog)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(vlog, int64(max(20, len(bytes.TrimRight(b, "\x00"))))))
	return crashed
}

// sparseCopy copies the files of src into a new directory, leaving holes
// for runs of zeros: an open store's logs are mostly unwritten space.
func sparseCopy(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	buf := make([]byte, 1<<20)
	zero := make([]byte, len(buf))
	for _, e := range entries {
		in, err := os.Open(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		out, err := os.Create(filepath.Join(dst, e.Name()))
		require.NoError(t, err)
		var off int64
		for {
			n, err := in.ReadAt(buf, off)
			if n > 0 && !bytes.Equal(buf[:n], zero[:n]) {
				_, werr := out.WriteAt(buf[:n], off)
				require.NoError(t, werr)
			}
			off += int64(n)
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
		}
		require.NoError(t, out.Truncate(off))
		require.NoError(t, out.Close())
		require.NoError(t, in.Close())
	}
	return dst
}

// onlyFile returns the one file in dir with the suffix.
func onlyFile(t testing.TB, dir, suffix string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	require.NoError(t, err)
	require.Len(t, m, 1, "one %s file in %s", suffix, dir)
	return m[0]
}

// keyAt returns the offset of record i's key in the log at path.
func keyAt(t testing.TB, path string, i int) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	at := bytes.Index(b, []byte(logKey(i)))
	require.GreaterOrEqual(t, at, 0, "record %d is in %s", i, filepath.Base(path))
	require.Equal(t, at, bytes.LastIndex(b, []byte(logKey(i))), "record %d once in %s", i, filepath.Base(path))
	return int64(at)
}

func overwrite(t testing.TB, path string, at int64, junk []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(junk, at)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func flipByte(t testing.TB, path string, at int64) {
	t.Helper()
	b := make([]byte, 1)
	f, err := os.Open(path)
	require.NoError(t, err)
	_, err = f.ReadAt(b, at)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	overwrite(t, path, at, []byte{b[0] ^ 0xa5})
}

func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// assertRefused checks that the store in dir, whose log at path is damaged
// before acknowledged entries, is refused for reading and for writing
// with ErrCorrupt naming the file and an offset, that Check reports it,
// and that no file changes.
func assertRefused(t *testing.T, dir, path string) {
	t.Helper()
	file := filepath.Base(path)
	before := mpitest.HashDir(t, dir)

	for _, ro := range []bool{true, false} {
		s, err := badgerstore.Open(dir, &badgerstore.Options{ReadOnly: ro})
		if err == nil {
			n := countKeys(t, s)
			// Bounded: the engine, having panicked on a damaged value,
			// can hold a lock that makes Close wait for ever.
			closed := make(chan struct{})
			go func() { s.Close(); close(closed) }()
			select {
			case <-closed:
			case <-time.After(10 * time.Second):
				t.Log("closing the store hung")
			}
			t.Fatalf("read-only=%v: opened a store with a damaged %s, showing %d of %d records", ro, file, n, logRecords)
		}
		assert.ErrorIs(t, err, mpi.ErrCorrupt, "read-only=%v", ro)
		assert.Contains(t, err.Error(), file, "the error names the damaged file")
		assert.Contains(t, err.Error(), "byte ", "the error names the offset")
		assert.Equal(t, before, mpitest.HashDir(t, dir), "read-only=%v: nothing changed", ro)
	}

	// Checked last: before, the engine could panic reading a damaged value
	// and keep a lock, so that closing the store after the check hung.
	rep, err := badgerstore.Check(dir)
	if assert.NoError(t, err) && assert.NotEmpty(t, rep.Problems, "Check reports the damage") {
		assert.Contains(t, fmt.Sprint(rep.Problems), file)
		assert.Contains(t, fmt.Sprint(rep.Problems), "byte ")
	}
	assert.Equal(t, before, mpitest.HashDir(t, dir), "Check changed nothing")
}

// TestDamagedMemLogIsRefused: an entry damaged in the middle of the
// memtable log of a crashed store, with acknowledged entries after it,
// made Badger cut the log there and open the store without them.
func TestDamagedMemLogIsRefused(t *testing.T) {
	template := crashedStore(t)
	tests := []struct {
		name   string
		damage func(t *testing.T, mem string)
	}{
		{"one byte of a key", func(t *testing.T, mem string) {
			flipByte(t, mem, keyAt(t, mem, logRecords/2)+2)
		}},
		{"one byte of an entry header", func(t *testing.T, mem string) {
			flipByte(t, mem, keyAt(t, mem, logRecords/3)-3) // the key length
		}},
		{"16 random bytes", func(t *testing.T, mem string) {
			overwrite(t, mem, keyAt(t, mem, logRecords/2)-4, randomBytes(16, 1))
		}},
		{"a run of zeros", func(t *testing.T, mem string) {
			overwrite(t, mem, keyAt(t, mem, 3)-5, make([]byte, 64))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := sparseCopy(t, template)
			mem := onlyFile(t, dir, ".mem")
			tc.damage(t, mem)
			assertRefused(t, dir, mem)
		})
	}
}

// TestMemLogDamageOffsets flips one byte at offsets spread over the
// entries of several transactions of a crashed store's memtable log:
// damage before the last transaction is refused, changing nothing; damage
// in the last one (nothing acknowledged after it) is a torn tail, which
// opens for writing without that one transaction.
func TestMemLogDamageOffsets(t *testing.T) {
	template := crashedStore(t)
	mem := onlyFile(t, template, ".mem")
	for _, rec := range []int{0, 1, logRecords / 2, logRecords - 2, logRecords - 1} {
		// A transaction's bytes run from its first entry's header (five
		// bytes before the key here) to the next transaction's.
		from := keyAt(t, mem, rec) - 5
		to := from + 48
		if rec+1 < logRecords {
			to = keyAt(t, mem, rec+1) - 5
		}
		for k := range 6 {
			at := from + (to-from)*int64(k)/6
			t.Run(fmt.Sprintf("record %d byte %d", rec, at), func(t *testing.T) {
				dir := sparseCopy(t, template)
				path := onlyFile(t, dir, ".mem")
				flipByte(t, path, at)
				if rec < logRecords-1 {
					assertRefused(t, dir, path)
					return
				}
				s, err := badgerstore.Open(dir, nil)
				require.NoError(t, err, "a torn tail opens for writing")
				assert.Equal(t, logRecords-1, countKeys(t, s))
				require.NoError(t, s.Close())
			})
		}
	}
}

// TestTornMemLogOpens: what a crash in the middle of a write leaves (the
// last entry cut short, or bad bytes to the end of the file with no valid
// entry after them) is Badger's normal recovery, and opens for writing
// with every complete transaction.
func TestTornMemLogOpens(t *testing.T) {
	template := crashedStore(t)
	tests := []struct {
		name   string
		damage func(t *testing.T, mem string)
		want   int
	}{
		{"no damage", func(*testing.T, string) {}, logRecords},
		{"last entry cut short", func(t *testing.T, mem string) {
			require.NoError(t, os.Truncate(mem, keyAt(t, mem, logRecords-1)+3))
		}, logRecords - 1},
		{"random bytes over the last entry", func(t *testing.T, mem string) {
			overwrite(t, mem, keyAt(t, mem, logRecords-1)-5, randomBytes(200, 2))
		}, logRecords - 1},
		{"random bytes at the end of the file", func(t *testing.T, mem string) {
			fi, err := os.Stat(mem)
			require.NoError(t, err)
			overwrite(t, mem, fi.Size()-4096, randomBytes(4096, 3))
		}, logRecords},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := sparseCopy(t, template)
			tc.damage(t, onlyFile(t, dir, ".mem"))

			rep, err := badgerstore.Check(dir)
			assert.ErrorIs(t, err, badgerstore.ErrNeedsRecovery, "a crashed store is checked once recovered")
			assert.Empty(t, rep.Problems)

			s, err := badgerstore.Open(dir, nil)
			require.NoError(t, err)
			assert.Equal(t, tc.want, countKeys(t, s))
			require.NoError(t, s.Close())

			rep, err = badgerstore.Check(dir)
			require.NoError(t, err)
			assert.Empty(t, rep.Problems)
			assert.Equal(t, tc.want+1, rep.Keys, "the records and the format marker")
		})
	}
}

// valueLogStore writes logRecords records whose values are big enough to
// go to the value log into a store in a new directory, and closes it.
func valueLogStore(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	// Values of a tenth of the memory table or more go to the value log.
	s, err := badgerstore.Open(dir, &badgerstore.Options{MemTableBytes: 1 << 20})
	require.NoError(t, err)
	writeRecords(t, s, logRecords, 120<<10)
	require.NoError(t, s.Close())
	return dir
}

// TestDamagedValueLogIsRefused: a value damaged in the middle of the
// value log, with acknowledged values after it, made Badger (opened for
// writing) cut the log there, losing the later values; opened read-only,
// it returned the damaged bytes as the value.
func TestDamagedValueLogIsRefused(t *testing.T) {
	template := valueLogStore(t)
	vlog := onlyFile(t, template, ".vlog")
	for _, rec := range []int{0, logRecords / 2, logRecords - 2} {
		for _, delta := range []int64{-5, 3, 40 << 10} { // header, key, value
			t.Run(fmt.Sprintf("record %d byte %+d", rec, delta), func(t *testing.T) {
				dir := copyDir(t, template)
				path := filepath.Join(dir, filepath.Base(vlog))
				flipByte(t, path, keyAt(t, path, rec)+delta)
				assertRefused(t, dir, path)
			})
		}
	}
}

// TestTornValueLogOpens: bytes after the last value (a write cut short by
// a crash) are Badger's to cut, and every value stays readable.
func TestTornValueLogOpens(t *testing.T) {
	dir := valueLogStore(t)
	vlog := onlyFile(t, dir, ".vlog")
	f, err := os.OpenFile(vlog, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	// The start of an entry (a header and part of a key), then junk.
	_, err = f.Write(append([]byte{0x40, 0, 16, 0x80, 0x80, 0x08, 0}, randomBytes(5000, 4)...))
	require.NoError(t, err)
	require.NoError(t, f.Close())

	s, err := badgerstore.Open(dir, nil)
	require.NoError(t, err)
	assert.Equal(t, logRecords, countKeys(t, s), "every value is read")
	require.NoError(t, s.Close())
	rep, err := badgerstore.Check(dir)
	require.NoError(t, err)
	assert.Empty(t, rep.Problems)
}

// FuzzDamagedMemLog writes junk over the memtable log of a crashed store
// and opens it for writing: the open either fails with ErrCorrupt,
// changing no file, or keeps every record, except the last when the
// damage starts in the last transaction (a torn tail).
func FuzzDamagedMemLog(f *testing.F) {
	template := crashedStore(f)
	mem := onlyFile(f, template, ".mem")
	last := keyAt(f, mem, logRecords-1) - 5 // where the last transaction starts
	f.Add(uint32(keyAt(f, mem, 4)), []byte{0xff})
	f.Add(uint32(last+10), []byte("junk"))
	f.Add(uint32(keyAt(f, mem, 7)-5), make([]byte, 300))
	f.Add(uint32(last-3), []byte{1, 2, 3, 4, 5, 6, 7})
	f.Fuzz(func(t *testing.T, off uint32, junk []byte) {
		if len(junk) == 0 || len(junk) > 4096 {
			return
		}
		at := logHeader + int64(off)%(last+200-logHeader)
		dir := sparseCopy(t, template)
		path := onlyFile(t, dir, ".mem")
		old := make([]byte, len(junk))
		fh, err := os.OpenFile(path, os.O_RDWR, 0)
		require.NoError(t, err)
		_, err = fh.ReadAt(old, at)
		require.NoError(t, err)
		_, err = fh.WriteAt(junk, at)
		require.NoError(t, err)
		require.NoError(t, fh.Close())
		i := 0
		for i < len(junk) && junk[i] == old[i] {
			i++
		}
		if i == len(junk) {
			return // nothing changed
		}
		damage := at + int64(i)

		before := mpitest.HashDir(t, dir)
		s, err := badgerstore.Open(dir, &badgerstore.Options{ReserveBytes: -1})
		if err != nil {
			require.ErrorIs(t, err, mpi.ErrCorrupt)
			require.Equal(t, before, mpitest.HashDir(t, dir), "a refused open changed nothing")
			return
		}
		n := countKeys(t, s)
		require.NoError(t, s.Close())
		if damage < last {
			require.Equal(t, logRecords, n, "damage at byte %d, before the last transaction (byte %d), dropped records", damage, last)
		} else {
			require.GreaterOrEqual(t, n, logRecords-1, "a torn tail loses at most the last transaction")
		}
	})
}

// TestDamagedOlderValueLogIsRefused: Badger never cuts a value log older
// than the newest, but reads values from it without verifying their
// checksums, so damage there is refused as well.
func TestDamagedOlderValueLogIsRefused(t *testing.T) {
	dir := valueLogStore(t)
	s, err := badgerstore.Open(dir, nil) // starts a new value log
	require.NoError(t, err)
	require.NoError(t, s.Close())
	logs, err := filepath.Glob(filepath.Join(dir, "*.vlog"))
	require.NoError(t, err)
	require.Len(t, logs, 2, "an older and a newer value log")
	flipByte(t, logs[0], keyAt(t, logs[0], logRecords/2)+100)
	assertRefused(t, dir, logs[0])
}
