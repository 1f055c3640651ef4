// Package fhirsource is a small FHIR R4 server over a set of bundles: it
// stands in for a GP practice system, a hospital EHR or a community
// service in tests, benchmarks and the viewer's demo, and shows what a
// site's own FHIR facade over its data needs to answer for CareLens.
//
// The data is a [source.Store], the same index of patients and their
// resources that a folder source reads, so the server and a folder answer
// a search and $everything alike. Build it from a folder
// ([source.LoadStore] over os.DirFS) or from bundles in memory
// ([source.NewStore]): a demo never needs to write clinical data to disk.
//
//	st, err := source.NewStore([]source.File{{Name: "gp.json", Data: bundle}})
//	srv, err := fhirsource.New(st, &fhirsource.Options{Name: "GP practice"})
//	l, err := srv.Listen("127.0.0.1:0") // or use srv as an http.Handler
//	defer l.Close()
//	gp, err := source.Open(source.Config{ID: "gp", Kind: "gp", Type: "fhir", BaseURL: l.URL}, nil)
//
// # Endpoints
//
//   - GET /metadata: a CapabilityStatement.
//   - GET /Patient?identifier=system|value, ?family=...&birthdate=...[&given=...]
//     and _lastUpdated (see [source.Store.Search] for the semantics).
//   - GET /Patient/{id}: one Patient.
//   - GET /Patient/{id}/$everything[?_since=instant]: the Patient and every
//     resource that belongs to them; with _since, only the resources whose
//     meta.lastUpdated is after it (the Patient is always included).
//
// Searches and $everything answer searchset Bundles with total and a self
// link, paged by _count (at most [MaxPageSize]; default [Options.PageSize])
// with next links. Errors are OperationOutcomes: 400 for a parameter the
// server does not support or a malformed value, 404 for an unknown patient
// or path, 405 for methods other than GET and HEAD, 406 when the request
// accepts neither application/fhir+json nor application/json, and the
// injected failures. Every answer is application/fhir+json. Diagnostics
// name parameters, never their values.
//
// # Faults
//
// [Faults] inject latency, jitter, hangs and failures, for every endpoint
// or per [Endpoint], from [Options] at start or with [Server.SetFaults]
// and [Server.SetEndpointFaults] while the server runs; both are safe to
// call while requests are served.
//
// # Non-goals
//
// It is not a general FHIR server: it holds no writes, no other resource
// types to read or search, no _include, no XML, no authentication. Run it
// on loopback (the command's default) or behind something that
// authenticates.
package fhirsource
