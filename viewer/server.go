package viewer

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/audit"
	"github.com/carelens/carelens/federate"
	"github.com/carelens/carelens/provenance"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Errors returned by this package.
var (
	// ErrConfig is returned by [New] for a configuration that cannot work.
	ErrConfig = errors.New("viewer: invalid configuration")
)

// Defaults for zero [Config] fields.
const (
	DefaultSessionIdle     = 15 * time.Minute
	DefaultSessionMax      = 8 * time.Hour
	DefaultResolutionTTL   = 10 * time.Minute
	DefaultMaxSessions     = 10_000
	DefaultSignInFailures  = 5
	DefaultSignInWindow    = 15 * time.Minute
	DefaultMaxConcurrent   = 256
	DefaultRequestDeadline = 30 * time.Second
)

// Config configures a [Server].
type Config struct {
	// Federation is the set of sources the viewer asks.
	Federation *federate.Federation
	// Orgs and Users are who may sign in.
	Orgs  []Org
	Users []User
	// Index, when set, keeps people's identity decisions (confirm or
	// reject a possible match).
	Index *mpi.Index
	// Policy decides what each user may see; required. It is enforced
	// item by item on the server before anything reaches a page, the API,
	// a PDF or a log.
	Policy *provenance.Policy
	// Audit records every access; required. A request whose entry
	// cannot be written fails and carries no clinical data.
	Audit *audit.Log
	// Launch configures context launch from other systems; nil disables
	// it.
	Launch *LaunchConfig
	// Logger receives operational messages: methods, paths without query,
	// statuses, source ids, durations. Never patient data. nil discards.
	Logger *slog.Logger
	// InsecureCookies drops the Secure flag from cookies, for a demo on
	// plain HTTP. A deployment serves TLS and leaves it false.
	InsecureCookies bool
	// SessionIdle and SessionMax are the idle and absolute session
	// timeouts; zero means the defaults.
	SessionIdle, SessionMax time.Duration
	// ResolutionTTL is how long a session reuses a patient's identity
	// resolution before asking the sources again; zero means the default.
	ResolutionTTL time.Duration
	// MaxConcurrent bounds requests served at once; more get 503.
	MaxConcurrent int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Server is the viewer. Create it with [New]; it is an http.Handler.
type Server struct {
	fed           *federate.Federation
	orgs          map[string]Org
	users         atomic.Pointer[map[string]User]
	index         *mpi.Index
	policy        *provenance.Policy
	audit         *audit.Log
	launch        *launcher
	log           *slog.Logger
	secureCookies bool
	sessions      *sessions
	limiter       *limiter
	resolveTTL    time.Duration
	now           func() time.Time
	tmpl          *template.Template
	mux           *http.ServeMux
	slots         chan struct{}
}

// New returns a viewer over c.
func New(c Config) (*Server, error) {
	if c.Federation == nil {
		return nil, fmt.Errorf("%w: no federation", ErrConfig)
	}
	if c.Policy == nil {
		return nil, fmt.Errorf("%w: no sharing policy", ErrConfig)
	}
	if err := c.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.Audit == nil {
		return nil, fmt.Errorf("%w: no audit log", ErrConfig)
	}
	s := &Server{fed: c.Federation, orgs: map[string]Org{}, index: c.Index, log: c.Logger,
		policy: c.Policy, audit: c.Audit,
		secureCookies: !c.InsecureCookies, resolveTTL: c.ResolutionTTL, now: c.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.resolveTTL <= 0 {
		s.resolveTTL = DefaultResolutionTTL
	}
	for _, o := range c.Orgs {
		if o.Code == "" {
			return nil, fmt.Errorf("%w: organisation without a code", ErrConfig)
		}
		if _, dup := s.orgs[o.Code]; dup {
			return nil, fmt.Errorf("%w: organisation %q listed twice", ErrConfig, o.Code)
		}
		s.orgs[o.Code] = o
	}
	if err := s.SetUsers(c.Users); err != nil {
		return nil, err
	}
	idle, abs := c.SessionIdle, c.SessionMax
	if idle <= 0 {
		idle = DefaultSessionIdle
	}
	if abs <= 0 {
		abs = DefaultSessionMax
	}
	s.sessions = &sessions{byID: map[string]*session{}, idle: idle, abs: abs, now: s.now, limit: DefaultMaxSessions}
	s.limiter = &limiter{fails: map[string][]time.Time{}, max: DefaultSignInFailures, window: DefaultSignInWindow, now: s.now}
	n := c.MaxConcurrent
	if n <= 0 {
		n = DefaultMaxConcurrent
	}
	s.slots = make(chan struct{}, n)
	t, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("viewer: templates: %w", err)
	}
	s.tmpl = t
	if c.Launch != nil {
		l, err := newLauncher(c.Launch, s.now)
		if err != nil {
			return nil, err
		}
		s.launch = l
	}
	s.routes()
	return s, nil
}

// SetUsers replaces the users who may sign in. A user removed, disabled,
// or moved to another organisation or role loses their sessions at once:
// the change takes effect on their next request.
func (s *Server) SetUsers(users []User) error {
	m := make(map[string]User, len(users))
	for _, u := range users {
		if u.ID == "" || strings.ContainsAny(u.ID, " \t\r\n") {
			return fmt.Errorf("%w: a user id is empty or has spaces", ErrConfig)
		}
		if _, ok := s.orgs[u.Org]; !ok {
			return fmt.Errorf("%w: user %q: unknown organisation %q", ErrConfig, u.ID, u.Org)
		}
		if _, dup := m[u.ID]; dup {
			return fmt.Errorf("%w: user %q listed twice", ErrConfig, u.ID)
		}
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
			return fmt.Errorf("%w: user %q: password hash is not argon2id", ErrConfig, u.ID)
		}
		m[u.ID] = u
	}
	s.users.Store(&m)
	return nil
}

