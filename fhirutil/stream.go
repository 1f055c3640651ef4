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
// follows the largest part and not the input: a Bundle's entries are read
// from r and decoded in chunks of about 4 MB of JSON (on Options.Workers
// goroutines), and each chunk's resources and issues are yielded as one
// [Batch], which the consumer keeps or lets go. Nothing of a chunk is
// held once it is yielded. A 200 MB Bundle is checked in about 100 MB,
// where Read took 2.8 GB.
//
// Together the yielded Batches hold what Read returns (Bundles summed),
// with two differences: a syntax error met after the first chunk (a
// truncated Bundle) is yielded after the chunks before it, where Read
// returns the error alone; and a key the top-level Bundle repeats is
// reported in the chunk where the repeat is read. Input that is not a
// Bundle whose resourceType comes before its entries (a single resource,
// NDJSON, a Bundle written in another key order) is read whole and
// decoded as Read does. In NDJSON whose first line is a Bundle, that
// Bundle is streamed (its resources located "entry[i]", not "line
// 1.resource.entry[i]") and the other lines are read whole.
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
	// NDJSON whose first line was a Bundle: the other lines, whole.
	line := s.lines + bytes.Count(s.data[:s.pos], []byte{'\n'})
	offset := s.off + int64(s.pos)
	rest, err := st.rest()
	if err != nil {
		st.yield(nil, err)
		return
	}
	jobs, err := splitLines(rest, offset, line)
	if err != nil {
		return // blank lines only
	}
	b := st.batch()
	b.add(decodeJobs(jobs, st.o))
	st.yield(b, nil)
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
