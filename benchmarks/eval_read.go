package benchmarks

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/carelens/carelens/match/matchio"
)

// TruthFormat names the layout a truth file was read from.
type TruthFormat string

// Truth formats recognised by [ReadTruth] from the header.
const (
	// TruthSourced is "source,record_id,person_id" (what [Synth] writes).
	TruthSourced TruthFormat = "source,record_id,entity_id"
	// TruthEntities is any two-column "record_id,entity_id" layout.
	TruthEntities TruthFormat = "record_id,entity_id"
	// TruthFEBRL is a FEBRL or OpenCR data file whose rec_id encodes the
	// entity ("rec-12-org", "rec-12-dup-3"); the source is the file name
	// without extension.
	TruthFEBRL TruthFormat = "febrl"
	// TruthPairs lists true pairs, two record-id columns per line
	// ("rec_id_l,rec_id_r"); entities are their connected components and
	// records absent from every pair are singletons.
	TruthPairs TruthFormat = "pairs"
)

// Truth maps records to the entity (person) they belong to.
type Truth struct {
	// Formats lists the format of each file read, in order.
	Formats []TruthFormat
	// Records lists every record the truth knows, in file order.
	Records []LabelledRecord
	// Open is true when the truth came from true pairs: a record it does
	// not list is not unknown but an entity of its own.
	Open bool
}

// Clusters maps records to predicted clusters.
type Clusters struct {
	// Records lists every clustered record, in file order.
	Records []LabelledRecord
}

// LabelledRecord is one record with its entity or cluster label.
type LabelledRecord struct {
	// Source is the record's source, "" when the file has none.
	Source string
	// ID is the source-local record id.
	ID string
	// Label is the entity id (truth) or cluster id (clusters).
	Label string
}

// csvFile reads a CSV file with leading-space trimming (FEBRL writes ", "),
// reporting errors as "file:line".
type csvFile struct {
	name string
	r    *csv.Reader
	f    *os.File
}

func openCSV(path string) (*csvFile, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err // *fs.PathError names the file
	}
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<16))
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	c := &csvFile{name: path, r: r, f: f}
	head, err := r.Read()
	if err != nil {
		f.Close()
		if errors.Is(err, io.EOF) {
			return nil, nil, malformed("%s:1: empty file, want a header", path)
		}
		return nil, nil, c.wrap(err)
	}
	head = append([]string(nil), head...)
	for i := range head {
		head[i] = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(head[i], "\ufeff")))
	}
	return c, head, nil
}

// wrap turns a csv parse error into one naming file and line.
func (c *csvFile) wrap(err error) error {
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		if pe.Err == csv.ErrQuote && pe.Line > pe.StartLine {
			return malformed("%s:%d: a quote opened on this line is not closed (lines %d-%d)", c.name, pe.StartLine, pe.StartLine, pe.Line)
		}
		return malformed("%s:%d: %v", c.name, pe.StartLine, pe.Err)
	}
	return fmt.Errorf("%s: %w", c.name, err)
}

func (c *csvFile) line() int {
	l, _ := c.r.FieldPos(0)
	return l
}

// rows calls each for every data row with exactly want fields (or at least
// want when atLeast), trimming spaces.
func (c *csvFile) rows(want int, atLeast bool, each func(line int, f []string) error) error {
	defer c.f.Close()
	for {
		rec, err := c.r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return c.wrap(err)
		}
		line := c.line()
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) < want || !atLeast && len(rec) != want {
			return malformed("%s:%d: %d fields, want %d", c.name, line, len(rec), want)
		}
		for i := range rec {
			if n := strings.Count(rec[i], "\n"); n > 0 {
				// No id or label holds a line end: a quote was left open
				// and swallowed the lines after it.
				return malformed("%s:%d: a quote opened on this line runs on to line %d", c.name, line, line+n)
			}
			rec[i] = strings.TrimSpace(rec[i])
		}
		if err := each(line, rec); err != nil {
			return err
		}
	}
}

// fieldError names file, line and column; values never appear.
func fieldError(file string, line int, column, problem string) error {
	return malformed("%s:%d: column %s: %s", file, line, column, problem)
}

// malformedError is an [ErrMalformed] whose message starts with the file
// and line and does not repeat the sentinel's text.
type malformedError struct{ msg string }

func (e *malformedError) Error() string { return e.msg }
func (e *malformedError) Unwrap() error { return ErrMalformed }

// malformed returns a [malformedError]; the format should start with
// "FILE:LINE: ".
func malformed(format string, args ...any) error {
	return &malformedError{msg: fmt.Sprintf(format, args...)}
}

// isRecordColumn reports whether a header names a record id column.
func isRecordColumn(h string) bool {
	return strings.HasPrefix(h, "rec") || h == "id" || strings.HasSuffix(h, "record_id")
}

// isEntityColumn reports whether a header names an entity, person or
// cluster label column.
func isEntityColumn(h string) bool {
	for _, k := range []string{"entity", "person", "cluster", "truth", "true_id", "group", "patient", "match_id", "label", "uid"} {
		if strings.Contains(h, k) {
			return true
		}
	}
	return false
}

