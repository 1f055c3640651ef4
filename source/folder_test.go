package source_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/provenance"
	"github.com/carelens/carelens/source"
)

// copyTestdata copies testdata into a fresh folder.
func copyTestdata(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS("testdata")))
	return dir
}

func openFolder(t *testing.T, dir string) source.Source {
	t.Helper()
	s, err := source.Open(source.Config{ID: "gp", Kind: "GP", Type: source.TypeFolder, Dir: dir}, nil)
	require.NoError(t, err)
	return s
}

func TestFolder(t *testing.T) {
	dir := copyTestdata(t)
	s := openFolder(t, dir)
	assert.Equal(t, provenance.Source{ID: "gp", Kind: provenance.KindGP}, s.Info(), "kind in canonical form")

	recs, err := s.Search(t.Context(), bySample)
	require.NoError(t, err)
	assert.Equal(t, []string{"gp/gp-1", "gp/h-1"}, recordIDs(recs))
	recs, err = s.Search(t.Context(), byDemog)
	require.NoError(t, err)
	assert.Equal(t, []string{"gp/h-1"}, recordIDs(recs))
	recs, err = s.Search(t.Context(), source.Query{Family: "Nobody", BirthDate: "2000-01-01"})
	require.NoError(t, err)
	assert.NotNil(t, recs)
	assert.Empty(t, recs)

	b, err := s.Everything(t.Context(), "h-1")
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"Patient": 1, "Encounter": 1, "Observation": 1, "Organization": 1}, b.CountByType())
	for _, e := range b.Entries() {
		assert.Equal(t, "gp", e.Lineage.Tags()[0].Source)
	}
	_, err = s.Everything(t.Context(), "nobody")
	require.ErrorIs(t, err, source.ErrNotFound)

	b, err = s.(source.SinceSource).EverythingSince(t.Context(), "gp-1", time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"Patient": 1, "MedicationStatement": 1}, b.CountByType())
	rec, err := s.(source.PatientReader).Patient(t.Context(), "c-1")
	require.NoError(t, err)
	assert.Equal(t, "Owen", rec.Family)

	// A new file is seen by the next call.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "new.ndjson"),
		[]byte(`{"resourceType":"Patient","id":"n-1","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9990000018"}]}`+"\n"), 0o600))
	recs, err = s.Search(t.Context(), bySample)
	require.NoError(t, err)
	assert.Equal(t, []string{"gp/gp-1", "gp/h-1", "gp/n-1"}, recordIDs(recs))

	// A broken file makes the source unavailable until it is fixed.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "new.ndjson"), []byte("{broken"), 0o600))
	_, err = s.Search(t.Context(), bySample)
	require.ErrorIs(t, err, source.ErrUnavailable)
	assert.NotContains(t, err.Error(), "new.ndjson")
	require.NoError(t, os.Remove(filepath.Join(dir, "new.ndjson")))
	recs, err = s.Search(t.Context(), bySample)
	require.NoError(t, err)
	assert.Len(t, recs, 2)

	// Limits and cancellation.
	small, err := source.Open(source.Config{ID: "gp", Kind: "gp", Type: source.TypeFolder, Dir: dir, MaxBytes: 1024}, nil)
	require.NoError(t, err)
	_, err = small.Everything(t.Context(), "gp-1")
	require.ErrorIs(t, err, source.ErrTooLarge)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = s.Everything(ctx, "gp-1")
	require.ErrorIs(t, err, source.ErrUnavailable)
}

func TestFolderOpenErrors(t *testing.T) {
	_, err := source.Open(source.Config{ID: "gp", Kind: "gp", Type: source.TypeFolder, Dir: filepath.Join(t.TempDir(), "missing")}, nil)
	require.ErrorIs(t, err, source.ErrUnavailable)
	assert.NotContains(t, err.Error(), "missing", "paths stay out of errors")

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Jane_Doe.json"), []byte("not json"), 0o600))
	_, err = source.Open(source.Config{ID: "gp", Kind: "gp", Type: source.TypeFolder, Dir: dir}, nil)
	require.ErrorIs(t, err, source.ErrUnavailable)
	assert.NotContains(t, err.Error(), "Jane")
}

// TestFolderShared opens folders of the HL7 examples and the Synthea
// bundles.
func TestFolderShared(t *testing.T) {
	tests := []struct {
		name, dir string
		q         source.Query
		id        string
		min       int
	}{
		{name: "hl7", dir: "hl7-r4-examples", q: source.Query{Family: "Chalmers", BirthDate: "1974-12-25"}, id: "example", min: 6},
		{name: "synthea", dir: "synthea-r4", q: source.Query{Family: "Kreiger", BirthDate: "1984-07-02"}, id: "d78af07c-9cb9-4f31-9b11-c45a28f2eec8", min: 70},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := sharedData(t, tc.dir)
			s := openFolder(t, dir)
			b, err := s.Everything(t.Context(), tc.id)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, len(b.Resources), tc.min)
			assert.Empty(t, b.Err(), "every resource decodes")
			recs, err := s.Search(t.Context(), tc.q)
			require.NoError(t, err)
			assert.Contains(t, recordIDs(recs), "gp/"+tc.id)
		})
	}
}

// TestFolderConcurrent asks a folder from several goroutines while a file
// is rewritten; run with -race.
func TestFolderConcurrent(t *testing.T) {
	dir := copyTestdata(t)
	s := openFolder(t, dir)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				recs, err := s.Search(t.Context(), bySample)
				if assert.NoError(t, err) {
					assert.GreaterOrEqual(t, len(recs), 2)
				}
				_, err = s.Everything(t.Context(), "h-1")
				assert.NoError(t, err)
			}
		})
	}
	wg.Go(func() {
		for i := range 5 {
			data := []byte(`{"resourceType":"Patient","id":"x-` + string(rune('a'+i)) + `"}`)
			assert.NoError(t, os.WriteFile(filepath.Join(dir, "x.json.tmp"), data, 0o600))
			assert.NoError(t, os.Rename(filepath.Join(dir, "x.json.tmp"), filepath.Join(dir, "x.json")))
		}
	})
	wg.Wait()
}

func TestOpenStore(t *testing.T) {
	s, err := source.OpenStore(source.Config{ID: "community", Kind: "community"}, testStore(t), nil)
	require.NoError(t, err)
	recs, err := s.Search(t.Context(), source.Query{Family: "owen", BirthDate: "1952-11-30"})
	require.NoError(t, err)
	assert.Equal(t, []string{"community/c-1"}, recordIDs(recs))
	_, err = source.OpenStore(source.Config{ID: "community", Kind: "community"}, nil, nil)
	require.ErrorIs(t, err, source.ErrConfig)
	_, err = source.OpenStore(source.Config{ID: "", Kind: "community"}, testStore(t), nil)
	require.ErrorIs(t, err, source.ErrConfig)
}
