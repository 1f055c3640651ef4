// Package benchmarks generates synthetic multi-source patient cohorts with
// known truth, and scores linkage results against truth. It is how
// CareLens measures matching quality and speed; nothing in the library
// imports it.
//
// # The generator
//
// [Synth] writes one CSV file per source, DIR/<source>.csv, with the
// header [SourceHeader]
//
//	record_id,nhs_number,given,family,birth_date,sex,address,postcode,phone,email
//
// and DIR/truth.csv, source,record_id,person_id, covering every record
// exactly once (in person order). Record ids are source-local ("GP04829174",
// "HOS00318822"): a keyed permutation of a per-source counter, so they
// reveal neither the person nor the order of generation; rows are emitted
// through a 4,096-row random window per source, so neighbouring rows are
// not neighbouring people (the order is shuffled locally, not globally).
//
// People are generated one at a time from a PCG stream seeded by (seed,
// person index), and each record from a stream seeded by (seed, person,
// source), so the same [SynthOptions] give byte-identical files and
// memory does not grow with the cohort. A person is:
//   - sex (51 % female) and a birth date drawn from a UK-like age pyramid
//     (ages 0–99, relative to 1 January 2025);
//   - a family name from data/surnames.csv (about 240 common UK surnames
//     with plausible frequencies per 100,000 people, Smith ≈ 1.3 %,
//     together about a quarter of people) or else from a synthetic long
//     tail of about 19,000 names (place-name compounds, Mc/Mac and O'
//     names, syllable names) whose frequencies fall from about 40 to 1
//     per 100,000;
//   - a given name from data/given_names.csv by sex and birth decade
//     (Margaret peaks in the 1940s, Olivia in the 2010s), loosely tied to
//     the surname's naming tradition, 6 % from a synthetic rare tail;
//   - a valid NHS number, distinct per person: ten digits with the
//     modulus-11 check digit of [nhsnumber.CheckDigit], never a repdigit,
//     from the issued ranges 400 000 000 0–499 999 999 9 and
//     600 000 000 0–708 800 001 9;
//   - an address "12 Church Lane, Leeds" (8 % "Flat 3, …") with a UK
//     postcode of the town's area ("LS6 2QT"); a mobile (85 % of those
//     aged 12 or over) or a landline with the town's dialling code, or no
//     phone; an email derived from the names for 55 % of adults, on
//     reserved example domains.
//
// Twins: persons 2k and 2k+1 are twins with probability TwinRate
// (default [DefaultTwinRate], 3 % of people): same surname, birth date,
// address and phone, different given names, own NHS numbers. Lookalikes:
// with probability LookalikeRate (default [DefaultLookalikeRate], 0.5 %) a
// person takes the given name, family name, sex and birth date of an
// unrelated earlier person, preferably one with a common surname, but
// keeps everything else. Both are distinct persons in the truth; both are
// what must not be merged.
//
// # Sources and the error model
//
// Each source has a [SourceProfile]: the probability a person is present,
// the probability of a second registration of the same person (a
// duplicate inside the source, with independent errors), formatting
// habits (names and address in capitals, NHS numbers written 3-3-4; in
// every source 5 % of postcodes lose their space, 20 % of addresses
// abbreviate the street kind, "Church Rd", and phones come in several
// layouts; formatting is not an error) and [ErrorRates], all per record.
// Defaults, from [DefaultProfile]:
//
//	                    gp      hospital  community  (other names)
//	present             0.95    0.45      0.20       0.50
//	duplicate           0.015   0.04      0.03       0.03
//	given-name typo     0.01    0.03      0.02       0.025
//	family-name typo    0.01    0.03      0.02       0.025
//	nickname / alias    0.02    0.05      0.08       0.06    (of names with an alias)
//	given/family swap   0.002   0.01      0.005      0.007
//	married/hyphenated  0.03    0.06      0.05       0.05    (of women 18+)
//	day/month swapped   0.003   0.01      0.006      0.008   (of dates with day ≤ 12 ≠ month)
//	year off by one     0.002   0.008     0.005      0.006
//	placeholder name    0.0005  0.005     0.002      0.003   (UNKNOWN UNKNOWN; BABY <family> under one)
//	placeholder date    0.0005  0.004     0.002      0.003   (1900-01-01)
//	NHS number missing  0.02    0.10      0.15       0.12
//	NHS number mistyped 0.003   0.01      0.006      0.008   (always fails the check digit)
//	another's NHS no.   0.001   0.003     0.002      0.0025  (valid; a twin's half the time for twins)
//	given missing       0.001   0.005     0.003      0.004
//	family missing      0.0005  0.003     0.002      0.0025
//	birth date missing  0.001   0.003     0.004      0.0035
//	sex missing         0.002   0.01      0.02       0.015
//	address missing     0.01    0.03      0.05       0.04    (address and postcode)
//	moved address       0.08    0.15      0.20       0.17    (new address and postcode; a landline may go too)
//	phone missing       0.15    0.25      0.20       0.22    (of people with a phone)
//	email missing       0.30    0.60      0.50       0.55    (of people with an email)
//
// Errors on one field exclude each other (see [ErrorRates]), so every rate
// is exactly the probability of that error among the records it can apply
// to. SynthOptions.ErrorScale multiplies them all.
//
// With the defaults a person has on average 0.95·1.015 + 0.45·1.04 +
// 0.20·1.03 ≈ 1.64 records over gp, hospital and community: one million
// people give about 1.64 million records and about 0.78 million true
// pairs. About 2 % of people (0.05·0.55·0.80) appear in no source and
// are absent from the files.
//
// # The evaluation
//
// [ReadTruth] reads truth in any of the layouts of [TruthFormat], detected
// from the header: the generator's source,record_id,person_id; a two-
// column record_id,entity_id; FEBRL and OpenCR data files whose rec_id
// encodes the entity (several files allowed, each file's name being its
// source); and true-pairs files, joined into entities by union-find.
// [ReadClusters] reads source,record_id,cluster_id or record_id,cluster_id.
// [Evaluate] returns [Metrics]: pairwise precision, recall and F1, the
// counts of true pairs, false merges and missed pairs, and B-cubed
// precision, recall and F1. Pair counts are sums of n·(n−1)/2 over the
// cells of the cluster × entity contingency table, never an enumeration of
// pairs, so millions of records take seconds. [EvalOptions.CrossSourceOnly]
// keeps only pairs whose records come from different sources (FEBRL4:
// dataset4a against dataset4b).
//
// Truth records missing from the clusters are scored as singleton
// clusters, so their true pairs count as missed. Clustered records the
// truth does not know are counted and left out, except with true-pairs
// truth, which cannot list singletons: there they are singleton entities.
//
// # Invariants
//
//   - Same options and seed, same bytes; a different seed, different data.
//   - Every record appears in truth.csv exactly once; every clean NHS
//     number is valid and unique to its person.
//   - Error messages name files, lines, columns, sources and record ids,
//     never names, dates or NHS numbers.
//
// # Non-goals
//
// The cohort imitates the ways identity data goes wrong; it is not a
// statistical model of the UK population, and the names tables are
// plausible rather than official figures. Clinical content is generated
// elsewhere. The evaluation scores a clustering; it does not score
// ranked candidate lists.
package benchmarks
