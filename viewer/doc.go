// Package viewer is CareLens's reference viewer: an http.Handler that lets
// a signed-in clinician find one patient and see their record drawn live
// from every source that shares, merged into one source-tagged timeline.
// It is a thin consumer of the library: [federate] finds the patient and
// fetches and merges the sources, [merge] owns the timeline, [fhirutil]
// writes the FHIR API, and this package wires them to pages.
//
// # What it holds
//
// Nothing clinical outlives a request. Sessions (who is signed in) and,
// per session, the identity resolution of recently opened patients
// (demographics and record references only, for a few minutes) are kept
// in memory. A person's confirmation that two records are the same
// patient is kept in the identity index, when one is configured.
//
// # One place for every request
//
// Every page and API call but GET /healthz, the sign-in page and static
// assets passes through [Server.authorise]: it knows the user (and their
// organisation and role) and, for patient pages, the patient. Access
// policy and audit hook in there. Every response carries a strict
// Content-Security-Policy (no script at all: the pages work without
// JavaScript), frame-ancestors 'none', nosniff and no-referrer; patient
// pages are never cached.
package viewer
