package merge

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/provenance"
)

// unsortedEntries returns n entries in random order with frequent time
// ties, several sources (so the priority matters), multi-tag lineages,
// times outside the packed key's range, and values, doses and no codes.
func unsortedEntries(rng *rand.Rand, n int) []Entry {
	es := make([]Entry, n)
	for i := range es {
		at := t0.Add(time.Duration(rng.IntN(6)) * time.Hour)
		switch rng.IntN(10) {
		case 0:
			at = time.Date(1500+rng.IntN(3), 1, 1, 0, 0, 0, 0, time.UTC) // before the key's range
		case 1:
			at = time.Date(2300+rng.IntN(3), 1, 1, 0, 0, 0, 0, time.UTC) // after it
		case 2:
			at = time.Time{}
		}
		tags := []provenance.Tag{{Source: fmt.Sprintf("s%d", rng.IntN(3)), ResourceType: "Observation", ResourceID: fmt.Sprint(rng.IntN(50))}}
		if rng.IntN(4) == 0 {
			tags = append(tags, provenance.Tag{Source: "s9", ResourceType: "Condition", ResourceID: fmt.Sprint(i)})
		}
		e := Entry{Category: CategoryResult, Time: at, Precision: PrecisionMinute, Lineage: provenance.Of(tags...)}
		switch rng.IntN(3) {
		case 0:
			e.Codes = []Code{hb(loinc), hb(local)}
			e.Value = &Quantity{Value: float64(rng.IntN(200)), Unit: "g/L"}
		case 1:
			e.Codes = []Code{drugA}
			e.Dose = &Quantity{Value: 5, Unit: "mg"}
			e.Value = &Quantity{Value: 1, Unit: "1"}
		}
		es[i] = e
	}
	return es
}

func TestSortEqualsStableSortByCompare(t *testing.T) {
	rng := newRand(11)
	for _, o := range []*Options{nil, {Priority: []string{"s2", "s0"}}} {
		for range 50 {
			es := unsortedEntries(rng, rng.IntN(300))
			want := slices.Clone(es)
			slices.SortStableFunc(want, o.Compare)
			Sort(es, o)
			require.Equal(t, want, es)
		}
	}
}

func TestPackKeepsValuesInBlocks(t *testing.T) {
	es := unsortedEntries(newRand(12), 500)
	orig := slices.Clone(es)
	packed := slices.Clone(es)
	Pack(packed)
	require.Equal(t, orig, packed, "values unchanged")

	// Each kind lies in one block in entry order: every entry's tags,
	// codes and quantities follow the previous entry's.
	var lastTag *provenance.Tag
	var lastCode *Code
	var lastQty *Quantity
	for i := range packed {
		e := &packed[i]
		if ts := e.Lineage.Tags(); len(ts) > 0 {
			if lastTag != nil {
				assert.Equal(t, unsafe.Add(unsafe.Pointer(lastTag), unsafe.Sizeof(*lastTag)), unsafe.Pointer(&ts[0]), "entry %d tags", i)
			}
			lastTag = &ts[len(ts)-1]
		}
		if cs := e.Codes; len(cs) > 0 {
			if lastCode != nil {
				assert.Equal(t, unsafe.Add(unsafe.Pointer(lastCode), unsafe.Sizeof(*lastCode)), unsafe.Pointer(&cs[0]), "entry %d codes", i)
			}
			lastCode = &cs[len(cs)-1]
			// Appending to a packed list must not reach the next entry's.
			assert.Equal(t, len(cs), cap(cs), "entry %d codes clipped", i)
		}
		for _, q := range []*Quantity{e.Value, e.Dose} {
			if q == nil {
				continue
			}
			if lastQty != nil {
				assert.Equal(t, unsafe.Add(unsafe.Pointer(lastQty), unsafe.Sizeof(*lastQty)), unsafe.Pointer(q), "entry %d quantity", i)
			}
			lastQty = q
		}
	}

	// Pack never writes the memory it moved the entries from.
	for i := range packed {
		if packed[i].Value != nil {
			packed[i].Value.Value = -1
		}
		if len(packed[i].Codes) > 0 {
			packed[i].Codes[0].Code = "changed"
		}
	}
	assert.Equal(t, orig, es, "the unpacked entries share nothing written")
}

func TestPackSharesEqualCodeStrings(t *testing.T) {
	a := Code{System: string([]byte(loinc)), Code: string([]byte("718-7")), Display: "Hb"}
	b := Code{System: string([]byte(loinc)), Code: string([]byte("718-7")), Display: "Haemoglobin"}
	es := []Entry{{Codes: []Code{a}}, {Codes: []Code{b}}}
	Pack(es)
	assert.Equal(t, unsafe.StringData(es[0].Codes[0].Code), unsafe.StringData(es[1].Codes[0].Code))
	assert.Equal(t, unsafe.StringData(es[0].Codes[0].System), unsafe.StringData(es[1].Codes[0].System))
	assert.Equal(t, "Haemoglobin", es[1].Codes[0].Display, "each entry keeps its own display")
}

func TestPackedRecognisesPackedBlocks(t *testing.T) {
	es := unsortedEntries(newRand(13), 3*touchBlock)
	for i := range es {
		if es[i].Lineage.Len() == 0 {
			es[i].Lineage = provenance.Of(provenance.Tag{Source: "s0", ResourceID: fmt.Sprint(i)})
		}
	}
	Pack(es)
	assert.True(t, packed(es[:touchBlock]))
	assert.True(t, packed(es[touchBlock:2*touchBlock]))
	rev := slices.Clone(es[:touchBlock])
	slices.Reverse(rev)
	assert.False(t, packed(rev), "a block read backwards is not in order")
	far := []Entry{es[0], es[len(es)-1]}
	assert.False(t, packed(far), "two entries far apart are not one short run")
	assert.False(t, packed(es[:1]))
	assert.False(t, packed([]Entry{{}, es[0]}), "an untagged entry")
}
