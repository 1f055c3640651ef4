package provenance

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Errors returned by this package.
var (
	// ErrInvalidSource is returned by [Source.Validate] for a source without
	// an id or with an unknown kind.
	ErrInvalidSource = errors.New("provenance: invalid source")
)

// Kind is the type of organisation a source belongs to.
type Kind string

// The kinds of source CareLens knows. A source of another kind uses
// KindOther.
const (
	KindHospital     Kind = "hospital"
	KindGP           Kind = "gp"
	KindCommunity    Kind = "community"
	KindMentalHealth Kind = "mental-health"
	KindAmbulance    Kind = "ambulance"
	KindNHS111       Kind = "111"
	KindOutOfHours   Kind = "out-of-hours"
	KindSocialCare   Kind = "social-care"
	KindOther        Kind = "other"
)

// Kinds returns every known kind in a fixed order.
func Kinds() []Kind {
	return []Kind{KindHospital, KindGP, KindCommunity, KindMentalHealth, KindAmbulance,
		KindNHS111, KindOutOfHours, KindSocialCare, KindOther}
}

// ParseKind returns the Kind named s (case-insensitive), or an error.
func ParseKind(s string) (Kind, error) {
	k := Kind(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(Kinds(), k) {
		return k, nil
	}
	return "", fmt.Errorf("%w: unknown kind %q", ErrInvalidSource, s)
}

// Source is one organisation's system that shares data with CareLens.
type Source struct {
	// ID is the stable, unique id of the source within a deployment,
	// for example "gp-y01234" or "hospital". It appears in every Tag.
	ID string `json:"id"`
	// Org is the organisation code (an ODS code in England).
	Org string `json:"org,omitempty"`
	// Kind is the type of organisation.
	Kind Kind `json:"kind"`
	// Name is the display name shown to clinicians.
	Name string `json:"name,omitempty"`
}

// Validate reports whether s has an id and a known kind.
func (s Source) Validate() error {
	if s.ID == "" {
		return fmt.Errorf("%w: empty id", ErrInvalidSource)
	}
	if _, err := ParseKind(string(s.Kind)); err != nil {
		return fmt.Errorf("%w: source %q: unknown kind %q", ErrInvalidSource, s.ID, s.Kind)
	}
	return nil
}

// Tag records one assertion by one source: the resource that said it and when.
type Tag struct {
	// Source is the [Source.ID] of the source.
	Source string `json:"source"`
	// ResourceType is the type of the source resource, e.g. "Observation",
	// or a source-defined record type for non-FHIR feeds.
	ResourceType string `json:"resourceType,omitempty"`
	// ResourceID is the source's id of the resource or record.
	ResourceID string `json:"resourceId,omitempty"`
	// Version is the source's version id of the resource, if it has one.
	Version string `json:"version,omitempty"`
	// Asserted is when the source recorded the fact (FHIR meta.lastUpdated or
	// the recorded date); zero if unknown.
	Asserted time.Time `json:"asserted,omitzero"`
	// Retrieved is when CareLens fetched it from the source.
	Retrieved time.Time `json:"retrieved,omitzero"`
}

// String returns "source:Type/id/_history/version" without any clinical data.
func (t Tag) String() string {
	var b strings.Builder
	b.WriteString(t.Source)
	if t.ResourceType != "" || t.ResourceID != "" {
		b.WriteByte(':')
		b.WriteString(t.ResourceType)
		b.WriteByte('/')
		b.WriteString(t.ResourceID)
	}
	if t.Version != "" {
		b.WriteString("/_history/")
		b.WriteString(t.Version)
	}
	return b.String()
}

// CompareTag orders tags by source, resource type, resource id, version,
// asserted and retrieved time. It is a total order on tags.
func CompareTag(a, b Tag) int {
	if c := cmp.Compare(a.Source, b.Source); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ResourceType, b.ResourceType); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ResourceID, b.ResourceID); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Version, b.Version); c != 0 {
		return c
	}
	if c := a.Asserted.Compare(b.Asserted); c != 0 {
		return c
	}
	return a.Retrieved.Compare(b.Retrieved)
}

func tagEqual(a, b Tag) bool { return CompareTag(a, b) == 0 }

// Lineage is the set of tags behind one item. The zero value is empty and
// ready to use. A Lineage is immutable: methods that change it return a new
// value and never modify the tags of the receiver, so copies may be shared
// freely between goroutines.
type Lineage struct {
	tags []Tag // sorted by CompareTag, no duplicates; never mutated after construction
}

// Of returns the lineage holding tags. The argument slice is not retained.
func Of(tags ...Tag) Lineage {
	if len(tags) == 0 {
		return Lineage{}
	}
	if len(tags) == 1 {
		return Lineage{tags: []Tag{tags[0]}}
	}
	s := slices.Clone(tags)
	slices.SortFunc(s, CompareTag)
	s = slices.CompactFunc(s, tagEqual)
	return Lineage{tags: slices.Clip(s)}
}

