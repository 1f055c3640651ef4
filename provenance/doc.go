// Package provenance says where every piece of CareLens data came from.
//
// It sits at the bottom of the module: [match], [merge] and fhirutil all
// import it, and it imports only the leaf package nhsnumber (one NHS
// number check for the policy's opt-outs and the matcher alike).
//
// # Types
//
//   - [Source] is one organisation's system that shares data: the acute
//     hospital's EHR, a GP practice system, a community or mental-health
//     service. It has a stable id, an organisation code (an ODS code in
//     England), a [Kind] and a display name.
//   - [Tag] records one assertion by a source: which resource (type, id,
//     version) said it, when the source asserted it and when CareLens
//     retrieved it.
//   - [Lineage] is the set of tags behind one merged item. A fact reported by
//     the hospital and the GP carries two tags. Lineage is an immutable value:
//     copying it copies a slice header, [Lineage.Has] tests membership of a
//     source without allocating, and [Lineage.Union] returns a new value.
//   - [Tagged] pairs any value with its lineage.
//
// # Invariants
//
// A Lineage's tags are kept in [CompareTag] order with exact duplicates
// removed, so two lineages holding the same tags are [Lineage.Equal] however
// they were built, and merging is order-independent.
//
// # Non-goals
//
// [Policy] says, as data, who may see which categories from which sources,
// which patients opted out of sharing where, and which records open only
// by break-glass; the viewer enforces its decisions item by item. This
// package holds no clinical or demographic data itself, and the policy has
// deliberately no switch for the national data opt-out, which covers
// research and planning, not direct care.
package provenance
