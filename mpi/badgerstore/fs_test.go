package badgerstore_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/mpi/badgerstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The file-system tests need a small tmpfs, which needs a mount namespace:
// the test binary runs itself again under `unshare -rm` (an unprivileged
// user and mount namespace) with tmpfsScenario set, and that child mounts
// the tmpfs. Where namespaces or mounting are not allowed, they skip and
// say why.
const tmpfsScenario = "CARELENS_TMPFS_SCENARIO"

func runInTmpfs(t *testing.T, scenario string) {
	t.Helper()
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("skipped: unshare(1) not found, so no mount namespace for a small tmpfs")
	}
	cmd := exec.Command(unshare, "-rm", os.Args[0], "-test.run=^TestTmpfsChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), tmpfsScenario+"="+scenario)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	text := out.String()
	if i := strings.Index(text, "cannot mount: "); i >= 0 {
		t.Skipf("skipped: %s", strings.SplitN(text[i:], "\n", 2)[0])
	}
	if err != nil && strings.HasPrefix(text, "unshare:") {
		t.Skipf("skipped: no mount namespace here (%s)", strings.TrimSpace(text))
	}
	if err != nil || !strings.Contains(text, "--- PASS: TestTmpfsChild") {
		t.Fatalf("child process (%v; a crash here is what the test guards against):\n%s", err, text)
	}
	t.Log(strings.TrimSpace(text))
}

// TestFullDisk fills a 64 MiB tmpfs under a store being written: the
// writes fail with ErrDiskFull (the process stays up; before, the engine
// died of SIGBUS writing its memory-mapped log), every acknowledged write
// stays readable, and writes resume once space is freed.
func TestFullDisk(t *testing.T) { runInTmpfs(t, "full-disk") }

// TestReadOnlyFileSystem: a store on a read-only file system is a
// permissions error for a writer (before: "corrupt store"), and readable
// by a read-only open.
func TestReadOnlyFileSystem(t *testing.T) { runInTmpfs(t, "read-only") }

// TestTmpfsChild runs one scenario inside the namespace.
func TestTmpfsChild(t *testing.T) {
	scenario := os.Getenv(tmpfsScenario)
	if scenario == "" {
		t.Skip("run by TestFullDisk and TestReadOnlyFileSystem in a mount namespace")
	}
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=64m"); err != nil {
		fmt.Printf("cannot mount: tmpfs at %s: %v\n", mnt, err)
		t.Skip()
	}
	defer syscall.Unmount(mnt, syscall.MNT_DETACH)
	dir := filepath.Join(mnt, "db")
	switch scenario {
	case "full-disk":
		fullDisk(t, mnt, dir)
	case "read-only":
		readOnlyFS(t, mnt, dir)
	default:
		t.Fatalf("unknown scenario %q", scenario)
	}
}

func writeBatch(t *testing.T, s mpi.Store, from, n int) error {
	return s.Update(t.Context(), func(tx mpi.Txn) error {
		for i := from; i < from+n; i++ {
			if err := tx.Set(fmt.Appendf(nil, "k%08d", i), bytes.Repeat([]byte{byte(i)}, 1000)); err != nil {
				return err
			}
		}
		return nil
	})
}

func fullDisk(t *testing.T, mnt, dir string) {
	reserve := int64(2*(4<<20) + 16<<20) // the default for these tables
	s, err := badgerstore.Open(dir, &badgerstore.Options{MemTableBytes: 4 << 20})
	require.NoError(t, err)
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(mnt, &st))
	free := int64(st.Bavail) * int64(st.Bsize)
	filler := filepath.Join(mnt, "filler")
	require.NoError(t, os.WriteFile(filler, make([]byte, free-reserve-6<<20), 0o600))

	const batch = 50
	acked := 0
	for {
		err := writeBatch(t, s, acked, batch)
		if err != nil {
			require.ErrorIs(t, err, badgerstore.ErrDiskFull, "a full disk is this error, not a crash")
			t.Logf("disk full after %d acknowledged records: %v", acked, err)
			break
		}
		acked += batch
		require.Less(t, acked, 100000, "the disk never filled")
	}
	require.Greater(t, acked, 1000)
	assert.Equal(t, acked, countKeys(t, s), "every acknowledged record is readable")

	require.NoError(t, os.Remove(filler))
	require.NoError(t, writeBatch(t, s, acked, batch), "writes resume when space returns")
	acked += batch
	require.NoError(t, s.Close())

	s, err = badgerstore.Open(dir, &badgerstore.Options{ReadOnly: true})
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, acked, countKeys(t, s), "and survive a reopen")
}

func readOnlyFS(t *testing.T, mnt, dir string) {
	s, err := badgerstore.Open(dir, &badgerstore.Options{MemTableBytes: 4 << 20})
	require.NoError(t, err)
	require.NoError(t, writeBatch(t, s, 0, 100))
	require.NoError(t, s.Close())
	require.NoError(t, syscall.Mount("", mnt, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""))

	_, err = badgerstore.Open(dir, nil)
	require.Error(t, err)
	assert.False(t, errors.Is(err, mpi.ErrCorrupt), "not corruption: %v", err)
	assert.True(t, errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS), "a permissions error: %v", err)
	assert.Contains(t, err.Error(), dir)

	s, err = badgerstore.Open(dir, &badgerstore.Options{ReadOnly: true})
	require.NoError(t, err, "reading needs no write access")
	defer s.Close()
	assert.Equal(t, 100, countKeys(t, s))
}

// TestReadOnlyDirectory: a directory without write permission (for a
// user other than root, whom permissions do not stop) is a permissions
// error for a writer, and a read-only open works.
func TestReadOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("skipped: running as root, whom directory permissions do not stop; TestReadOnlyFileSystem covers the read-only case")
	}
	dir := t.TempDir()
	s, err := badgerstore.Open(dir, nil)
	require.NoError(t, err)
	require.NoError(t, writeBatch(t, s, 0, 10))
	require.NoError(t, s.Close())
	require.NoError(t, os.Chmod(dir, 0o555))
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	_, err = badgerstore.Open(dir, nil)
	assert.ErrorIs(t, err, fs.ErrPermission)
	assert.False(t, errors.Is(err, mpi.ErrCorrupt))
	s, err = badgerstore.Open(dir, &badgerstore.Options{ReadOnly: true})
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, 10, countKeys(t, s))
}
