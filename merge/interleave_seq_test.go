package merge

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/provenance"
)

// batchStarts returns positions below n at which a reader that pulls in
// doubling batches (32 up to 512) would start a new batch: boundaries at
// which an out-of-order entry is easy to miss.
func batchStarts(n int) []int {
	var out []int
	for p, size := 0, 32; p < n; p, size = p+size, min(2*size, 512) {
		if p > 0 {
			out = append(out, p)
		}
	}
	return out
}

// collect runs seq to its end, returning the entries and the error, and
// fails if anything follows the error.
func collect(t *testing.T, seq iter.Seq2[Entry, error]) ([]Entry, error) {
	t.Helper()
	var out []Entry
	var err error
	for e, er := range seq {
		require.NoError(t, err, "nothing after the error")
		if er != nil {
			err = er
			continue
		}
		out = append(out, e)
	}
	return out, err
}

// extremes are times outside the range of the packed keys, or at its edges.
var extremes = []time.Time{
	{},
	time.Date(1600, 5, 1, 0, 0, 0, 0, time.UTC),
	time.Date(1677, 9, 21, 0, 12, 43, 145224192, time.UTC),
	time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC),
	time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
}

func TestInterleaveSeqMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	n := 250
	if testing.Short() {
		n = 120
	}
	unsorted := 0
	for it := range n {
		k := rng.IntN(13)
		maxLen := 12
		switch rng.IntN(4) {
		case 0:
			maxLen = 2200 // several batches
		case 1:
			maxLen = 300
		}
		srcs := randomStreams(rng, k, maxLen)
		for s := range srcs {
			if rng.IntN(4) == 0 && len(srcs[s]) > 0 {
				// Entries at the extremes of time, still sorted.
				for range 1 + rng.IntN(5) {
					srcs[s][rng.IntN(len(srcs[s]))].Time = extremes[rng.IntN(len(extremes))]
				}
				sortEntries(srcs[s], nil)
			}
		}
		if k > 0 && rng.IntN(3) == 0 {
			// One or two streams out of order, often right at a batch start.
			for range 1 + rng.IntN(2) {
				src := srcs[rng.IntN(k)]
				if len(src) < 2 {
					continue
				}
				p := 1 + rng.IntN(len(src)-1)
				if starts := batchStarts(len(src)); len(starts) > 0 && rng.IntN(3) > 0 {
					p = starts[rng.IntN(len(starts))]
				}
				src[p].Time = src[p-1].Time.Add(-time.Duration(1+rng.IntN(3)) * time.Hour)
				unsorted++
			}
		}
		opts := &Options{Rules: testRules(), Priority: []string{"s3", "s1"}}
		if rng.IntN(3) == 0 {
			opts = nil
		}
		got, gotErr := collect(t, interleave(seqs(srcs), opts))
		// The naive answer: a stream out of order is an error; otherwise the
		// result is a stable sort of the streams laid end to end.
		bad := false
		var all []Entry
		for _, src := range srcs {
			bad = bad || !slices.IsSortedFunc(src, compareBy(opts))
			all = append(all, src...)
		}
		if !bad {
			require.NoError(t, gotErr, "iteration %d", it)
			slices.SortStableFunc(all, compareBy(opts))
			require.Equal(t, all, got, "iteration %d (%d streams)", it, k)
		} else {
			require.ErrorIs(t, gotErr, ErrUnsorted, "iteration %d", it)
			require.True(t, slices.IsSortedFunc(got, compareBy(opts)), "iteration %d: what came before the error is in order", it)
		}
	}
	assert.Positive(t, unsorted)
}

func TestInterleaveSeqUnsortedAtBatchStart(t *testing.T) {
	for _, k := range []int{2, 8, 9} {
		for _, p := range batchStarts(3000) {
			srcs := randomStreams(newRand(uint64(p)), k, 10)
			long := make([]Entry, 3000)
			for i := range long {
				long[i] = ent("long", fmt.Sprint(i), CategoryResult, t0.Add(time.Duration(i)*time.Minute), PrecisionMinute, hb(loinc))
			}
			long[p].Time = long[p-1].Time.Add(-time.Second)
			srcs = append(srcs, long)
			_, err := collect(t, interleave(seqs(srcs), nil))
			require.ErrorIs(t, err, ErrUnsorted)
			assert.Equal(t, fmt.Sprintf("%v: stream %d, position %d", ErrUnsorted, k, p), err.Error())
		}
	}
}

// counted is a long stream, generated as it is read, that records whether
// its yield returned false and whether it has returned.
type counted struct {
	src      string
	n        int
	panicAt  int // panic with panicVal before yielding this position; -1 never
	panicVal any
	refused  atomic.Bool
	returned atomic.Bool
	yielded  atomic.Int64
}

func (c *counted) seq(yield func(Entry) bool) {
	defer c.returned.Store(true)
	for i := range c.n {
		if i == c.panicAt {
			panic(c.panicVal)
		}
		e := Entry{Category: CategoryResult, Time: t0.Add(time.Duration(i) * time.Second), Precision: PrecisionSecond,
			Lineage: provenance.Of(provenance.Tag{Source: c.src, ResourceType: "Observation", ResourceID: fmt.Sprint(i)})}
		c.yielded.Add(1)
		if !yield(e) {
			c.refused.Store(true)
			return
		}
	}
}

