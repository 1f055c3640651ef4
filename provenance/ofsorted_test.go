package provenance

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestOfSorted(t *testing.T) {
	a := Tag{Source: "a", ResourceID: "1"}
	b := Tag{Source: "b", ResourceID: "1"}
	tests := []struct {
		name   string
		in     []Tag
		want   []Tag
		retain bool
	}{
		{name: "empty", in: nil, want: nil},
		{name: "sorted is retained", in: []Tag{a, b}, want: []Tag{a, b}, retain: true},
		{name: "unsorted is copied and sorted", in: []Tag{b, a}, want: []Tag{a, b}},
		{name: "duplicates are removed", in: []Tag{a, a, b}, want: []Tag{a, b}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := OfSorted(tc.in)
			assert.True(t, l.Equal(Of(tc.want...)))
			if tc.retain {
				assert.Same(t, &tc.in[0], &l.Tags()[0])
			}
		})
	}
}
