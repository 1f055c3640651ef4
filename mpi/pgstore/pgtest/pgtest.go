// Package pgtest starts a throw-away PostgreSQL server for tests and
// benchmarks of pgstore: Debian's binaries (package postgresql, under
// /usr/lib/postgresql/*/bin), a new cluster made by initdb in a temporary
// directory, listening on loopback only.
//
// PostgreSQL refuses to run as root. When the caller is root the cluster is
// made and run as the postgres user (through runuser), in a directory that
// user owns; otherwise as the caller.
//
// Set CARELENS_TEST_POSTGRES to a connection URL to use a running server
// instead (a YugabyteDB or CockroachDB one, say); Start then starts nothing.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrUnavailable reports why no server could be started; tests skip on it.
var ErrUnavailable = errors.New("pgtest: PostgreSQL unavailable")

// Unavailable skips t, saying why, when err (from [Start]) left no
// server; with CARELENS_REQUIRE_POSTGRES set it fails t instead, so that a
// run meant to test PostgreSQL cannot pass by skipping.
func Unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CARELENS_REQUIRE_POSTGRES") != "" {
		t.Fatalf("PostgreSQL is required here (CARELENS_REQUIRE_POSTGRES): %v", err)
	}
	t.Skipf("PostgreSQL: %v", err)
}

// Options configures [Start].
type Options struct {
	// NoFsync starts the server with fsync off: faster, and still safe
	// against a killed server process (the operating system keeps what it
	// was given), though not against the machine losing power.
	NoFsync bool
	// Settings are extra server settings (name=value), passed as -c.
	Settings []string
}

// Server is a PostgreSQL server started by [Start], or one named by
// CARELENS_TEST_POSTGRES.
type Server struct {
	url     string // base URL, no database
	bin     string
	dir     string // the cluster's directory (absent for an external server)
	port    int
	asUser  string // "" or the user the server runs as
	opt     Options
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

// Start starts a server. The error wraps [ErrUnavailable] when this machine
// cannot run one (no binaries, no postgres user), saying why.
func Start(ctx context.Context, o *Options) (*Server, error) {
	var opt Options
	if o != nil {
		opt = *o
	}
	if u := os.Getenv("CARELENS_TEST_POSTGRES"); u != "" {
		return &Server{url: u, opt: opt}, nil
	}
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, opt: opt}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			return nil, fmt.Errorf("%w: running as root and there is no postgres user to run the server as", ErrUnavailable)
		}
		if _, err := exec.LookPath("runuser"); err != nil {
			return nil, fmt.Errorf("%w: running as root and runuser is missing", ErrUnavailable)
		}
		s.asUser = "postgres"
	}
	dir, err := os.MkdirTemp("", "carelens-pg-")
	if err != nil {
		return nil, err
	}
	s.dir = dir
	if s.asUser != "" {
		u, _ := user.Lookup(s.asUser)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	s.logPath = filepath.Join(dir, "server.log")
	data := filepath.Join(dir, "data")
	out, err := s.command(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: initdb: %v: %s", ErrUnavailable, err, lastLines(out))
	}
	if err := s.start(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// findBin returns the newest /usr/lib/postgresql/*/bin holding postgres.
func findBin() (string, error) {
	if b := os.Getenv("CARELENS_PG_BIN"); b != "" {
		return b, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)", ErrUnavailable)
}

func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	if s.asUser != "" {
		args = append([]string{"-u", s.asUser, "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = "/"
	return cmd
}

// start runs the server on a free loopback port and waits until it
// accepts connections.
func (s *Server) start(ctx context.Context) error {
	if s.port == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		s.port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	args := []string{"-D", filepath.Join(s.dir, "data"), "-h", "127.0.0.1", "-p", strconv.Itoa(s.port),
		"-k", s.dir, "-c", "max_connections=200", "-c", "shared_buffers=256MB", "-c", "max_locks_per_transaction=256",
		"-c", "max_pred_locks_per_transaction=512"}
	if s.opt.NoFsync {
		args = append(args, "-c", "fsync=off", "-c", "full_page_writes=off")
	}
	for _, kv := range s.opt.Settings {
		args = append(args, "-c", kv)
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// Not CommandContext: the server outlives the context that started it.
	cmd := s.command(context.Background(), filepath.Join(s.bin, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("%w: start postgres: %v", ErrUnavailable, err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(s.exited) }()
	s.url = fmt.Sprintf("postgres://postgres@127.0.0.1:%d", s.port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := pgx.Connect(ctx, s.URL("postgres"))
		if err == nil {
			c.Close(ctx)
			return nil
		}
		select {
		case <-s.exited:
			log, _ := os.ReadFile(s.logPath)
			return fmt.Errorf("%w: postgres exited: %s", ErrUnavailable, lastLines(log))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: postgres did not accept connections within a minute", ErrUnavailable)
		}
	}
}

func lastLines(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

// URL returns the connection URL of database db on the server.
func (s *Server) URL(db string) string {
	u := strings.TrimSuffix(s.url, "/")
	if i := strings.Index(u, "://"); i >= 0 && strings.Contains(u[i+3:], "/") {
		u = u[:i+3+strings.Index(u[i+3:], "/")]
	}
	return u + "/" + db
}

// CreateDatabase creates a new, empty database and returns its URL.
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	return s.URL(name), nil
}

// Kill ends the server with SIGKILL, as a crash would, and waits for it.
func (s *Server) Kill() error {
	if s.cmd == nil {
		return errors.New("pgtest: the server was not started here")
	}
	// The server runs in its own process group (runuser and postgres and
	// its children): kill them all.
	if err := syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		return err
	}
	<-s.exited
	// Children of the postmaster may still be exiting; wait until the
	// cluster's lock file is free to reuse.
	time.Sleep(200 * time.Millisecond)
	return nil
}

// Restart starts a server killed by [Server.Kill] again over the same
// cluster, on the same port; PostgreSQL recovers from its write-ahead log.
func (s *Server) Restart(ctx context.Context) error {
	if s.cmd == nil {
		return errors.New("pgtest: the server was not started here")
	}
	// The killed server's lock files remain; its processes are gone (Kill
	// waited), though a zombie may still answer to its pid.
	os.Remove(filepath.Join(s.dir, "data", "postmaster.pid"))
	locks, _ := filepath.Glob(filepath.Join(s.dir, ".s.PGSQL.*.lock"))
	for _, l := range locks {
		os.Remove(l)
	}
	return s.start(ctx)
}

// Stop stops the server and removes its cluster. It is safe to call more
// than once.
func (s *Server) Stop() {
	if s.cmd != nil {
		select {
		case <-s.exited:
		default:
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGQUIT) // immediate shutdown
			select {
			case <-s.exited:
			case <-time.After(10 * time.Second):
				syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
				<-s.exited
			}
		}
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}
