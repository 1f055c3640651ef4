// Package cliinput is the one definition of the flags that say how input
// files are read and prepared (--source, --id, --map, --delimiter,
// --encoding, --skip-bad, --birth-dates, --date-order), shared by the
// carelens commands that link records and by carelens-beam, so that both
// read a file the same way.
package cliinput

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/match/matchio"
)

// ErrUsage marks an error in how a command was called.
var ErrUsage = errors.New("usage")

// Strings collects a repeated string flag.
type Strings []string

func (m *Strings) String() string     { return strings.Join(*m, ",") }
func (m *Strings) Set(v string) error { *m = append(*m, v); return nil }

// SkipBad reports whether --skip-bad was given.
func (f *Flags) SkipBad() bool { return *f.skipBad }

// Flags are the flags that read and prepare input files, shared by every
// command that links records.
type Flags struct {
	fs         *flag.FlagSet
	ids        Strings
	maps       Strings
	sources    Strings
	delimiter  *string
	encoding   *string
	skipBad    *bool
	birthDates *string
	dateOrders Strings
}

// Add defines the input flags on fs.
func Add(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs}
	fs.Var(&f.sources, "source", "read FILE as the source NAME, NAME=FILE (default: each input's source is its file name without extension); repeatable")
	fs.Var(&f.ids, "id", "column holding the record id, [SOURCE:]COLUMN; with SOURCE: for that source only; repeatable (default: automatic)")
	fs.Var(&f.maps, "map", "map a field to columns, [SOURCE:]FIELD=COLUMN[+COLUMN...]; with SOURCE: for that source only,\n"+
		"otherwise for every source without its own; repeatable. FIELD is one of\n"+MapFieldsHelp())
	f.delimiter = fs.String("delimiter", "auto", "CSV field separator: auto (sniffed from the header line), comma, semicolon, tab or pipe")
	f.encoding = fs.String("encoding", "auto", "CSV character encoding: auto (UTF-8, or Latin-1 when not valid UTF-8, reported), utf-8 or latin-1")
	f.skipBad = fs.Bool("skip-bad", false, "report bad rows on stderr and skip them instead of failing (rows and the lines they took are counted)")
	f.birthDates = fs.String("birth-dates", "", "plausible birth dates, FROM..TO (YYYY or YYYY-MM-DD, either may be empty);\n"+
		"dates outside are treated as missing and counted (default 1880..today; a historical file sets e.g. 1500..)")
	fs.Var(&f.dateOrders, "date-order", "how sources write dates: dmy (01/02/2003 is 1 February), mdy (2 January) or ymd (year first;\n"+
		"a year-last value is invalid); SOURCE=ORDER for one source, ORDER for every source without its own; repeatable.\n"+
		"By default each source's order is inferred from its unambiguous dates (a 13-31 in either place) and reported")
	return f
}

// Input is one input file and the source name its records get.
type Input struct {
	Source, Path string
}

// Inputs returns the --source inputs, then the positional ones, each with
// its source name.
func (f *Flags) Inputs() ([]Input, error) {
	var out []Input
	for _, spec := range f.sources {
		name, path, ok := strings.Cut(spec, "=")
		if !ok || strings.TrimSpace(name) == "" || path == "" {
			return nil, fmt.Errorf("%w: --source wants NAME=FILE", ErrUsage)
		}
		out = append(out, Input{Source: strings.TrimSpace(name), Path: path})
	}
	for _, p := range f.fs.Args() {
		out = append(out, Input{Source: matchio.SourceName(p), Path: p})
	}
	seen := map[string]string{}
	for _, in := range out {
		if prev, dup := seen[in.Source]; dup {
			return nil, fmt.Errorf("%w: %s and %s both have the source name %s; name one with --source NAME=FILE",
				ErrUsage, matchio.Printable(prev), matchio.Printable(in.Path), matchio.Printable(in.Source))
		}
		seen[in.Source] = in.Path
	}
	return out, nil
}

// cutSource splits "SOURCE:REST" when SOURCE is one of the input sources,
// and returns "" and spec whole otherwise.
func cutSource(spec string, sources map[string]bool) (string, string) {
	if src, rest, ok := strings.Cut(spec, ":"); ok && sources[src] {
		return src, rest
	}
	return "", spec
}

