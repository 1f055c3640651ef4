package merge

import (
	"cmp"
	"errors"
	"slices"

	"github.com/carelens/carelens/provenance"
)

// Errors returned by this package. Messages carry stream indexes, positions
// and source ids, never clinical or personal data.
var (
	// ErrUnsorted is returned when a source stream is not in [Options.Compare]
	// order; the merge stops rather than produce a mis-ordered timeline.
	ErrUnsorted = errors.New("merge: source stream not sorted")
	// ErrUntagged is returned for an entry whose lineage is empty: every
	// entry must say where it came from.
	ErrUntagged = errors.New("merge: entry has no provenance tag")
	// ErrInvalidRules is returned for rules that cannot be compiled.
	ErrInvalidRules = errors.New("merge: invalid rules")
)

// Options configure merging. The zero value (or nil) works: no source is
// preferred, and [Rules] are the defaults.
type Options struct {
	// Priority lists source ids, most trusted first. It breaks ties in the
	// timeline order, picks which source's wording represents a merged entry,
	// and is the default trust order of golden demographics. Sources not
	// listed rank after those listed, by id.
	Priority []string
	// Rules decide which entries are the same fact; nil means the zero Rules.
	Rules *Rules
	// Survivorship overrides the golden-demographic rule of some fields;
	// fields not listed use [DefaultSurvivorship].
	Survivorship map[Field]Survivorship
	// Workers is the most goroutines one merge uses; zero means up to two
	// (one when GOMAXPROCS is 1), and one or less means only the caller's.
	// A merge of fewer than 16,384 entries uses one regardless. The result
	// does not depend on it.
	Workers int
}

// rank returns the position of source in the priority list, or len(Priority).
func (o *Options) rank(source string) int32 {
	if o == nil {
		return 0
	}
	for i, s := range o.Priority {
		if s == source {
			return int32(i)
		}
	}
	return int32(len(o.Priority))
}

var noTag provenance.Tag

// lead returns the first tag of e's lineage (the smallest by
// [provenance.CompareTag]), or the zero tag. It does not copy the tag.
func lead(e *Entry) *provenance.Tag {
	if ts := e.Lineage.Tags(); len(ts) > 0 {
		return &ts[0]
	}
	return &noTag
}

// Compare orders entries on a timeline: by effective time, then by the
// priority of the entry's lead source (its first tag by
// [provenance.CompareTag]), then by that tag's source id, resource type,
// resource id and version. Entries that tie on all of these compare equal.
// Per-source streams given to the merge must be sorted by it.
func (o *Options) Compare(a, b Entry) int { return o.compare(&a, &b) }

func (o *Options) compare(a, b *Entry) int {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	la, lb := lead(a), lead(b)
	if la.Source != lb.Source {
		if c := cmp.Compare(o.rank(la.Source), o.rank(lb.Source)); c != 0 {
			return c
		}
	}
	return compareLead(la, lb)
}

func compareLead(la, lb *provenance.Tag) int {
	if c := cmp.Compare(la.Source, lb.Source); c != 0 {
		return c
	}
	if c := cmp.Compare(la.ResourceType, lb.ResourceType); c != 0 {
		return c
	}
	if c := cmp.Compare(la.ResourceID, lb.ResourceID); c != 0 {
		return c
	}
	return cmp.Compare(la.Version, lb.Version)
}

// Compare is [Options.Compare] with no source priority.
func Compare(a, b Entry) int { return (*Options)(nil).compare(&a, &b) }

// Sort sorts one source's entries into the order the merge requires, keeping
// the input order of entries that compare equal, then packs them (see
// [Pack]) so that the merge reads their tags, codes and values in order.
func Sort(entries []Entry, o *Options) {
	// Sort small keys, not the 184-byte entries: the time key and the lead
	// source's rank decide nearly every comparison, and the position makes
	// the sort stable. The entries are then moved once.
	keys := make([]sortKey, len(entries))
	var src string
	rank := int32(-1)
	for i := range entries {
		e := &entries[i]
		if s := lead(e).Source; rank < 0 || s != src {
			src, rank = s, o.rank(s)
		}
		keys[i] = sortKey{key: timeKey(e), rank: rank, i: int32(i)}
	}
	slices.SortFunc(keys, func(a, b sortKey) int {
		if a.key != b.key {
			return cmp.Compare(a.key, b.key)
		}
		x, y := &entries[a.i], &entries[b.i]
		if a.key == minNano || a.key == maxNano {
			if c := x.Time.Compare(y.Time); c != 0 {
				return c
			}
		}
		if a.rank != b.rank {
			return cmp.Compare(a.rank, b.rank)
		}
		if c := compareLead(lead(x), lead(y)); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	sorted := make([]Entry, len(entries))
	for j, k := range keys {
		sorted[j] = entries[k.i]
	}
	copy(entries, sorted)
	Pack(entries)
}

// sortKey is what Sort orders an entry by, with the entry's position.
type sortKey struct {
	key  int64 // timeKey
	rank int32 // priority of the lead tag's source
	i    int32
}
