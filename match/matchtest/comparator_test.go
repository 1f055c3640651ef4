package matchtest_test

import (
	"testing"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/match/matchtest"
)

// TestRegisteredComparators runs the conformance suite over every
// comparator a model can name.
func TestRegisteredComparators(t *testing.T) {
	for _, name := range match.ComparatorNames() {
		t.Run(name, func(t *testing.T) {
			c, ok := match.LookupComparator(name)
			if !ok {
				t.Fatalf("comparator %s listed but not found", name)
			}
			matchtest.RunComparator(t, c)
		})
	}
}
