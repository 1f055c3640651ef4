// Package demo starts a complete CareLens viewer on one machine with
// nothing to install: three in-process FHIR sources (a GP practice, the
// acute hospital and a community service) over generated patients, an
// identity index in an embedded Badger store, demo users, and the viewer.
// `carelens serve --demo`, the browser test and the viewer benchmarks all
// start it.
//
// The generated clinical data lives only in the sources' memory, as it
// would live in the organisations' own systems; the viewer asks them over
// HTTP at view time. Only the identity index (demographics, identifiers,
// decisions) is written to the data directory.
package demo

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/audit"
	"github.com/carelens/carelens/benchmarks"
	"github.com/carelens/carelens/examples/fhirsource"
	"github.com/carelens/carelens/federate"
	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/mpi/badgerstore"
	"github.com/carelens/carelens/provenance"
	"github.com/carelens/carelens/source"
	"github.com/carelens/carelens/viewer"
)

// Options configure [Start]. The zero value works.
type Options struct {
	// People is the number of generated people; zero means 200.
	People int
	// Seed selects the cohort.
	Seed uint64
	// Now is the cohort's "today"; zero means time.Now().
	Now time.Time
	// DataDir holds the identity index, the audit log and its key, and
	// the demo launch issuer's key; "" means a temporary directory removed
	// by Close.
	DataDir string
	// Timeout is each source's timeout; zero means 3 s.
	Timeout time.Duration
	// Logger receives the viewer's operational log; nil discards.
	Logger *slog.Logger
	// Viewer, when set, adjusts the viewer's configuration before it is
	// built (tests shorten timeouts, benchmarks raise limits).
	Viewer func(*viewer.Config)
	// SourceURLs, when set, are the base URLs of demo sources already
	// running elsewhere (another process started with [StartSources]), by
	// source id; Start then starts none itself and Demo.Patients is empty.
	SourceURLs map[string]string
}

// SourceSet is the demo's sources, running on loopback ports.
type SourceSet struct {
	// Servers and URLs are the FHIR servers and their base URLs, by id.
	Servers map[string]*fhirsource.Server
	URLs    map[string]string
	// Patients are the generated records (the truth).
	Patients []benchmarks.FHIRPatient
	// Stats describe the cohort; Stats.Rules merge its variants.
	Stats   benchmarks.FHIRStats
	closers []func() error
}

