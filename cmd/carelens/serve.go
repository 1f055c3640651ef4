package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/audit"
	"github.com/carelens/carelens/federate"
	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/mpi/badgerstore"
	"github.com/carelens/carelens/provenance"
	"github.com/carelens/carelens/source"
	"github.com/carelens/carelens/viewer"
	"github.com/carelens/carelens/viewer/demo"
)

func init() {
	register(command{name: "serve", summary: "run the viewer: one patient's record live from every source (--demo starts everything on this machine)", run: runServe})
}

const serveSynopsis = "(--demo [--people N] | --config FILE) [--addr HOST:PORT] [--data DIR]"

// serveConfig is a deployment's configuration file.
type serveConfig struct {
	// Listen is the address to serve on; default 127.0.0.1:8080.
	Listen string `json:"listen,omitempty"`
	// TLS certificate and key files; without them the viewer serves plain
	// HTTP on loopback only.
	TLSCert string `json:"tlsCert,omitempty"`
	TLSKey  string `json:"tlsKey,omitempty"`
	// Data is the directory of the identity index.
	Data string `json:"data,omitempty"`
	// Rules is a merge rules file (concepts, windows, units).
	Rules string `json:"rules,omitempty"`
	// Model is a trained match model file; default: the default model.
	Model string `json:"model,omitempty"`
	// Policy is the sharing policy file (see provenance.LoadPolicy).
	Policy string `json:"policy"`
	// AuditKeyFile holds the audit log's MAC key (at least 32 bytes,
	// readable by its owner only).
	AuditKeyFile string `json:"auditKeyFile"`
	// Launch lists the systems allowed to open a patient by launch token.
	Launch  *viewer.LaunchConfig `json:"launch,omitempty"`
	Sources []source.Config      `json:"sources"`
	Orgs    []viewer.Org         `json:"orgs"`
	Users   []viewer.User        `json:"users"`
}

func runServe(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr, serveSynopsis)
	demoMode := fs.Bool("demo", false, "start demo sources (GP practice, acute hospital, community service) with generated patients, and demo users")
	people := fs.Int("people", 200, "with --demo: how many people to generate")
	configPath := fs.String("config", "", "deployment configuration (JSON): sources, organisations, users, TLS, store")
	addr := fs.String("addr", "", "address to listen on (default 127.0.0.1:8080, or the config's listen)")
	data := fs.String("data", "", "directory of the identity index (default ./carelens-data with --demo, or the config's data)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *demoMode == (*configPath != "") || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: serve needs exactly one of --demo and --config", errUsage)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if *demoMode {
		if *people < 1 || *people > 100_000 {
			return fmt.Errorf("%w: --people must be between 1 and 100000", errUsage)
		}
		dir := *data
		if dir == "" {
			dir = "carelens-data"
		}
		start := time.Now()
		d, err := demo.Start(ctx, &demo.Options{People: *people, DataDir: dir, Logger: logger})
		if err != nil {
			return err
		}
		defer d.Close()
		listen := *addr
		if listen == "" {
			listen = "127.0.0.1:8080"
		}
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return fmt.Errorf("serve: listen on %s: %w", listen, err)
		}
		url := "http://" + ln.Addr().String()
		fmt.Fprintf(stdout, "CareLens demo: %d generated people at 3 sources (%d records), ready in %.1fs; identity index and audit log in %s\n",
			d.Stats.People, len(d.Patients), time.Since(start).Seconds(), dir)
		for _, c := range demo.Configs {
			fmt.Fprintf(stdout, "  source %-10s %-32s %s\n", c.ID, c.Name, d.URLs[c.ID])
		}
		fmt.Fprintf(stdout, "\nOpen %s and sign in as one of:\n", url)
		for _, u := range d.Users {
			fmt.Fprintf(stdout, "  %-16s password %-16s %s, %s (%s)\n", u.ID, u.Password, u.Name, orgName(u.Org), u.Role)
		}
		if ex := d.Example(3); len(ex) > 0 {
			fmt.Fprintf(stdout, "\nPatients held by all three sources, by NHS number: %s\n", strings.Join(ex, ", "))
		}
		if d.OptedOut != "" {
			fmt.Fprintf(stdout, "Opted out of sharing at the community service: %s; restricted record (break-glass): %s\n", d.OptedOut, d.Restricted)
		}
		fmt.Fprintf(stdout, "A launch link as another system would open it: carelens launch-token --data %s --url %s --nhs NUMBER\n", dir, url)
		fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
		return serveHTTP(ctx, ln, d.Handler, "", "")
	}

	cfg, err := readServeConfig(*configPath)
	if err != nil {
		return err
	}
	if *addr != "" {
		cfg.Listen = *addr
	}
	if *data != "" {
		cfg.Data = *data
	}
	h, closeAll, err := buildViewer(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer closeAll()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8080"
	}
	if cfg.TLSCert == "" {
		host, _, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return fmt.Errorf("serve: listen address %q: %w", cfg.Listen, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("serve: %s: without tlsCert and tlsKey the viewer serves only on loopback", *configPath)
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("serve: listen on %s: %w", cfg.Listen, err)
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "CareLens viewer on %s://%s with %d sources\n", scheme, ln.Addr(), len(cfg.Sources))
	return serveHTTP(ctx, ln, h, cfg.TLSCert, cfg.TLSKey)
}

