package match

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSortByKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	keys := make([]uint64, 5000)
	for i := range keys {
		switch rng.IntN(3) {
		case 0: // missing
		case 1:
			keys[i] = uint64(rng.IntN(50)) << 40 // many ties
		default:
			keys[i] = rng.Uint64()
		}
	}
	var want []uint32
	for i, k := range keys {
		if k != 0 {
			want = append(want, uint32(i))
		}
	}
	slices.SortFunc(want, func(a, b uint32) int { return cmp.Or(cmp.Compare(keys[a], keys[b]), cmp.Compare(a, b)) })
	assert.Equal(t, want, sortByKey(keys))
}

// TestLinkIndependentOfWorkers checks that clusters do not depend on the
// number of goroutines.
func TestLinkIndependentOfWorkers(t *testing.T) {
	p := newPreparer(nil)
	_ = p
	recs := syntheticRecords(2000, 3)
	one, err := Link(t.Context(), recs, &LinkOptions{Workers: 1})
	assert.NoError(t, err)
	four, err := Link(t.Context(), recs, &LinkOptions{Workers: 4})
	assert.NoError(t, err)
	assert.Equal(t, one.Cluster, four.Cluster)
	assert.Equal(t, one.Model, four.Model)
}
