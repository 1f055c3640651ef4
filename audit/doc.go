// Package audit is CareLens's access log: a record of every look at a
// patient's record and of every sign-in, kept so that it cannot be changed
// unnoticed.
//
// A [Log] lives in an embedded Badger store (Badger stays behind this
// package). [Log.Append] records an [Event] and returns its sequence
// number only once the entry is synced to disk, so a viewer that appends
// before it answers, and fails the request when Append fails, never shows
// a record it has not accounted for. Concurrent appends are committed
// together, in one sync.
//
// # Integrity
//
// Entries are numbered from 1 without gaps. Each entry carries an
// HMAC-SHA256, under a key from the site's configuration (at least
// [MinKeyLen] bytes), over the format version, its sequence number, the
// previous entry's MAC and its bytes: a hash chain that only the key
// holder can extend. A head record, MAC'd too, names the last entry and
// its MAC, so entries cut from the end are detected as well. [Log.Verify]
// walks the chain and names the first bad entry in a *[VerifyError]
// (wrapping [ErrTampered]) for any single-byte change, deletion,
// insertion, reordering or truncation. It also checks the indexes behind
// [Log.Events] and [Log.Alerts] against the entries.
//
// What the chain cannot detect on its own: the key holder rewriting the
// whole log, the store deleted outright, or an older copy of the whole
// store (entries and head together) put back in place of the current one.
// [Log.Head] gives the last sequence number and MAC, and `carelens audit
// verify` prints them, for a site to copy elsewhere from time to time as
// a checkpoint that a later head must extend.
//
// # Reading
//
// [Log.Events] lists entries by patient ("who saw my record"), by user or
// by time, each checked against its MAC as it is read. [Log.Alerts] lists
// the break-glass starts not yet reviewed; [Log.ResolveAlert] records a
// review as a new entry, so that the log stays append-only. [Log.Export]
// writes entries as FHIR R4 AuditEvents in the IHE BALP shape, through
// fhirutil.
//
// Open a store with [Options.ReadOnly] to verify or export: it never
// writes and never creates a missing store. Badger allows one process to
// hold a store open for writing and then no reader, so verify a live
// viewer's log through the viewer, or stop it first.
//
// # What the log holds
//
// Identity data (user, organisation, role, the patient's NHS number or
// enterprise id, the client's address) and what was withheld from whom,
// by category and count. Never clinical values: no item text, codes or
// results. The only free text is the user's own statement when breaking
// glass and a reviewer's note. Error messages name sequence numbers and
// fields, never patient values.
//
// # Non-goals
//
// The package knows nothing of HTTP, sessions or pages; it does not
// decide access (that is provenance.Policy) and does not repair a damaged
// store: a store that fails its checks on [Open] is reported, and its
// entries are left as they are for investigation.
package audit
