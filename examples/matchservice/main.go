// Command matchservice is a small FHIR R4 server a site would write over
// the CareLens identity index: it answers Patient/$match (a Parameters
// resource in, a searchset Bundle out, each Patient with search.score and
// the match-grade extension) from a [mpi.Index] kept in Badger, and
// GET /metadata with its CapabilityStatement. README.md has a walk
// through with curl.
//
//	carelens index load --db /var/lib/carelens/index gp.csv hospital.csv
//	matchservice --db /var/lib/carelens/index --tokens /etc/carelens/tokens
//
// # Hardening
//
//   - Authentication: bearer tokens from a token file (see [LoadTokens]),
//     and/or client certificates (--client-ca, mutual TLS). --no-auth is
//     refused unless the service listens on loopback.
//   - It listens on loopback by default; a non-loopback address needs TLS
//     (--tls-cert, --tls-key) or --allow-plaintext (behind a TLS proxy).
//   - One audit line per request on stderr: who asked, how they proved it,
//     which fields the query supplied (never their values), the count
//     asked for, the candidates' enterprise person ids and grades. With
//     --audit-key, keyed hashes of the identifiers asked for too.
//   - Timeouts: headers 5 s, whole request 15 s, response 30 s, idle
//     connections 60 s; the search 10 s.
//   - Bounds: body 64 KiB (413), JSON nesting fhirutil.MaxDepth (400),
//     headers 16 KiB, 256 connections, 2×GOMAXPROCS requests decoded and
//     searched at once with 64 more waiting at most 2 s (then 503; beyond
//     the queue, 429), count at most 50.
//   - Strict FHIR: application/fhir+json only (415 otherwise, 406 for an
//     Accept or _format it cannot meet), unknown elements and repeated
//     keys rejected with their FHIRPath, an OperationOutcome for every
//     error.
//   - A candidate graded possible shows only the name, birth date and
//     gender the request supplied, never identifiers or address.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/mpi/badgerstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "matchservice:", err)
		os.Exit(1)
	}
}

// config is the command line.
type config struct {
	db, addr                        string
	tokens, clientCA                string
	tlsCert, tlsKey                 string
	auditKey                        string
	noAuth, allowPlaintext          bool
	maxBody                         int64
	maxInFlight, maxConns, maxQueue int
	readTimeout, writeTimeout       time.Duration
	idleTimeout                     time.Duration
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("matchservice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.db, "db", "", "index directory (made by carelens index load); opened read-only")
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8089", "listen address; a non-loopback one needs TLS or --allow-plaintext")
	fs.StringVar(&c.tokens, "tokens", "", "bearer token file: one `NAME TOKEN` a line, mode 600")
	fs.StringVar(&c.clientCA, "client-ca", "", "PEM file of the CAs whose client certificates are accepted (mutual TLS; needs --tls-cert)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate chain of the server")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key of the server")
	fs.StringVar(&c.auditKey, "audit-key", "", "file holding a secret key: audit lines then carry HMAC-SHA256 hashes of the identifiers asked for")
	fs.BoolVar(&c.noAuth, "no-auth", false, "serve without authentication (loopback only)")
	fs.BoolVar(&c.allowPlaintext, "allow-plaintext", false, "allow a non-loopback address without TLS (behind a TLS-terminating proxy)")
	fs.Int64Var(&c.maxBody, "max-body", DefaultMaxBody, "largest request body in bytes")
	fs.IntVar(&c.maxInFlight, "max-inflight", 0, "requests decoded and searched at once (0: 2×GOMAXPROCS)")
	fs.IntVar(&c.maxQueue, "max-queue", DefaultQueue, "requests waiting for a slot before 429")
	fs.IntVar(&c.maxConns, "max-conns", 256, "open connections at most")
	fs.DurationVar(&c.readTimeout, "read-timeout", 15*time.Second, "time to read a whole request, body included")
	fs.DurationVar(&c.writeTimeout, "write-timeout", 30*time.Second, "time from the end of the request headers to the end of the response")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", 60*time.Second, "time a kept-alive connection may wait for its next request")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.db == "" {
		return c, errors.New("--db is required")
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return c, errors.New("--tls-cert and --tls-key go together")
	}
	if c.clientCA != "" && c.tlsCert == "" {
		return c, errors.New("--client-ca needs --tls-cert and --tls-key")
	}
	if c.maxBody < 1024 || c.maxConns < 1 {
		return c, errors.New("--max-body must be at least 1024 and --max-conns at least 1")
	}
	loop, err := loopback(c.addr)
	if err != nil {
		return c, err
	}
	switch {
	case c.noAuth && (c.tokens != "" || c.clientCA != ""):
		return c, errors.New("--no-auth contradicts --tokens and --client-ca")
	case c.noAuth && !loop:
		return c, fmt.Errorf("--no-auth is allowed on a loopback address only, not %s", c.addr)
	case !c.noAuth && c.tokens == "" && c.clientCA == "":
		return c, errors.New("choose authentication: --tokens FILE, --client-ca FILE, or --no-auth (loopback only)")
	case !loop && c.tlsCert == "" && !c.allowPlaintext:
		return c, fmt.Errorf("%s is not a loopback address: serve TLS (--tls-cert, --tls-key) or pass --allow-plaintext", c.addr)
	}
	return c, nil
}

// loopback reports whether addr's host is a loopback address. A host
// name other than localhost counts as not loopback, whatever it resolves
// to today; an empty host is every interface.
func loopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("--addr: %w", err)
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	o := &Options{Anonymous: c.noAuth, MaxBody: c.maxBody, MaxInFlight: c.maxInFlight, MaxQueue: c.maxQueue, Audit: logger}
	if c.tokens != "" {
		if o.Tokens, err = LoadTokens(c.tokens); err != nil {
			return err
		}
	}
	if c.auditKey != "" {
		if o.AuditKey, err = os.ReadFile(c.auditKey); err != nil {
			return fmt.Errorf("audit key: %w", err)
		}
		if len(o.AuditKey) < 16 {
			return errors.New("audit key: shorter than 16 bytes")
		}
	}
	var tlsConf *tls.Config
	if c.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
		if err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		if c.clientCA != "" {
			pem, err := os.ReadFile(c.clientCA)
			if err != nil {
				return fmt.Errorf("client CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return errors.New("client CA: no PEM certificate in the file")
			}
			tlsConf.ClientCAs = pool
			// Verified when given; required by the handler for $match
			// unless a token is presented instead (and /metadata stays
			// open).
			tlsConf.ClientAuth = tls.VerifyClientCertIfGiven
			if o.Tokens == nil {
				tlsConf.ClientAuth = tls.RequireAndVerifyClientCert
			}
			o.ClientCerts = true
		}
	}
	s, err := badgerstore.Open(c.db, &badgerstore.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer s.Close()
	ix, err := mpi.OpenIndex(ctx, s, nil)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	ln = limitListener(ln, c.maxConns)
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	srv := &http.Server{
		Handler:           NewHandler(ix, o),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       c.readTimeout,
		WriteTimeout:      c.writeTimeout,
		IdleTimeout:       c.idleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	logger.Info("matchservice listening", "url", scheme+"://"+ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// limitListener accepts at most n connections at once: the next Accept
// waits until one closes.
func limitListener(l net.Listener, n int) net.Listener {
	return &limited{Listener: l, sem: make(chan struct{}, n)}
}

type limited struct {
	net.Listener
	sem chan struct{}
}

func (l *limited) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitedConn{Conn: c, release: sync.OnceFunc(func() { <-l.sem })}, nil
}

type limitedConn struct {
	net.Conn
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}
