// Command fhirsource serves a folder of FHIR R4 bundles as a FHIR server,
// standing in for a GP practice system, a hospital EHR or a community
// service (see package [fhirsource] for the endpoints):
//
//	fhirsource --dir ./out/gp --addr 127.0.0.1:8091 --source-id gp
//	curl -s 'http://127.0.0.1:8091/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018'
//
// --latency, --jitter, --fail-rate and --fail-status inject faults into
// every endpoint, for trying how a viewer copes with a slow or failing
// source. It listens on loopback by default and logs method, path, status
// and duration, never query strings or bodies. SIGHUP reads the folder
// again.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/carelens/carelens/examples/fhirsource"
	"github.com/carelens/carelens/source"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	if err := run(ctx, os.Args[1:], hup, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fhirsource:", err)
		os.Exit(1)
	}
}

// run parses args, serves until ctx ends, and reads the folder again on
// every value from reload.
func run(ctx context.Context, args []string, reload <-chan os.Signal, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fhirsource", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "folder of R4 JSON files (*.json bundles or resources, *.ndjson)")
	addr := fs.String("addr", "127.0.0.1:8091", "listen address")
	id := fs.String("source-id", "", "name of the system in the CapabilityStatement and the log (e.g. gp)")
	pageSize := fs.Int("page-size", 0, fmt.Sprintf("default searchset page size (0 means %d)", fhirsource.DefaultPageSize))
	var f fhirsource.Faults
	fs.DurationVar(&f.Latency, "latency", 0, "delay every answer by this much")
	fs.DurationVar(&f.Jitter, "jitter", 0, "add a random delay up to this much")
	fs.Float64Var(&f.FailRate, "fail-rate", 0, "share of requests answered with --fail-status, 0 to 1")
	fs.IntVar(&f.FailStatus, "fail-status", 500, "status of failed requests (5xx)")
	fs.BoolVar(&f.Hang, "hang", false, "never answer (until the client gives up)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("--dir is required, and there are no arguments")
	}
	st, err := source.LoadStore(os.DirFS(*dir), 0)
	if err != nil {
		return err
	}
	name := *id
	if name == "" {
		name = "fhirsource"
	}
	srv, err := fhirsource.New(st, &fhirsource.Options{Name: name, PageSize: *pageSize, Faults: f})
	if err != nil {
		return err
	}
	logger := log.New(stderr, name+": ", log.LstdFlags)
	l, err := fhirsource.Listen(*addr, logRequests(srv, logger))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: serving %d patients on %s\n", name, st.Len(), l.URL)
	for {
		select {
		case <-ctx.Done():
			return l.Close()
		case <-reload:
			st, err := source.LoadStore(os.DirFS(*dir), 0)
			if err != nil {
				logger.Printf("reload failed, still serving the previous data: %v", err)
				continue
			}
			srv.SetStore(st)
			logger.Printf("reloaded: %d patients", st.Len())
		}
	}
}

// logRequests logs method, path, status and duration; never query strings
// (they hold identifiers and names) or bodies.
func logRequests(h http.Handler, logger *log.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		t0 := time.Now()
		h.ServeHTTP(sw, r)
		logger.Printf("%s %s %d %v", r.Method, r.URL.Path, sw.status, time.Since(t0).Round(time.Microsecond))
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
