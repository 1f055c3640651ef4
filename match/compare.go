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

// JaroWinkler is the Jaro-Winkler similarity (prefix scale 0.1, up to four
// non-digit prefix characters, applied above 0.7), with equal strings
// (including two empty strings) 1. ASCII strings up to 64 bytes take an
// allocation-free path that agrees with matchr.JaroWinkler, the reference;
// others call matchr.
func JaroWinkler(a, b string) float64 {
	if a == b {
		return 1
	}
	la, lb := len(a), len(b)
	if la == 0 || lb == 0 {
		return 0
	}
	if la > 64 || lb > 64 || !isASCII(a) || !isASCII(b) {
		return matchr.JaroWinkler(a, b, false)
	}
	maxLen := max(la, lb)
	rng := max(maxLen/2-1, 0)
	var fa, fb uint64 // matched flags
	common := 0
	for i := range la {
		lo := max(i-rng, 0)
		hi := min(i+rng, lb-1)
		c := a[i]
		for j := lo; j <= hi; j++ {
			if fb&(1<<j) == 0 && b[j] == c {
				fb |= 1 << j
				fa |= 1 << i
				common++
				break
			}
		}
	}
	if common == 0 {
		return 0
	}
	trans, k := 0, 0
	for i := range la {
		if fa&(1<<i) == 0 {
			continue
		}
		j := k
		for ; j < lb; j++ {
			if fb&(1<<j) != 0 {
				k = j + 1
				break
			}
		}
		if j < lb && a[i] != b[j] {
			trans++
		}
	}
	trans /= 2
	m := float64(common)
	d := (m/float64(la) + m/float64(lb) + (m-float64(trans))/m) / 3
	if d > 0.7 {
		p := min(4, maxLen)
		i := 0
		for i < p && i < la && i < lb && a[i] == b[i] && (a[i] < '0' || a[i] > '9') {
			i++
		}
		if i > 0 {
			d += float64(i) * 0.1 * (1 - d)
		}
	}
	return d
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
	if la <= 14 && lb <= 14 {
		var d [16 * 16]int16
		return dlTable(d[:], 16, a, b)
	}
	var d [(dlMax + 2) * (dlMax + 2)]int16
	return dlTable(d[:], dlMax+2, a, b)
}

// dlTable runs the Lowrance–Wagner recurrence over d, a table of width w
// with a border row and column holding "infinity". Only the cells it reads
// are written first, so d need not be cleared between calls.
func dlTable(d []int16, w int, a, b string) int {
	la, lb := len(a), len(b)
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

// dlWithin reports whether the Damerau-Levenshtein distance of a and b is
// at most k, skipping the computation when the lengths alone rule it out.
func dlWithin(a, b string, k int) bool {
	if a == b {
		return true
	}
	d := len(a) - len(b)
	if d < 0 {
		d = -d
	}
	if !isASCII(a) || !isASCII(b) {
		return DamerauLevenshtein(a, b) <= k
	}
	if d > k {
		return false
	}
	// Each edit changes the character multiset by at most two (counting
	// characters in 32 buckets only merges differences, keeping this a
	// lower bound on the distance).
	var cnt [32]int16
	for i := 0; i < len(a); i++ {
		cnt[a[i]&31]++
	}
	for i := 0; i < len(b); i++ {
		cnt[b[i]&31]--
	}
	diff := 0
	for _, c := range cnt {
		diff += int(max(c, -c))
	}
	if diff > 2*k {
		return false
	}
	return DamerauLevenshtein(a, b) <= k
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// jaroWinklerUpper returns an upper bound of [JaroWinkler] for a and b
// from the characters they share (ignoring order) and their common prefix.
// It is cheap (linear, no allocation) and lets the pair loop skip the full
// computation when no threshold can be reached.
func jaroWinklerUpper(a, b string) float64 {
	if a == b {
		return 1
	}
	la, lb := len(a), len(b)
	if la == 0 || lb == 0 {
		return 0
	}
	var cnt [32]int16
	for i := range la {
		cnt[a[i]&31]++
	}
	c := 0
	for i := range lb {
		k := b[i] & 31
		if cnt[k] > 0 {
			cnt[k]--
			c++
		}
	}
	// Rune counts can only be smaller than byte lengths for non-ASCII text,
	// which would raise the bound; fall back to 1 there.
	if !isASCII(a) || !isASCII(b) {
		return 1
	}
	m := float64(c)
	d := (m/float64(la) + m/float64(lb) + 1) / 3
	p := 0
	for p < 4 && p < la && p < lb && a[p] == b[p] {
		p++
	}
	return d + float64(p)*0.1*(1-d)
}
