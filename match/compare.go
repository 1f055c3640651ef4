package match

import (
	"sort"
	"unicode/utf8"

	"github.com/antzucaro/matchr"
)

// Comparator is a named string similarity: Similarity returns a value in
// [0, 1], is symmetric, and is 1 for equal strings. Two empty strings are
// equal (1); an empty and a non-empty string have similarity 0.
// [matchtest.Run] checks these properties for any implementation.
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
	"jaro-winkler": ComparatorFunc(JaroWinkler),
	"jaro": ComparatorFunc(func(a, b string) float64 {
		if a == b {
			return 1
		}
		return matchr.Jaro(a, b)
	}),
	"damerau-levenshtein": ComparatorFunc(func(a, b string) float64 {
		return distanceSimilarity(DamerauLevenshtein(a, b), a, b)
	}),
	"levenshtein": ComparatorFunc(func(a, b string) float64 {
		return distanceSimilarity(matchr.Levenshtein(a, b), a, b)
	}),
	"double-metaphone": ComparatorFunc(func(a, b string) float64 {
		if a == b {
			return 1
		}
		pa, _ := matchr.DoubleMetaphone(a)
		pb, _ := matchr.DoubleMetaphone(b)
		if pa == pb && pa != "" {
			return 1
		}
		return 0
	}),
}

// LookupComparator returns the registered comparator called name.
func LookupComparator(name string) (Comparator, bool) {
	c, ok := comparators[name]
	return c, ok
}

// ComparatorNames returns the names of the registered comparators, sorted.
func ComparatorNames() []string {
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

// JaroWinkler is matchr's Jaro-Winkler similarity with equal strings
// (including two empty strings) short-circuited to 1.
func JaroWinkler(a, b string) float64 {
	if a == b {
		return 1
	}
	return matchr.JaroWinkler(a, b, false)
}

// dlMax is the longest string (in bytes) the allocation-free
// Damerau-Levenshtein handles; longer or non-ASCII strings use matchr.
const dlMax = 48

// DamerauLevenshtein returns the (unrestricted) Damerau-Levenshtein
// distance between a and b: insertions, deletions, substitutions and
// transpositions of adjacent characters, with substrings editable after a
// transposition. It does not allocate for ASCII strings up to 48 bytes and
// agrees with matchr.DamerauLevenshtein, the reference.
func DamerauLevenshtein(a, b string) int {
	if a == b {
		return 0
	}
	la, lb := len(a), len(b)
	if la == 0 {
		return utf8.RuneCountInString(b)
	}
	if lb == 0 {
		return utf8.RuneCountInString(a)
	}
	if la > dlMax || lb > dlMax || !isASCII(a) || !isASCII(b) {
		return matchr.DamerauLevenshtein(a, b)
	}
	// Lowrance–Wagner: d has a border row/column holding inf.
	const w = dlMax + 2
	var d [w * w]int16
	var da [128]int16 // last row where each byte was seen in a
	inf := int16(la + lb)
	d[0] = inf
	for i := 0; i <= la; i++ {
		d[(i+1)*w] = inf
		d[(i+1)*w+1] = int16(i)
	}
	for j := 0; j <= lb; j++ {
		d[j+1] = inf
		d[w+j+1] = int16(j)
	}
	for i := 1; i <= la; i++ {
		db := 0
		for j := 1; j <= lb; j++ {
			i1 := int(da[b[j-1]])
			j1 := db
			cost := int16(1)
			if a[i-1] == b[j-1] {
				cost = 0
				db = j
			}
			v := d[i*w+j] + cost                                 // substitution
			v = min(v, d[(i+1)*w+j]+1)                           // insertion
			v = min(v, d[i*w+j+1]+1)                             // deletion
			v = min(v, d[i1*w+j1]+int16(i-i1-1)+1+int16(j-j1-1)) // transposition
			d[(i+1)*w+j+1] = v
		}
		da[a[i-1]] = int16(i)
	}
	return int(d[(la+1)*w+lb+1])
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
