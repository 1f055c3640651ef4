package fhirsource

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"
)

// Endpoint names one of the server's endpoints, for faults that apply to
// it alone.
type Endpoint string

// The server's endpoints.
const (
	EndpointMetadata   Endpoint = "metadata"   // GET /metadata
	EndpointSearch     Endpoint = "search"     // GET /Patient?...
	EndpointRead       Endpoint = "read"       // GET /Patient/{id}
	EndpointEverything Endpoint = "everything" // GET /Patient/{id}/$everything
)

// Endpoints returns every endpoint.
func Endpoints() []Endpoint {
	return []Endpoint{EndpointMetadata, EndpointSearch, EndpointRead, EndpointEverything}
}

// Faults are what the server does to a request before answering it, in
// this order: wait Latency plus a random part of Jitter, hang if Hang is
// set, then fail with FailStatus at FailRate. A request whose context ends
// while it waits gets no answer. The zero value injects nothing.
type Faults struct {
	// Latency delays every answer.
	Latency time.Duration
	// Jitter adds a uniformly random delay in [0, Jitter) to Latency.
	Jitter time.Duration
	// Hang holds every request until its context ends: the client gives
	// up, or the server is closed. It never answers.
	Hang bool
	// FailRate is the share of requests answered with FailStatus, from 0
	// (none) to 1 (every one).
	FailRate float64
	// FailStatus is the status of a failed request, a 5xx code; zero means
	// 500. Use 503 for a source that is down for maintenance.
	FailStatus int
}

// Validate reports whether f can be applied.
func (f Faults) Validate() error {
	switch {
	case f.Latency < 0 || f.Jitter < 0:
		return fmt.Errorf("fhirsource: faults: negative latency or jitter")
	case !(f.FailRate >= 0 && f.FailRate <= 1):
		return fmt.Errorf("fhirsource: faults: fail rate must be between 0 and 1")
	case f.FailStatus != 0 && (f.FailStatus < 500 || f.FailStatus > 599):
		return fmt.Errorf("fhirsource: faults: fail status must be a 5xx code")
	}
	return nil
}

// SetFaults sets the faults of every endpoint that has none of its own
// (see SetEndpointFaults). It is safe to call while requests are served;
// requests already waiting keep the faults they started with.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	return nil
}

// SetEndpointFaults sets the faults of endpoint e, in place of those set
// by SetFaults. It is safe to call while requests are served.
func (s *Server) SetEndpointFaults(e Endpoint, f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endpointFaults[e] = f
	return nil
}

// ClearFaults removes every fault, for all endpoints and each one.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = Faults{}
	clear(s.endpointFaults)
}

// Faults returns the faults applied to endpoint e.
func (s *Server) Faults(e Endpoint) Faults {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if f, ok := s.endpointFaults[e]; ok {
		return f
	}
	return s.faults
}

// inject applies the faults of e to a request; it reports whether the
// request should still be answered.
func (s *Server) inject(w http.ResponseWriter, r *http.Request, e Endpoint) bool {
	f := s.Faults(e)
	d := f.Latency
	if f.Jitter > 0 {
		d += rand.N(f.Jitter)
	}
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return false
		}
	}
	if f.Hang {
		<-r.Context().Done()
		return false
	}
	if f.FailRate > 0 && (f.FailRate >= 1 || rand.Float64() < f.FailRate) {
		status := f.FailStatus
		if status == 0 {
			status = http.StatusInternalServerError
		}
		code := "exception"
		if status == http.StatusServiceUnavailable {
			code = "transient"
			w.Header().Set("Retry-After", "1")
		}
		writeOutcome(w, status, code, "injected failure")
		return false
	}
	return true
}
