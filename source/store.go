package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/carelens/carelens/fhirutil"
)

// File is one R4 JSON file given to [NewStore]: a resource, a Bundle of
// any type, or NDJSON (one resource per line) when Name ends in ".ndjson".
type File struct {
	// Name is the file's name or path. It decides the format and is kept
	// in a [FileError], never in an error message: some generators
	// (Synthea) name files after their patients.
	Name string
	// Data is the file's content. The Store keeps a compact copy of each
	// resource, not Data itself.
	Data []byte
}

// FileError reports a file that a [Store] cannot read. Its message names
// the file by its position only; Name holds the file's name for a caller
// that knows it may show it.
type FileError struct {
	// Index is the position of the file in the input (for [LoadStore],
	// in lexical order of the paths).
	Index int
	// Name is the file's name; it is not part of Error.
	Name string
	// Err is the problem, wrapping [fhirutil.ErrInvalidJSON],
	// [fhirutil.ErrInvalidResource] or [ErrTooLarge].
	Err error
}

// Error returns "source: file[2]: entry[7]: ...".
func (e *FileError) Error() string { return fmt.Sprintf("source: file[%d]: %v", e.Index, e.Err) }

// Unwrap returns the problem.
func (e *FileError) Unwrap() error { return e.Err }

// Item is one resource held by a [Store].
type Item struct {
	// Type is the resourceType and ID the logical id ("" when the resource
	// has none and is known by its FullURL only).
	Type, ID string
	// FullURL is the Bundle entry's fullUrl the resource came with, if any.
	FullURL string
	// LastUpdated is meta.lastUpdated, zero when absent or unreadable.
	LastUpdated time.Time
	// JSON is the resource as compact JSON on one line. It is shared by
	// every caller and must not be modified.
	JSON json.RawMessage
}

// Store is an in-memory set of R4 resources indexed by patient: which
// Patients it holds, what identifies them, and which resources belong to
// each. It is the one mechanism behind the folder [Source] and the
// example FHIR server (examples/fhirsource), so both answer a search and
// $everything alike. A Store is immutable once built and safe for
// concurrent use; to see new data, build a new one.
//
// # Which resources belong to a patient
//
// A resource belongs to every Patient it references, at any depth, as
// "Patient/{id}" (relative, absolute or with a _history suffix) or as the
// fullUrl of a Patient in the same file ("urn:uuid:..."). A resource that
// references no Patient belongs to the file's only Patient when the file
// holds exactly one (the Organization and Practitioner entries of a
// Synthea bundle); otherwise it belongs to no one and no $everything
// returns it. Patients belong to no other patient, even when they link to
// one.
//
// Resources are told apart by type and id: when two files hold the same
// resource, the one with the later meta.lastUpdated is kept (the later
// file on a tie) and it belongs to the patients of both. Patients without
// an id cannot be asked for and are not held. Bundles are opened, nested
// Bundles included, and are not held themselves.
type Store struct {
	items    []*storeItem
	patients []*storePatient
	byID     map[string]*storePatient
}

type storeItem struct {
	Item
	owners []string // ids of the Patients the resource belongs to
}

type storePatient struct {
	item        *storeItem
	identifiers []identifier
	families    []string
	givens      []string
	birthDate   string
	resources   []*storeItem
}

type identifier struct{ system, value string }

// NewStore builds a Store from files, in order. A file that is not R4
// JSON fails the whole Store with a *[FileError].
func NewStore(files []File) (*Store, error) {
	b := storeBuilder{byKey: map[string]*storeItem{}}
	for i, f := range files {
		if err := b.addFile(f); err != nil {
			return nil, &FileError{Index: i, Name: f.Name, Err: err}
		}
	}
	return b.finish(), nil
}

// LoadStore builds a Store from the files named *.json or *.ndjson in
// fsys, its sub-directories included, in lexical order of their paths.
// A file larger than maxFileBytes (zero means [DefaultMaxBytes]) fails
// with a *[FileError] wrapping [ErrTooLarge]. Use os.DirFS for a folder
// on disk, or a map of in-memory files (testing/fstest.MapFS, embed.FS).
func LoadStore(fsys fs.FS, maxFileBytes int64) (*Store, error) {
	if maxFileBytes <= 0 {
		maxFileBytes = DefaultMaxBytes
	}
	paths, err := storePaths(fsys)
	if err != nil {
		return nil, err
	}
	files := make([]File, 0, len(paths))
	for i, p := range paths {
		data, err := readBounded(fsys, p, maxFileBytes)
		if err != nil {
			return nil, &FileError{Index: i, Name: p, Err: err}
		}
		files = append(files, File{Name: p, Data: data})
	}
	return NewStore(files)
}

// storePaths lists the files LoadStore reads, in lexical order.
func storePaths(fsys fs.FS) ([]string, error) {
	var paths []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && isStoreFile(p) {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		// The PathError names a path under the folder; report the
		// operation only (paths may carry patient names).
		return nil, fmt.Errorf("source: list files: %w", stripPath(err))
	}
	slices.Sort(paths)
	return paths, nil
}

