package match

import (
	"runtime"
	"strings"
	"testing"

	"github.com/carelens/carelens/match/strdist"

	"github.com/antzucaro/matchr"
	"github.com/stretchr/testify/assert"
)

// TestComparatorsBounded feeds every registered comparator two
// 20,000-character values (ASCII digits, and a non-ASCII name-like value,
// which takes the slow paths): each must allocate little whatever the
// length, and score them as it scores their first strdist.MaxCompareRunes runes.
// Before the cap, Levenshtein built a 20,000² table and Jaro-Winkler took
// about 4·10⁸ steps per pair.
func TestComparatorsBounded(t *testing.T) {
	long := func(unit string, n int, last string) string { return strings.Repeat(unit, n) + last }
	// The values differ within the cap and past it.
	pairs := [][2]string{
		{long("1234567890", 2000, "1"), "9" + long("1234567890", 2000, "2")},
		{long("Łukasz ", 3000, "a"), "Lukas " + long("Łukasz ", 3000, "b")},
	}
	for _, name := range ComparatorNames() {
		c, _ := LookupComparator(name)
		for _, p := range pairs {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			got := c.Similarity(p[0], p[1])
			runtime.ReadMemStats(&after)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "%s allocates a bounded amount", name)
			if name != "exact" && name != "damerau-levenshtein" {
				assert.Equal(t, c.Similarity(strdist.Cap(p[0]), strdist.Cap(p[1])), got, "%s scores the capped values", name)
			}
		}
	}
}

// TestCapRunesKeepsShortValues checks that values of up to strdist.MaxCompareRunes
// runes are compared whole (the results agree with matchr on them) and
// that the cap counts runes, not bytes.
func TestCapRunesKeepsShortValues(t *testing.T) {
	s := strings.Repeat("é", strdist.MaxCompareRunes)
	assert.Equal(t, s, strdist.Cap(s))
	assert.Equal(t, s, strdist.Cap(s+"xyz"))
	a, b := "Harcourt Road 12", "Harcourt Rd 12"
	lv, _ := LookupComparator("levenshtein")
	assert.Equal(t, distanceSimilarity(matchr.Levenshtein(a, b), a, b), lv.Similarity(a, b))
	assert.Equal(t, matchr.JaroWinkler(a+"ö", b+"ö", false), strdist.JaroWinkler(a+"ö", b+"ö"))
}
