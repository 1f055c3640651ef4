// Package strdist holds the string distances CareLens compares names,
// addresses and identifiers with: Jaro-Winkler and the optimal string
// alignment Damerau-Levenshtein distance, allocation-free for the short
// ASCII values people write and agreeing with github.com/antzucaro/matchr
// (the reference) everywhere, with cheap bounds (JaroWinklerUpper, Within)
// that let a scorer skip a comparison that cannot reach its threshold.
// Every function bounds its work by the length of its input
// (MaxCompareRunes, DLMaxEdits), because the values come from strangers.
package strdist

import (
	"unicode/utf8"

	"github.com/antzucaro/matchr"
)

// MaxCompareRunes bounds the input of the comparators that take time
// (Jaro, Jaro-Winkler) or memory (Levenshtein) quadratic in the length of
// their input: a longer value is compared on its first MaxCompareRunes
// runes. No name, address or identifier a person writes comes near it;
// a value that long is junk or an attack, and two 20,000-character values
// would otherwise cost about 4·10⁸ steps per pair. [DamerauLevenshtein]
// bounds itself (see [DLMaxEdits]).
const MaxCompareRunes = 256

// Cap returns s cut to its first MaxCompareRunes runes.
func Cap(s string) string {
	if len(s) <= MaxCompareRunes {
		return s
	}
	n := 0
	for i := range s {
		if n == MaxCompareRunes {
			return s[:i]
		}
		n++
	}
	return s
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
		return matchr.JaroWinkler(Cap(a), Cap(b), false)
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
// Damerau-Levenshtein handles; longer or non-ASCII strings take the banded
// path.
const dlMax = 48

// DLMaxEdits is the largest distance [DamerauLevenshtein] reports exactly.
// Pairs further apart are reported as the length of the longer string (as
// if they shared nothing), so that time and memory stay linear in the
// input length: O((|a|+|b|)·DLMaxEdits) steps and O(DLMaxEdits²) memory,
// however long the strings. No string of up to DLMaxEdits characters is
// affected, and no comparison level needs more than a few edits.
const DLMaxEdits = 256

// DamerauLevenshtein returns the (unrestricted) Damerau-Levenshtein
// distance between a and b, counted in characters: insertions, deletions,
// substitutions and transpositions of adjacent characters, with substrings
// editable after a transposition. Distances above [DLMaxEdits] are reported
// as the longer string's length. It does not allocate for ASCII strings up
// to 48 bytes.
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
	if isASCII(a) && isASCII(b) {
		if la <= 14 && lb <= 14 {
			var d [16 * 16]int16
			return dlTable(d[:], 16, a, b)
		}
		if la <= dlMax && lb <= dlMax {
			var d [(dlMax + 2) * (dlMax + 2)]int16
			return dlTable(d[:], dlMax+2, a, b)
		}
		return dlDoubling([]byte(a), []byte(b), 128)
	}
	x, y, n := runeSymbols(a, b)
	return dlDoubling(x, y, n)
}

// dlDoubling finds the distance of x and y with bands of doubling width
// (Ukkonen's cut-off), so the work is proportional to the distance found,
// and gives up past DLMaxEdits.
func dlDoubling[E byte | int32](x, y []E, alphabet int) int {
	longer := max(len(x), len(y))
	gap := abs(len(x) - len(y))
	if gap > DLMaxEdits {
		return longer
	}
	k := max(gap, 8)
	for {
		k = min(k, longer, DLMaxEdits)
		if d := dlBounded(x, y, k, alphabet); d <= k {
			return d
		}
		if k == DLMaxEdits {
			return longer
		}
		k *= 2
	}
}

