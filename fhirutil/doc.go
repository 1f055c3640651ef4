// Package fhirutil is where CareLens meets FHIR R4: it is the only package
// that imports github.com/google/fhir/go, and it turns R4 JSON into the
// domain types of [match] and [merge] and back.
//
// # In
//
// [Decode] (and [Read]) accept one resource, a Bundle of any type (nested
// Bundles, as in a batch-response, are opened) or NDJSON. Bundles are
// split into entries with encoding/json, which keeps each resource's bytes
// without decoding them; the resources are then decoded by jsonformat on a
// pool of workers reusing their unmarshallers, so each resource is decoded
// exactly once. [Batch.Entries] maps clinical resources to [merge.Entry]
// values, each tagged with a [provenance.Tag] (source, type, id,
// meta.versionId, meta.lastUpdated as Asserted, retrieval time).
// [Batch.Patients] and [ReadPatients] map Patients to [match.Record]
// values; [Resource.Record] documents what is kept.
//
// # Entries without decoding what they do not use
//
// Most of a Synthea bundle is resources CareLens does not map to a
// clinical category (ExplanationOfBenefit and Claim alone are half to
// two thirds of the bytes; CarePlan, Goal, Organization, Practitioner...):
// each becomes a CategoryOther entry carrying only its type, id,
// meta.versionId, meta.lastUpdated, meta.source and status. A caller that
// wants entries sets [Options.SkimUnmapped], and those resources are then
// skimmed instead of decoded: one pass over their bytes checks JSON syntax
// and UTF-8 and reads those six elements, each checked as jsonformat
// checks it (an R4 resource type, the id pattern, an instant with an
// offset, a code of the type's status value set). Anything the skim is not
// sure of (a null or empty value, an escaped, capitalised or repeated key,
// a fraction finer than a microsecond, an unknown status code) sends the
// resource to jsonformat, so a skimmed entry is always the entry a full
// decode would give (tested on every shared file, on every status code of
// every type, and by FuzzSkim).
//
// What the entries path does not validate: the other elements of a
// skimmed resource. jsonformat would reject a Claim with an unknown
// element or a malformed date; skimmed, it is kept as its CategoryOther
// entry and no issue is reported. [Resource.Skimmed] tells such a
// resource apart, and [Resource.JSON] decodes it in full (strictly, or
// leniently if it was skimmed in lenient mode) and returns the issues a
// full decode reports, by resource type, id and JSON path. Observations,
// DiagnosticReports, medications, allergies, conditions, procedures,
// immunisations, encounters, referrals, documents, Patients, Medications,
// Provenances and Bundles are always decoded and checked in full.
//
// Without SkimUnmapped (the default), and whenever [Options.Validate] is
// set, every resource is decoded and checked: `carelens fhir check`,
// [ReadPatients], and anything that validates or re-marshals work this
// way, so the STU3 bundle in the shared invalid data is rejected resource
// by resource as before.
//
// # Out
//
// [TimelineBundle] writes a merged timeline as a collection Bundle with a
// Provenance per entry; [LinkedPatients] writes the records of one person
// with Patient.link; [MatchResponse] and [ParseMatchRequest] implement the
// two halves of Patient/$match; [AuditEventJSON] records an access. Every
// resource written is built through the validating unmarshaller, so what
// CareLens writes is valid R4.
//
// # Errors and lenient mode
//
// A bad resource is reported as a [*ResourceError] (location in the input,
// type, id, JSON path, a description from jsonformat) and skipped; the rest
// of the input is kept. Error messages never hold values from the input:
// jsonformat's diagnostics, which quote values, are read only to classify
// a finding and are then dropped. With [Options.Validate], findings of
// jsonformat's extended validation (a missing required element, a
// reference to the wrong type) are reported with the resource kept.
//
// jsonformat rejects a whole resource for one unknown element. With
// [Options.Lenient], CareLens decodes the rejected resource into a
// generic map, drops each element jsonformat points at (unknown elements,
// invalid values), and retries, at most four rounds; each repair is
// reported as a kept issue. A resource type R4 does not define is kept as
// a stub with its type, id and meta.
//
// # Hostile input
//
// Every resource's bytes are prescanned before jsonformat sees them (one
// pass, which also strips whitespace): objects and arrays nested deeper
// than [MaxDepth] (64, counted from the top of the input), or nested
// bytes over [MaxNestedBytes] (jsonformat holds a copy of an element's
// bytes at each level it is nested in), skip the resource with an
// [ErrTooDeep] issue giving its location, type, id, the top-level element
// and the byte offset, in both modes. A Patient with extensions 4,900
// deep used to take 2 GB to decode; it now takes 38 MB (peak RSS, with
// the test binary) and is reported. A nested Bundle over the limits is
// opened and its entries decoded one by one.
//
// The same pass finds keys an object repeats (which JSON decoders,
// jsonformat included, resolve silently by keeping the last: a Patient's
// first identifier array, with its NHS number, was dropped). Strict mode
// skips such a resource with an [ErrDuplicateKey] issue naming the JSON
// path and byte offset; lenient mode keeps the last value and reports
// each repeat. A syntax error that makes the whole input unreadable
// (a truncated Bundle) gives its byte offset and the entry it is in.
//
// A dateTime with a time of day but no offset ("2020-06-01T10:00:00") is
// not valid R4. Strict mode rejects the resource with [ErrMissingOffset];
// lenient mode reads the time as UTC (appending "Z", and ":00" when the
// seconds are missing) and reports it.
//
// # Performance
//
// jsonformat costs about ten times a generic JSON decode, and it re-reads a
// resource's bytes once per nesting level. [Decode] therefore (1) splits a
// Bundle with one structural scan instead of letting jsonformat re-read
// the whole Bundle at the Bundle and entry levels, (2) strips the
// whitespace between tokens before jsonformat sees a resource (Synthea
// bundles are 60% indentation), (3) skips extended validation unless
// asked, (4) decodes resources on a pool of workers, each reusing its
// unmarshaller, and (5) with [Options.SkimUnmapped], does not decode the
// resources whose entries need only their type, id and meta (see above).
// The workers help only when a core is free; (1), (2) and (5) save CPU
// time and hold whatever the machine's load.
//
// BenchmarkBundleDecodeInterleaved compares, on the shared Synthea
// bundles, in one run and under the same load: encoding/json into maps,
// plain jsonformat decoding the whole bundle on one goroutine, and
// fhirutil producing entries and records (Decode with SkimUnmapped, then
// Entries and Patients), plus fhirutil decoding every resource
// (fhirutil-full) and with validation. It reports MB/s, resources/s, CPU
// time per variant and the speed-up over plain jsonformat in wall time
// (fhirutil/jsonformat-x) and CPU time (jsonformat-cpu/fhirutil-cpu-x):
//
//	go test -run XXX -bench BundleDecode -benchtime 10x -count 1 ./fhirutil/
//
// Measured on the 2-core shared machine (loaded by other work), the
// entries path is 3.5-5.5x plain jsonformat on the claim-heavy bundles
// (Casimira, Kermit: 2.7-3.6x in CPU time) and 1.3-2.3x on Clemente
// (1.3-1.9x in CPU time), where Observations, which are decoded in full,
// are 60% of jsonformat's work; a full decode (fhirutil-full) is 1.0-2.2x.
// The next lever on such bundles would be decoding only the elements an
// entry reads from mapped types too, at the cost of not validating the
// others.
//
// # Invariants
//
//   - One time zone: every unmarshaller is built with [TimeZone] (UTC),
//     so a date always maps to the same instant, and every time CareLens
//     returns is in UTC.
//   - Output order follows input order whatever the number of workers.
//   - No PHI in errors: see above.
//
// # Non-goals
//
// fhirutil does not match, merge or decide access (that is [match], [merge]
// and the provenance policies); it does not talk HTTP; it reads R4 only (STU3
// and R5 payloads are rejected, R5-only elements survive in lenient mode
// only by being dropped). [Decode] and [Read] hold the whole input in
// memory; [Stream] decodes a Bundle or NDJSON from a reader a chunk at a
// time (`carelens fhir check` peaks at 143 MB RSS on a 210 MB Bundle,
// where Read took 2 GB), and [ReadEntries] gives a reader's entries
// without holding its resources (`carelens timeline`: 336 MB on the same
// file, 1,549 MB before).
package fhirutil
