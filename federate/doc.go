// Package federate builds one patient's record at view time from every
// source that shares, without holding clinical data: it finds the patient
// at each [source.Source], decides which source records are the same person
// (and says why), asks each of those sources for everything in parallel,
// each with its own timeout, and merges the answers into one source-tagged
// [merge.Timeline] with golden demographics and a clinical summary.
//
// # Identity
//
// [Federation.Resolve] starts from an anchor: a valid NHS number, or one
// source record a person chose. Every source is asked by identifier (when
// the anchor has a valid NHS number) and by family name and birth date, in
// parallel. Each record found is scored against the anchor with the match
// model and graded by its [match.Verdict], the identity index's own
// grading (constraints and evidence rules): a different valid NHS number is never the same person, and name
// and birth date alone are at most "possible". Certain records are used;
// probable and possible ones are returned as pending, with the
// explanation, for a person to confirm or reject; nothing is merged
// silently. Decisions made by people ([Decisions], kept in the identity
// index) outrank the model.
//
// # Clinical data
//
// [Federation.Fetch] asks each used source for everything it holds about
// its record, in parallel, each call bounded by the source's timeout. A
// source that fails or does not answer in time is reported in its
// [SourceStatus] (with a message for a banner) and the record is built
// from the others: a slow source never blocks or breaks the page. The
// answers live only in the returned [View]; nothing is written anywhere.
//
// # Non-goals
//
// Access decisions (who may see which categories, opt-outs, break-glass)
// are [provenance.Policy]'s; the caller passes which sources may be asked
// and filters entries before anything is shown. Rendering is the
// viewer's.
package federate