// ReadTruth reads one or more truth files, detecting each file's format
// from its header (see [TruthFormat]): "source,record_id,person_id";
// "record_id,entity_id" (any two columns, a record id then an entity
// label, unless both headers name record ids); a FEBRL/OpenCR data file, whose first column is
// "rec_id" followed by data columns (its source is the file name without
// extension); or a true-pairs file with two record-id columns
// ("rec_id_l,rec_id_r", "rec_id_1,rec_id_2"). Headers are matched
// case-insensitively after trimming spaces. Several files must agree on
// being pair lists or not. Errors name the file and line.
func ReadTruth(paths ...string) (*Truth, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w: no truth file", ErrBadOptions)
	}
	t := &Truth{}
	for i, p := range paths {
		c, head, err := openCSV(p)
		if err != nil {
			return nil, err
		}
		var format TruthFormat
		switch {
		case len(head) == 3 && head[0] == "source" && isRecordColumn(head[1]):
			format = TruthSourced
			err = c.rows(3, false, func(line int, f []string) error {
				if f[0] == "" || f[1] == "" || f[2] == "" {
					return fieldError(p, line, "source, record or entity", "empty value")
				}
				t.Records = append(t.Records, LabelledRecord{Source: f[0], ID: f[1], Label: f[2]})
				return nil
			})
		case head[0] == "rec_id" && len(head) >= 2 && (len(head) > 2 || !isEntityColumn(head[1]) && !isRecordColumn(head[1])):
			format = TruthFEBRL
			src := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
			err = c.rows(1, true, func(line int, f []string) error {
				ent, ok := febrlEntity(f[0])
				if !ok {
					return fieldError(p, line, head[0], "not a FEBRL record id (rec-N-org or rec-N-dup-K)")
				}
				t.Records = append(t.Records, LabelledRecord{Source: src, ID: f[0], Label: ent})
				return nil
			})
		case len(head) == 2 && isRecordColumn(head[0]) && isRecordColumn(head[1]) && !isEntityColumn(head[1]):
			format = TruthPairs
			err = c.rows(2, false, func(line int, f []string) error {
				if f[0] == "" || f[1] == "" {
					return fieldError(p, line, head[0]+" or "+head[1], "empty record id")
				}
				// A pair is kept as two records labelled with the pair's
				// line; Evaluate joins pairs that share a record.
				l := "\x00pair" + strconv.Itoa(i) + ":" + strconv.Itoa(line)
				t.Records = append(t.Records, LabelledRecord{ID: f[0], Label: l}, LabelledRecord{ID: f[1], Label: l})
				return nil
			})
		case len(head) == 2:
			// Any other two columns: a record id, then its entity.
			format = TruthEntities
			err = c.rows(2, false, func(line int, f []string) error {
				if f[0] == "" || f[1] == "" {
					return fieldError(p, line, head[0]+" or "+head[1], "empty value")
				}
				t.Records = append(t.Records, LabelledRecord{ID: f[0], Label: f[1]})
				return nil
			})
		default:
			c.f.Close()
			return nil, malformed("%s:1: unrecognised truth header (want source,record_id,person_id; record_id,entity_id; a FEBRL rec_id file; or a true-pairs file)", p)
		}
		if err != nil {
			return nil, err
		}
		if i > 0 && (format == TruthPairs) != t.Open {
			return nil, fmt.Errorf("%w: %s: cannot mix true-pairs files with entity files", ErrBadOptions, p)
		}
		t.Open = format == TruthPairs
		t.Formats = append(t.Formats, format)
	}
	return t, nil
}

// febrlEntity extracts the entity from a FEBRL record id: "rec-12-org"
// and "rec-12-dup-3" are both entity "12".
func febrlEntity(id string) (string, bool) {
	rest, ok := strings.CutPrefix(id, "rec-")
	if !ok {
		return "", false
	}
	n, tail, ok := strings.Cut(rest, "-")
	if !ok || n == "" || strings.Trim(n, "0123456789") != "" {
		return "", false
	}
	if tail != "org" {
		k, ok := strings.CutPrefix(tail, "dup-")
		if !ok || k == "" || strings.Trim(k, "0123456789") != "" {
			return "", false
		}
	}
	return n, true
}

// ReadClusters reads a clusters file: "source,record_id,cluster_id" (the
// first column must be named source) or any two columns "record_id,
// cluster_id". Sources and record ids are unescaped with
// [matchio.UnescapeCSVField], undoing the escaping `carelens link` applies
// to values a spreadsheet would read as formulas. Errors name the file and
// line.
func ReadClusters(path string) (*Clusters, error) {
	c, head, err := openCSV(path)
	if err != nil {
		return nil, err
	}
	cl := &Clusters{}
	switch {
	case len(head) == 3 && head[0] == "source":
		err = c.rows(3, false, func(line int, f []string) error {
			if f[0] == "" || f[1] == "" || f[2] == "" {
				return fieldError(path, line, "source, record or cluster", "empty value")
			}
			cl.Records = append(cl.Records, LabelledRecord{Source: matchio.UnescapeCSVField(f[0]), ID: matchio.UnescapeCSVField(f[1]), Label: f[2]})
			return nil
		})
	case len(head) == 2:
		err = c.rows(2, false, func(line int, f []string) error {
			if f[0] == "" || f[1] == "" {
				return fieldError(path, line, "record or cluster", "empty value")
			}
			cl.Records = append(cl.Records, LabelledRecord{ID: matchio.UnescapeCSVField(f[0]), Label: f[1]})
			return nil
		})
	default:
		c.f.Close()
		return nil, malformed("%s:1: unrecognised clusters header (want source,record_id,cluster_id or record_id,cluster_id)", path)
	}
	if err != nil {
		return nil, err
	}
	return cl, nil
}