func countedStreams(k, n int) ([]*counted, []iter.Seq[Entry]) {
	cs := make([]*counted, k)
	ss := make([]iter.Seq[Entry], k)
	for i := range cs {
		cs[i] = &counted{src: fmt.Sprintf("c%d", i), n: n, panicAt: -1}
		ss[i] = cs[i].seq
	}
	return cs, ss
}

// settled waits briefly for the goroutine count to come back to before.
func settled(t *testing.T, before int) {
	t.Helper()
	n := runtime.NumGoroutine()
	for i := 0; i < 100 && n > before; i++ {
		time.Sleep(5 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	assert.LessOrEqual(t, n, before, "no goroutine left running")
}

func TestInterleaveSeqStopsEarly(t *testing.T) {
	for _, k := range []int{2, 5, 8, 9, 12} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			before := runtime.NumGoroutine()
			cs, ss := countedStreams(k, 100000)
			n := 0
			for e, err := range interleave(ss, nil) {
				require.NoError(t, err)
				require.Equal(t, t0.Add(time.Duration(n/k)*time.Second), e.Time)
				if n++; n == 7 {
					break
				}
			}
			assert.Equal(t, 7, n)
			for _, c := range cs {
				// Interleave waits for every stream to stop before it returns.
				assert.True(t, c.returned.Load(), "%s returned", c.src)
				assert.True(t, c.refused.Load(), "%s saw its yield return false", c.src)
				assert.Less(t, c.yielded.Load(), int64(c.n), "%s read ahead only so far", c.src)
			}
			settled(t, before)
		})
	}
}

func TestInterleaveSeqErrorStopsStreams(t *testing.T) {
	for _, k := range []int{3, 10} {
		before := runtime.NumGoroutine()
		cs, ss := countedStreams(k-1, 100000)
		bad := []Entry{
			ent("bad", "1", CategoryResult, t0.Add(time.Hour), PrecisionMinute, hb(loinc)),
			ent("bad", "2", CategoryResult, t0, PrecisionMinute, hb(loinc)),
		}
		ss = append(ss, slices.Values(bad))
		es, err := collect(t, interleave(ss, nil))
		require.ErrorIs(t, err, ErrUnsorted)
		assert.Equal(t, fmt.Sprintf("%v: stream %d, position 1", ErrUnsorted, k-1), err.Error())
		assert.Equal(t, 3600*(k-1)+1, len(es), "entries up to the out-of-order one's predecessor")
		for _, c := range cs {
			assert.True(t, c.returned.Load())
			assert.True(t, c.refused.Load())
		}
		settled(t, before)
	}
}

func TestInterleaveSeqPanics(t *testing.T) {
	for _, k := range []int{2, 8, 9} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			before := runtime.NumGoroutine()
			cs, ss := countedStreams(k, 5000)
			cs[k-1].panicAt, cs[k-1].panicVal = 1234, "source broke"
			n := 0
			assert.PanicsWithValue(t, "source broke", func() {
				for _, err := range interleave(ss, nil) {
					require.NoError(t, err)
					n++
				}
			})
			// Every entry before the panic in merged order came first.
			assert.Equal(t, 1234*k, n)
			for _, c := range cs {
				assert.True(t, c.returned.Load())
			}
			settled(t, before)
		})
	}
}

func TestInterleaveSeqPanicNil(t *testing.T) {
	cs, ss := countedStreams(3, 5000)
	cs[0].panicAt = 10
	defer func() {
		v := recover()
		require.NotNil(t, v)
		var pe *runtime.PanicNilError
		assert.ErrorAs(t, v.(error), &pe)
	}()
	for range interleave(ss, nil) {
	}
	t.Fatal("no panic")
}

func TestInterleaveSeqBodyPanics(t *testing.T) {
	before := runtime.NumGoroutine()
	cs, ss := countedStreams(4, 100000)
	assert.PanicsWithValue(t, "body broke", func() {
		for range interleave(ss, nil) {
			panic("body broke")
		}
	})
	for _, c := range cs {
		assert.True(t, c.returned.Load())
		assert.True(t, c.refused.Load())
	}
	settled(t, before)
}

func TestInterleaveSeqPanicNotReached(t *testing.T) {
	// The merge stops before it needs the entry a stream panicked on.
	for _, k := range []int{2, 9} {
		cs, ss := countedStreams(k, 5000)
		cs[k-1].panicAt, cs[k-1].panicVal = 1234, "source broke"
		n := 0
		assert.NotPanics(t, func() {
			for range interleave(ss, nil) {
				if n++; n == 1100*k {
					break
				}
			}
		})
		assert.Equal(t, 1100*k, n)
	}
}

func TestInterleaveSeqPanicOnStop(t *testing.T) {
	// A stream that panics when its yield returns false panics the loop,
	// as it would ranged over directly.
	_, ss := countedStreams(2, 5000)
	ss = append(ss, func(yield func(Entry) bool) {
		for i := range 5000 {
			if !yield(ent("p", fmt.Sprint(i), CategoryResult, t0.Add(time.Duration(i)*time.Second), PrecisionSecond, hb(loinc))) {
				panic("stopped")
			}
		}
	})
	assert.PanicsWithValue(t, "stopped", func() {
		for range interleave(ss, nil) {
			break
		}
	})
}