// Close stops the servers.
func (s *SourceSet) Close() error {
	var errs []error
	for _, c := range s.closers {
		if err := c(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func sourceIDs() []string {
	ids := make([]string, len(Configs))
	for i, c := range Configs {
		ids[i] = c.ID
	}
	return ids
}

// StartSources generates the cohort (o.People, o.Seed, o.Now) and starts
// the three demo sources over it on loopback ports. The data lives only in
// their memory, as in the organisations' own systems.
func StartSources(ctx context.Context, o *Options) (*SourceSet, error) {
	if o == nil {
		o = &Options{}
	}
	people := o.People
	if people <= 0 {
		people = 200
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now().UTC()
	}
	set := &SourceSet{Servers: map[string]*fhirsource.Server{}, URLs: map[string]string{}}
	files := map[string][]source.File{}
	st, err := benchmarks.SynthFHIR(ctx, benchmarks.FHIROptions{People: people, Sources: sourceIDs(), Seed: o.Seed, Now: now},
		func(p benchmarks.FHIRPatient, bundle []byte) error {
			files[p.Source] = append(files[p.Source], source.File{Name: p.PatientID + ".json", Data: slices.Clone(bundle)})
			set.Patients = append(set.Patients, p)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("demo: generate: %w", err)
	}
	set.Stats = st
	for _, c := range Configs {
		store, err := source.NewStore(files[c.ID])
		if err != nil {
			_ = set.Close()
			return nil, fmt.Errorf("demo: source %s: %w", c.ID, err)
		}
		srv, err := fhirsource.New(store, &fhirsource.Options{Name: c.Name})
		if err != nil {
			_ = set.Close()
			return nil, fmt.Errorf("demo: source %s: %w", c.ID, err)
		}
		l, err := srv.Listen("127.0.0.1:0")
		if err != nil {
			_ = set.Close()
			return nil, fmt.Errorf("demo: source %s: listen: %w", c.ID, err)
		}
		set.closers = append(set.closers, l.Close)
		set.Servers[c.ID] = srv
		set.URLs[c.ID] = l.URL
	}
	return set, nil
}

// User is a demo user with their password in clear, to print.
type User struct {
	ID, Password, Name, Org string
	Role                    viewer.Role
}

// Demo is a running demo.
type Demo struct {
	// Handler is the viewer.
	Handler *viewer.Server
	// Sources are the running FHIR servers, by source id; their faults can
	// be set at run time.
	Sources map[string]*fhirsource.Server
	// URLs are the sources' base URLs, by source id.
	URLs map[string]string
	// Users are the demo users.
	Users []User
	// Patients are the generated records (the truth), for tests and to
	// suggest patients to open.
	Patients []benchmarks.FHIRPatient
	// Stats describe the generated cohort.
	Stats benchmarks.FHIRStats
	// Federation is the viewer's federation.
	Federation *federate.Federation
	// Audit is the access log.
	Audit *audit.Log
	// Policy is the sharing policy.
	Policy *provenance.Policy
	// OptedOut is a patient (NHS number) who opted out of sharing at the
	// community service; Restricted one whose record is restricted
	// (safeguarding) at every source.
	OptedOut, Restricted string
	// LaunchKey signs launch tokens for the demo issuer LaunchIssuer.
	LaunchKey ed25519.PrivateKey
	// DataDir is the data directory in use.
	DataDir string

	closers []func() error
	once    sync.Once
	err     error
}

// Demo sources and organisations.
var (
	// Configs are the demo's sources.
	Configs = []source.Config{
		{ID: "gp", Org: "Y90001", Kind: provenance.KindGP, Name: "Riverside Surgery", Type: source.TypeFHIR},
		{ID: "hospital", Org: "RXX", Kind: provenance.KindHospital, Name: "Northfield Hospital EHR", Type: source.TypeFHIR},
		{ID: "community", Org: "RYY", Kind: provenance.KindCommunity, Name: "Northfield Community Services", Type: source.TypeFHIR},
	}
	// Orgs are the demo's organisations, each running its source.
	Orgs = []viewer.Org{
		{Code: "Y90001", Name: "Riverside Surgery", Kind: string(provenance.KindGP), Sources: []string{"gp"}},
		{Code: "RXX", Name: "Northfield Hospitals NHS Trust", Kind: string(provenance.KindHospital), Sources: []string{"hospital"}},
		{Code: "RYY", Name: "Northfield Community Services", Kind: string(provenance.KindCommunity), Sources: []string{"community"}},
	}
	// Users are the demo's users. The passwords are public: this is a
	// demo on generated patients.
	Users = []User{
		{ID: "gp.doctor", Password: "riverside-demo", Name: "Dr Asha Patel", Org: "Y90001", Role: viewer.RoleGP},
		{ID: "hospital.doctor", Password: "northfield-demo", Name: "Dr Tom Reid", Org: "RXX", Role: viewer.RoleClinician},
		{ID: "community.nurse", Password: "community-demo", Name: "Nurse Jo Evans", Org: "RYY", Role: viewer.RoleNurse},
		{ID: "privacy.officer", Password: "privacy-demo", Name: "Sam Okoye", Org: "RXX", Role: viewer.RolePrivacy},
	}
)

// LaunchIssuer is the iss of the demo's launch tokens.
const LaunchIssuer = "demo-ehr"

//go:embed policy.json
var policyJSON []byte

// Start generates the cohort, starts the sources on loopback ports and
// builds the viewer. Close stops everything.
func Start(ctx context.Context, o *Options) (*Demo, error) {
	if o == nil {
		o = &Options{}
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	d := &Demo{Sources: map[string]*fhirsource.Server{}, URLs: map[string]string{}, Users: Users}
	ok := false
	defer func() {
		if !ok {
			_ = d.Close()
		}
	}()

	var rules *merge.Rules
	if o.SourceURLs != nil {
		// The sources run elsewhere (another process): ask them there.
		for _, c := range Configs {
			if o.SourceURLs[c.ID] == "" {
				return nil, fmt.Errorf("demo: no URL for source %s", c.ID)
			}
			d.URLs[c.ID] = o.SourceURLs[c.ID]
		}
		r, err := benchmarks.FHIRRules(sourceIDs())
		if err != nil {
			return nil, err
		}
		rules = r
	} else {
		set, err := StartSources(ctx, o)
		if err != nil {
			return nil, err
		}
		d.closers = append(d.closers, set.Close)
		d.Sources, d.URLs, d.Patients, d.Stats, rules = set.Servers, set.URLs, set.Patients, set.Stats, set.Stats.Rules
	}

	var members []federate.Member
	for _, c := range Configs {
		c.BaseURL = d.URLs[c.ID]
		c.Timeout = source.Duration(timeout)
		c.MaxAge = source.Duration(2 * 365 * 24 * time.Hour)
		s, err := source.Open(c, nil)
		if err != nil {
			return nil, fmt.Errorf("demo: source %s: %w", c.ID, err)
		}
		members = append(members, federate.Member{Source: s, Config: c})
	}

	dataDir := o.DataDir
	if dataDir == "" {
		tmp, err := os.MkdirTemp("", "carelens-demo-")
		if err != nil {
			return nil, fmt.Errorf("demo: data directory: %w", err)
		}
		d.closers = append(d.closers, func() error { return os.RemoveAll(tmp) })
		dataDir = tmp
	}
	d.DataDir = dataDir
	if err := os.MkdirAll(filepath.Join(dataDir, "index"), 0o700); err != nil {
		return nil, fmt.Errorf("demo: data directory: %w", err)
	}
	store, err := badgerstore.Open(filepath.Join(dataDir, "index"), nil)
	if err != nil {
		return nil, fmt.Errorf("demo: identity index: %w", err)
	}
	d.closers = append(d.closers, store.Close)
	ix, err := mpi.OpenIndex(ctx, store, nil)
	if err != nil {
		return nil, fmt.Errorf("demo: identity index: %w", err)
	}
	_, err = secretFile(filepath.Join(dataDir, "audit.key"), func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return []byte(hex.EncodeToString(b) + "\n"), err
	})
	if err != nil {
		return nil, err
	}
	key, err := audit.ReadKey(filepath.Join(dataDir, "audit.key"))
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	alog, err := audit.Open(filepath.Join(dataDir, "audit"), audit.Options{Key: key})
	if err != nil {
		return nil, fmt.Errorf("demo: audit log: %w", err)
	}
	d.closers = append(d.closers, func() error {
		if err := alog.Close(); !errors.Is(err, audit.ErrClosed) {
			return err
		}
		return nil
	})
	d.Audit = alog
	lk, err := secretFile(filepath.Join(dataDir, "launch-issuer.key"), func() ([]byte, error) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), err
	})
	if err != nil {
		return nil, err
	}
	if d.LaunchKey, err = ParsePrivateKey(lk); err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(d.LaunchKey.Public())
	if err != nil {
		return nil, err
	}
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))

	pol, err := provenance.LoadPolicy(bytes.NewReader(policyJSON))
	if err != nil {
		return nil, fmt.Errorf("demo: policy: %w", err)
	}
	if ex := d.Example(5); len(ex) == 5 {
		d.OptedOut, d.Restricted = ex[3], ex[4]
		pol.OptOuts = append(pol.OptOuts, provenance.OptOut{Patient: d.OptedOut, Source: "community"})
		pol.Restrictions = append(pol.Restrictions, provenance.Restriction{Patient: d.Restricted})
	}
	if err := pol.Validate(); err != nil {
		return nil, fmt.Errorf("demo: policy: %w", err)
	}
	d.Policy = pol
	fo := &federate.Options{Merge: &merge.Options{Rules: rules, Priority: []string{"gp", "hospital", "community"}},
		Decisions: federate.IndexDecisions{Index: ix}}
	fed, err := federate.New(members, fo)
	if err != nil {
		return nil, err
	}
	d.Federation = fed

	var users []viewer.User
	for _, u := range Users {
		h, err := viewer.HashPassword(u.Password)
		if err != nil {
			return nil, err
		}
		users = append(users, viewer.User{ID: u.ID, Name: u.Name, Org: u.Org, Role: u.Role, PasswordHash: h})
	}
	vc := viewer.Config{Federation: fed, Orgs: Orgs, Users: users, Index: ix, Logger: o.Logger, InsecureCookies: true,
		Policy: pol, Audit: alog, Launch: &viewer.LaunchConfig{Issuers: []viewer.LaunchIssuer{{Name: LaunchIssuer, PublicKeyPEM: pubPEM}}}}
	if o.Viewer != nil {
		o.Viewer(&vc)
	}
	v, err := viewer.New(vc)
	if err != nil {
		return nil, err
	}
	d.Handler = v
	ok = true
	return d, nil
}

