// Package linker is CareLens's batch linker on Apache Beam: the linkage of
// match.Link as a Beam pipeline, for files larger than one machine links
// in its memory and time, on any Beam runner (Prism in-process by
// default; Flink, Spark or Dataflow through the portable runner flags).
//
// # Equality with match.Link
//
// The pipeline makes exactly Link's decisions: the same candidate pairs,
// the same weights bit for bit, the same clusters. Every decision is
// match's own, reached through [match.Batch]; this package only moves
// records and pairs between workers. The whole-file statistics the
// decisions read (value frequencies, household evidence, unique name and
// birth-date keys) are the Batch's, which each worker builds once from
// the records side input, so that every worker holds the same.
//
// # Steps
//
//  1. Read: each input file is read by one worker (match/matchio, as
//     carelens link reads it) into rows tagged with their file and place,
//     which fix the input order Link numbers records by.
//  2. Block: each record emits (rule, key, record) for every blocking
//     rule that gives it a key, keyed by the partition of its block
//     ([Options.Partitions] groups, not one per block: a runner pays per
//     group); each group gathers its blocks apart, and each block yields
//     its candidate pairs ([match.Batch.BlockPairs]: oversized blocks by
//     the window, as Link does), keyed by the partition of the pair.
//  3. De-duplicate and score: a pair several rules found meets its copies
//     in its partition and is one candidate; each candidate is weighed
//     and judged ([match.Batch.Score]); linked pairs go on.
//  4. Connected components of the linked pairs: a combine whose
//     accumulator is a union-find over the pairs it has seen, each
//     record's root its component's smallest record. Each worker folds
//     its bundles' pairs into its own union-find (the partial combine),
//     and merge rounds fold union-finds together: merging one union-find
//     into another unions every record with its parent, which keeps
//     every connection, so the merged forest has the components of all
//     the pairs whatever the order of the rounds.
//  5. Cluster: the linked pairs are grouped by the partition of their
//     component, and each component is clustered whole, apart from the
//     others, by [match.Batch.Cluster], Link's clustering
//     with its hard constraints; the argument that this equals Link's
//     global clustering is on that method.
//  6. Write: clusters numbered by their first record, as carelens link
//     writes them; optionally the linked pairs and a JSON result.
package linker
