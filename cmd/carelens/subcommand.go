package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// subcommand is one subcommand of a command group (carelens index load,
// carelens audit verify).
type subcommand func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// dispatch runs the subcommand args[0] of group, or prints the group's
// usage (each subcommand with its synopsis) for none, -h, --help or help.
func dispatch(ctx context.Context, group string, cmds map[string]subcommand, synopsis map[string]string,
	args []string, stdout, stderr io.Writer) error {
	names := slices.Sorted(maps.Keys(cmds))
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stderr, "usage: carelens %s <subcommand> [flags]\n", group)
		for _, n := range names {
			fmt.Fprintf(stderr, "  carelens %s %s %s\n", group, n, synopsis[n])
		}
		if len(args) == 0 {
			return fmt.Errorf("%w: %s needs a subcommand", errUsage, group)
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		return fmt.Errorf("%w: unknown %s subcommand %q (have %s)", errUsage, group, args[0], strings.Join(names, ", "))
	}
	return c(ctx, args[1:], stdout, stderr)
}