// secretFile returns the content of path, first writing make()'s bytes to
// it (mode 0600) when it does not exist.
func secretFile(path string, make func() ([]byte, error)) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if b, err = make(); err != nil {
		return nil, fmt.Errorf("demo: %s: %w", filepath.Base(path), err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return b, nil
}

// ParsePrivateKey reads an Ed25519 private key in PKCS#8 PEM (the demo
// launch issuer's key file).
func ParsePrivateKey(pemBytes []byte) (ed25519.PrivateKey, error) {
	b, _ := pem.Decode(pemBytes)
	if b == nil {
		return nil, errors.New("demo: launch key: not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("demo: launch key: %w", err)
	}
	pk, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, errors.New("demo: launch key: not Ed25519")
	}
	return pk, nil
}

// Close stops the sources and closes the index.
func (d *Demo) Close() error {
	d.once.Do(func() {
		var errs []error
		for i := len(d.closers) - 1; i >= 0; i-- {
			if err := d.closers[i](); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs = append(errs, err)
			}
		}
		d.err = errors.Join(errs...)
	})
	return d.err
}

// Example returns the NHS numbers of up to n people whom every source
// holds, in generation order: good patients to open first.
func (d *Demo) Example(n int) []string { return SharedPatients(d.Patients, n) }

// SharedPatients returns the NHS numbers of up to n people whom every demo
// source holds, in generation order.
func SharedPatients(patients []benchmarks.FHIRPatient, n int) []string {
	count := map[string]int{}
	var order []string
	for _, p := range patients {
		if p.NHSNumber == "" {
			continue
		}
		if count[p.NHSNumber] == 0 {
			order = append(order, p.NHSNumber)
		}
		count[p.NHSNumber]++
	}
	var out []string
	for _, nhs := range order {
		if count[nhs] == len(Configs) && len(out) < n {
			out = append(out, nhs)
		}
	}
	return out
}
