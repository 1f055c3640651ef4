// Package invariants switches on expensive self-checks in CareLens's hot
// paths. [Enabled] is a constant: false in normal builds, so the checks
// compile away, and true when built with the "invariants" tag, as CI does
// (go test -tags invariants). A failed check panics: it is a programmer
// error, never a data error.
package invariants