func orgName(code string) string {
	for _, o := range demo.Orgs {
		if o.Code == code {
			return o.Name
		}
	}
	return code
}

// serveHTTP serves h on ln until ctx ends, then shuts down gracefully.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, cert, key string) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	errc := make(chan error, 1)
	go func() {
		if cert != "" {
			errc <- hs.ServeTLS(ln, cert, key)
			return
		}
		errc <- hs.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

// readServeConfig reads a deployment configuration strictly: unknown
// fields are errors, naming the file.
func readServeConfig(path string) (*serveConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("serve: config: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(io.LimitReader(f, 4<<20))
	dec.DisallowUnknownFields()
	var c serveConfig
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("serve: config %s: %w", path, err)
	}
	if len(c.Sources) == 0 {
		return nil, fmt.Errorf("serve: config %s: no sources", path)
	}
	base := filepath.Dir(path)
	if c.Policy == "" || c.AuditKeyFile == "" || c.Data == "" {
		return nil, fmt.Errorf("serve: config %s: policy, auditKeyFile and data are required", path)
	}
	for _, p := range []*string{&c.TLSCert, &c.TLSKey, &c.Data, &c.Rules, &c.Model, &c.Policy, &c.AuditKeyFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	for i := range c.Sources {
		if c.Sources[i].Dir != "" && !filepath.IsAbs(c.Sources[i].Dir) {
			c.Sources[i].Dir = filepath.Join(base, c.Sources[i].Dir)
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return nil, fmt.Errorf("serve: config %s: tlsCert and tlsKey go together", path)
	}
	return &c, nil
}

// buildViewer opens the configured sources, index and rules and builds the
// viewer.
func buildViewer(ctx context.Context, c *serveConfig, logger *slog.Logger) (http.Handler, func(), error) {
	var closers []func() error
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			_ = closers[i]()
		}
	}
	fail := func(err error) (http.Handler, func(), error) {
		closeAll()
		return nil, nil, err
	}
	var members []federate.Member
	for i, sc := range c.Sources {
		s, err := source.Open(sc, nil)
		if err != nil {
			return fail(fmt.Errorf("serve: sources[%d]: %w", i, err))
		}
		members = append(members, federate.Member{Source: s, Config: sc})
	}
	mo := &merge.Options{}
	if c.Rules != "" {
		rs, err := loadRulesFile(c.Rules)
		if err != nil {
			return fail(err)
		}
		mo.Rules = rs
	}
	fo := &federate.Options{Merge: mo}
	if c.Model != "" {
		f, err := os.Open(c.Model)
		if err != nil {
			return fail(fmt.Errorf("serve: model: %w", err))
		}
		m, err := match.ReadModel(f)
		f.Close()
		if err != nil {
			return fail(fmt.Errorf("serve: model %s: %w", c.Model, err))
		}
		fo.Model = m
	}
	var ix *mpi.Index
	if c.Data != "" {
		store, err := badgerstore.Open(filepath.Join(c.Data, "index"), nil)
		if err != nil {
			return fail(fmt.Errorf("serve: identity index: %w", err))
		}
		closers = append(closers, store.Close)
		ix, err = mpi.OpenIndex(ctx, store, &mpi.IndexOptions{Model: fo.Model})
		if err != nil {
			return fail(fmt.Errorf("serve: identity index: %w", err))
		}
		fo.Decisions = federate.IndexDecisions{Index: ix}
	}
	fed, err := federate.New(members, fo)
	if err != nil {
		return fail(err)
	}
	pf, err := os.Open(c.Policy)
	if err != nil {
		return fail(fmt.Errorf("serve: policy: %w", err))
	}
	pol, err := provenance.LoadPolicy(pf)
	pf.Close()
	if err != nil {
		return fail(fmt.Errorf("serve: policy %s: %w", c.Policy, err))
	}
	key, err := audit.ReadKey(c.AuditKeyFile)
	if err != nil {
		return fail(fmt.Errorf("serve: %w", err))
	}
	alog, err := audit.Open(filepath.Join(c.Data, "audit"), audit.Options{Key: key})
	if err != nil {
		return fail(fmt.Errorf("serve: audit log: %w", err))
	}
	closers = append(closers, alog.Close)
	v, err := viewer.New(viewer.Config{Federation: fed, Orgs: c.Orgs, Users: c.Users, Index: ix, Logger: logger,
		InsecureCookies: c.TLSCert == "", Policy: pol, Audit: alog, Launch: c.Launch})
	if err != nil {
		return fail(err)
	}
	return v, closeAll, nil
}
