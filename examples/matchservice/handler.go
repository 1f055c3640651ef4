package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/match"
)

// PersonSystem is the identifier system under which each returned Patient
// carries its CareLens enterprise person id.
const PersonSystem = "urn:carelens:person"

// maxRequest bounds the size of a $match request body.
const maxRequest = 1 << 20

// defaultCount is how many candidates are returned when the request gives
// no count.
const defaultCount = 10

// NewHandler returns the HTTP handler of the service: POST
// /Patient/$match over ix.
func NewHandler(ix *match.Index) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/Patient/$match", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			outcome(w, http.StatusMethodNotAllowed, "not-supported", "Patient/$match takes POST")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequest))
		if err != nil {
			outcome(w, http.StatusRequestEntityTooLarge, "too-long", "request body too large")
			return
		}
		req, err := fhirutil.ParseMatchRequest(body)
		if err != nil {
			// fhirutil's errors name paths and kinds, never values.
			outcome(w, http.StatusBadRequest, "invalid", err.Error())
			return
		}
		count := req.Count
		if count <= 0 {
			count = defaultCount
		}
		cands, err := ix.Query(r.Context(), req.Record, count)
		if err != nil {
			outcome(w, http.StatusInternalServerError, "exception", "the index could not be searched")
			return
		}
		out := make([]fhirutil.Candidate, 0, len(cands))
		for _, c := range cands {
			if req.OnlyCertainMatches && c.Grade != match.GradeCertain {
				continue
			}
			rec, err := ix.Record(r.Context(), c.Record)
			if errors.Is(err, match.ErrNotFound) {
				continue // deleted since the query
			}
			if err != nil {
				outcome(w, http.StatusInternalServerError, "exception", "the index could not be read")
				return
			}
			rec.Identifiers = append(rec.Identifiers, match.Identifier{System: PersonSystem, Value: c.Person})
			out = append(out, fhirutil.Candidate{Record: rec, Score: c.Probability, Grade: c.Grade})
		}
		b, err := fhirutil.MatchResponse(out)
		if err != nil {
			outcome(w, http.StatusInternalServerError, "exception", "the response could not be written")
			return
		}
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write(b)
	})
	return mux
}

// outcome writes an OperationOutcome with one error issue. diagnostics
// must hold no PHI.
func outcome(w http.ResponseWriter, status int, code, diagnostics string) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"resourceType": "OperationOutcome",
		"issue": []any{map[string]any{
			"severity":    "error",
			"code":        code,
			"diagnostics": diagnostics,
		}},
	})
}