func (s *Server) user(id string) (User, bool) {
	u, ok := (*s.users.Load())[id]
	return u, ok
}

func (s *Server) routes() {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /signin", s.signInPage)
	mux.HandleFunc("POST /signin", s.signIn)
	mux.Handle("POST /signout", s.authorise(s.signOut))
	mux.Handle("GET /{$}", s.authorise(s.home))
	mux.Handle("GET /search", s.authorise(s.search))
	mux.Handle("GET /patient/{nhs}", s.authorise(s.record))
	mux.Handle("GET /patient/{nhs}/pdf", s.authorise(s.recordPDF))
	mux.Handle("POST /patient/{nhs}/identity", s.authorise(s.identity))
	mux.Handle("GET /record/{source}/{id}", s.authorise(s.record))
	mux.Handle("GET /record/{source}/{id}/pdf", s.authorise(s.recordPDF))
	mux.Handle("POST /record/{source}/{id}/identity", s.authorise(s.identity))
	mux.Handle("GET /api/patient/{nhs}", s.authorise(s.apiPatient))
	mux.Handle("POST /patient/{nhs}/break-glass", s.authorise(s.breakGlassStart))
	mux.Handle("POST /patient/{nhs}/break-glass/end", s.authorise(s.breakGlassEnd))
	mux.Handle("GET /patient/{nhs}/accesses", s.authorise(s.accesses))
	mux.Handle("GET /alerts", s.authorise(s.alerts))
	mux.Handle("POST /alerts/{seq}/resolve", s.authorise(s.resolveAlert))
	mux.HandleFunc("GET /launch", s.launchHandler)
	s.mux = mux
}

// ServeHTTP serves the viewer: security headers on every response, a
// bound on concurrent requests, then the routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if s.secureCookies {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		h.Set("Retry-After", "1")
		http.Error(w, "The viewer is busy; try again in a moment.", http.StatusServiceUnavailable)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	h.Set("X-Request-Id", requestID())
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.mux.ServeHTTP(rec, r)
	s.log.Info("request", "method", r.Method, "path", logPath(r), "status", rec.status, "ms", time.Since(start).Milliseconds())
}

// logPath is the route pattern of r (never the NHS number or record id in
// the path).
func logPath(r *http.Request) string {
	if r.Pattern != "" {
		_, p, _ := strings.Cut(r.Pattern, " ")
		return p
	}
	return "(unmatched)"
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// request is what every authorised handler knows: who asks.
type request struct {
	id      string
	w       http.ResponseWriter
	r       *http.Request
	session *session
	user    User
	org     Org
}

// authorise is the one place every page and API call passes through: it
// finds the session (redirecting to sign-in, or 401 for the API, when
// there is none), ends sessions of users who were disabled or whose
// organisation or role changed, checks the CSRF token of every state
// change, and hands the handler the user.
func (s *Server) authorise(h func(*request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api := strings.HasPrefix(r.URL.Path, "/api/")
		id := w.Header().Get("X-Request-Id")
		deny := func() {
			// A request for a patient's record without a session is a
			// denied access: audited (who cannot be known; where from and
			// which route can), bounded like every request by MaxConcurrent.
			if api || strings.HasPrefix(r.URL.Path, "/patient/") || strings.HasPrefix(r.URL.Path, "/record/") {
				if err := s.auditEvent(r.Context(), &request{id: id, r: r}, audit.Event{Action: audit.ActionDenied,
					Outcome: audit.OutcomeDenied, Note: "no session: " + logPath(r)}); err != nil {
					s.auditFailed(w)
					return
				}
			}
			if api {
				w.Header().Set("WWW-Authenticate", `Cookie realm="carelens"`)
				http.Error(w, "sign in first", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/signin", http.StatusSeeOther)
		}
		c, err := r.Cookie(sessionCookie)
		if err != nil {
			deny()
			return
		}
		se := s.sessions.get(c.Value)
		if se == nil {
			deny()
			return
		}
		u, ok := s.user(se.user)
		if !ok || u.Disabled || u.Org != se.org || u.Role != se.role {
			s.sessions.endUser(se.user)
			deny()
			return
		}
		q := &request{id: id, w: w, r: r, session: se, user: u, org: s.orgs[u.Org]}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !validCSRF(r, se.csrf) {
				if err := s.auditEvent(r.Context(), q, audit.Event{Action: audit.ActionDenied, Outcome: audit.OutcomeDenied, Note: "no valid CSRF token"}); err != nil {
					s.auditFailed(w)
					return
				}
				http.Error(w, "The form has expired; go back and try again.", http.StatusForbidden)
				return
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		ctx, cancel := context.WithTimeout(r.Context(), DefaultRequestDeadline)
		defer cancel()
		q.r = r.WithContext(ctx)
		h(q)
	})
}

func validCSRF(r *http.Request, want string) bool {
	got := r.PostFormValue("csrf")
	return got != "" && len(got) == len(want) && subtleEq(got, want)
}

// clientAddr is the client's address without port, for rate limiting.
func clientAddr(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}