// ReadOptions returns the reading options for each source: the global
// --id and --map, replaced field by field by the source's own.
func (f *Flags) ReadOptions(ins []Input) (map[string]matchio.Options, error) {
	sources := map[string]bool{}
	for _, in := range ins {
		sources[in.Source] = true
	}
	delim, err := matchio.ParseDelimiter(*f.delimiter)
	if err != nil {
		return nil, fmt.Errorf("%w: --delimiter: %v", ErrUsage, strings.TrimPrefix(err.Error(), "matchio: "))
	}
	enc, err := matchio.ParseEncoding(*f.encoding)
	if err != nil {
		return nil, fmt.Errorf("%w: --encoding: %v", ErrUsage, strings.TrimPrefix(err.Error(), "matchio: "))
	}
	// perMap[""] is the global mapping.
	perMap := map[string]map[matchio.Field][]string{}
	for _, spec := range f.maps {
		src, rest := "", spec
		if lhs, _, ok := strings.Cut(spec, "="); ok && strings.Contains(lhs, ":") {
			// A field name never holds a colon: SOURCE:FIELD=COLUMN.
			src, rest, _ = strings.Cut(spec, ":")
			if !sources[src] {
				return nil, fmt.Errorf("%w: --map %s: no input has the source name %s", ErrUsage, matchio.Printable(spec), matchio.Printable(src))
			}
		}
		if perMap[src], err = matchio.ParseMap(perMap[src], rest); err != nil {
			return nil, fmt.Errorf("%w: --map: %v", ErrUsage, strings.TrimPrefix(err.Error(), "matchio: "))
		}
	}
	globalID, perID := "", map[string]string{}
	for _, spec := range f.ids {
		src, col := cutSource(spec, sources)
		if col == "" {
			return nil, fmt.Errorf("%w: --id wants [SOURCE:]COLUMN", ErrUsage)
		}
		if src == "" {
			globalID = col
		} else {
			perID[src] = col
		}
	}
	out := make(map[string]matchio.Options, len(ins))
	for _, in := range ins {
		m := maps.Clone(perMap[""])
		if own := perMap[in.Source]; len(own) > 0 {
			if m == nil {
				m = map[matchio.Field][]string{}
			}
			maps.Copy(m, own)
		}
		id := globalID
		if c, ok := perID[in.Source]; ok {
			id = c
		}
		out[in.Source] = matchio.Options{Source: in.Source, ID: id, Map: m, Delimiter: delim, Encoding: enc, SkipBad: *f.skipBad}
	}
	return out, nil
}

// PrepareOptions returns the preparation options the flags ask for.
func (f *Flags) PrepareOptions() (*match.PrepareOptions, error) {
	o := &match.PrepareOptions{}
	if *f.birthDates != "" {
		from, to, ok := strings.Cut(*f.birthDates, "..")
		if !ok {
			return nil, fmt.Errorf("%w: --birth-dates wants FROM..TO", ErrUsage)
		}
		for _, e := range []struct {
			s string
			d *match.Date
		}{{from, &o.BirthDates.From}, {to, &o.BirthDates.To}} {
			if e.s == "" {
				continue
			}
			d, st := match.ParseDate(e.s)
			if st != match.DateOK && st != match.DateOutOfRange || len(e.s) != 4 && len(e.s) != 10 {
				return nil, fmt.Errorf("%w: --birth-dates: %q is not YYYY or YYYY-MM-DD", ErrUsage, e.s)
			}
			*e.d = d
		}
		if !o.BirthDates.To.IsZero() && o.BirthDates.To.Year < o.BirthDates.From.Year {
			return nil, fmt.Errorf("%w: --birth-dates: FROM is after TO", ErrUsage)
		}
	}
	ins, err := f.Inputs()
	if err != nil {
		return nil, err
	}
	all, orders := match.DateOrderAuto, map[string]match.DateOrder{}
	for _, spec := range f.dateOrders {
		src, ord, perSource := strings.Cut(spec, "=")
		if !perSource {
			src, ord = "", spec
		}
		order, err := match.ParseDateOrder(ord)
		if err != nil || order == match.DateOrderAuto && strings.TrimSpace(ord) == "" || perSource && src == "" {
			return nil, fmt.Errorf("%w: --date-order wants [SOURCE=]dmy, mdy or ymd", ErrUsage)
		}
		if !perSource {
			all = order
			continue
		}
		if !slices.ContainsFunc(ins, func(in Input) bool { return in.Source == src }) {
			return nil, fmt.Errorf("%w: --date-order %s: no input has the source name %s", ErrUsage, matchio.Printable(spec), matchio.Printable(src))
		}
		orders[src] = order
	}
	for _, in := range ins {
		if _, ok := orders[in.Source]; !ok && all != match.DateOrderAuto {
			orders[in.Source] = all
		}
	}
	if len(orders) > 0 {
		o.DateOrders = orders
	}
	return o, nil
}

// MapFieldsHelp lists the fields --map accepts with the column names the
// automatic mapping reads as each (any of which also names the field).
func MapFieldsHelp() string {
	var b strings.Builder
	al := matchio.Aliases()
	for _, f := range matchio.Fields() {
		a := slices.DeleteFunc(al[f], func(n string) bool { return n == string(f) })
		if len(a) == 0 {
			fmt.Fprintf(&b, "    %s\n", f)
			continue
		}
		fmt.Fprintf(&b, "    %-12s (also %s)\n", f, strings.Join(a, ", "))
	}
	return b.String()
}
