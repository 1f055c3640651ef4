// Package report renders what a CareLens matching run can say about its
// model, without PHI, as one self-contained HTML page with its charts
// drawn server-side as inline SVG: no script, no external asset, so the
// page opens from disk, travels as an e-mail attachment and can be served
// under a strict Content-Security-Policy (the SVG carries presentation
// attributes only; the page has one style element for its tables).
//
// A [Page] shows:
//
//   - the training report recorded in the model ([match.TrainingSummary]):
//     the weight of every level of every comparison as a bar chart
//     (agreement to the right, disagreement to the left), with how m and
//     u were estimated and the warnings training gave; see
//     [WriteLevelWeights];
//   - the histogram of the scored candidate pairs' match weights with the
//     link threshold marked ([WriteHistogram]);
//   - a waterfall per explained pair: the prior, then each comparison's
//     weight, to the total, against the threshold ([WriteWaterfall]).
//
// The three charts are exported so that a service can embed one alone.
//
// # Invariants
//
//   - Every string is escaped: comparison and level names come from a
//     model file, which may have been written by anyone. Characters XML
//     cannot carry become U+FFFD.
//   - Output is deterministic: the same page gives the same bytes.
//   - Nothing here reads records: a report holds names of comparisons and
//     levels, parameters, counts and the labels the caller gives the
//     explained pairs (record keys, never values).
package report