func isStoreFile(p string) bool {
	ext := strings.ToLower(path.Ext(p))
	return ext == ".json" || ext == ".ndjson"
}

func readBounded(fsys fs.FS, p string, max int64) ([]byte, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, stripPath(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, stripPath(err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("larger than %d bytes: %w", max, ErrTooLarge)
	}
	return data, nil
}

// Len returns the number of Patients in s.
func (s *Store) Len() int { return len(s.patients) }

// PatientIDs returns the ids of the Patients in s, in the order they were
// first read.
func (s *Store) PatientIDs() []string {
	ids := make([]string, len(s.patients))
	for i, p := range s.patients {
		ids[i] = p.item.ID
	}
	return ids
}

// Patient returns the Patient with logical id id.
func (s *Store) Patient(id string) (Item, bool) {
	p, ok := s.byID[id]
	if !ok {
		return Item{}, false
	}
	return p.item.Item, true
}

// Everything returns the Patient id and every resource that belongs to it,
// the Patient first and the others in the order they were read. With a
// non-zero since, only resources whose meta.lastUpdated is after since
// are returned besides the Patient, as Patient/$everything's _since does;
// the Patient is always returned, so an answer always says whom it is
// about. An unknown id gives an error wrapping [ErrNotFound].
func (s *Store) Everything(id string, since time.Time) ([]Item, error) {
	p, ok := s.byID[id]
	if !ok {
		return nil, fmt.Errorf("source: everything: %w", ErrNotFound)
	}
	out := make([]Item, 0, 1+len(p.resources))
	out = append(out, p.item.Item)
	for _, r := range p.resources {
		if since.IsZero() || r.LastUpdated.After(since) {
			out = append(out, r.Item)
		}
	}
	return out, nil
}

// storeBuilder reads files into items, resolving patient ownership once
// every file has been read.
type storeBuilder struct {
	items []*storeItem
	byKey map[string]*storeItem
}

// scoped is a resource read from one file, before de-duplication.
type scoped struct {
	Item
	refs []string
}

// bundleHead holds what the Store reads of every resource with
// encoding/json; Patients are read further (patientFields) once every
// file is read.
type bundleHead struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Meta         *struct {
		LastUpdated string `json:"lastUpdated"`
	} `json:"meta"`
	Entry json.RawMessage `json:"entry"`
}

type bundleEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
}

func (b *storeBuilder) addFile(f File) error {
	var res []scoped
	if strings.EqualFold(path.Ext(f.Name), ".ndjson") {
		line := 0
		for l := range bytes.Lines(f.Data) {
			line++
			if len(bytes.TrimSpace(l)) == 0 {
				continue
			}
			if err := readResource(l, "", fmt.Sprintf("line %d", line), &res, 0); err != nil {
				return err
			}
		}
	} else if err := readResource(f.Data, "", "", &res, 0); err != nil {
		return err
	}
	// Resolve references within the file.
	patientByURL := map[string]string{}
	var patients []string
	for _, r := range res {
		if r.Type == "Patient" && r.ID != "" {
			patients = append(patients, r.ID)
			if r.FullURL != "" {
				patientByURL[r.FullURL] = r.ID
			}
		}
	}
	for _, r := range res {
		if r.Type == "Patient" && r.ID == "" {
			continue
		}
		var owners []string
		if r.Type != "Patient" {
			for _, ref := range r.refs {
				if id, ok := patientByURL[ref]; ok {
					owners = append(owners, id)
				} else if id, ok := patientRef(ref); ok {
					owners = append(owners, id)
				}
			}
			if len(owners) == 0 && len(patients) == 1 {
				owners = patients
			}
		}
		b.add(r.Item, owners)
	}
	return nil
}

// maxBundleDepth bounds the nesting of Bundles in one file.
const maxBundleDepth = 8

