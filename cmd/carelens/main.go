// Command carelens is the CareLens command line: it links record files,
// trains models, generates synthetic cohorts, evaluates linkage against
// truth, checks FHIR files and runs the identity index.
//
// Each subcommand lives in its own file and registers itself; main only
// parses the command name and calls [run], which tests call directly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/carelens/carelens/internal/cliinput"
)

// command is one subcommand of carelens.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

// register adds c to the command table; called from init in each file.
func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("carelens: duplicate command " + c.name)
	}
	commands[c.name] = c
}

func init() {
	register(command{name: "version", summary: "print the CareLens version, commit and Go version", run: runVersion})
}

// runVersion prints the module version and the commit the binary was built
// from, as the Go toolchain recorded them.
func runVersion(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", stderr, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: version takes no arguments", errUsage)
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(stdout, "carelens (no build information)")
		return nil
	}
	fmt.Fprintln(stdout, versionLine(bi))
	return nil
}

// versionLine writes "carelens VERSION (commit REV[, modified], DATE) GO".
func versionLine(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, when string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	var parts []string
	if rev != "" {
		parts = append(parts, "commit "+rev[:min(len(rev), 12)])
	}
	if modified {
		parts = append(parts, "modified")
	}
	if when != "" {
		parts = append(parts, when)
	}
	out := "carelens " + v
	if len(parts) > 0 {
		out += " (" + strings.Join(parts, ", ") + ")"
	}
	return out + " " + bi.GoVersion
}

// errUsage marks an error whose message is usage help; it exits with status 2.
var errUsage = cliinput.ErrUsage

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "carelens:", userMessage(err))
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// internalPrefix matches the package prefix a library error starts with
// ("fhirutil: ", "match: "), at the start or after another error's ": ".
var internalPrefix = regexp.MustCompile(`(^|: )(audit|badgerstore|benchmarks|demo|federate|fhirsource|fhirutil|match|matchio|merge|pdfdoc|pgstore|provenance|svgchart|viewer): `)

// userMessage is err's message as a user reads it: one prefix, the
// "carelens: " main adds, and no internal package names, so that
// "fhirutil: invalid JSON" reads "invalid JSON". The error itself keeps
// its text for errors.Is and for logs.
func userMessage(err error) string {
	return internalPrefix.ReplaceAllString(err.Error(), "$1")
}

// run dispatches args[0] to its subcommand.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = []string{"version"}
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return fmt.Errorf("%w: no command given", errUsage)
		}
		return nil
	}
	c, ok := commands[args[0]]
	if !ok {
		usage(stderr)
		return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
	return c.run(ctx, args[1:], stdin, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: carelens <command> [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'carelens <command> -h' for a command's flags.")
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("carelens "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: carelens %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// multiFlag collects a repeated string flag.
type multiFlag = cliinput.Strings
