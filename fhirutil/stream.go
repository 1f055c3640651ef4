package fhirutil

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"time"
)

// streamChunk is about how many bytes of entries [Stream] decodes at once:
// enough for every worker to have many resources, small beside the
// memory the decoded resources take.
var streamChunk = 4 << 20 // a variable for tests

// errStop ends a scan when the consumer of a Stream stops.
var errStop = errors.New("fhirutil: stream stopped")

// Stream decodes r as [Read] does, a part at a time, so that memory
// follows the largest part and not the input: a Bundle's entries, or
// NDJSON's lines, are read from r and decoded in chunks of about 4 MB of
// JSON (on Options.Workers goroutines), and each chunk's resources and
// issues are yielded as one [Batch], which the consumer keeps or lets go.
// Nothing of a chunk is held once it is yielded. carelens fhir check
// (validating) peaks at 144 MB RSS on a 210 MB Bundle and 136 MB on a 54
// MB one; on 35 MB of NDJSON it took 609 MB when NDJSON was read whole.
//
// Together the yielded Batches hold what Read returns (Bundles summed),
// with two differences: a syntax error met after the first chunk (a
// truncated Bundle) is yielded after the chunks before it, where Read
// returns the error alone; and a key the top-level Bundle repeats is
// reported in the chunk where the repeat is read. Input that is neither
// NDJSON nor a Bundle whose resourceType comes before its entries (a
// single resource, a Bundle written in another key order) is read whole
// and decoded as Read does; so is NDJSON whose first line does not scan,
// unless a line starting with "{" follows it in the part read by then. In
// NDJSON whose first line is a Bundle, that Bundle is streamed (its
// resources located "entry[i]", not "line 1.resource.entry[i]").
//
// The sequence is single-use: it reads r. It yields an error at most
// once, as its last element: the error Read would return, or r's. o may
// be nil.
func Stream(r io.Reader, o *Options) iter.Seq2[*Batch, error] {
	return func(yield func(*Batch, error) bool) {
		if o == nil {
			o = &Options{}
		}
		opts := *o
		if opts.Retrieved.IsZero() {
			opts.Retrieved = time.Now().UTC()
		}
		st := &stream{s: &scanner{r: r}, o: &opts, yield: yield}
		st.run()
	}
}

// stream is the state of one Stream.
type stream struct {
	s       *scanner
	o       *Options
	yield   func(*Batch, error) bool
	top     scannedTop
	pending []job
	size    int  // bytes of the pending jobs
	started bool // entries are being streamed: the input is a Bundle
	yielded bool // a Batch was yielded
	dups    int  // top-level repeated keys reported
	stopped bool // the consumer stopped
	lead    int  // the white space before the input's first value
}

func (st *stream) batch() *Batch {
	return &Batch{Retrieved: st.o.Retrieved, Source: st.o.Source}
}

func (st *stream) run() {
	s := st.s
	if s.peek() != '{' {
		st.whole() // not a JSON object, or empty: as Read reports it
		return
	}
	st.lead = s.pos
	early := false // an entry came before resourceType
	err := s.top(&st.top, func(e scannedEntry) error {
		if early || st.top.resourceType != "Bundle" {
			early = true
			return nil // not known to be a Bundle: decoded whole at the end
		}
		st.started = true
		if j, ok := entryJob(e, job{}); ok {
			st.pending = append(st.pending, j)
			st.size += len(j.raw)
		}
		if st.size >= streamChunk && !st.flush() {
			return errStop
		}
		return nil
	})
	switch {
	case st.stopped:
		return
	case s.rerr != nil && s.rerr != io.EOF:
		if st.started && !st.flush() {
			return
		}
		st.yield(nil, fmt.Errorf("fhirutil: read: %w", s.rerr))
		return
	case !st.started && st.ndjson(err):
		st.lines(st.lead, 0)
		return
	case !st.started:
		st.whole()
		return
	case err != nil:
		// A syntax error: yield what was read whole before it.
		if !st.flush() {
			return
		}
		st.yield(nil, fmt.Errorf("%w: %w", ErrInvalidJSON, err))
		return
	}
	if !st.flush() {
		return
	}
	if s.peek() == 0 {
		if s.rerr != nil && s.rerr != io.EOF {
			st.yield(nil, fmt.Errorf("fhirutil: read: %w", s.rerr))
		}
		return
	}
	// NDJSON whose first line was a Bundle: the other lines.
	st.lines(s.pos, s.lines+bytes.Count(s.data[:s.pos], []byte{'\n'}))
}

