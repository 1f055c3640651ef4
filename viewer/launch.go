package viewer

import (
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/carelens/carelens/nhsnumber"

	"github.com/golang-jwt/jwt/v5"

	"github.com/carelens/carelens/audit"
)

// LaunchConfig configures context launch: a GP or hospital system opens a
// patient directly with a signed, short-lived, single-use token naming
// the user, their organisation and role, and the patient's NHS number.
type LaunchConfig struct {
	// Issuers are the systems allowed to launch, each with its Ed25519
	// public key.
	Issuers []LaunchIssuer `json:"issuers"`
	// Audience is the token's required aud claim; "" means "carelens".
	Audience string `json:"audience,omitempty"`
	// MaxLifetime bounds exp-iat; zero means DefaultLaunchLifetime.
	MaxLifetime time.Duration `json:"-"`
}

// LaunchIssuer is one system allowed to launch the viewer.
type LaunchIssuer struct {
	// Name is the token's iss claim.
	Name string `json:"name"`
	// PublicKeyPEM is the issuer's Ed25519 public key (PKIX, PEM).
	PublicKeyPEM string `json:"publicKeyPem"`
}

// DefaultLaunchLifetime is the longest a launch token may live.
const DefaultLaunchLifetime = 5 * time.Minute

// LaunchClaims are a launch token's claims.
type LaunchClaims struct {
	jwt.RegisteredClaims
	// Org and Role are the user's organisation code and role; they must
	// be the user's own in the viewer.
	Org  string `json:"org"`
	Role string `json:"role"`
	// NHS is the patient's NHS number.
	NHS string `json:"nhs"`
}

// MintLaunchToken signs a launch token for user (with org and role) to
// open the patient with NHS number nhs, valid for ttl from now. A token
// has a random id and is accepted once.
func MintLaunchToken(key ed25519.PrivateKey, issuer, audience, user, org, role, nhs string, ttl time.Duration, now time.Time) (string, error) {
	if audience == "" {
		audience = "carelens"
	}
	c := LaunchClaims{RegisteredClaims: jwt.RegisteredClaims{Issuer: issuer, Subject: user, Audience: jwt.ClaimStrings{audience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-30 * time.Second)),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)), ID: newToken()}, Org: org, Role: role, NHS: nhs}
	return jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(key)
}

// ParsePublicKey reads an Ed25519 public key in PKIX PEM.
func ParsePublicKey(pemText string) (ed25519.PublicKey, error) {
	b, _ := pem.Decode([]byte(pemText))
	if b == nil {
		return nil, errors.New("viewer: launch issuer key: not PEM")
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("viewer: launch issuer key: %w", err)
	}
	pk, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("viewer: launch issuer key: not Ed25519")
	}
	return pk, nil
}

// launcher checks launch tokens and remembers the ids of those used until
// they expire.
type launcher struct {
	keys     map[string]ed25519.PublicKey
	audience string
	maxLife  time.Duration
	now      func() time.Time

	mu   sync.Mutex
	used map[string]time.Time // issuer+id → expiry
}

func newLauncher(c *LaunchConfig, now func() time.Time) (*launcher, error) {
	l := &launcher{keys: map[string]ed25519.PublicKey{}, audience: c.Audience, maxLife: c.MaxLifetime, now: now, used: map[string]time.Time{}}
	if l.audience == "" {
		l.audience = "carelens"
	}
	if l.maxLife <= 0 {
		l.maxLife = DefaultLaunchLifetime
	}
	for i, is := range c.Issuers {
		if is.Name == "" {
			return nil, fmt.Errorf("%w: launch issuers[%d]: no name", ErrConfig, i)
		}
		k, err := ParsePublicKey(is.PublicKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("%w: launch issuers[%d]: %w", ErrConfig, i, err)
		}
		l.keys[is.Name] = k
	}
	return l, nil
}

// errLaunch is every launch refusal; the reason goes to the audit log,
// not to the browser.
var errLaunch = errors.New("viewer: launch refused")

func (l *launcher) check(token string) (*LaunchClaims, error) {
	var c LaunchClaims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		iss, _ := t.Claims.GetIssuer()
		k, ok := l.keys[iss]
		if !ok {
			return nil, errors.New("unknown issuer")
		}
		return crypto.PublicKey(k), nil
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithAudience(l.audience), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithTimeFunc(l.now), jwt.WithLeeway(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errLaunch, err)
	}
	if c.IssuedAt == nil || c.ExpiresAt.Sub(c.IssuedAt.Time) > l.maxLife {
		return nil, fmt.Errorf("%w: lifetime longer than %s", errLaunch, l.maxLife)
	}
	if c.ID == "" || len(c.ID) > 128 {
		return nil, fmt.Errorf("%w: no token id", errLaunch)
	}
	if !nhsnumber.Valid(c.NHS) || len(c.NHS) != 10 {
		return nil, fmt.Errorf("%w: invalid NHS number claim", errLaunch)
	}
	key := c.Issuer + "\x00" + c.ID
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, exp := range l.used {
		if now.After(exp.Add(time.Minute)) {
			delete(l.used, k)
		}
	}
	if _, seen := l.used[key]; seen {
		return nil, fmt.Errorf("%w: token already used", errLaunch)
	}
	l.used[key] = c.ExpiresAt.Time
	return &c, nil
}

// launchHandler signs the user in from a launch token and opens the
// patient. Every launch, refused or not, is audited.
func (s *Server) launchHandler(w http.ResponseWriter, r *http.Request) {
	q := &request{id: w.Header().Get("X-Request-Id"), r: r}
	refuse := func(err error, user string) {
		s.log.Info("launch refused", "request", q.id, "err", err)
		if aerr := s.auditEvent(r.Context(), q, audit.Event{Action: audit.ActionLaunch, Outcome: audit.OutcomeDenied,
			User: auditUser(user), Note: "launch refused"}); aerr != nil {
			s.auditFailed(w)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "This link cannot open the record: it is invalid, expired or already used. Open the patient again from your system.", http.StatusUnauthorized)
	}
	if s.launch == nil {
		http.NotFound(w, r)
		return
	}
	tok := r.URL.Query().Get("token")
	if tok == "" || len(tok) > 8<<10 {
		refuse(errors.New("no token"), "")
		return
	}
	c, err := s.launch.check(tok)
	if err != nil {
		refuse(err, "")
		return
	}
	u, ok := s.user(c.Subject)
	if !ok || u.Disabled || u.Org != c.Org || string(u.Role) != c.Role {
		refuse(errors.New("user, organisation or role do not match the viewer's"), c.Subject)
		return
	}
	if err := s.auditEvent(r.Context(), q, audit.Event{Action: audit.ActionLaunch, User: u.ID, Org: u.Org, Role: string(u.Role),
		Patient: c.NHS, Note: "launched by " + c.Issuer}); err != nil {
		s.auditFailed(w)
		return
	}
	if old, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.end(old.Value)
	}
	se, err := s.sessions.start(&u)
	if err != nil {
		http.Error(w, "The viewer is busy; try again in a moment.", http.StatusServiceUnavailable)
		return
	}
	s.setSessionCookie(w, se.id, 0)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/patient/"+c.NHS, http.StatusSeeOther)
}
