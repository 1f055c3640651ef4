// Package match decides which demographic records, from one source or many,
// are the same person, and says why.
//
// The pipeline is normalise → block → score (Fellegi–Sunter) → cluster:
//
//   - A [Preparer] normalises each [Record] once into a compact [Prepared]
//     form (vocabulary ids, Double Metaphone codes, a packed date, the NHS
//     number as an integer), growing term-frequency tables as it goes.
//     [Preparer.Prepare] handles one record, independently of any batch;
//     [Preparer.PrepareAll] does a batch on every core with the same result.
//   - A [Model] is plain data: [Comparison]s with ordered [Level]s (null
//     first, else last, first match wins), m and u per level, the prior,
//     the [BlockingRule]s and the threshold. [Model.WriteJSON] and
//     [ReadModel] save and load it; loading fails on an unknown
//     comparator ([ErrUnknownComparator]).
//   - [Model.Scorer] binds a model to a Preparer. [Scorer.Score] returns a
//     pair's match weight (log2 odds; [Probability] converts it) without
//     allocating, [Scorer.Explain] says why level by level, and
//     [Scorer.AppendBlockingKeys] lists the [BlockKey]s of one record so
//     an index can find candidates incrementally.
//   - [Train] estimates a model from unlabelled records: u from random
//     pairs, m by expectation–maximisation over blocked pairs, the prior
//     from deterministic rules refined by EM, deterministic for a seed.
//   - [Link] runs the whole batch: prepare, train unless a model is given,
//     block, score on every core, and cluster with hard constraints.
//
// # For an incremental index
//
//	p := match.NewPreparer(nil)
//	sc, err := model.Scorer(p)          // after preparing: Scorer is a snapshot
//	a := p.Prepare(&rec)
//	sc, _ = model.Scorer(p)             // cheap; sees records prepared so far
//	keys := sc.AppendBlockingKeys(nil, &a)
//	w := sc.Score(&a, &b)               // match weight; match.Probability(w)
//	why := sc.Explain(&a, &b)
//
// Vocabulary ids are per Preparer and per process: persist the raw
// [Record] and re-prepare it; [BlockKey] hashes are stable and may be
// persisted.
//
// # Invariants
//
//   - Missing, invalid and placeholder values (UNKNOWN, BABY GIRL,
//     1900-01-01, repeated-digit NHS numbers, phones and identifiers shared
//     by more than [PrepareOptions.SharedValueLimit] records) are the null
//     level: they carry no weight and never make a blocking key.
//   - An invalid NHS number is never an identifier match; two different
//     valid NHS numbers never end up in one cluster.
//   - Every candidate pair is scored once however many rules find it, and
//     results do not depend on the number of cores.
//   - Error messages name records by source and id, files by line and
//     field, never by names, dates or identifiers.
//
// # Non-goals
//
// The package knows nothing of FHIR, HTTP or clinical data. It does not
// learn from labels (there are none in practice); accuracy is checked
// against labelled public data in tests.
package match
