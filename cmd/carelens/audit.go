package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/carelens/carelens/audit"
)

func init() {
	register(command{name: "audit", summary: "the access log: verify its chain, export it as FHIR AuditEvents", run: runAudit})
}

// auditSynopsis gives each audit subcommand's flags.
var auditSynopsis = map[string]string{
	"verify": "--db DIR --key-file FILE",
	"export": "--db DIR [--key-file FILE] [--patient NHS] [--user ID] [--since TIME] [--until TIME] --out FILE.ndjson|-",
}

// auditCommands are the subcommands of carelens audit. Both only read:
// they open the store read-only and never create a missing one.
var auditCommands = map[string]subcommand{
	"verify": auditVerify, "export": auditExport,
}

func runAudit(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	return dispatch(ctx, "audit", auditCommands, auditSynopsis, args, stdout, stderr)
}

// openAuditLog opens the store in dir read-only, with the key from
// keyFile when one is given.
func openAuditLog(dir, keyFile string) (*audit.Log, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: --db is required", errUsage)
	}
	var key []byte
	if keyFile != "" {
		var err error
		if key, err = audit.ReadKey(keyFile); err != nil {
			return nil, err
		}
	}
	return audit.Open(dir, audit.Options{Key: key, ReadOnly: true})
}

func auditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit verify", stderr, auditSynopsis["verify"])
	db := fs.String("db", "", "audit store directory")
	keyFile := fs.String("key-file", "", "file holding the MAC key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if *keyFile == "" {
		return fmt.Errorf("%w: --key-file is required to verify", errUsage)
	}
	l, err := openAuditLog(*db, *keyFile)
	if err != nil {
		return err
	}
	defer l.Close()
	if err := l.Verify(ctx); err != nil {
		return err
	}
	seq, mac := l.Head()
	fmt.Fprintf(stdout, "ok: %d entries verified; head %d %s\n", seq, seq, hex.EncodeToString(mac[:]))
	return nil
}

func auditExport(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlagSet("audit export", stderr, auditSynopsis["export"])
	db := fs.String("db", "", "audit store directory")
	keyFile := fs.String("key-file", "", "file holding the MAC key; without it entries are exported unverified")
	patient := fs.String("patient", "", "only the entries about this patient (NHS number or enterprise id)")
	user := fs.String("user", "", "only the entries of this user")
	since := fs.String("since", "", "only entries at or after this time (RFC 3339 or YYYY-MM-DD)")
	until := fs.String("until", "", "only entries before this time (RFC 3339 or YYYY-MM-DD)")
	out := fs.String("out", "", "output NDJSON file, or - for standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if *out == "" {
		return fmt.Errorf("%w: --out is required", errUsage)
	}
	f := audit.Filter{Patient: auditPatient(*patient), User: *user}
	if f.Since, err = parseAuditTime("since", *since); err != nil {
		return err
	}
	if f.Until, err = parseAuditTime("until", *until); err != nil {
		return err
	}
	l, err := openAuditLog(*db, *keyFile)
	if err != nil {
		return err
	}
	defer l.Close()
	if *keyFile == "" {
		fmt.Fprintln(stderr, "carelens audit export: no --key-file: entries are exported unverified")
	}

	w, commit, abort, err := auditOutput(*out, stdout)
	if err != nil {
		return err
	}
	n, err := l.Export(ctx, f, w)
	if err != nil {
		abort()
		return err
	}
	if err := commit(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "carelens audit export: %d entries\n", n)
	return nil
}

// auditPatient removes the spaces and hyphens of an NHS number as
// typed ("943 476 5919"); other ids are kept as given.
func auditPatient(s string) string {
	d := strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(s))
	if len(d) == 10 && strings.Trim(d, "0123456789") == "" {
		return d
	}
	return strings.TrimSpace(s)
}

func parseAuditTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: --%s: want RFC 3339 (2025-03-01T09:00:00Z) or YYYY-MM-DD", errUsage, name)
}

// auditOutput opens path for writing through a temporary file in the same
// directory, renamed into place by commit, so that a failed export leaves
// no partial file; "-" writes to stdout.
func auditOutput(path string, stdout io.Writer) (w io.Writer, commit func() error, abort func(), err error) {
	if path == "-" {
		return stdout, func() error { return nil }, func() {}, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create output: %w", err)
	}
	abort = func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}
	commit = func() error {
		err := errors.Join(tmp.Sync(), tmp.Close())
		if err == nil {
			err = os.Rename(tmp.Name(), path)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("write output: %w", err)
		}
		return nil
	}
	return tmp, commit, abort, nil
}
