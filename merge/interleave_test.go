package merge

import (
	"fmt"
	"iter"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ids(seq iter.Seq2[Entry, error]) ([]string, error) {
	var out []string
	for e, err := range seq {
		if err != nil {
			return out, err
		}
		tg := e.Lineage.Tags()[0]
		out = append(out, tg.Source+"/"+tg.ResourceID)
	}
	return out, nil
}

func seqs(srcs [][]Entry) []iter.Seq[Entry] {
	out := make([]iter.Seq[Entry], len(srcs))
	for i, s := range srcs {
		out[i] = slices.Values(s)
	}
	return out
}

func TestInterleave(t *testing.T) {
	m := time.Minute
	e := func(src, id string, at time.Duration) Entry {
		return ent(src, id, CategoryResult, t0.Add(at), PrecisionMinute, hb(loinc))
	}
	tests := []struct {
		name     string
		srcs     [][]Entry
		priority []string
		want     []string
		wantErr  error
		reason   string
	}{
		{name: "no streams", srcs: nil, want: nil},
		{name: "one stream passes through", srcs: [][]Entry{{e("a", "1", 0), e("a", "2", m)}}, want: []string{"a/1", "a/2"}},
		{
			name: "interleaved by time",
			srcs: [][]Entry{{e("a", "1", 0), e("a", "2", 2*m)}, {e("b", "1", m), e("b", "2", 3*m)}, {}},
			want: []string{"a/1", "b/1", "a/2", "b/2"},
		},
		{
			name:   "ties go to the source id without priorities",
			srcs:   [][]Entry{{e("b", "1", 0)}, {e("a", "1", 0)}, {e("c", "1", 0)}},
			want:   []string{"a/1", "b/1", "c/1"},
			reason: "the order does not depend on the order of the streams",
		},
		{
			name:     "ties go to the trusted source first",
			srcs:     [][]Entry{{e("b", "1", 0)}, {e("a", "1", 0)}, {e("c", "1", 0)}},
			priority: []string{"c"},
			want:     []string{"c/1", "a/1", "b/1"},
		},
		{
			name: "ties within a stream by record id",
			srcs: [][]Entry{{e("a", "1", 0), e("a", "2", 0)}, {e("b", "1", 0)}},
			want: []string{"a/1", "a/2", "b/1"},
		},
		{
			name:    "unsorted stream is an error, not a mis-merge",
			srcs:    [][]Entry{{e("a", "1", m), e("a", "2", 0)}, {e("b", "1", 0)}},
			want:    []string{"b/1", "a/1"},
			wantErr: ErrUnsorted,
		},
		{
			name:    "unsorted single stream",
			srcs:    [][]Entry{{e("a", "2", 0), e("a", "1", 0)}},
			want:    []string{"a/2"},
			wantErr: ErrUnsorted,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ids(interleave(seqs(tc.srcs), &Options{Priority: tc.priority}))
			assert.ErrorIs(t, err, tc.wantErr)
			assert.Equal(t, tc.want, got, tc.reason)
		})
	}
}

func TestInterleaveStopsEarly(t *testing.T) {
	srcs := randomStreams(newRand(1), 4, 30)
	n := 0
	for range interleave(seqs(srcs), nil) {
		n++
		if n == 3 {
			break
		}
	}
	assert.Equal(t, 3, n)
}

func TestInterleaveMatchesSort(t *testing.T) {
	rng := newRand(2)
	for range 50 {
		srcs := randomStreams(rng, 1+rng.IntN(9), 40)
		o := &Options{Priority: []string{"s3", "s1"}}
		var want []Entry
		for _, s := range srcs {
			want = append(want, s...)
		}
		slices.SortStableFunc(want, compareBy(o))
		var got []Entry
		for e, err := range interleave(seqs(srcs), o) {
			require.NoError(t, err)
			got = append(got, e)
		}
		assert.Equal(t, want, got)
	}
}

func BenchmarkInterleave(b *testing.B) {
	for _, k := range []int{2, 8, 32} {
		srcs := randomStreams(newRand(4), k, 20000/k)
		n := 0
		for _, s := range srcs {
			n += len(s)
		}
		e := engine(b, nil)
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, err := range e.Interleave(seqs(srcs)) {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}
