package fhirutil

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"github.com/carelens/carelens/internal/shareddata"
	"github.com/carelens/carelens/provenance"
)

// BenchmarkBundleDecode compares, on each Synthea bundle and in one run:
//
//   - json-maps: encoding/json into map[string]any (the floor: no FHIR);
//   - jsonformat: one validating jsonformat unmarshal of the whole
//     bundle on one goroutine (what a caller gets from google/fhir alone);
//   - fhirutil: Bundle to tagged entries and records as the viewer does
//     it: Decode with SkimUnmapped (split with one scan, skim the
//     resources of unmapped types, decode the others on a pool of
//     workers reusing unmarshallers) plus Entries and Patients;
//   - fhirutil-1worker: the same on one goroutine, to separate what the
//     split and the skim save from what the workers add;
//   - fhirutil-full: Decode without the skim (every resource decoded by
//     jsonformat, as fhir check does), plus Entries and Patients;
//   - fhirutil-validate: fhirutil-full with extended validation.
//
// Each reports MB/s (b.SetBytes) and resources/s (top-level entries).
func BenchmarkBundleDecode(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join(shareddata.Path(b, "fhir", "synthea-r4"), "*.json"))
	for _, f := range files {
		raw := readFile(b, f)
		n := 0
		for _, c := range countResources(b, raw) {
			n += c
		}
		name := strings.SplitN(filepath.Base(f), "_", 2)[0]
		report := func(b *testing.B) {
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "resources/s")
		}
		b.Run(name+"/json-maps", func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				var m map[string]any
				if err := json.Unmarshal(raw, &m); err != nil {
					b.Fatal(err)
				}
			}
			report(b)
		})
		for _, j := range []struct {
			name string
			new  func(string, fhirversion.Version) (*jsonformat.Unmarshaller, error)
		}{
			{"jsonformat", jsonformat.NewUnmarshaller},
			{"jsonformat-novalidate", jsonformat.NewUnmarshallerWithoutValidation},
		} {
			b.Run(name+"/"+j.name, func(b *testing.B) {
				u, err := j.new(TimeZone, fhirversion.R4)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(raw)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := u.Unmarshal(raw); err != nil {
						b.Fatal(err)
					}
				}
				report(b)
			})
		}
		for _, v := range []struct {
			name string
			o    Options
		}{
			{"fhirutil-validate", Options{Validate: true}},
			{"fhirutil-full", Options{}},
			{"fhirutil-1worker", Options{Workers: 1, SkimUnmapped: true}},
			{"fhirutil", Options{SkimUnmapped: true}},
		} {
			b.Run(name+"/"+v.name, func(b *testing.B) {
				o := v.o
				o.Source = provenance.Source{ID: "bench"}
				b.SetBytes(int64(len(raw)))
				b.ReportAllocs()
				for b.Loop() {
					batch, err := Decode(raw, &o)
					if err != nil || len(batch.Resources) != n {
						b.Fatal(err, len(batch.Resources))
					}
					_ = batch.Entries()
					_ = batch.Patients()
				}
				report(b)
			})
		}
	}
}

// BenchmarkBundleDecodeInterleaved runs the variants of
// BenchmarkBundleDecode in turn within each iteration (rotating which goes
// first) and reports, per variant, MB/s and resources/s from the median
// iteration time, and the speed of fhirutil relative to plain jsonformat.
// On a shared, loaded machine this compares the variants under the same
// conditions, which sequential sub-benchmarks do not. It also reports the
// median process CPU time per variant (all threads and GC), which the
// machine's load distorts far less than wall time.
func BenchmarkBundleDecodeInterleaved(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join(shareddata.Path(b, "fhir", "synthea-r4"), "*.json"))
	for _, f := range files {
		raw := readFile(b, f)
		n := 0
		for _, c := range countResources(b, raw) {
			n += c
		}
		u, err := jsonformat.NewUnmarshaller(TimeZone, fhirversion.R4)
		if err != nil {
			b.Fatal(err)
		}
		unv, err := jsonformat.NewUnmarshallerWithoutValidation(TimeZone, fhirversion.R4)
		if err != nil {
			b.Fatal(err)
		}
		decode := func(o *Options) func() {
			return func() {
				batch, err := Decode(raw, o)
				if err != nil || len(batch.Resources) != n {
					b.Fatal(err)
				}
				_ = batch.Entries()
				_ = batch.Patients()
			}
		}
		variants := []struct {
			name string
			run  func()
		}{
			{"json-maps", func() {
				var m map[string]any
				if err := json.Unmarshal(raw, &m); err != nil {
					b.Fatal(err)
				}
			}},
			{"jsonformat", func() {
				if _, err := u.Unmarshal(raw); err != nil {
					b.Fatal(err)
				}
			}},
			{"fhirutil-1worker", decode(&Options{Workers: 1, SkimUnmapped: true})},
			{"fhirutil", decode(&Options{SkimUnmapped: true})},
			{"jsonformat-novalidate", func() {
				if _, err := unv.Unmarshal(raw); err != nil {
					b.Fatal(err)
				}
			}},
			{"fhirutil-validate", decode(&Options{Validate: true})},
			{"fhirutil-full", decode(&Options{})},
		}
		name := strings.SplitN(filepath.Base(f), "_", 2)[0]
		b.Run(name, func(b *testing.B) {
			times := make([][]time.Duration, len(variants))
			cpu := make([][]time.Duration, len(variants))
			i := 0
			for b.Loop() {
				for k := range variants {
					v := (i + k) % len(variants)
					c0 := cpuTime()
					t0 := time.Now()
					variants[v].run()
					times[v] = append(times[v], time.Since(t0))
					cpu[v] = append(cpu[v], cpuTime()-c0)
				}
				i++
			}
			med := make([]float64, len(variants))
			medCPU := make([]float64, len(variants))
			for v := range variants {
				slices.Sort(times[v])
				slices.Sort(cpu[v])
				med[v] = times[v][len(times[v])/2].Seconds()
				medCPU[v] = cpu[v][len(cpu[v])/2].Seconds()
				b.ReportMetric(float64(len(raw))/1e6/med[v], variants[v].name+"-MB/s")
				b.ReportMetric(float64(n)/med[v], variants[v].name+"-res/s")
				b.ReportMetric(medCPU[v]*1e3, variants[v].name+"-cpu-ms")
			}
			// Speed ratios: how many times faster than plain jsonformat
			// decoding the same bundle (wall time, then CPU time).
			b.ReportMetric(med[1]/med[3], "fhirutil/jsonformat-x")
			b.ReportMetric(medCPU[1]/medCPU[3], "jsonformat-cpu/fhirutil-cpu-x")
			b.ReportMetric(med[1]/med[2], "fhirutil-1worker/jsonformat-x")
			b.ReportMetric(medCPU[1]/medCPU[2], "jsonformat-cpu/fhirutil-1worker-cpu-x")
			b.ReportMetric(med[4]/med[3], "fhirutil/jsonformat-novalidate-x")
			b.ReportMetric(medCPU[4]/medCPU[3], "jsonformat-novalidate-cpu/fhirutil-cpu-x")
			b.ReportMetric(med[1]/med[6], "fhirutil-full/jsonformat-x")
			b.ReportMetric(medCPU[1]/medCPU[6], "jsonformat-cpu/fhirutil-full-cpu-x")
			b.ReportMetric(med[1]/med[5], "fhirutil-validate/jsonformat-x")
		})
	}
}

// cpuTime returns the CPU time (user and system) used by the process so
// far, all threads and the garbage collector included.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