// ndjson reports whether input that is not a streamed Bundle is NDJSON
// as [Decode] finds it, when that is known from what was read: a first
// object that scanned (err nil) and is followed by more than white space,
// or a first line that did not scan followed, in the window, by a line
// that starts with "{". Nothing was discarded: the window holds the input
// from its start.
func (st *stream) ndjson(err error) bool {
	s := st.s
	if err == nil {
		return s.peek() != 0
	}
	// Decode looks for "\n{" in the whole input; a match in the part
	// read is a match there, and no match is left to Decode (whole).
	return bytes.Contains(s.data[st.lead:], []byte("\n{"))
}

// lines decodes the input from pos in the window as NDJSON, a chunk of
// whole lines at a time (about streamChunk bytes), and yields each
// chunk's resources as a Batch. The first line is line+1; lines are
// numbered and located as [Decode] numbers them. A line longer than a
// chunk is read whole: it is one resource.
func (st *stream) lines(pos, line int) {
	s := st.s
	s.pos = pos
	for {
		// Read until the window holds a chunk ending at a line end, or
		// the end of the input.
		cut, from := -1, s.pos+streamChunk-1 // from: where a line end is looked for
		for {
			if from < len(s.data) {
				if i := bytes.IndexByte(s.data[from:], '\n'); i >= 0 {
					cut = from + i + 1
					break
				}
				from = len(s.data)
			}
			if s.rerr != nil {
				break
			}
			s.fill()
		}
		if cut < 0 && s.rerr != io.EOF {
			st.yield(nil, fmt.Errorf("fhirutil: read: %w", s.rerr))
			return
		}
		if cut < 0 {
			cut = len(s.data) // the end of the input
		}
		chunk := s.data[s.pos:cut]
		if jobs, err := splitLines(chunk, s.off+int64(s.pos), line); err == nil {
			b := st.batch()
			b.add(decodeJobs(jobs, st.o))
			if !st.yield(b, nil) {
				return
			}
		} // else blank lines only
		line += bytes.Count(chunk, []byte{'\n'})
		end := cut == len(s.data) && s.rerr == io.EOF
		s.pos = cut
		s.discard() // no resource holds the window: prescan copied them
		if end {
			return
		}
	}
}

// flush decodes the pending entries, yields them, and drops the bytes
// read so far. It reports false when the consumer stopped.
func (st *stream) flush() bool {
	if st.yielded && len(st.pending) == 0 && st.dups == len(st.top.dups) {
		return true // nothing new
	}
	b := st.batch()
	if !st.yielded {
		b.Bundles = 1 // the top-level Bundle
	}
	b.Issues = bundleDupIssues(st.top.dups[st.dups:], st.top.id, job{}, st.o.Lenient)
	st.dups = len(st.top.dups)
	b.add(decodeJobs(st.pending, st.o))
	clear(st.pending)
	st.pending, st.size = st.pending[:0], 0
	st.s.discard() // no resource holds the window: prescan copied them
	st.yielded = true
	if !st.yield(b, nil) {
		st.stopped = true
		return false
	}
	return true
}

// rest returns the unread part of the window and of r.
func (st *stream) rest() ([]byte, error) {
	s := st.s
	buf := bytes.NewBuffer(s.data[s.pos:])
	if s.rerr == nil {
		if _, err := buf.ReadFrom(s.r); err != nil {
			return nil, fmt.Errorf("fhirutil: read: %w", err)
		}
	}
	return buf.Bytes(), nil
}

// whole decodes all the input as Read does (nothing was discarded).
func (st *stream) whole() {
	if err := st.s.rerr; err != nil && err != io.EOF {
		st.yield(nil, fmt.Errorf("fhirutil: read: %w", err))
		return
	}
	st.s.pos = 0
	data, err := st.rest()
	if err != nil {
		st.yield(nil, err)
		return
	}
	b, err := Decode(data, st.o)
	if err != nil {
		st.yield(nil, err)
		return
	}
	st.yield(b, nil)
}
