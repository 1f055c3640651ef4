package merge

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the timeline sections of testdata/*.txtar")

// archive is a txtar archive: a comment, then files introduced by
// "-- name --" lines.
type archive struct {
	comment string
	files   []archiveFile
}

type archiveFile struct {
	name string
	data string
}

func parseArchive(s string) archive {
	var a archive
	cur := -1
	for line := range strings.Lines(s) {
		if n, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "-- "); ok && strings.HasSuffix(n, " --") {
			a.files = append(a.files, archiveFile{name: strings.TrimSuffix(n, " --")})
			cur = len(a.files) - 1
			continue
		}
		if cur < 0 {
			a.comment += line
		} else {
			a.files[cur].data += line
		}
	}
	return a
}

func (a archive) format() string {
	var b strings.Builder
	b.WriteString(a.comment)
	for _, f := range a.files {
		fmt.Fprintf(&b, "-- %s --\n%s", f.name, f.data)
	}
	return b.String()
}

// scenarioOptions is the options section of a scenario.
type scenarioOptions struct {
	Priority []string `json:"priority"`
	Rules    *Rules   `json:"rules"`
	Drop     []string `json:"drop"` // sources dropped for the "filtered" section
}

// render writes a timeline as one line per entry, for golden comparison.
func render(tl *Timeline) string {
	var b strings.Builder
	for _, e := range tl.Entries() {
		fmt.Fprintf(&b, "%s p%d %-11s %-22q", e.Time.Format("2006-01-02T15:04"), e.Precision, e.Category, e.Display)
		switch {
		case e.Value != nil:
			fmt.Fprintf(&b, " %s%g %s", e.Value.Comparator, e.Value.Value, e.Value.Unit)
		case e.Dose != nil:
			fmt.Fprintf(&b, " dose %g %s", e.Dose.Value, e.Dose.Unit)
		case e.ValueText != "":
			fmt.Fprintf(&b, " %q", e.ValueText)
		}
		fmt.Fprintf(&b, " %s", e.Lineage)
		if e.Conflict != 0 {
			c, _ := tl.Conflict(e.Conflict)
			fmt.Fprintf(&b, " conflict#%d(%s)", e.Conflict, c.Reason)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestScenarios runs the merge scenarios in testdata/*.txtar: sources in
// ("source/<id>.json", arrays of entries), options, and the expected
// "timeline" (and "filtered", with the options' drop list applied). Run
// with -update to rewrite the expected sections.
func TestScenarios(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			a := parseArchive(string(raw))
			var opts scenarioOptions
			var srcs [][]Entry
			for _, f := range a.files {
				switch {
				case f.name == "options.json":
					dec := json.NewDecoder(strings.NewReader(f.data))
					dec.DisallowUnknownFields()
					require.NoError(t, dec.Decode(&opts))
				case strings.HasPrefix(f.name, "source/"):
					var es []Entry
					require.NoError(t, json.Unmarshal([]byte(f.data), &es), f.name)
					sortEntries(es, nil)
					srcs = append(srcs, es)
				}
			}
			o := &Options{Priority: opts.Priority, Rules: opts.Rules}
			tl, err := mergeSlices(srcs, o)
			require.NoError(t, err)
			got := map[string]string{"timeline": render(tl)}
			if len(opts.Drop) > 0 {
				f, err := tl.Without(opts.Drop...)
				require.NoError(t, err)
				got["filtered"] = render(f)
			}
			changed := false
			for i, f := range a.files {
				want, ok := got[f.name]
				if !ok {
					continue
				}
				if *update {
					a.files[i].data, changed = want, changed || f.data != want
					continue
				}
				if !assert.Equal(t, f.data, want, "section %s", f.name) {
					_ = os.WriteFile(filepath.Join(t.ArtifactDir(), f.name), []byte(want), 0o644)
				}
			}
			if changed {
				require.NoError(t, os.WriteFile(path, []byte(a.format()), 0o644))
			}
		})
	}
}

func TestArchiveRoundTrip(t *testing.T) {
	s := "comment\n-- a --\nx\n-- b/c.json --\n[]\n"
	assert.Equal(t, s, parseArchive(s).format())
	assert.Equal(t, "x\n", parseArchive(s).files[0].data)
	assert.True(t, bytes.Contains([]byte(parseArchive(s).format()), []byte("-- b/c.json --")))
}
