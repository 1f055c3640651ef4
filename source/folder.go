package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/provenance"
)

// storeSource answers from a Store: the one in memory (OpenStore) or the
// one read from a folder and read again when its files change.
type storeSource struct {
	c    Config
	now  func() time.Time
	load func() (*Store, error)
}

// folder reads a directory into a Store and reads it again when the
// names, sizes or modification times of its files change.
type folder struct {
	fsys     fs.FS
	maxBytes int64

	mu    sync.Mutex
	store *Store
	stamp [sha256.Size]byte
}

func openFolder(c Config, o Options) (Source, error) {
	// A file may hold many patients: it is bounded by MaxBytes or
	// DefaultMaxBytes, whichever is larger; each answer by MaxBytes.
	f := &folder{fsys: os.DirFS(c.Dir), maxBytes: max(c.maxBytes(), DefaultMaxBytes)}
	if _, err := f.current(); err != nil {
		return nil, fmt.Errorf("source: %s: open folder: %w", c.ID, err)
	}
	return &storeSource{c: c, now: o.Now, load: f.current}, nil
}

// current returns the folder's Store, reading the folder again when its
// files changed since the last read. Calls are serialised; a listing of a
// folder is cheap next to decoding an answer.
func (f *folder) current() (*Store, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	stamp, err := f.fingerprint()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if f.store != nil && stamp == f.stamp {
		return f.store, nil
	}
	st, err := LoadStore(f.fsys, f.maxBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	f.store, f.stamp = st, stamp
	return st, nil
}

// fingerprint hashes the path, size and modification time of every file
// LoadStore would read.
func (f *folder) fingerprint() ([sha256.Size]byte, error) {
	paths, err := storePaths(f.fsys)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	h := sha256.New()
	var buf [16]byte
	for _, p := range paths {
		fi, err := fs.Stat(f.fsys, p)
		if err != nil {
			return [sha256.Size]byte{}, fmt.Errorf("stat: %w", stripPath(err))
		}
		h.Write([]byte(p))
		binary.LittleEndian.PutUint64(buf[:8], uint64(fi.Size()))
		binary.LittleEndian.PutUint64(buf[8:], uint64(fi.ModTime().UnixNano()))
		h.Write(buf[:])
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum, nil
}

func (c Config) maxBytes() int64 {
	if c.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return c.MaxBytes
}

// Info implements Source.
func (s *storeSource) Info() provenance.Source { return s.c.Info() }

// Search implements Source.
func (s *storeSource) Search(ctx context.Context, q Query) ([]match.Record, error) {
	params, err := q.Params()
	if err != nil {
		return nil, fmt.Errorf("source: %s: %w", s.c.ID, err)
	}
	st, err := s.store(ctx, "search")
	if err != nil {
		return nil, err
	}
	items, err := st.Search(params)
	if err != nil {
		return nil, fmt.Errorf("source: %s: %w", s.c.ID, err)
	}
	if len(items) == 0 {
		return []match.Record{}, nil
	}
	b, err := s.decode("search", items)
	if err != nil {
		return nil, err
	}
	return b.Patients(), nil
}

// Everything implements Source.
func (s *storeSource) Everything(ctx context.Context, patientID string) (*fhirutil.Batch, error) {
	return s.EverythingSince(ctx, patientID, time.Time{})
}

// EverythingSince implements SinceSource.
func (s *storeSource) EverythingSince(ctx context.Context, patientID string, since time.Time) (*fhirutil.Batch, error) {
	st, err := s.store(ctx, "everything")
	if err != nil {
		return nil, err
	}
	items, err := st.Everything(patientID, since)
	if err != nil {
		return nil, fmt.Errorf("source: %s: everything: %w", s.c.ID, ErrNotFound)
	}
	return s.decode("everything", items)
}

// Patient implements PatientReader.
func (s *storeSource) Patient(ctx context.Context, id string) (match.Record, error) {
	st, err := s.store(ctx, "read")
	if err != nil {
		return match.Record{}, err
	}
	it, ok := st.Patient(id)
	if !ok {
		return match.Record{}, fmt.Errorf("source: %s: read: %w", s.c.ID, ErrNotFound)
	}
	b, err := s.decode("read", []Item{it})
	if err != nil {
		return match.Record{}, err
	}
	recs := b.Patients()
	if len(recs) == 0 {
		return match.Record{}, fmt.Errorf("source: %s: read: the Patient does not decode: %w", s.c.ID, ErrUnavailable)
	}
	return recs[0], nil
}

func (s *storeSource) store(ctx context.Context, op string) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("source: %s: %s: %w: %w", s.c.ID, op, ErrUnavailable, err)
	}
	st, err := s.load()
	if err != nil {
		return nil, fmt.Errorf("source: %s: %s: %w", s.c.ID, op, err)
	}
	return st, nil
}

// decode decodes items, as NDJSON, with the options every source uses.
func (s *storeSource) decode(op string, items []Item) (*fhirutil.Batch, error) {
	n := 0
	for _, it := range items {
		n += len(it.JSON) + 1
	}
	if max := s.c.maxBytes(); int64(n) > max {
		return nil, fmt.Errorf("source: %s: %s: answer larger than %d bytes: %w", s.c.ID, op, max, ErrTooLarge)
	}
	var buf bytes.Buffer
	buf.Grow(n)
	for _, it := range items {
		buf.Write(it.JSON)
		buf.WriteByte('\n')
	}
	b, err := fhirutil.Decode(buf.Bytes(), s.c.decodeOptions(s.now()))
	if err != nil {
		return nil, fmt.Errorf("source: %s: %s: %w: %w", s.c.ID, op, ErrUnavailable, err)
	}
	return b, nil
}

// decodeOptions are the fhirutil options of every answer from c.
func (c Config) decodeOptions(now time.Time) *fhirutil.Options {
	return &fhirutil.Options{Source: c.Info(), Retrieved: now, Lenient: c.Lenient, SkimUnmapped: true}
}