// Len returns the number of tags.
func (l Lineage) Len() int { return len(l.tags) }

// Tags returns the tags in CompareTag order. The caller must not modify the
// returned slice.
func (l Lineage) Tags() []Tag { return l.tags }

// Has reports whether any tag comes from the source with the given id.
// It does not allocate.
func (l Lineage) Has(source string) bool {
	// Tags are sorted by source first, so a binary search finds it.
	_, ok := slices.BinarySearchFunc(l.tags, source, func(t Tag, s string) int { return cmp.Compare(t.Source, s) })
	return ok
}

// Contains reports whether the lineage holds exactly tag t.
func (l Lineage) Contains(t Tag) bool {
	_, ok := slices.BinarySearchFunc(l.tags, t, CompareTag)
	return ok
}

// Sources returns the distinct source ids in order.
func (l Lineage) Sources() []string {
	var out []string
	for _, t := range l.tags {
		if len(out) == 0 || out[len(out)-1] != t.Source {
			out = append(out, t.Source)
		}
	}
	return out
}

// Union returns the lineage holding the tags of l and o. When one side is
// empty or holds every tag of the other, that side is returned without copying.
func (l Lineage) Union(o Lineage) Lineage {
	switch {
	case len(o.tags) == 0:
		return l
	case len(l.tags) == 0:
		return o
	}
	out := make([]Tag, 0, len(l.tags)+len(o.tags))
	i, j := 0, 0
	for i < len(l.tags) && j < len(o.tags) {
		switch c := CompareTag(l.tags[i], o.tags[j]); {
		case c < 0:
			out = append(out, l.tags[i])
			i++
		case c > 0:
			out = append(out, o.tags[j])
			j++
		default:
			out = append(out, l.tags[i])
			i++
			j++
		}
	}
	out = append(out, l.tags[i:]...)
	out = append(out, o.tags[j:]...)
	if len(out) == len(l.tags) {
		return l
	}
	if len(out) == len(o.tags) {
		return o
	}
	return Lineage{tags: out}
}

// Without returns the lineage less every tag from the given source.
func (l Lineage) Without(source string) Lineage {
	if !l.Has(source) {
		return l
	}
	out := make([]Tag, 0, len(l.tags)-1)
	for _, t := range l.tags {
		if t.Source != source {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return Lineage{}
	}
	return Lineage{tags: out}
}

// Filter returns the lineage holding only tags whose source keep accepts.
func (l Lineage) Filter(keep func(source string) bool) Lineage {
	n := 0
	for _, t := range l.tags {
		if keep(t.Source) {
			n++
		}
	}
	if n == len(l.tags) {
		return l
	}
	if n == 0 {
		return Lineage{}
	}
	out := make([]Tag, 0, n)
	for _, t := range l.tags {
		if keep(t.Source) {
			out = append(out, t)
		}
	}
	return Lineage{tags: out}
}

// Equal reports whether l and o hold the same tags.
func (l Lineage) Equal(o Lineage) bool { return slices.EqualFunc(l.tags, o.tags, tagEqual) }

// String lists the tags, for logs and tests; it holds no clinical data.
func (l Lineage) String() string {
	parts := make([]string, len(l.tags))
	for i, t := range l.tags {
		parts[i] = t.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Tagged pairs a value with the lineage it came from.
type Tagged[T any] struct {
	Value   T
	Lineage Lineage
}

// MarshalJSON encodes the lineage as an array of tags.
func (l Lineage) MarshalJSON() ([]byte, error) {
	if l.tags == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(l.tags)
}

// UnmarshalJSON decodes an array of tags, sorting and de-duplicating them.
func (l *Lineage) UnmarshalJSON(b []byte) error {
	var tags []Tag
	if err := json.Unmarshal(b, &tags); err != nil {
		return fmt.Errorf("provenance: decode lineage: %w", err)
	}
	*l = Of(tags...)
	return nil
}

// OfSorted returns the lineage holding tags, retaining the slice when it is
// already in strictly increasing [CompareTag] order (as [Lineage.Tags] of
// another lineage, or a merge of such slices, is). Otherwise it behaves as
// [Of] and copies. The caller must not modify a retained slice afterwards;
// clip it (s[i:j:j]) when it is part of a larger buffer so that no append can
// reach the neighbours. It lets a merger build many lineages in one arena.
func OfSorted(tags []Tag) Lineage {
	for i := 1; i < len(tags); i++ {
		if CompareTag(tags[i-1], tags[i]) >= 0 {
			return Of(tags...)
		}
	}
	if len(tags) == 0 {
		return Lineage{}
	}
	return Lineage{tags: tags}
}
