package main

import (
	"context"
	"errors"
	"flag"
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
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(stderr, "usage: carelens fhir check [flags] FILE...")
		return flag.ErrHelp // asked for: exit status 0
	}
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

// checkFile reports on one file and says whether it passed. The file is
// streamed (fhirutil.Stream): a Bundle's resources are decoded a chunk at
// a time and only counted, so memory does not grow with the file.
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
	var (
		resources, bundles, kept, issues, skipped int
		counts                                    = map[string]int{}
		bundleSkipped                             bool // an issue on the top-level Bundle (location "")
		shown                                     []*fhirutil.ResourceError
	)
	for b, err := range fhirutil.Stream(r, o) {
		if err != nil {
			fmt.Fprintf(w, "%s: FAIL: %v\n", name, err)
			return false
		}
		resources += len(b.Resources)
		bundles += b.Bundles
		for t, n := range b.CountByType() {
			counts[t] += n
		}
		// Skipped resources are counted by location, a set per Batch: a
		// Batch's locations (entry[i]..., line n) are not in any other
		// one, but for the top-level Bundle's (""). A set over the file
		// grew with it: 361 MB for 1.4 million bad entries in 100 MB.
		batchSkipped := map[string]bool{}
		for _, is := range b.Issues {
			switch {
			case is.Kept:
				kept++
			case is.Location == "":
				bundleSkipped = true
			default:
				batchSkipped[is.Location] = true
			}
			if maxIssues <= 0 || issues < maxIssues {
				shown = append(shown, is)
			}
			issues++
		}
		skipped += len(batchSkipped)
	}
	if bundleSkipped {
		skipped++
	}
	status := "ok"
	if issues-kept > 0 {
		status = "FAIL"
	}
	fmt.Fprintf(w, "%s: %s: %d resources, %d bundles, %d skipped, %d issues on kept resources\n",
		name, status, resources, bundles, skipped, kept)
	for _, t := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(w, "  %-24s %d\n", t, counts[t])
	}
	for _, is := range shown {
		fmt.Fprintf(w, "  %v\n", is)
	}
	if len(shown) < issues {
		fmt.Fprintf(w, "  ... %d more issues\n", issues-len(shown))
	}
	return issues == kept
}
