package match_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/mpi"
)

// TestFailureModesIndex runs the corpus through the identity index, with
// the model the batch linker trained for the row: the background and the
// pair are loaded, and the index must link the pair exactly when the
// batch linker does, and grade it as the corpus says when queried.
func TestFailureModesIndex(t *testing.T) {
	for _, tc := range match.FailureModes() {
		t.Run(tc.Name, func(t *testing.T) {
			batchLinked, e, res := match.LinkFailureMode(t, tc)
			ix, err := mpi.OpenIndex(t.Context(), mpi.NewMemoryStore(), &mpi.IndexOptions{Model: res.Scorer.Model()})
			require.NoError(t, err)
			a, b := tc.A, tc.B
			a.Source, a.ID, b.Source, b.ID = "gp", "case-a", "hospital", "case-b"
			recs := append(append([]match.Record(nil), match.FailureModeBackground()...), a)
			_, err = ix.Load(t.Context(), func(yield func(match.Record, error) bool) {
				for _, r := range recs {
					if !yield(r, nil) {
						return
					}
				}
			}, nil)
			require.NoError(t, err)
			q := b
			q.Source, q.ID = "query", "q"
			cands, err := ix.Query(t.Context(), q, 20)
			require.NoError(t, err)
			pa, err := ix.PersonOf(t.Context(), a.Ref())
			require.NoError(t, err)
			pb, err := ix.Add(t.Context(), b)
			require.NoError(t, err)
			assert.Equal(t, batchLinked, pa == pb, "the index and the batch linker decide alike: %s\n%s", tc.Reason, e)
			assert.Equal(t, tc.WantLinked, pa == pb, "%s\n%s", tc.Reason, e)
			got := match.GradeCertainlyNot // not offered
			for _, c := range cands {
				if c.Person == pa {
					got = c.Grade
				}
			}
			assert.Contains(t, tc.WantGrades, got, "query grade: %s\n%s", tc.Reason, e)
		})
	}
}
