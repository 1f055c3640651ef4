package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/match"
)

// auditRecord is what one request's audit line says. It holds no value
// from the request: the names of the fields supplied, not their values.
type auditRecord struct {
	start time.Time
	// who is the caller (token holder or certificate name), via how they
	// proved it.
	who, via string
	// query is set for $match requests.
	query       bool
	fields      []string
	onlyCertain bool
	count       int
	// ids are keyed hashes of the identifiers asked for, when the
	// service has an audit key.
	ids []string
	// persons and grades are the candidates returned, in order: the
	// enterprise person ids (CareLens's own ids, not a source's).
	persons []string
	grades  []match.Grade
	// problem is a short, value-free reason for a failure.
	problem string
}

// audit writes the request's audit line.
func (h *Handler) audit(r *http.Request, status int, a *auditRecord) {
	attrs := []slog.Attr{
		slog.String("who", a.who),
		slog.String("auth", a.via),
		slog.String("remote", r.RemoteAddr),
		slog.String("method", r.Method),
		slog.String("path", safePath(r.URL.Path)),
		slog.Int("status", status),
		slog.Float64("ms", float64(time.Since(a.start).Microseconds())/1000),
	}
	if a.query && a.fields != nil {
		grades := map[match.Grade]int{}
		for _, g := range a.grades {
			grades[g]++
		}
		var gs []string
		for _, g := range []match.Grade{match.GradeCertain, match.GradeProbable, match.GradePossible} {
			if grades[g] > 0 {
				gs = append(gs, string(g)+":"+strconv.Itoa(grades[g]))
			}
		}
		attrs = append(attrs,
			slog.String("fields", strings.Join(a.fields, ",")),
			slog.Int("count", a.count),
			slog.Bool("onlyCertain", a.onlyCertain),
			slog.Int("candidates", len(a.persons)),
			slog.String("grades", strings.Join(gs, ",")),
			slog.String("persons", strings.Join(a.persons, ",")),
		)
		if len(a.ids) > 0 {
			attrs = append(attrs, slog.String("idHashes", strings.Join(a.ids, ",")))
		}
	}
	if a.problem != "" {
		attrs = append(attrs, slog.String("problem", a.problem))
	}
	h.o.Audit.LogAttrs(r.Context(), slog.LevelInfo, "matchservice request", attrs...)
}

// safePath is the path for the log: itself when it is one of the
// service's, else its length only (a stranger's path could hold anything).
func safePath(p string) string {
	if p == "/Patient/$match" || p == "/metadata" {
		return p
	}
	return "(other path, " + strconv.Itoa(len(p)) + " bytes)"
}

// hashIdentifiers returns HMAC-SHA256(AuditKey, system "|" value), first
// 16 bytes in hex, of each identifier of rec, or nil without a key.
func (h *Handler) hashIdentifiers(rec match.Record) []string {
	if len(h.o.AuditKey) == 0 {
		return nil
	}
	var out []string
	sum := func(system, value string) {
		m := hmac.New(sha256.New, h.o.AuditKey)
		m.Write([]byte(system))
		m.Write([]byte{'|'})
		m.Write([]byte(value))
		out = append(out, hex.EncodeToString(m.Sum(nil)[:16]))
	}
	if rec.NHSNumber != "" {
		sum(fhirutil.NHSNumberSystem, rec.NHSNumber)
	}
	for _, id := range rec.Identifiers {
		sum(id.System, id.Value)
	}
	return out
}
