package match

import "math"

// WeightHistogram counts scored pairs by match weight (log2 odds) in bins
// of equal width. It holds counts only, no PHI.
type WeightHistogram struct {
	// Min is the lower edge of Counts[0], in bits.
	Min float64 `json:"min"`
	// Width is the width of every bin, in bits.
	Width float64 `json:"width"`
	// Counts[k] counts the pairs whose weight is in [Min+k·Width,
	// Min+(k+1)·Width). The first bin also counts every pair below
	// histogramMin and the last every pair at or above histogramMax.
	Counts []int64 `json:"counts"`
}

// Total returns the number of pairs counted.
func (h *WeightHistogram) Total() int64 {
	var n int64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// The bins the pair loops count into: histogramBins bins of
// histogramWidth bits from histogramMin. Weights outside are clamped into
// the end bins; model weights stay well inside (each level is bounded).
const (
	histogramMin   = -64.0
	histogramWidth = 0.5
	histogramBins  = 256
)

// weightBins are the raw counts of one pair loop.
type weightBins [histogramBins]int64

func (b *weightBins) add(w float64) {
	k := 0 // also for NaN, which fails every comparison
	if x := math.Floor((w - histogramMin) / histogramWidth); x >= histogramBins {
		k = histogramBins - 1
	} else if x > 0 {
		k = int(x)
	}
	b[k]++
}

// histogram sums the bins of every worker and trims the empty bins at
// both ends; nil when no pair was counted.
func histogram(parts []weightBins) *WeightHistogram {
	var sum weightBins
	for i := range parts {
		for k, c := range parts[i] {
			sum[k] += c
		}
	}
	lo, hi := -1, -1
	for k, c := range sum {
		if c > 0 {
			if lo < 0 {
				lo = k
			}
			hi = k
		}
	}
	if lo < 0 {
		return nil
	}
	return &WeightHistogram{Min: histogramMin + float64(lo)*histogramWidth, Width: histogramWidth,
		Counts: append([]int64(nil), sum[lo:hi+1]...)}
}

// weightHistogram scores every candidate pair on every core and counts
// the weights.
func weightHistogram(sc *Scorer, recs []Prepared, pairs pairList, workers int) *WeightHistogram {
	parts := make([]weightBins, workers)
	done := make(chan struct{}, workers)
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for ci := w; ci < len(pairs.chunks); ci += workers {
				ch := pairs.chunks[ci]
				for k := range ch {
					parts[w].add(sc.weightOf(&ch[k], recs))
				}
			}
		}()
	}
	for range workers {
		<-done
	}
	return histogram(parts)
}
