package merge

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCodeCacheAgreesWithRules(t *testing.T) {
	m, err := NewMerger(&Options{Rules: testRules()})
	require.NoError(t, err)
	var c codeCache
	// Equal strings at one address (as Pack leaves them), equal strings at
	// other addresses, prefixes of a cached string (same address, shorter),
	// and codes the rules do not map, looked up repeatedly.
	shared := hb(loinc)
	codes := []Code{shared, shared, hb(local), glucoseLOINC, drugA, {System: local, Code: "X"}, {}}
	codes = append(codes, Code{System: strings.Clone(loinc), Code: strings.Clone("718-7")})
	codes = append(codes, Code{System: loinc, Code: shared.Code[:3]})  // "718": same address, shorter
	codes = append(codes, Code{System: loinc[:10], Code: shared.Code}) // a system prefix
	codes = append(codes, Code{System: local, Code: "718-7"})          // same code, other system
	rng := newRand(3)
	for range 2000 {
		cd := codes[rng.IntN(len(codes))]
		wantID, wantOK := m.rules.lookup(cd.System, cd.Code)
		id, ok := c.lookup(m.rules, cd.System, cd.Code)
		require.Equal(t, wantOK, ok, "%+v", cd)
		if ok {
			require.Equal(t, wantID, id, "%+v", cd)
		}
	}
	c.reset()
	_, ok := c.lookup(m.rules, loinc, "718")
	assert.False(t, ok)
}
