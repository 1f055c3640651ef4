// Package merge turns the per-source clinical records of one person into one
// timeline in which every item keeps its sources.
//
// A clinician wants one timeline, not five lists: the haemoglobin result in
// the hospital record and, a day later, in the GP record is shown once with
// both sources on it; disagreements stay visible; nothing loses its source.
//
// # Pieces
//
//   - [Entry] is one clinical item with an effective time and its
//     [Precision], codes, value, dose, text and [provenance.Lineage].
//   - [Compile] checks [Options] (source priority, [Rules], an optional
//     [Resolver]) once into an [Engine], which every merge, filter and
//     combine reuses; it is safe for concurrent use.
//   - [Engine.Sort] puts one source's entries in the timeline order
//     ([Engine.Compare]); [Engine.MergeSlices] merges and de-duplicates
//     sorted streams into a [Timeline]; [Engine.Interleave] is the k-way
//     merge alone, over iter.Seq streams; [Engine.Concept] and
//     [Engine.Convert] answer from the same rules (a trend chart).
//   - [Timeline.Filter] and [Timeline.Without] drop sources (the viewer's
//     source checkboxes); [Engine.Combine] adds timelines together.
//   - [Survive] picks golden demographics from [Demographic] records by
//     per-field [Survivorship] rules, each field carrying its lineage.
//
// # Same fact
//
// Two entries are the same fact when all of these hold; nothing depends on
// which source an entry came from.
//
//  1. Same category and concept: a code of each is in one [Concept] of the
//     rules (LOINC, SNOMED CT, Read and local codes mapped as data);
//     entries whose codes the rules do not map are one concept when a chain
//     of such entries, each sharing a code with the next, joins them;
//     entries without codes share their display and text, compared
//     ignoring case, spacing and punctuation.
//  2. Close in time: each entry stands for an interval (a day-precision
//     entry for its whole day, a year-precision one for its year), and the
//     gap between its interval and that of the merged entry's first member
//     is within the category's [Window].
//  3. Same value: quantities agree after unit conversion ([Unit]; mass and
//     substance concentration through an [Analyte]'s molar mass) within
//     the rounding of the decimals each is written with; coded values agree
//     ignoring case; for medications the structured doses agree. A value
//     only one side reports is no disagreement; a number against a text
//     value is.
//  4. Different sources, or identical content: entries of one source are
//     merged only when identical apart from lineage (a re-sent record).
//
// Distinct items never collapse: an entry without a time, or without codes
// and text (a CarePlan, Claim or ImagingStudy that the mapper gives only its
// type name), is its own item, merged only with an identical copy of the
// same resource (same source, type and id). Which resource types belong on
// a clinical timeline is the mapper's decision (fhirutil); billing
// resources (Claim, ExplanationOfBenefit, Coverage) are not clinical items,
// and merge keeps whatever it is given apart rather than guess.
//
// A [Resolver] in the options sees every pair the rules consider, with the
// rules' [Verdict], and may return its own: a site adds a rule without
// forking the package.
//
// # The sweep
//
// The engine reads every entry once into a small item (order key, interval,
// concept, sources), then places the items in timeline order, a k-way merge
// of the streams (a tournament tree of their heads, O(n log k)): each joins the
// closest merged entry it may join, among those of its concept still within
// a window, or starts a new one; a merged entry of another source that
// disagrees is a conflict, unless a source on the item's side also holds the
// other value (that source measuring again). The entry from the most trusted
// source, then the finest time, then one with a value represents a merged
// entry, whose lineage and codes are the union of its members'.
//
// # Invariants
//
//   - Output is sorted by [Engine.Compare] and deterministic: it does not
//     depend on map iteration, nor on the order of the input streams unless
//     two entries share their lead tag (then the lower stream goes first).
//   - Every input tag is in exactly one merged entry's lineage, and each
//     merged entry's lineage is the union of its members' ([Timeline.Members]).
//   - A Timeline keeps its input streams (by reference), so [Engine.Combine]
//     of timelines equals merging all their streams at once and
//     [Timeline.Filter] equals merging the kept sources afresh.
//   - The engine agrees with a naive O(n^2) reading of this documentation
//     (oracle_test.go).
//   - No error message holds clinical or personal data: errors name stream
//     indexes, positions and source ids.
//
// # Non-goals
//
// The package does not parse FHIR (fhirutil maps resources to entries), does
// not decide who may see what (the sharing policy does, with
// [Timeline.Filter] for what it withholds by source), does not link records
// to people (package match does; merge uses only its normalisers, so that
// golden demographics compare values as matching does), and does not
// resolve conflicts: it shows them.
package merge
