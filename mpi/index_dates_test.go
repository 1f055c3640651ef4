package mpi_test

import (
	"testing"

	"github.com/carelens/carelens/mpi"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/match"
)

// TestIndexReadsDatesByPrepareOptions checks that the identity index
// reads birth dates by its [mpi.IndexOptions.Prepare], as the batch
// linker does, in its scorer and in its safety rules alike, with and
// without a model: a historical birth date inside the configured range is
// a usable birth date, and a source's month-first dates are read month
// first when the options say so.
func TestIndexReadsDatesByPrepareOptions(t *testing.T) {
	person := func(src, dob string) match.Record {
		r := testPerson(5, src)
		r.BirthDate = dob
		r.Phone = "" // a shared phone would link a missing birth date (ConstraintHousehold)
		return r
	}
	scorers := []struct {
		name  string
		model *match.Model
	}{
		{name: "default model"},
		{name: "given model", model: match.DefaultModel(nil)},
	}
	for _, sc := range scorers {
		open := func(t *testing.T, po *match.PrepareOptions) *mpi.Index {
			t.Helper()
			ix, err := mpi.OpenIndex(t.Context(), mpi.NewMemoryStore(), &mpi.IndexOptions{Model: sc.model, Prepare: po})
			require.NoError(t, err)
			return ix
		}
		t.Run(sc.name+"/historical range", func(t *testing.T) {
			a, b := person("parish", "1851-06-02"), person("census", "1851-06-02")
			ix := open(t, nil)
			assert.NotEqual(t, add(t, ix, a), add(t, ix, b),
				"by default 1851 is outside the plausible range: no birth date, so name and address alone never link")
			ix = open(t, &match.PrepareOptions{BirthDates: match.DateRange{From: match.Date{Year: 1500}}})
			assert.Equal(t, add(t, ix, a), add(t, ix, b), "inside the configured range the birth date counts, as in Link")
		})
		t.Run(sc.name+"/date order", func(t *testing.T) {
			a, b := person("gp", "1950-03-04"), person("us", "03/04/1950")
			weight := func(po *match.PrepareOptions) float64 {
				ix := open(t, po)
				add(t, ix, a)
				cands, err := ix.Query(t.Context(), b, 1)
				require.NoError(t, err)
				require.NotEmpty(t, cands)
				return cands[0].Weight
			}
			auto := weight(nil)
			set := weight(&match.PrepareOptions{DateOrders: map[string]match.DateOrder{"us": match.MonthFirst}})
			assert.Greater(t, set, auto, "read month first, 03/04/1950 is the gp's 4 March 1950")
			ix := open(t, &match.PrepareOptions{DateOrders: map[string]match.DateOrder{"us": match.MonthFirst}})
			assert.Equal(t, add(t, ix, a), add(t, ix, b))
		})
	}
}
