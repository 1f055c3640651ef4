package benchmarks

import (
	"fmt"
	"iter"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/merge"
)

// mergeSizes are the patients of issue 17: a typical patient (3 sources,
// 2,000 entries), a heavy one (8 sources, 20,000) and an extreme one (8
// sources, 200,000), each with about 20% of its entries copies of another
// source's fact.
var mergeSizes = []struct {
	name string
	opts ClinicalOptions
}{
	{"typical-3x2k", ClinicalOptions{Seed: 17, Sources: 3, Entries: 2_000}},
	{"heavy-8x20k", ClinicalOptions{Seed: 17, Sources: 8, Entries: 20_000}},
	{"extreme-8x200k", ClinicalOptions{Seed: 17, Sources: 8, Entries: 200_000}},
}

// BenchmarkMergeSizes measures, for each patient of mergeSizes:
//
//   - merge: merge + de-duplicate + build with one compiled [merge.Engine],
//     of the streams as a source's response leaves them after
//     [merge.Engine.Sort] (as federate and carelens timeline do);
//   - merge/unsorted-layout: the same of the generator's streams, in order
//     but with their codes and tags where the generator allocated them;
//   - filter: [merge.Timeline.Without] one source (the viewer's source
//     checkbox unticked), a re-merge with the same engine;
//   - timeline: the k-way merge alone over iter.Seq streams
//     ([merge.Engine.Interleave]);
//   - sort: [merge.Engine.Sort] of every source, from streams in reverse
//     order: the per-source preparation before a merge.
//
// Besides ns/op it reports entries/s, allocs/entry and cpu-ms/op: the
// process's CPU time per op (garbage collection included), which stays
// meaningful when the shared machine's cores are busy and wall time is not.
func BenchmarkMergeSizes(b *testing.B) {
	for _, sz := range mergeSizes {
		// A patient is generated only when one of its benchmarks is selected.
		b.Run(sz.name, func(b *testing.B) { benchmarkMergeSize(b, sz.opts) })
	}
}

// benchmarkMergeSize runs BenchmarkMergeSizes's benchmarks on one patient.
func benchmarkMergeSize(b *testing.B, opts ClinicalOptions) {
	set, err := GenerateClinical(opts)
	require.NoError(b, err)
	n := countEntries(set)
	eng, err := merge.Compile(&merge.Options{Rules: set.Rules, Priority: []string{"src-0", "src-1"}})
	require.NoError(b, err)
	sorted := make([][]merge.Entry, len(set.Sources))
	for i, s := range set.Sources {
		sorted[i] = slices.Clone(s)
		eng.Sort(sorted[i])
	}
	for _, layout := range []struct {
		name string
		srcs [][]merge.Entry
	}{{"merge", sorted}, {"merge/unsorted-layout", set.Sources}} {
		b.Run(layout.name, func(b *testing.B) {
			var tl *merge.Timeline
			ms := start(b, func() { _, _ = eng.MergeSlices(layout.srcs) })
			for b.Loop() {
				if tl, err = eng.MergeSlices(layout.srcs); err != nil {
					b.Fatal(err)
				}
			}
			ms.report(b, n)
			b.ReportMetric(float64(tl.Len()), "out-entries")
		})
	}
	b.Run("filter", func(b *testing.B) {
		tl, err := eng.MergeSlices(sorted)
		require.NoError(b, err)
		drop := fmt.Sprintf("src-%d", opts.Sources-1)
		ms := start(b, func() { _, _ = tl.Without(drop) })
		for b.Loop() {
			if _, err := tl.Without(drop); err != nil {
				b.Fatal(err)
			}
		}
		ms.report(b, n)
	})
	b.Run("timeline", func(b *testing.B) {
		seqs := make([]iter.Seq[merge.Entry], len(set.Sources))
		for i, s := range set.Sources {
			seqs[i] = slices.Values(s)
		}
		ms := start(b, func() {
			for range eng.Interleave(seqs) {
			}
		})
		for b.Loop() {
			k := 0
			for _, err := range eng.Interleave(seqs) {
				if err != nil {
					b.Fatal(err)
				}
				k++
			}
			if k != n {
				b.Fatalf("merged %d of %d", k, n)
			}
		}
		ms.report(b, n)
	})
	b.Run("sort", func(b *testing.B) {
		work := make([][]merge.Entry, len(set.Sources))
		ms := start(b, nil)
		for b.Loop() {
			b.StopTimer()
			for i, s := range set.Sources {
				work[i] = append(work[i][:0], s...)
				slices.Reverse(work[i])
			}
			b.StartTimer()
			for _, s := range work {
				eng.Sort(s)
			}
		}
		ms.report(b, n)
	})
}

// meter records CPU time and allocations from the start of a benchmark loop.
type meter struct {
	cpu     time.Duration
	mallocs uint64
}

func start(b *testing.B, warm func()) meter {
	b.ReportAllocs()
	// Collect the setup's garbage (generating and sorting a patient
	// allocates far more than a merge), then run the operation untimed for
	// 0.3 s, so that the runtime has returned the setup's memory and the
	// heap is in the steady state of a viewer merging again and again.
	// Without it the first benchmark after a setup paid for that: under
	// the same load typical-3x2k/merge measured 0.58-0.71 cpu-ms/op run
	// first against 0.47-0.52 with the warm-up.
	runtime.GC()
	for t0 := time.Now(); warm != nil && time.Since(t0) < 300*time.Millisecond; {
		warm()
	}
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	return meter{cpu: cpuNow(), mallocs: mem.Mallocs}
}

// report adds entries/s, allocs/entry and cpu-ms/op for n entries per op.
func (m meter) report(b *testing.B, n int) {
	cpu := cpuNow() - m.cpu
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	ops := float64(b.N)
	b.ReportMetric(float64(n)*ops/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(mem.Mallocs-m.mallocs)/ops/float64(n), "allocs/entry")
	b.ReportMetric(float64(cpu)/ops/1e6, "cpu-ms/op")
	b.ReportMetric(float64(n)*ops/cpu.Seconds(), "entries/cpu-s")
}

// cpuNow returns the process's CPU time, user and system, all threads.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
