package provenance

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSourceValidate(t *testing.T) {
	tests := []struct {
		name    string
		src     Source
		wantErr bool
	}{
		{name: "hospital", src: Source{ID: "rxx", Org: "RXX", Kind: KindHospital, Name: "Acute"}},
		{name: "111", src: Source{ID: "111", Kind: KindNHS111}},
		{name: "no id", src: Source{Kind: KindGP}, wantErr: true},
		{name: "unknown kind", src: Source{ID: "x", Kind: "pharmacy"}, wantErr: true},
		{name: "empty kind", src: Source{ID: "x"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.src.Validate()
			if tc.wantErr {
				assert.ErrorIs(t, err, ErrInvalidSource)
			} else {
				assert.NoError(t, err)
			}
		})
	}
	k, err := ParseKind(" Mental-Health ")
	require.NoError(t, err)
	assert.Equal(t, KindMentalHealth, k)
}

func TestTagString(t *testing.T) {
	assert.Equal(t, "gp:Observation/o1/_history/3", Tag{Source: "gp", ResourceType: "Observation", ResourceID: "o1", Version: "3"}.String())
	assert.Equal(t, "gp", Tag{Source: "gp"}.String())
}

func randTags(r *rand.Rand, n int) []Tag {
	srcs := []string{"gp", "hospital", "community", "111"}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]Tag, n)
	for i := range out {
		out[i] = Tag{
			Source:       srcs[r.IntN(len(srcs))],
			ResourceType: "Observation",
			ResourceID:   string(rune('a' + r.IntN(5))),
			Version:      string(rune('1' + r.IntN(2))),
			Asserted:     base.Add(time.Duration(r.IntN(3)) * time.Hour),
		}
	}
	return out
}

// TestLineageSetProperties checks Of and Union against a naive set model.
func TestLineageSetProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		a, b := randTags(r, r.IntN(6)), randTags(r, r.IntN(6))
		la, lb := Of(a...), Of(b...)

		u := la.Union(lb)
		assert.True(t, slices.IsSortedFunc(u.Tags(), CompareTag), "sorted")
		assert.True(t, u.Equal(lb.Union(la)), "union commutes")
		assert.True(t, u.Equal(Of(append(slices.Clone(a), b...)...)), "union equals Of of both")
		for _, tg := range append(a, b...) {
			assert.True(t, u.Contains(tg), "no tag lost")
			assert.True(t, u.Has(tg.Source))
		}
		for i := 1; i < u.Len(); i++ {
			assert.NotZero(t, CompareTag(u.Tags()[i-1], u.Tags()[i]), "no duplicates")
		}
		lc := Of(randTags(r, 3)...)
		assert.True(t, la.Union(lb).Union(lc).Equal(la.Union(lb.Union(lc))), "union associates")

		w := u.Without("gp")
		assert.False(t, w.Has("gp"))
		for _, tg := range u.Tags() {
			if tg.Source != "gp" {
				assert.True(t, w.Contains(tg))
			}
		}
		assert.True(t, w.Equal(u.Filter(func(s string) bool { return s != "gp" })))
	}
}

func TestLineageImmutable(t *testing.T) {
	in := []Tag{{Source: "b"}, {Source: "a"}}
	l := Of(in...)
	in[0].Source = "z"
	assert.Equal(t, []string{"a", "b"}, l.Sources(), "Of does not retain its argument")
	u := l.Union(Of(Tag{Source: "c"}))
	assert.Equal(t, []string{"a", "b"}, l.Sources(), "Union leaves the receiver alone")
	assert.Equal(t, []string{"a", "b", "c"}, u.Sources())
}

func TestLineageHasDoesNotAllocate(t *testing.T) {
	l := Of(Tag{Source: "gp"}, Tag{Source: "hospital"}, Tag{Source: "community"})
	allocs := testing.AllocsPerRun(100, func() {
		_ = l.Has("hospital")
		_ = l
	})
	assert.Zero(t, allocs)
}

func TestLineageJSONRoundTrip(t *testing.T) {
	l := Of(Tag{Source: "hospital", ResourceType: "Observation", ResourceID: "1",
		Asserted: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}, Tag{Source: "gp", ResourceID: "x"})
	b, err := json.Marshal(l)
	require.NoError(t, err)
	var got Lineage
	require.NoError(t, json.Unmarshal(b, &got))
	assert.True(t, l.Equal(got), "%s != %s", l, got)
	empty, err := json.Marshal(Lineage{})
	require.NoError(t, err)
	assert.JSONEq(t, "[]", string(empty))
	assert.Error(t, json.Unmarshal([]byte(`{"x":1}`), &got))
}

func BenchmarkLineageUnion(b *testing.B) {
	x := Of(Tag{Source: "gp", ResourceID: "1"})
	y := Of(Tag{Source: "hospital", ResourceID: "2"})
	b.ReportAllocs()
	for b.Loop() {
		_ = x.Union(y)
	}
}

func BenchmarkLineageHas(b *testing.B) {
	l := Of(Tag{Source: "gp"}, Tag{Source: "hospital"}, Tag{Source: "community"}, Tag{Source: "111"})
	b.ReportAllocs()
	for b.Loop() {
		_ = l.Has("hospital")
	}
}
