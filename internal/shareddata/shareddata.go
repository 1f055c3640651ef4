// Package shareddata locates the shared data sets (FEBRL, OpenCR, FHIR
// examples) that tests and benchmarks read. They live in ../shared/data
// relative to the repository root and are not part of the module; a test
// that needs them skips cleanly when they are absent.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Root returns the directory holding the shared data sets, or "" when it
// cannot be found. CARELENS_DATA overrides the search.
func Root() string {
	if d := os.Getenv("CARELENS_DATA"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "..", "shared", "data")
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				return d
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Path returns the path of elem under the shared data directory, skipping
// tb when it does not exist.
func Path(tb testing.TB, elem ...string) string {
	tb.Helper()
	root := Root()
	if root == "" {
		tb.Skip("shared data directory ../shared/data not found")
	}
	p := filepath.Join(append([]string{root}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared data %s not found", filepath.Join(elem...))
	}
	return p
}
