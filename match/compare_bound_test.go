package match

import (
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// naiveDL is the textbook unrestricted Damerau-Levenshtein distance
// (Lowrance–Wagner, full table, runes), written independently of
// compare.go as the oracle for the banded one.
func naiveDL(a, b string) int {
	x, y := []rune(a), []rune(b)
	inf := len(x) + len(y)
	d := make([][]int, len(x)+2)
	for i := range d {
		d[i] = make([]int, len(y)+2)
	}
	d[0][0] = inf
	for i := 0; i <= len(x); i++ {
		d[i+1][0], d[i+1][1] = inf, i
	}
	for j := 0; j <= len(y); j++ {
		d[0][j+1], d[1][j+1] = inf, j
	}
	last := map[rune]int{}
	for i := 1; i <= len(x); i++ {
		db := 0
		for j := 1; j <= len(y); j++ {
			i1, j1 := last[y[j-1]], db
			cost := 1
			if x[i-1] == y[j-1] {
				cost, db = 0, j
			}
			d[i+1][j+1] = min(d[i][j]+cost, d[i+1][j]+1, d[i][j+1]+1,
				d[i1][j1]+(i-i1-1)+1+(j-j1-1))
		}
		last[x[i-1]] = i
	}
	return d[len(x)+1][len(y)+1]
}

// mutateString applies n random edits (substitution, deletion, insertion,
// adjacent transposition) drawn from alpha.
func mutateString(rng *rand.Rand, s []rune, alpha []rune, n int) []rune {
	s = append([]rune(nil), s...)
	for range n {
		if len(s) == 0 {
			s = append(s, alpha[0])
			continue
		}
		i := rng.IntN(len(s))
		switch rng.IntN(4) {
		case 0:
			s[i] = alpha[rng.IntN(len(alpha))]
		case 1:
			s = append(s[:i], s[i+1:]...)
		case 2:
			s = append(s[:i], append([]rune{alpha[rng.IntN(len(alpha))]}, s[i:]...)...)
		case 3:
			if i+1 < len(s) {
				s[i], s[i+1] = s[i+1], s[i]
			}
		}
	}
	return s
}

// TestDamerauLevenshteinLongStrings checks the banded path (strings past
// the table sizes, ASCII and not) against the oracle, for distances below
// and around the band widths the doubling tries.
func TestDamerauLevenshteinLongStrings(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 6))
	for _, alpha := range [][]rune{[]rune("0123456789"), []rune("abcé"), []rune("ab")} {
		for range 60 {
			n := 40 + rng.IntN(400)
			a := make([]rune, n)
			for i := range a {
				a[i] = alpha[rng.IntN(len(alpha))]
			}
			b := mutateString(rng, a, alpha, rng.IntN(40))
			want := naiveDL(string(a), string(b))
			require.Equal(t, want, DamerauLevenshtein(string(a), string(b)), "len %d/%d", len(a), len(b))
			for _, k := range []int{0, 1, 2, 5, want - 1, want, want + 1} {
				if k >= 0 {
					require.Equal(t, want <= k, dlWithin(string(a), string(b), k), "within %d of %d", k, want)
				}
			}
		}
	}
}

// TestDamerauLevenshteinCap: beyond DLMaxEdits the distance is reported
// as the longer length, exactly as documented; at or below it, exactly.
func TestDamerauLevenshteinCap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	a := make([]byte, 700)
	b := make([]byte, 650)
	for i := range a {
		a[i] = "ab"[rng.IntN(2)]
	}
	for i := range b {
		b[i] = "cd"[rng.IntN(2)]
	}
	require.Greater(t, naiveDL(string(a), string(b)), DLMaxEdits)
	assert.Equal(t, 700, DamerauLevenshtein(string(a), string(b)))

	long := strings.Repeat("x", 2000)
	assert.Equal(t, DLMaxEdits, DamerauLevenshtein(long, long[:2000-DLMaxEdits]), "a distance of exactly the cap is exact")
	assert.Equal(t, 2000, DamerauLevenshtein(long, long[:2000-DLMaxEdits-1]), "one more is past the cap")
}

// TestDamerauLevenshteinMemoryBounded: two 20,000-digit house numbers one
// substitution apart (the hostile input of issue 15) take a few hundred KB
// and well under a second, not a 20,000² table (3.2 GB).
func TestDamerauLevenshteinMemoryBounded(t *testing.T) {
	rng := rand.New(rand.NewPCG(20000, 1))
	x := make([]byte, 20000)
	for i := range x {
		x[i] = '0' + byte(rng.IntN(10))
	}
	y := []byte(string(x))
	y[12345] = '0' + (y[12345]-'0'+1)%10
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	d := DamerauLevenshtein(string(x), string(y))
	within := dlWithin(string(x), string(y), 1)
	runtime.ReadMemStats(&after)
	assert.Equal(t, 1, d)
	assert.True(t, within)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20), "bytes allocated")
}

// FuzzDamerauLevenshtein compares the distance and the within-k test with
// the naive oracle on short strings of any runes.
func FuzzDamerauLevenshtein(f *testing.F) {
	f.Add("smith", "msith")
	f.Add("ca", "abc")
	f.Add("zoë", "zoe")
	f.Add(strings.Repeat("1234567890", 6), strings.Repeat("1234567809", 6))
	f.Fuzz(func(t *testing.T, a, b string) {
		if len(a) > 120 || len(b) > 120 {
			return
		}
		want := naiveDL(a, b)
		if got := DamerauLevenshtein(a, b); got != want {
			t.Fatalf("DamerauLevenshtein(%q, %q) = %d, want %d", a, b, got, want)
		}
		for k := range 5 {
			if got := dlWithin(a, b, k); got != (want <= k) {
				t.Fatalf("dlWithin(%q, %q, %d) = %v, distance %d", a, b, k, got, want)
			}
		}
	})
}
