package match

import (
	"math"
	"testing"
)

// TestSafeLevelsKeepsStatesApart checks that making the state where the
// postcode agrees safe changes only that state's m: the town's u given an
// agreeing postcode is near 1 at the exact level, and raising the overall
// m to match it crushed m(else) to 0.001 for every pair (issue 13).
func TestSafeLevelsKeepsStatesApart(t *testing.T) {
	town := Comparison{Name: "town", Given: "postcode", Levels: []Level{{Kind: LevelNull, M: 1, U: 1},
		{Label: "exact", Kind: LevelExact, M: 0.85, U: 0.04, UGiven: 0.99},
		{Label: "else", Kind: LevelElse, M: 0.15, U: 0.96, UGiven: 0.005, MNot: 0.9}}}
	town.Levels[1].MNot = 0.1
	safeLevels(&town, FieldTown, make([]Estimate, 3))
	exact, els := town.Levels[1], town.Levels[2]
	if exact.M != 0.85 || els.M != 0.15 {
		t.Errorf("overall m changed: exact %g, else %g", exact.M, els.M)
	}
	if wg, we := math.Log2(exact.MGiven/exact.UGiven), math.Log2(els.MGiven/els.UGiven); wg < we {
		t.Errorf("postcode agreeing: exact weighs %.2f, less than else %.2f", wg, we)
	}
	if exact.MNot != 0.1 || els.MNot != 0.9 {
		t.Errorf("m with the postcode differing changed: exact %g, else %g", exact.MNot, els.MNot)
	}
}
