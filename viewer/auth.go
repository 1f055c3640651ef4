package viewer

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/carelens/carelens/federate"
	"github.com/carelens/carelens/match"
)

// Role is what a user does; it decides, with their organisation, what
// they may see.
type Role string

// Roles the demo knows. A deployment may use others; policy matches them
// as strings.
const (
	RoleGP         Role = "gp"
	RoleClinician  Role = "clinician"
	RoleNurse      Role = "nurse"
	RoleAdmin      Role = "admin"
	RolePrivacy    Role = "privacy-officer"
	RoleReceptionA Role = "receptionist"
)

// Org is an organisation whose staff use the viewer.
type Org struct {
	// Code is the organisation code (ODS in England).
	Code string `json:"code"`
	// Name is the display name.
	Name string `json:"name"`
	// Kind is the kind of organisation, as provenance kinds.
	Kind string `json:"kind"`
	// Sources are the ids of the sources this organisation runs (its own
	// data, which it always sees and may untick).
	Sources []string `json:"sources,omitempty"`
}

// User is one person who may sign in.
type User struct {
	// ID is the user name they sign in with; it names them in the audit
	// log.
	ID string `json:"id"`
	// Name is their display name.
	Name string `json:"name"`
	// Org is their organisation's code.
	Org string `json:"org"`
	// Role is their role.
	Role Role `json:"role"`
	// PasswordHash is an argon2id hash as [HashPassword] makes it.
	PasswordHash string `json:"passwordHash"`
	// Disabled users cannot sign in, and their sessions end at their next
	// request.
	Disabled bool `json:"disabled,omitempty"`
}

// Argon2id parameters (RFC 9106's second recommended option: 64 MiB, 3
// passes, 4 lanes would cost 64 MiB per sign-in; we use 19 MiB, 2 passes,
// 1 lane, OWASP's minimum for argon2id, so that a burst of sign-ins on a
// small server does not exhaust memory).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword returns an argon2id hash of password in the PHC string
// form ($argon2id$v=19$m=…,t=…,p=…$salt$hash).
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("viewer: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// errBadHash is returned for a stored hash that is not argon2id PHC.
var errBadHash = errors.New("viewer: password hash is not argon2id")

// checkPassword reports whether password matches the argon2id hash.
func checkPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var v int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 {
		return false, errBadHash
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// session is one signed-in (user, organisation, role).
type session struct {
	id      string
	user    string
	org     string
	role    Role
	csrf    string
	created time.Time

	mu       sync.Mutex
	lastSeen time.Time
	// resolutions are the identity resolutions of recently opened
	// patients (identity data only), by anchor key.
	resolutions map[string]*federate.Resolution
	resolvedAt  map[string]time.Time
	// chosen are source records picked on the search page, by reference,
	// so that a patient without an NHS number can be opened.
	chosen map[string]chosenRecord
	// breakGlass are the open break-glasses, by patient NHS number.
	breakGlass map[string]breakGlass
}

type chosenRecord struct {
	at  time.Time
	rec match.Record
}

// sessions keeps sessions in memory.
type sessions struct {
	mu    sync.Mutex
	byID  map[string]*session
	idle  time.Duration
	abs   time.Duration
	now   func() time.Time
	limit int
}

// errTooManySessions is returned when the session table is full.
var errTooManySessions = errors.New("viewer: too many sessions")

func newToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("viewer: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// start creates a session with a fresh id (never one the client chose:
// no session fixation).
func (s *sessions) start(u *User) (*session, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= s.limit {
		s.sweepLocked(now)
		if len(s.byID) >= s.limit {
			return nil, errTooManySessions
		}
	}
	se := &session{id: newToken(), user: u.ID, org: u.Org, role: u.Role, csrf: newToken(), created: now, lastSeen: now,
		resolutions: map[string]*federate.Resolution{}, resolvedAt: map[string]time.Time{}, chosen: map[string]chosenRecord{}, breakGlass: map[string]breakGlass{}}
	s.byID[se.id] = se
	return se, nil
}

// get returns the live session with id, touching it; expired sessions are
// removed.
func (s *sessions) get(id string) *session {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.byID[id]
	if !ok {
		return nil
	}
	se.mu.Lock()
	defer se.mu.Unlock()
	if now.Sub(se.lastSeen) > s.idle || now.Sub(se.created) > s.abs {
		delete(s.byID, id)
		return nil
	}
	se.lastSeen = now
	return se
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	delete(s.byID, id)
	s.mu.Unlock()
}

// endUser ends every session of a user (disabled, or role changed).
func (s *sessions) endUser(user string) {
	s.mu.Lock()
	for id, se := range s.byID {
		if se.user == user {
			delete(s.byID, id)
		}
	}
	s.mu.Unlock()
}

func (s *sessions) sweepLocked(now time.Time) {
	for id, se := range s.byID {
		se.mu.Lock()
		dead := now.Sub(se.lastSeen) > s.idle || now.Sub(se.created) > s.abs
		se.mu.Unlock()
		if dead {
			delete(s.byID, id)
		}
	}
}

// limiter refuses sign-in attempts after too many failures for one user
// name or one client address within a window.
type limiter struct {
	mu     sync.Mutex
	fails  map[string][]time.Time
	max    int
	window time.Duration
	now    func() time.Time
}

func (l *limiter) blocked(keys ...string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if l.recentLocked(k, now) >= l.max {
			return true
		}
	}
	return false
}

func (l *limiter) recentLocked(k string, now time.Time) int {
	ts := l.fails[k]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > l.window {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.fails, k)
	} else {
		l.fails[k] = ts
	}
	return len(ts)
}

func (l *limiter) fail(keys ...string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fails) > 100_000 { // bound memory under a spray of names
		clear(l.fails)
	}
	for _, k := range keys {
		l.fails[k] = append(l.fails[k], now)
	}
}

func (l *limiter) succeed(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.fails, k)
	}
}

const (
	sessionCookie = "carelens_session"
	preCSRFCookie = "carelens_presession"
)

// setSessionCookie writes the session cookie: HttpOnly, SameSite=Lax (a
// launch from another system's page is a cross-site navigation, which
// Strict would strip; every state change needs the CSRF token anyway),
// Secure unless the server is told it runs on plain HTTP for a demo.
func (s *Server) setSessionCookie(w http.ResponseWriter, id string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true,
		Secure: s.secureCookies, SameSite: http.SameSiteLaxMode, MaxAge: maxAge})
}
