// Package matchtest holds the conformance suite for implementations of
// [match.Comparator], in the manner of testing/slogtest: an
// implementation's own tests call [RunComparator].
package matchtest

import (
	"math"
	"testing"

	"github.com/carelens/carelens/match"
	"github.com/stretchr/testify/assert"
)

// comparatorInputs are the strings the comparator suite tries, in pairs:
// empty, one character, names with typos, transpositions and different
// lengths, digits, spaces and non-ASCII letters.
var comparatorInputs = []string{
	"", "a", "b", "smith", "smyth", "msith", "smithson", "jonathan", "johnathan", "jon",
	"mary ann", "maryann", "o'brien", "obrien", "zoë", "zoe", "müller", "mueller",
	"19840307", "19840703", "9434765919", "SW1A 1AA", "sw1a1aa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	"lakes retirement estate hurley street", "hurley street lakes retkremeent estate",
}

// RunComparator checks that c behaves as a [match.Comparator] must: every
// similarity is a number in [0, 1], Similarity(x, x) is 1 (two empty
// strings included), the comparator is symmetric, and an empty string
// against a non-empty one is 0. Comparators named by models should pass.
func RunComparator(t *testing.T, c match.Comparator) {
	t.Helper()
	for _, x := range comparatorInputs {
		assert.InDelta(t, 1.0, c.Similarity(x, x), 1e-12, "Similarity(x, x) for %q", x)
		for _, y := range comparatorInputs {
			s := c.Similarity(x, y)
			assert.False(t, math.IsNaN(s), "NaN for %q, %q", x, y)
			assert.GreaterOrEqual(t, s, 0.0, "below 0 for %q, %q", x, y)
			assert.LessOrEqual(t, s, 1.0, "above 1 for %q, %q", x, y)
			assert.InDelta(t, s, c.Similarity(y, x), 1e-12, "not symmetric for %q, %q", x, y)
			if (x == "") != (y == "") {
				assert.Zero(t, s, "empty against non-empty %q, %q", x, y)
			}
		}
	}
}
