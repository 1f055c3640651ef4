// Package mpi is CareLens's persistent identity index (a master patient
// index): source records, identity data only, kept in a [Store] and each
// assigned to an enterprise person, incrementally.
//
// [Index.Add] prepares a record with the index's [match.Matcher] (one
// preparation, the model's comparisons and blocking keys) and compares it
// only with the records sharing one of its blocks. Every pair is graded
// by [match.Verdict.Grade], the grading the batch linker's constraints,
// [match.Scorer.Explain] and the viewer share: a pair links automatically
// only at the certain grade, with no hard constraint (twins, generational
// suffixes, household members, a borrowed identifier, name and birth date
// alone). An index given no model uses [match.DefaultModel], saved with its
// first record.
//
// [Index.Query] answers with ranked [Candidate]s graded as FHIR $match
// grades them. People's [Decision]s ([Index.Link], [Index.NeverLink])
// outrank the model. Every change is an [Event] in a log a consumer can
// follow ([Index.Events]); merges and splits can be reverted
// ([Index.Revert]) and merged-away person ids resolve to their survivor
// ([Index.Resolve]).
//
// [Store] is a small ordered key-value interface with transactions.
// mpi/badgerstore is the durable embedded store, mpi/pgstore the one over
// PostgreSQL and compatible databases, [NewMemoryStore] serves tests, and
// mpitest.RunStore checks any other. Several processes may serve one index
// over a [SharedStore] (pgstore): each catches up with the others' writes,
// from the event log, before it answers or writes ([Index.Refresh]).
package mpi