// runeSymbols returns a and b as dense symbol numbers (one per distinct
// rune, from 0) and the number of distinct runes.
func runeSymbols(a, b string) (x, y []int32, n int) {
	ids := map[rune]int32{}
	conv := func(s string) []int32 {
		out := make([]int32, 0, len(s))
		for _, r := range s {
			id, ok := ids[r]
			if !ok {
				id = int32(len(ids))
				ids[r] = id
			}
			out = append(out, id)
		}
		return out
	}
	x, y = conv(a), conv(b)
	return x, y, len(ids)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// dlBounded returns the Damerau-Levenshtein distance of x and y when it
// is at most k, and k+1 otherwise. Symbols are below alphabet.
//
// It runs the Lowrance–Wagner recurrence only over the band of cells
// within k of the diagonal: a cell (i, j) outside it is at least |i-j| > k
// away. A transposition from cell (i1-1, j1-1) costs at least
// (i-i1-1)+(j-j1-1)+1, so only the last k+3 rows are kept (a ring) and
// the last matching column is looked for no further back than 2k+2
// columns. Values are capped at k+1, which keeps every value up to k
// exact, since each step only adds.
func dlBounded[E byte | int32](x, y []E, k int, alphabet int) int {
	lx, ly := len(x), len(y)
	if abs(lx-ly) > k {
		return k + 1
	}
	over := int32(k + 1)
	w := 2*k + 1
	rows := k + 3
	ring := make([]int32, rows*w)
	da := make([]int32, alphabet) // last row of x holding each symbol
	get := func(i, j int) int32 {
		if j < 0 || j > ly || j < i-k || j > i+k {
			return over
		}
		return ring[(i%rows)*w+j-i+k]
	}
	set := func(i, j int, v int32) { ring[(i%rows)*w+j-i+k] = min(v, over) }
	for j := 0; j <= min(ly, k); j++ {
		set(0, j, int32(j))
	}
	for i := 1; i <= lx; i++ {
		lo, hi := max(0, i-k), min(ly, i+k)
		if lo == 0 {
			set(i, 0, int32(i))
		}
		c := x[i-1]
		db := 0 // last column before j whose symbol is c
		for j := max(1, i-2*k-2); j <= hi; j++ {
			j1 := db
			same := y[j-1] == c
			if same {
				db = j
			}
			if j < lo {
				continue
			}
			cost := int32(1)
			if same {
				cost = 0
			}
			v := get(i-1, j-1) + cost
			v = min(v, get(i, j-1)+1, get(i-1, j)+1)
			if i1 := int(da[y[j-1]]); i1 > 0 && j1 > 0 && i-i1-1 <= k {
				v = min(v, get(i1-1, j1-1)+int32(i-i1-1)+1+int32(j-j1-1))
			}
			set(i, j, v)
		}
		da[c] = int32(i)
	}
	return int(get(lx, ly))
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

// Within reports whether the Damerau-Levenshtein distance of a and b is
// at most k, skipping the computation when the lengths alone rule it out.
// It takes O((|a|+|b|)·k) steps whatever the lengths.
func Within(a, b string, k int) bool {
	if a == b {
		return true
	}
	if !isASCII(a) || !isASCII(b) {
		x, y, n := runeSymbols(a, b)
		return dlBounded(x, y, k, n) <= k
	}
	if abs(len(a)-len(b)) > k {
		return false
	}
	// Each edit changes the character multiset by at most two (counting
	// characters in 32 buckets only merges differences, keeping this a
	// lower bound on the distance).
	var cnt [32]int
	for i := 0; i < len(a); i++ {
		cnt[a[i]&31]++
	}
	for i := 0; i < len(b); i++ {
		cnt[b[i]&31]--
	}
	diff := 0
	for _, c := range cnt {
		diff += max(c, -c)
	}
	if diff > 2*k {
		return false
	}
	if len(a) <= dlMax && len(b) <= dlMax {
		return DamerauLevenshtein(a, b) <= k
	}
	return dlBounded([]byte(a), []byte(b), k, 128) <= k
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// JaroWinklerUpper returns an upper bound of [JaroWinkler] for a and b
// from the characters they share (ignoring order) and their common prefix.
// It is cheap (linear, no allocation) and lets the pair loop skip the full
// computation when no threshold can be reached.
func JaroWinklerUpper(a, b string) float64 {
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
