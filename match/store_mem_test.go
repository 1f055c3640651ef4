package match_test

import (
	"testing"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/match/matchtest"
)

func TestMemoryStoreConformance(t *testing.T) {
	matchtest.RunStore(t, func(*testing.T) match.Store { return match.NewMemoryStore() })
}
