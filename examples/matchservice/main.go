// Command matchservice is a small FHIR R4 service a site would write over
// the CareLens identity index: it answers Patient/$match (a Parameters
// resource in, a searchset Bundle out, each Patient with search.score and
// the match-grade extension) from a [match.Index] kept in Badger.
//
//	carelens index load --db /var/lib/carelens/index gp.csv hospital.csv
//	matchservice --db /var/lib/carelens/index --addr 127.0.0.1:8089
//	curl -s -X POST -H 'Content-Type: application/fhir+json' \
//	  --data @match-request.json 'http://127.0.0.1:8089/Patient/$match'
//
// It listens on loopback by default and logs requests without their
// contents: no demographics reach the log.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/match/badgerstore"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "matchservice:", err)
		os.Exit(1)
	}
}

func run() error {
	db := flag.String("db", "", "index directory (made by carelens index load)")
	addr := flag.String("addr", "127.0.0.1:8089", "listen address")
	flag.Parse()
	if *db == "" {
		flag.Usage()
		return errors.New("--db is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := badgerstore.Open(*db, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	ix, err := match.OpenIndex(ctx, s, nil)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: *addr, Handler: logRequests(NewHandler(ix)), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("matchservice: serving Patient/$match on http://%s", *addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// logRequests logs method, path, status and duration; never bodies.
func logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		t0 := time.Now()
		h.ServeHTTP(sw, r)
		log.Printf("%s %s %d %v", r.Method, r.URL.Path, sw.status, time.Since(t0).Round(time.Microsecond))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