// readResource reads one resource, found at loc in its file ("" for the
// whole file), and appends it to out; a Bundle's entries are read in its
// place, recursively.
func readResource(data []byte, fullURL, loc string, out *[]scoped, depth int) error {
	at := ""
	if loc != "" {
		at = loc + ": "
	}
	var h bundleHead
	if err := json.Unmarshal(data, &h); err != nil {
		if _, syntax := errors.AsType[*json.SyntaxError](err); syntax || !json.Valid(data) {
			return fmt.Errorf("%s%w", at, fhirutil.ErrInvalidJSON)
		}
		return fmt.Errorf("%sresourceType, id, meta or entry of the wrong JSON type: %w", at, fhirutil.ErrInvalidResource)
	}
	if h.ResourceType == "" {
		return fmt.Errorf("%sno resourceType: %w", at, fhirutil.ErrInvalidResource)
	}
	if h.ResourceType == "Bundle" {
		if depth >= maxBundleDepth {
			return fmt.Errorf("%sBundles nested more than %d deep: %w", at, maxBundleDepth, fhirutil.ErrInvalidResource)
		}
		var entries []bundleEntry
		if len(h.Entry) > 0 && !bytes.Equal(h.Entry, []byte("null")) {
			if err := json.Unmarshal(h.Entry, &entries); err != nil {
				return fmt.Errorf("%sBundle.entry: %w", at, fhirutil.ErrInvalidResource)
			}
		}
		for i, e := range entries {
			if len(e.Resource) == 0 {
				continue // a request or response without a resource
			}
			eloc := fmt.Sprintf("entry[%d]", i)
			if loc != "" {
				eloc = loc + "." + eloc
			}
			if err := readResource(e.Resource, e.FullURL, eloc, out, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	var buf bytes.Buffer
	buf.Grow(len(data))
	if err := json.Compact(&buf, data); err != nil {
		return fmt.Errorf("%s%w", at, fhirutil.ErrInvalidJSON)
	}
	it := Item{Type: h.ResourceType, ID: h.ID, FullURL: fullURL, JSON: buf.Bytes()}
	if h.Meta != nil && h.Meta.LastUpdated != "" {
		if t, err := time.Parse(time.RFC3339Nano, h.Meta.LastUpdated); err == nil {
			it.LastUpdated = t.UTC()
		}
	}
	*out = append(*out, scoped{Item: it, refs: references(it.JSON)})
	return nil
}

// stripPath drops the path from a *fs.PathError, keeping the operation
// and the cause: a path under a folder of bundles may carry a patient's
// name.
func stripPath(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// add keeps r, de-duplicating by type and id.
func (b *storeBuilder) add(r Item, owners []string) {
	key := ""
	switch {
	case r.ID != "":
		key = r.Type + "/" + r.ID
	case r.FullURL != "":
		key = r.FullURL
	}
	if key != "" {
		if old, ok := b.byKey[key]; ok {
			if !r.LastUpdated.Before(old.LastUpdated) {
				old.Item = r
			}
			for _, o := range owners {
				if !slices.Contains(old.owners, o) {
					old.owners = append(old.owners, o)
				}
			}
			return
		}
	}
	it := &storeItem{Item: r, owners: slices.Compact(slices.Clone(owners))}
	b.items = append(b.items, it)
	if key != "" {
		b.byKey[key] = it
	}
}

// patientFields are the elements a Store searches on.
type patientFields struct {
	Identifier []struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"identifier"`
	Name []struct {
		Family string   `json:"family"`
		Given  []string `json:"given"`
	} `json:"name"`
	BirthDate string `json:"birthDate"`
}

func (b *storeBuilder) finish() *Store {
	s := &Store{items: b.items, byID: map[string]*storePatient{}}
	for _, it := range b.items {
		if it.Type != "Patient" {
			continue
		}
		p := &storePatient{item: it}
		var f patientFields
		// A Patient whose searched elements do not read as expected is
		// still held; it is found by id only.
		if json.Unmarshal(it.JSON, &f) == nil {
			for _, id := range f.Identifier {
				p.identifiers = append(p.identifiers, identifier{id.System, id.Value})
			}
			for _, n := range f.Name {
				if n.Family != "" {
					p.families = append(p.families, n.Family)
				}
				p.givens = append(p.givens, n.Given...)
			}
			p.birthDate = f.BirthDate
		}
		s.patients = append(s.patients, p)
		s.byID[it.ID] = p
	}
	for _, it := range b.items {
		for _, o := range it.owners {
			if p, ok := s.byID[o]; ok {
				p.resources = append(p.resources, it)
			}
		}
	}
	return s
}

// references returns the values of every "reference" element of a
// compact resource. It scans the bytes: in compact JSON a key is the
// sequence "reference": outside any string, because a quote inside a
// string is escaped.
func references(data []byte) []string {
	const key = `"reference":"`
	var out []string
	for {
		i := bytes.Index(data, []byte(key))
		if i < 0 {
			return out
		}
		data = data[i+len(key)-1:] // at the value's opening quote
		end := 1
		escaped := false
		for end < len(data) && data[end] != '"' {
			if data[end] == '\\' {
				escaped = true
				end++
			}
			end++
		}
		if end >= len(data) {
			return out
		}
		v := string(data[1:end])
		if escaped {
			if json.Unmarshal(data[:end+1], &v) != nil {
				v = ""
			}
		}
		if v != "" {
			out = append(out, v)
		}
		data = data[end+1:]
	}
}

// patientRef returns the Patient id a literal reference points to:
// "Patient/123", "https://host/fhir/Patient/123" or either with
// "/_history/2".
func patientRef(ref string) (string, bool) {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	rest, id, ok := cutLast(ref, "/")
	if !ok || id == "" {
		return "", false
	}
	if rest != "Patient" && !strings.HasSuffix(rest, "/Patient") {
		return "", false
	}
	return id, true
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
