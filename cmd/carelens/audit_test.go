package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/audit"
	"github.com/carelens/carelens/fhirutil"
)

var auditTestKey = []byte("carelens-audit-command-test-key-0123456789")

// auditFixture writes a log of five entries and its key file.
func auditFixture(t *testing.T) (db, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	db, keyFile = filepath.Join(dir, "audit"), filepath.Join(dir, "audit.key")
	require.NoError(t, os.WriteFile(keyFile, append(auditTestKey, '\n'), 0o600))
	l, err := audit.Open(db, audit.Options{Key: auditTestKey})
	require.NoError(t, err)
	for i := range 5 {
		_, err := l.Append(t.Context(), audit.Event{
			Time:   time.Date(2025, 3, i+1, 9, 0, 0, 0, time.UTC),
			Action: audit.ActionView, User: fmt.Sprintf("user-%d", i%2), Org: "RXX", Role: "clinician",
			Patient: []string{"9434765919", "9876543210"}[i%2], Asked: []string{"gp"}, Answered: []string{"gp"},
		})
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	return db, keyFile
}

// snapshot hashes every file under dir, to show that a command wrote
// nothing.
func snapshot(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = sha256.Sum256(b)
		return err
	})
	require.NoError(t, err)
	return out
}

func runCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	err = run(t.Context(), args, strings.NewReader(""), &o, &e)
	return o.String(), e.String(), err
}

func TestAuditVerifyCommand(t *testing.T) {
	db, key := auditFixture(t)
	before := snapshot(t, db)
	out, _, err := runCmd(t, "audit", "verify", "--db", db, "--key-file", key)
	require.NoError(t, err)
	assert.Regexp(t, `^ok: 5 entries verified; head 5 [0-9a-f]{64}\n$`, out)
	assert.Equal(t, before, snapshot(t, db), "verify writes nothing")

	// Change one byte of entry 3.
	dbh, err := badger.Open(badger.DefaultOptions(db).WithLogger(nil))
	require.NoError(t, err)
	k := append([]byte("e"), 0, 0, 0, 0, 0, 0, 0, 3)
	require.NoError(t, dbh.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(k)
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		v[len(v)-3] ^= 1
		return txn.Set(k, v)
	}))
	require.NoError(t, dbh.Close())
	_, _, err = runCmd(t, "audit", "verify", "--db", db, "--key-file", key)
	require.ErrorIs(t, err, audit.ErrTampered)
	assert.Contains(t, err.Error(), "entry 3:")
	assert.NotContains(t, err.Error(), "9434765919")

	// An export with the key stops at the changed entry and leaves no
	// file behind, partial or temporary.
	outDir := t.TempDir()
	_, _, err = runCmd(t, "audit", "export", "--db", db, "--key-file", key, "--out", filepath.Join(outDir, "a.ndjson"))
	require.ErrorIs(t, err, audit.ErrTampered)
	left, err := os.ReadDir(outDir)
	require.NoError(t, err)
	assert.Empty(t, left)
}

func TestAuditExportCommand(t *testing.T) {
	db, key := auditFixture(t)
	before := snapshot(t, db)
	outFile := filepath.Join(t.TempDir(), "audit.ndjson")
	_, stderr, err := runCmd(t, "audit", "export", "--db", db, "--key-file", key, "--patient", "943 476 5919", "--out", outFile)
	require.NoError(t, err)
	assert.Contains(t, stderr, "3 entries")
	assert.Equal(t, before, snapshot(t, db), "export writes nothing to the store")
	data, err := os.ReadFile(outFile)
	require.NoError(t, err)
	b, err := fhirutil.Decode(data, &fhirutil.Options{Validate: true})
	require.NoError(t, err)
	require.NoError(t, b.Err())
	assert.Len(t, b.Resources, 3)
	assert.Equal(t, 3, strings.Count(string(data), `"value":"9434765919"`))

	// Unverified without a key, to stdout, with a time range.
	out, stderr, err := runCmd(t, "audit", "export", "--db", db, "--since", "2025-03-02", "--until", "2025-03-04", "--out", "-")
	require.NoError(t, err)
	assert.Contains(t, stderr, "unverified")
	assert.Equal(t, 2, strings.Count(out, "\n"))
}

func TestAuditCommandErrors(t *testing.T) {
	db, key := auditFixture(t)
	missing := filepath.Join(t.TempDir(), "nothing-here")
	out := filepath.Join(t.TempDir(), "x.ndjson")
	tests := []struct {
		name    string
		args    []string
		wantErr error
		want    string
	}{
		{name: "no subcommand", args: []string{"audit"}, wantErr: errUsage},
		{name: "unknown subcommand", args: []string{"audit", "repair"}, wantErr: errUsage, want: "repair"},
		{name: "verify without key", args: []string{"audit", "verify", "--db", db}, wantErr: errUsage, want: "--key-file"},
		{name: "verify without db", args: []string{"audit", "verify", "--key-file", key}, wantErr: errUsage, want: "--db"},
		{name: "verify missing store", args: []string{"audit", "verify", "--db", missing, "--key-file", key}, wantErr: audit.ErrNotFound},
		{name: "export missing store", args: []string{"audit", "export", "--db", missing, "--out", out}, wantErr: audit.ErrNotFound},
		{name: "export without out", args: []string{"audit", "export", "--db", db}, wantErr: errUsage, want: "--out"},
		{name: "bad time", args: []string{"audit", "export", "--db", db, "--since", "yesterday", "--out", out}, wantErr: errUsage, want: "--since"},
		{name: "extra argument", args: []string{"audit", "verify", "--db", db, "--key-file", key, "more"}, wantErr: errUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCmd(t, tc.args...)
			require.ErrorIs(t, err, tc.wantErr)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	assert.NoDirExists(t, missing, "read commands never create a store")
	assert.NoFileExists(t, out)

	// A wrong key.
	wrong := filepath.Join(t.TempDir(), "wrong.key")
	require.NoError(t, os.WriteFile(wrong, bytes.Repeat([]byte("w"), 40), 0o600))
	_, _, err := runCmd(t, "audit", "verify", "--db", db, "--key-file", wrong)
	assert.ErrorIs(t, err, audit.ErrWrongKey)
}
