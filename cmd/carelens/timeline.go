package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/provenance"
)

func init() {
	register(command{name: "timeline", summary: "merge one patient's FHIR records from several sources into one source-tagged timeline", run: runTimeline})
}

const timelineSynopsis = "[-rules rules.json] [-priority id,id] [-without id]... [-fhir out.json] [-o out.txt] [-lenient] SOURCE=FILE..."

// timelineSource is one input of carelens timeline.
type timelineSource struct {
	src     provenance.Source
	path    string
	entries []merge.Entry
}

// runTimeline reads each source's FHIR file, merges the entries with the
// merge package and prints the timeline, one line per entry, then a
// summary. Errors and issues name files, sources and FHIR paths, never
// clinical values.
func runTimeline(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("timeline", stderr, timelineSynopsis)
	rulesPath := fs.String("rules", "", "merge rules JSON (concepts, windows, units); default: exact codes only, with the default windows and units")
	priority := fs.String("priority", "", "comma-separated source ids, most trusted first")
	var without multiFlag
	fs.Var(&without, "without", "leave this source out of the timeline, as the viewer's source checkboxes do (repeatable)")
	fhirOut := fs.String("fhir", "", "also write the timeline as an R4 collection Bundle with Provenance to this file")
	out := fs.String("o", "", "write the timeline here instead of standard output")
	lenient := fs.Bool("lenient", false, "drop unknown and invalid elements and keep the resource (reported)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("%w: timeline needs at least one SOURCE=FILE", errUsage)
	}
	srcs, err := parseTimelineSources(fs.Args())
	if err != nil {
		fs.Usage()
		return err
	}
	for _, w := range without {
		if !slices.ContainsFunc(srcs, func(s *timelineSource) bool { return s.src.ID == w }) {
			fs.Usage()
			return fmt.Errorf("%w: -without %q is not one of the sources", errUsage, w)
		}
	}
	opts := &merge.Options{Rules: &merge.Rules{}}
	if *priority != "" {
		for p := range strings.SplitSeq(*priority, ",") {
			if p = strings.TrimSpace(p); p != "" {
				opts.Priority = append(opts.Priority, p)
			}
		}
	}
	if *rulesPath != "" {
		rs, err := loadRulesFile(*rulesPath)
		if err != nil {
			return err
		}
		opts.Rules = rs
	}

	eng, err := merge.Compile(opts)
	if err != nil {
		return fmt.Errorf("timeline: rules: %w", err)
	}
	streams := make([][]merge.Entry, 0, len(srcs))
	for _, s := range srcs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.read(*lenient, stderr); err != nil {
			return err
		}
		eng.Sort(s.entries)
		streams = append(streams, s.entries)
	}
	tl, err := eng.MergeSlices(streams)
	if err != nil {
		return fmt.Errorf("timeline: merge: %w", err)
	}
	if len(without) > 0 {
		if tl, err = tl.Without(without...); err != nil {
			return fmt.Errorf("timeline: without: %w", err)
		}
	}

	if err := writeOutput(*out, stdout, func(w io.Writer) error {
		return writeTimeline(w, tl, srcs, without)
	}); err != nil {
		return err
	}
	if *fhirOut != "" {
		sources := make([]provenance.Source, len(srcs))
		for i, s := range srcs {
			sources[i] = s.src
		}
		// Written a resource at a time: the Bundle is never whole in memory.
		if err := writeFileWith(*fhirOut, func(w io.Writer) error {
			return fhirutil.WriteTimelineBundle(w, tl.Entries(), &fhirutil.TimelineOptions{Sources: sources, Conflicts: tl.Conflicts})
		}); err != nil {
			return fmt.Errorf("timeline: -fhir: %w", err)
		}
	}
	return nil
}

