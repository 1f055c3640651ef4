package match

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWeightHistogramBins(t *testing.T) {
	var b weightBins
	for _, w := range []float64{-3.2, -3.0, 0, 0.49, 0.5, 1000, math.Inf(-1), math.NaN()} {
		b.add(w)
	}
	h := histogram([]weightBins{b})
	require.NotNil(t, h)
	assert.Equal(t, histogramMin, h.Min, "the clamped low values keep the first bin")
	assert.EqualValues(t, 8, h.Total())
	at := func(w float64) int64 { return h.Counts[int((w-h.Min)/h.Width)] }
	assert.EqualValues(t, 2, at(histogramMin), "-Inf and NaN in the first bin")
	assert.EqualValues(t, 1, at(-3.5), "-3.2 in [-3.5, -3)")
	assert.EqualValues(t, 1, at(-3), "-3 in [-3, -2.5)")
	assert.EqualValues(t, 2, at(0))
	assert.EqualValues(t, 1, at(0.5))
	assert.EqualValues(t, 1, h.Counts[len(h.Counts)-1], "1000 clamped into the last bin")
	assert.Nil(t, histogram(make([]weightBins, 2)), "no pairs, no histogram")
}

// TestLinkWeightHistogram checks that Link counts every candidate pair,
// and that Train records the same histogram in the model.
func TestLinkWeightHistogram(t *testing.T) {
	recs := syntheticRecords(300, 7)
	res, err := Link(t.Context(), recs, &LinkOptions{Train: TrainOptions{Seed: 1}})
	require.NoError(t, err)
	require.NotNil(t, res.Stats.Weights)
	assert.Equal(t, res.Stats.CandidatePairs, res.Stats.Weights.Total())
	assert.Equal(t, res.Stats.Weights, res.Model.Training.Weights)
	m, err := Train(t.Context(), recs, nil, &TrainOptions{Seed: 1})
	require.NoError(t, err)
	assert.Equal(t, res.Stats.Weights, m.Training.Weights, "same pairs, same model, same weights")
}
