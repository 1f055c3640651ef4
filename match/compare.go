package match

import (
	"fmt"
	"sort"
	"sync"
	"unicode/utf8"

	"github.com/carelens/carelens/match/strdist"

	"github.com/antzucaro/matchr"
)

// Comparator is a named string similarity: Similarity returns a value in
// [0, 1], is symmetric, and is 1 for equal strings. Two empty strings are
// equal (1); an empty and a non-empty string have similarity 0.
// [matchtest.RunComparator] checks these properties for any
// implementation; [RegisterComparator] makes one available to models.
type Comparator interface {
	Similarity(a, b string) float64
}

// ComparatorFunc adapts a function to [Comparator].
type ComparatorFunc func(a, b string) float64

// Similarity calls f(a, b).
func (f ComparatorFunc) Similarity(a, b string) float64 { return f(a, b) }

// comparators is the registry of named comparators a model may refer to.
var comparators = map[string]Comparator{
	"exact": ComparatorFunc(func(a, b string) float64 {
		if a == b {
			return 1
		}
		return 0
	}),
	"jaro-winkler": ComparatorFunc(strdist.JaroWinkler),
	"jaro": ComparatorFunc(func(a, b string) float64 {
		if a == b {
			return 1
		}
		return matchr.Jaro(strdist.Cap(a), strdist.Cap(b))
	}),
	"damerau-levenshtein": ComparatorFunc(func(a, b string) float64 {
		return distanceSimilarity(strdist.DamerauLevenshtein(a, b), a, b)
	}),
	"levenshtein": ComparatorFunc(func(a, b string) float64 {
		a, b = strdist.Cap(a), strdist.Cap(b)
		return distanceSimilarity(matchr.Levenshtein(a, b), a, b)
	}),
	"double-metaphone": ComparatorFunc(func(a, b string) float64 {
		if a == b {
			return 1
		}
		pa, _ := matchr.DoubleMetaphone(strdist.Cap(a))
		pb, _ := matchr.DoubleMetaphone(strdist.Cap(b))
		if pa == pb && pa != "" {
			return 1
		}
		return 0
	}),
}

// comparatorsMu guards comparators: registration may happen while models
// are bound.
var comparatorsMu sync.RWMutex

// RegisterComparator makes c available to models under name (a [Level]'s
// Comparator), typically from an init function of the package that
// implements it; check it first with matchtest.RunComparator. It fails
// when name is empty or taken (a built-in comparator cannot be replaced)
// or c is nil.
func RegisterComparator(name string, c Comparator) error {
	if name == "" || c == nil {
		return fmt.Errorf("match: register comparator %q: a name and a comparator are needed", name)
	}
	comparatorsMu.Lock()
	defer comparatorsMu.Unlock()
	if _, taken := comparators[name]; taken {
		return fmt.Errorf("match: register comparator %q: the name is taken", name)
	}
	comparators[name] = c
	return nil
}

// LookupComparator returns the registered comparator called name.
func LookupComparator(name string) (Comparator, bool) {
	comparatorsMu.RLock()
	defer comparatorsMu.RUnlock()
	c, ok := comparators[name]
	return c, ok
}

// ComparatorNames returns the names of the registered comparators, sorted.
func ComparatorNames() []string {
	comparatorsMu.RLock()
	defer comparatorsMu.RUnlock()
	n := make([]string, 0, len(comparators))
	for k := range comparators {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

func distanceSimilarity(d int, a, b string) float64 {
	l := max(utf8.RuneCountInString(a), utf8.RuneCountInString(b))
	if l == 0 {
		return 1
	}
	return 1 - float64(d)/float64(l)
}