// parseTimelineSources reads the SOURCE=FILE arguments. A bare FILE is the
// source named by the file's base name without its extension; an argument
// whose "=" comes after a path separator is a FILE.
func parseTimelineSources(args []string) ([]*timelineSource, error) {
	var srcs []*timelineSource
	seen := map[string]bool{}
	for _, a := range args {
		id, path, ok := strings.Cut(a, "=")
		if !ok || strings.ContainsAny(id, `/\`) { // a path that holds "="
			path = a
			id = strings.TrimSuffix(filepath.Base(a), filepath.Ext(a))
		}
		if id == "" || path == "" {
			return nil, fmt.Errorf("%w: argument %q: want SOURCE=FILE or FILE", errUsage, a)
		}
		if seen[id] {
			return nil, fmt.Errorf("%w: duplicate source id %q", errUsage, id)
		}
		seen[id] = true
		kind := provenance.KindOther
		if k, err := provenance.ParseKind(id); err == nil {
			kind = k
		}
		srcs = append(srcs, &timelineSource{src: provenance.Source{ID: id, Kind: kind, Name: id}, path: path})
	}
	return srcs, nil
}

// loadRulesFile loads merge rules from a JSON file.
func loadRulesFile(path string) (*merge.Rules, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("timeline: -rules: %w", err)
	}
	defer f.Close()
	rs, err := merge.LoadRules(f)
	if err != nil {
		return nil, fmt.Errorf("timeline: -rules %s: %w", path, err)
	}
	return rs, nil
}

// read decodes the source's file into its entries, reporting every issue
// on stderr as "file: issue" as it is found. Issues carry locations,
// types, ids and FHIR paths only. The file is streamed
// (fhirutil.ReadEntries): memory holds the entries, not the resources.
func (s *timelineSource) read(lenient bool, stderr io.Writer) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("timeline: source %s: %w", s.src.ID, err)
	}
	defer f.Close()
	s.entries, err = fhirutil.ReadEntries(f, &fhirutil.Options{Source: s.src, Lenient: lenient, SkimUnmapped: true}, func(is *fhirutil.ResourceError) {
		fmt.Fprintf(stderr, "%s: %v\n", s.path, is)
	})
	if err != nil {
		return fmt.Errorf("timeline: source %s: %s: %w", s.src.ID, s.path, err)
	}
	return nil
}

// writeTimeline prints one line per entry of tl, then a summary line.
func writeTimeline(w io.Writer, tl *merge.Timeline, srcs []*timelineSource, without []string) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	merged := 0
	shown := map[string]int{}
	reasons := map[merge.ConflictID]merge.Reason{}
	for _, c := range tl.Conflicts {
		reasons[c.ID] = c.Reason
	}
	for i, e := range tl.All() {
		if n := countSeq(tl.Members(i)); n > 1 {
			merged++
		}
		ids := e.Lineage.Sources() // sorted: tags are ordered by source first
		for _, id := range ids {
			shown[id]++
		}
		line := []string{
			formatEntryTime(e),
			string(e.Category),
			clean(entryName(e)),
			clean(entryValue(e)),
			strings.Join(ids, "+"),
		}
		if e.Conflict != 0 {
			line = append(line, fmt.Sprintf("CONFLICT #%d (%s)", e.Conflict, reasons[e.Conflict]))
		}
		if _, err := fmt.Fprintln(tw, strings.Join(line, "\t")); err != nil {
			return err
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	in := 0
	var per []string
	for _, s := range srcs {
		if slices.Contains(without, s.src.ID) {
			per = append(per, fmt.Sprintf("%s: left out", s.src.ID))
			continue
		}
		in += len(s.entries)
		per = append(per, fmt.Sprintf("%s: %d in, %d on timeline", s.src.ID, len(s.entries), shown[s.src.ID]))
	}
	_, err := fmt.Fprintf(w, "summary: %d entries in, %d out, %d merged, %d conflicts; %s\n",
		in, tl.Len(), merged, len(tl.Conflicts), strings.Join(per, "; "))
	return err
}

func countSeq[T any](seq func(func(T) bool)) int {
	n := 0
	for range seq {
		n++
	}
	return n
}

// formatEntryTime writes e's time at its precision, as FHIR writes it.
func formatEntryTime(e *merge.Entry) string {
	if t := fhirutil.FormatTime(e.Time, e.Precision); t != "" {
		return t
	}
	return "-"
}

// entryName is the entry's display, else its first code.
func entryName(e *merge.Entry) string {
	if e.Display != "" {
		return e.Display
	}
	if len(e.Codes) > 0 {
		c := e.Codes[0]
		if c.System != "" {
			return c.System + "|" + c.Code
		}
		return c.Code
	}
	return "-"
}

// entryValue is the value with its unit, else the value text, else the dose.
func entryValue(e *merge.Entry) string {
	switch {
	case e.Value != nil:
		return formatQuantity(e.Value)
	case e.ValueText != "":
		return e.ValueText
	case e.Dose != nil:
		return formatQuantity(e.Dose)
	}
	return "-"
}

func formatQuantity(q *merge.Quantity) string {
	s := q.Comparator + strconv.FormatFloat(q.Value, 'f', -1, 64)
	if q.Unit != "" {
		s += " " + q.Unit
	}
	return s
}

// clean keeps a field on its line and column: control characters
// (tabs, newlines) become spaces.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
