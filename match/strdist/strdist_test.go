package strdist

import (
	"math/rand/v2"
	"testing"

	"github.com/antzucaro/matchr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDamerauLevenshteinAgreesWithMatchr checks the allocation-free
// distance against matchr, the reference, on a large random corpus of
// name-like strings and their typo variants.
func TestDamerauLevenshteinAgreesWithMatchr(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alpha := "abcdeilnorst"
	word := func() string {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = alpha[rng.IntN(len(alpha))]
		}
		return string(b)
	}
	mutate := func(s string) string {
		b := []byte(s)
		for range rng.IntN(4) {
			if len(b) == 0 {
				b = append(b, 'a')
				continue
			}
			i := rng.IntN(len(b))
			switch rng.IntN(4) {
			case 0:
				b[i] = alpha[rng.IntN(len(alpha))]
			case 1:
				b = append(b[:i], b[i+1:]...)
			case 2:
				b = append(b[:i], append([]byte{alpha[rng.IntN(len(alpha))]}, b[i:]...)...)
			case 3:
				if i+1 < len(b) {
					b[i], b[i+1] = b[i+1], b[i]
				}
			}
		}
		return string(b)
	}
	n := 50000
	if testing.Short() {
		n = 5000
	}
	for range n {
		a := word()
		b := mutate(a)
		if rng.IntN(4) == 0 {
			b = word()
		}
		want := matchr.DamerauLevenshtein(a, b)
		require.Equal(t, want, DamerauLevenshtein(a, b), "%q %q", a, b)
		for k := range 4 {
			require.Equal(t, want <= k, Within(a, b, k), "within %d: %q %q", k, a, b)
		}
	}
}

// TestJaroWinklerAgreesWithMatchr checks the allocation-free Jaro-Winkler
// against matchr, the reference, on a large random corpus.
func TestJaroWinklerAgreesWithMatchr(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alpha := "abcdeilnorst19 "
	word := func() string {
		b := make([]byte, rng.IntN(20))
		for i := range b {
			b[i] = alpha[rng.IntN(len(alpha))]
		}
		return string(b)
	}
	n := 100000
	if testing.Short() {
		n = 10000
	}
	for range n {
		a, b := word(), word()
		if rng.IntN(2) == 0 && len(a) > 2 {
			bb := []byte(a)
			i := rng.IntN(len(bb) - 1)
			bb[i], bb[i+1] = bb[i+1], bb[i]
			b = string(bb)
		}
		want := matchr.JaroWinkler(a, b, false)
		if a == b {
			want = 1
		}
		require.InDelta(t, want, JaroWinkler(a, b), 1e-12, "%q %q", a, b)
		require.GreaterOrEqual(t, JaroWinklerUpper(a, b)+1e-12, want, "upper bound %q %q", a, b)
	}
}

func TestDamerauLevenshtein(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{name: "equal", a: "smith", b: "smith", want: 0},
		{name: "transposition", a: "smith", b: "msith", want: 1},
		{name: "substitution", a: "smith", b: "smyth", want: 1},
		{name: "empty", a: "", b: "abc", want: 3},
		{name: "unrestricted", a: "ca", b: "abc", want: 2},
		{name: "non-ascii falls back", a: "zoë", b: "zoe", want: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, DamerauLevenshtein(tc.a, tc.b))
			assert.Equal(t, tc.want, DamerauLevenshtein(tc.b, tc.a))
		})
	}
}

func TestComparatorsNoAllocs(t *testing.T) {
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = DamerauLevenshtein("JOHNATHAN", "JONATHAN") }))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = JaroWinkler("JOHNATHAN", "JONATHAN") }))
}
