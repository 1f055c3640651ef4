package benchmarks

import (
	"iter"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/merge"
)

// heavyOptions is the heavy patient: 8 sources, 200,000 entries, 20% of
// them copies of another source's fact.
var heavyOptions = ClinicalOptions{Seed: 42, Sources: 8, Entries: 200_000, DupRate: 0.2}

// heavy is the heavy patient's streams as the merge receives them: sorted
// and packed by merge.Sort (GenerateClinical sorts them, and this packs).
var heavy = sync.OnceValues(func() (*ClinicalSet, error) {
	set, err := GenerateClinical(heavyOptions)
	if err != nil {
		return nil, err
	}
	for _, s := range set.Sources {
		merge.Pack(s)
	}
	return set, nil
})

// heavyScattered is the same patient with each entry's tags, codes and
// values where the generator allocated them, one by one in generation
// order, as a parser leaves them before merge.Sort packs them.
var heavyScattered = sync.OnceValues(func() (*ClinicalSet, error) {
	return GenerateClinical(heavyOptions)
})

func heavySet(b *testing.B) *ClinicalSet {
	b.Helper()
	set, err := heavy()
	require.NoError(b, err)
	return set
}

// BenchmarkHeavyPatient measures one heavy patient: 8 sources, 200,000
// entries, about 20% of them copies of another source's fact.
//
//   - timeline: the k-way merge alone (no de-duplication) of in-memory
//     streams ([merge.InterleaveSlices]);
//   - timeline/seq: the same over iter.Seq streams ([merge.Interleave],
//     which pulls each stream in batches through iter.Pull);
//   - merge+dedup: the full merge into a reused Timeline (up to two
//     goroutines, the default [merge.Options.Workers]);
//   - merge+dedup/scattered: the same over streams not packed by
//     [merge.Sort], their tags, codes and values where they were allocated;
//   - sort: [merge.Sort] of the 8 streams (sorting and packing), the
//     preparation of each source's entries before a merge;
//   - serial-merge+dedup: the same on the calling goroutine alone;
//   - fresh-merge+dedup: the same with a new Merger and Timeline each time;
//   - filter: dropping one source from the merged timeline (a re-merge).
//
// Besides ns/op it reports entries/s, allocs/entry and cpu-ms/op: the
// process's CPU time per op (garbage collection included), which stays
// meaningful when the shared machine's cores are busy and wall time is not.
func BenchmarkHeavyPatient(b *testing.B) {
	set := heavySet(b)
	n := countEntries(set)
	opts := &merge.Options{Rules: set.Rules, Priority: []string{"src-0", "src-1"}}

	b.Run("timeline", func(b *testing.B) {
		interleaveLoop(b, n, func() iter.Seq2[merge.Entry, error] { return merge.InterleaveSlices(set.Sources, opts) })
	})
	b.Run("timeline/seq", func(b *testing.B) {
		seqs := make([]iter.Seq[merge.Entry], len(set.Sources))
		for i, s := range set.Sources {
			seqs[i] = slices.Values(s)
		}
		interleaveLoop(b, n, func() iter.Seq2[merge.Entry, error] { return merge.Interleave(seqs, opts) })
	})
	b.Run("merge+dedup", func(b *testing.B) {
		tl := mergeReused(b, opts, set.Sources, n)
		b.ReportMetric(float64(n-tl.Len())/float64(n), "merged-share")
	})
	b.Run("merge+dedup/scattered", func(b *testing.B) {
		sc, err := heavyScattered()
		require.NoError(b, err)
		mergeReused(b, opts, sc.Sources, n)
	})
	b.Run("sort", func(b *testing.B) {
		// merge.Sort of every source (sorting and packing), from streams in
		// reverse order: the per-source preparation before a merge.
		sc, err := heavyScattered()
		require.NoError(b, err)
		work := make([][]merge.Entry, len(sc.Sources))
		ms := start(b)
		for b.Loop() {
			b.StopTimer()
			for i, s := range sc.Sources {
				work[i] = append(work[i][:0], s...)
				slices.Reverse(work[i])
			}
			b.StartTimer()
			for _, s := range work {
				merge.Sort(s, opts)
			}
		}
		ms.report(b, n)
	})
	b.Run("serial-merge+dedup", func(b *testing.B) {
		mergeReused(b, &merge.Options{Rules: set.Rules, Priority: opts.Priority, Workers: 1}, set.Sources, n)
	})
	b.Run("fresh-merge+dedup", func(b *testing.B) {
		ms := start(b)
		for b.Loop() {
			if _, err := merge.MergeSlices(set.Sources, opts); err != nil {
				b.Fatal(err)
			}
		}
		ms.report(b, n)
	})
	b.Run("filter", func(b *testing.B) {
		tl, err := merge.MergeSlices(set.Sources, opts)
		require.NoError(b, err)
		ms := start(b)
		for b.Loop() {
			if _, err := tl.Without("src-3"); err != nil {
				b.Fatal(err)
			}
		}
		ms.report(b, n)
	})
}

// interleaveLoop benchmarks reading every one of the n entries of the
// timeline merge that merged returns.
func interleaveLoop(b *testing.B, n int, merged func() iter.Seq2[merge.Entry, error]) {
	ms := start(b)
	for b.Loop() {
		k := 0
		for _, err := range merged() {
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
}

// mergeReused benchmarks one Merger merging srcs (n entries) into one
// reused Timeline, and returns the timeline.
func mergeReused(b *testing.B, o *merge.Options, srcs [][]merge.Entry, n int) *merge.Timeline {
	m, err := merge.NewMerger(o)
	require.NoError(b, err)
	tl, err := m.MergeSlices(nil, srcs) // warm: the reused buffers exist
	require.NoError(b, err)
	ms := start(b)
	for b.Loop() {
		if tl, err = m.MergeSlices(tl, srcs); err != nil {
			b.Fatal(err)
		}
	}
	ms.report(b, n)
	return tl
}

// meter records CPU time and allocations from the start of a benchmark loop.
type meter struct {
	cpu     time.Duration
	mallocs uint64
}

func start(b *testing.B) meter {
	b.ReportAllocs()
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
