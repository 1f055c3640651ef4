// Package shareddata locates the public data sets (FEBRL, OpenCR, FHIR
// examples, Synthea bundles) that tests and benchmarks read. They are
// copied into the repository's testdata directory (see testdata/README.md
// for their sources and licences); ../shared/data beside the repository is
// the fallback. A test that needs a file that is absent skips, naming it.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Root returns the directory holding the data sets, or "" when it cannot be
// found: CARELENS_DATA when set, else the repository's testdata directory,
// else ../shared/data beside the repository.
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
			for _, d := range []string{filepath.Join(dir, "testdata"), filepath.Join(dir, "..", "shared", "data")} {
				if fi, err := os.Stat(filepath.Join(d, "linkage")); err == nil && fi.IsDir() {
					return d
				}
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
		tb.Skip("public data directory not found: want testdata/linkage in the repository, ../shared/data beside it, or CARELENS_DATA")
	}
	p := filepath.Join(append([]string{root}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("data file %s not found under %s", filepath.Join(elem...), root)
	}
	return p
}
