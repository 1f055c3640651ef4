package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"

	"github.com/carelens/carelens/fhirutil"
)

func init() {
	register(command{name: "fhir", summary: "FHIR R4 tools: check FILE... parses files and reports resources and errors", run: runFHIR})
}

// errCheckFailed marks a fhir check in which some file failed.
var errCheckFailed = errors.New("fhir check failed")

// runFHIR dispatches the fhir subcommands; there is one, check.
func runFHIR(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: carelens fhir check [flags] FILE...")
		return fmt.Errorf("%w: fhir needs the subcommand check", errUsage)
	}
	return runFHIRCheck(ctx, args[1:], stdin, stdout, stderr)
}

// runFHIRCheck parses each file (a resource, a Bundle or NDJSON; "-" is
// standard input) and prints, per file, the resources kept by type and
// every issue. Issues name the location, resource type, id and element
// path only, never values. It fails when any file has a resource that
// was skipped or cannot be read at all.
func runFHIRCheck(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("fhir check", stderr, "[-lenient] [-validate=false] [-max-issues N] FILE...")
	lenient := fs.Bool("lenient", false, "drop unknown and invalid elements and keep the resource (reported), as the viewer does")
	validate := fs.Bool("validate", true, "also run required-element and reference-type validation (reported, never fatal)")
	maxIssues := fs.Int("max-issues", 20, "issues printed per file (0 for all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("%w: fhir check needs at least one file", errUsage)
	}
	failed := 0
	for _, name := range fs.Args() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !checkFile(name, stdin, stdout, &fhirutil.Options{Lenient: *lenient, Validate: *validate}, *maxIssues) {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d files", errCheckFailed, failed, fs.NArg())
	}
	return nil
}

// checkFile reports on one file and says whether it passed.
func checkFile(name string, stdin io.Reader, w io.Writer, o *fhirutil.Options, maxIssues int) bool {
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(w, "%s: FAIL: %v\n", name, err)
			return false
		}
		defer f.Close()
		r = f
	}
	b, err := fhirutil.Read(r, o)
	if err != nil {
		fmt.Fprintf(w, "%s: FAIL: %v\n", name, err)
		return false
	}
	skipped, kept := 0, 0
	for _, is := range b.Issues {
		if is.Kept {
			kept++
		} else {
			skipped++
		}
	}
	status := "ok"
	if skipped > 0 {
		status = "FAIL"
	}
	fmt.Fprintf(w, "%s: %s: %d resources, %d bundles, %d skipped, %d issues on kept resources\n",
		name, status, len(b.Resources), b.Bundles, skippedResources(b), kept)
	counts := b.CountByType()
	for _, t := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(w, "  %-24s %d\n", t, counts[t])
	}
	for i, is := range b.Issues {
		if maxIssues > 0 && i == maxIssues {
			fmt.Fprintf(w, "  ... %d more issues\n", len(b.Issues)-i)
			break
		}
		fmt.Fprintf(w, "  %v\n", is)
	}
	return skipped == 0
}

// skippedResources counts the distinct resources that were skipped.
func skippedResources(b *fhirutil.Batch) int {
	seen := map[string]bool{}
	for _, is := range b.Issues {
		if !is.Kept {
			seen[is.Location] = true
		}
	}
	return len(seen)
}
