// Package merge turns the per-source clinical records of one person into one
// timeline in which every item keeps its sources.
//
// A clinician wants one timeline, not five lists: the haemoglobin result in
// the hospital record and, a day later, in the GP record is shown once with
// both sources on it; real disagreements stay visible; nothing loses where
// it came from.
//
// # Pieces
//
//   - [Entry] is one clinical item (result, medication, allergy, ...) with an
//     effective time and its [Precision], codes, value, dose, text and its
//     [provenance.Lineage].
//   - [Interleave] and [InterleaveSlices] merge per-source streams sorted by
//     [Options.Compare] into one stream, O(n log k): a tournament tree over
//     the streams' heads (up to eight streams, a scan of their packed time
//     keys, cheaper at that size), with a total order for ties (time, source priority,
//     source id, resource type, id and version, then stream index). A stream
//     out of order ends the sequence with [ErrUnsorted]; zero or one stream
//     needs no tree. [Interleave] reads each iter.Seq ahead in batches
//     through a coroutine, one switch per batch rather than per entry.
//   - [Sort] puts one source's entries in merge order and [Pack]s them:
//     their tags, codes and values laid out in blocks in that order.
//   - [MergeSlices], [Merge] and a reusable [Merger] also de-duplicate,
//     giving a [Timeline]: entries that are the same fact by the [Rules]
//     become one entry with the union of their lineages and codes;
//     entries from different sources that report the same item at the same
//     time with different values stay separate and share a [Conflict].
//     [Timeline.At] and [Timeline.All] read the entries in place: an entry
//     the merge did not change is the source's own entry, not a copy.
//   - [Timeline.Filter] and [Timeline.Without] drop sources, for the
//     viewer's source checkboxes; [Combine] adds timelines together.
//   - [Survive] picks golden demographics from [Demographic] records by
//     per-field [Survivorship] rules, each field carrying its lineage.
//
// # Same fact: rules are data
//
// Two entries are the same fact when all of these hold; nothing depends on
// which source an entry came from.
//
//  1. Same category and same concept: a code of one and a code of the other
//     are in one [Concept] of the rules (LOINC, SNOMED CT, Read and local
//     codes mapped as data); an entry none of whose codes the rules map
//     is its own concept, shared with entries that have one of its codes;
//     entries without codes share a display and text, compared ignoring
//     case, spacing and punctuation.
//  2. Close in time: each entry stands for an interval (a day-precision
//     entry for its whole day, a year-precision one for its year), and the
//     gap between the intervals is within the category's [Window].
//  3. Same value: quantities agree after unit conversion ([Unit]; mass and
//     substance concentration through an [Analyte]'s molar mass) within
//     the rounding of the decimals each is written with; coded values agree
//     ignoring case; for medications the structured doses agree. A value
//     only one side reports is no disagreement; a number against a text
//     value is.
//  4. Different sources, or identical content: entries of one source are
//     merged only when identical apart from lineage (a re-sent record),
//     never as near duplicates.
//
// The clustering is a sweep in timeline order: each entry joins the closest
// earlier merged entry of its concept within the window that it agrees with
// entirely (every member, since agreement within rounding is not
// transitive), or starts a new one. Candidates are found through an index by
// concept holding only the merged entries still inside a window, never by
// comparing all pairs. A cross-source candidate that disagrees becomes a
// conflict, unless a source on the entry's side also holds the other value
// (that source measuring again is not a disagreement between sources).
//
// # Performance
//
// A merge reads each entry once, stream by stream, into a flat array of
// small keys (packed time, interval, concept and source numbers, a copy of
// the value). A parser allocates each entry's tags, codes and values
// separately, so in time order they lie scattered and every entry is a
// cache miss; [Sort] therefore packs each stream, which it does once per
// source as the source's response arrives, off the path of the merge that
// waits for every source. Unpacked streams merge correctly, with their
// scattered memory loaded ahead in blocks. Codings packed to one copy are
// recognised by address, without hashing. The k-way merge and the sweep
// then compare keys, not entries; tags are read only to break ties between
// entries of one source. The timeline built holds pointers to the entries
// it shows unchanged and builds only merged entries and those in conflict.
// With [Options.Workers] above one (the default is up to two), the keys and
// the output are computed by several goroutines, each over its own share;
// what depends on earlier entries (numbering sources and uncoded concepts)
// is settled in one ordered pass, so the result is the same for any number
// of workers.
//
// # Invariants
//
//   - Output is sorted by [Options.Compare] and deterministic: it does not
//     depend on core count or map iteration, nor on the order of the input
//     streams unless two entries share their lead tag (then the lower stream
//     index goes first).
//   - Every input tag is in exactly one merged entry's lineage, and each
//     merged entry's lineage is the union of its members' ([Timeline.Members]).
//   - A Timeline keeps its input streams (by reference), so [Combine] of
//     timelines equals merging all their streams at once (merging is
//     associative in outcome) and [Timeline.Filter] equals merging the kept
//     sources afresh: a conflict whose other side was dropped disappears,
//     and no wording of a dropped source survives.
//   - No error message holds clinical or personal data: errors name stream
//     indexes, positions and source ids.
//
// # Non-goals
//
// The package does not parse FHIR (fhirutil maps resources to entries), does
// not decide who may see what (the sharing policy above it does, with
// [Timeline.Filter] for what it withholds by source), does not link
// records to people (package match does; merge does not import it), and
// does not resolve conflicts: it shows them.
package merge
