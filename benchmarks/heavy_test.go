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

var heavy = sync.OnceValues(func() (*ClinicalSet, error) {
	return GenerateClinical(ClinicalOptions{Seed: 42, Sources: 8, Entries: 200_000, DupRate: 0.2})
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
//     which pulls each stream through iter.Pull);
//   - merge+dedup: the full merge into a reused Timeline (up to two
//     goroutines, the default [merge.Options.Workers]);
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
		ms := start(b)
		for b.Loop() {
			k := 0
			for _, err := range merge.InterleaveSlices(set.Sources, opts) {
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
	b.Run("timeline/seq", func(b *testing.B) {
		seqs := make([]iter.Seq[merge.Entry], len(set.Sources))
		for i, s := range set.Sources {
			seqs[i] = slices.Values(s)
		}
		ms := start(b)
		for b.Loop() {
			k := 0
			for _, err := range merge.Interleave(seqs, opts) {
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
	b.Run("merge+dedup", func(b *testing.B) {
		m, err := merge.NewMerger(opts)
		require.NoError(b, err)
		tl, err := m.MergeSlices(nil, set.Sources) // warm: the reused buffers exist
		require.NoError(b, err)
		ms := start(b)
		for b.Loop() {
			if tl, err = m.MergeSlices(tl, set.Sources); err != nil {
				b.Fatal(err)
			}
		}
		ms.report(b, n)
		b.ReportMetric(float64(n-tl.Len())/float64(n), "merged-share")
	})
	b.Run("serial-merge+dedup", func(b *testing.B) {
		m, err := merge.NewMerger(&merge.Options{Rules: set.Rules, Priority: opts.Priority, Workers: 1})
		require.NoError(b, err)
		tl, err := m.MergeSlices(nil, set.Sources)
		require.NoError(b, err)
		ms := start(b)
		for b.Loop() {
			if tl, err = m.MergeSlices(tl, set.Sources); err != nil {
				b.Fatal(err)
			}
		}
		ms.report(b, n)
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
