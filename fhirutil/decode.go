package fhirutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"

	"github.com/carelens/carelens/provenance"
)

// TimeZone is the zone every unmarshaller in CareLens is built with. The
// zone changes the instants jsonformat stores for dates ("1974-07-25" is a
// different microsecond in London and in UTC), so one zone is used
// throughout and dates are compared by value and precision.
const TimeZone = "UTC"

// Options configure decoding. The zero value works: strict R4 (primitives
// checked, no extended validation), the retrieval time taken when
// decoding starts, and one worker per available CPU.
type Options struct {
	// Source is the source the input came from; its ID goes into every
	// [provenance.Tag].
	Source provenance.Source
	// Retrieved is when the input was fetched from the source; zero means
	// the time decoding starts.
	Retrieved time.Time
	// Lenient keeps resources that strict R4 parsing rejects for a local
	// defect: unknown elements and elements with invalid values are
	// dropped, and a dateTime with a time but no offset is read as UTC.
	// Each repair is reported as a kept [ResourceError]. A resourceType
	// R4 does not define is kept as a stub (type, id and meta only).
	Lenient bool
	// Validate runs jsonformat's extended validation: required elements
	// and reference target types. Its findings are reported as kept
	// issues (ErrValidation) and never drop a resource, so it is off by
	// default: every resource then goes through jsonformat (the fast
	// decoder does not validate), about seven times the decoding time
	// on the viewer's demo data, and the viewer shows the resource
	// either way. Primitive values (codes, dates, ids) are always checked.
	Validate bool
	// Workers is how many resources are decoded at once; zero or negative
	// means runtime.GOMAXPROCS(0).
	Workers int
	// SkimUnmapped is for callers that want entries ([Batch.Entries]) and
	// records, not the resources themselves. A resource of a type that
	// Entries does not map to a clinical category (Claim,
	// ExplanationOfBenefit, CarePlan, Organization...: a CategoryOther
	// entry) is then skimmed rather than decoded: its JSON is checked for
	// syntax and UTF-8, and only its resourceType, id, meta.versionId,
	// meta.lastUpdated, meta.source and status are read and checked as
	// jsonformat would check them. Its other elements are not checked, so
	// a skimmed resource that jsonformat would reject is kept and not
	// reported; [Resource.JSON] decodes it in full and reports it then.
	// Mapped types, Patients, Medications, Provenances and Bundles are
	// always decoded. Ignored when Validate is set.
	SkimUnmapped bool
}

func (o *Options) skim() bool { return o.SkimUnmapped && !o.Validate }

func (o *Options) workers() int {
	if o == nil || o.Workers <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return o.Workers
}

// Batch is the result of decoding one input: the resources that were kept,
// in input order, and the problems found.
type Batch struct {
	// Resources are the decoded resources in input order. Bundles are not
	// resources here: their entries are, recursively (a batch-response
	// holding searchset Bundles yields the searchsets' entries).
	Resources []*Resource
	// Issues are the problems found, in input order. An issue with Kept
	// false means a resource was skipped.
	Issues []*ResourceError
	// Bundles counts the Bundles that were opened, the top level included.
	Bundles int
	// Retrieved is the retrieval time given in Options, or the time
	// decoding started.
	Retrieved time.Time
	// Source is the source the input came from.
	Source provenance.Source
	// Next is, for a Bundle, the url of its link with relation "next"
	// (the next page of a searchset), or "".
	Next string
}

// Err returns the issues that skipped a resource, joined, or nil when
// every resource was kept.
func (b *Batch) Err() error {
	var errs []error
	for _, is := range b.Issues {
		if !is.Kept {
			errs = append(errs, is)
		}
	}
	return errors.Join(errs...)
}

// CountByType returns how many resources of each type were kept.
func (b *Batch) CountByType() map[string]int {
	m := make(map[string]int)
	for _, r := range b.Resources {
		m[r.Type]++
	}
	return m
}

// Decode decodes R4 JSON: one resource, a Bundle of any type (nested
// Bundles are opened), or NDJSON (one resource per line). A bad resource
// is reported in Batch.Issues and skipped; the others are kept. The error
// is non-nil only when the input as a whole is unreadable (not JSON, or
// empty). Decoding runs on Options.Workers goroutines; the result does not
// depend on their number. o may be nil.
func Decode(data []byte, o *Options) (*Batch, error) {
	if o == nil {
		o = &Options{}
	}
	b := &Batch{Retrieved: o.Retrieved, Source: o.Source}
	if b.Retrieved.IsZero() {
		b.Retrieved = time.Now().UTC()
	}
	jobs, bundles, issues, next, err := split(data, o.Lenient)
	if err != nil {
		return b, err
	}
	b.Bundles, b.Next = bundles, next
	b.Issues = issues
	b.add(decodeJobs(jobs, o))
	return b, nil
}

// add appends the results of jobs to b.
func (b *Batch) add(results []jobResult) {
	for _, r := range results {
		b.Resources = append(b.Resources, r.resources...)
		b.Issues = append(b.Issues, r.issues...)
		b.Bundles += r.bundles
	}
}

// decodeJobs decodes jobs on o.Workers goroutines, each reusing its
// unmarshaller; the results are in the jobs' order.
func decodeJobs(jobs []job, o *Options) []jobResult {
	results := make([]jobResult, len(jobs))
	run := func(u *jsonformat.Unmarshaller, i int) {
		results[i] = decodeJob(u, jobs[i], o)
	}
	n := min(o.workers(), len(jobs))
	if n <= 1 {
		u := getUnmarshaller(!o.Validate)
		for i := range jobs {
			run(u, i)
		}
		putUnmarshaller(!o.Validate, u)
		return results
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			u := getUnmarshaller(!o.Validate)
			defer putUnmarshaller(!o.Validate, u)
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					return
				}
				run(u, i)
			}
		})
	}
	wg.Wait()
	return results
}

// Read reads all of r and decodes it as [Decode] does.
func Read(r io.Reader, o *Options) (*Batch, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("fhirutil: read: %w", err)
	}
	return Decode(data, o)
}

// job is one resource's JSON waiting to be decoded.
type job struct {
	raw      []byte
	location string
	fullURL  string
	// offset is where raw starts in the input, and base how many objects
	// and arrays enclose it there (3 for a Bundle's entries): errors give
	// byte offsets in the input and MaxDepth counts from its top.
	offset int64
	base   int
	// dup is a key the Bundle entry holding the resource repeats
	// ("entry.resource": the last resource is the one in raw), at
	// dupOffset; "" when none.
	dup       string
	dupOffset int64
}

type jobResult struct {
	resources []*Resource
	issues    []*ResourceError
	bundles   int
}

// Unmarshallers are reused: building one loads the R4 configuration.
var unmarshallers [2]sync.Pool // [0] validating, [1] not

func getUnmarshaller(skipValidation bool) *jsonformat.Unmarshaller {
	i := 0
	if skipValidation {
		i = 1
	}
	if u, ok := unmarshallers[i].Get().(*jsonformat.Unmarshaller); ok {
		return u
	}
	var u *jsonformat.Unmarshaller
	var err error
	if skipValidation {
		u, err = jsonformat.NewUnmarshallerWithoutValidation(TimeZone, fhirversion.R4)
	} else {
		u, err = jsonformat.NewUnmarshaller(TimeZone, fhirversion.R4)
	}
	if err != nil {
		panic("fhirutil: cannot build R4 unmarshaller: " + err.Error()) // static configuration
	}
	return u
}

func putUnmarshaller(skipValidation bool, u *jsonformat.Unmarshaller) {
	i := 0
	if skipValidation {
		i = 1
	}
	unmarshallers[i].Put(u)
}

// split turns the input into jobs: the entries of a top-level Bundle, the
// lines of NDJSON, or the document itself. It returns how many Bundles it
// opened, and the Bundle's repeated keys as issues. It scans the input
// once (see scan.go); jsonformat then decodes each resource once, on a
// worker.
func split(data []byte, lenient bool) (jobs []job, bundles int, issues []*ResourceError, next string, err error) {
	lead := len(data) - len(bytes.TrimLeft(data, " \t\r\n"))
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, 0, nil, "", ErrEmpty
	}
	if data[0] != '{' {
		return nil, 0, nil, "", fmt.Errorf("%w: input is not a JSON object", ErrInvalidJSON)
	}
	t, err := scanTop(data)
	switch {
	case err != nil && bytes.Contains(data, []byte("\n{")):
		jobs, err := splitNDJSON(data, int64(lead)) // NDJSON whose first line is bad
		return jobs, 0, nil, "", err
	case err != nil:
		if se, ok := errors.AsType[*scanError](err); ok {
			se.offset += int64(lead)
		}
		return nil, 0, nil, "", fmt.Errorf("%w: %w", ErrInvalidJSON, err)
	case len(bytes.TrimSpace(t.rest)) > 0:
		jobs, err := splitNDJSON(data, int64(lead))
		return jobs, 0, nil, "", err
	}
	if t.resourceType == "Bundle" {
		next = t.next
	}
	jobs, n, issues := documentJobs(data, t, job{offset: int64(lead)}, lenient)
	return jobs, n, issues, next, nil
}

// splitDocument splits one JSON object: a Bundle into its entries, any
// other resource into one job. ok is false when data is not one object.
func splitDocument(data []byte, parent job, lenient bool) (jobs []job, bundles int, issues []*ResourceError, ok bool) {
	t, err := scanTop(data)
	if err != nil || len(bytes.TrimSpace(t.rest)) > 0 {
		return nil, 0, nil, false
	}
	jobs, bundles, issues = documentJobs(data, t, parent, lenient)
	return jobs, bundles, issues, true
}

// documentJobs makes the jobs of one document: the entries of a Bundle,
// or the document itself. parent places the document in the input. A
// key the Bundle repeats is an issue, kept in lenient mode (the entries
// of every "entry" array are decoded).
func documentJobs(data []byte, t scannedTop, parent job, lenient bool) ([]job, int, []*ResourceError) {
	if t.resourceType != "Bundle" {
		return []job{{raw: data, location: parent.location, offset: parent.offset, base: parent.base}}, 0, nil
	}
	issues := bundleDupIssues(t.dups, t.id, parent, lenient)
	jobs := make([]job, 0, len(t.entries))
	for _, e := range t.entries {
		if j, ok := entryJob(e, parent); ok {
			jobs = append(jobs, j)
		}
	}
	return jobs, 1, issues
}

// bundleDupIssues reports the keys a Bundle repeats.
func bundleDupIssues(dups []dupKey, id string, parent job, lenient bool) []*ResourceError {
	var issues []*ResourceError
	for _, d := range dups {
		issues = append(issues, &ResourceError{
			Location: parent.location, ResourceType: "Bundle", ID: id,
			Path:   "Bundle." + d.path,
			Detail: "duplicate key at byte " + strconv.FormatInt(parent.offset+int64(d.offset), 10),
			Kept:   lenient, Err: ErrDuplicateKey,
		})
	}
	return issues
}

// entryJob makes the job of a Bundle entry; ok is false when the entry
// has no resource (a request or response).
func entryJob(e scannedEntry, parent job) (job, bool) {
	if e.resource == nil {
		return job{}, false
	}
	j := job{
		raw:      e.resource,
		location: joinLocation(parent.location, "entry["+strconv.Itoa(e.index)+"]"),
		fullURL:  e.fullURL,
		offset:   parent.offset + int64(e.offset),
		base:     parent.base + 3, // Bundle, entry, the entry
	}
	if e.dup != "" {
		j.dup = "entry." + e.dup
		j.dupOffset = parent.offset + int64(e.dupOffset)
	}
	return j, true
}

func joinLocation(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + ".resource." + child
}

// splitNDJSON splits newline-delimited JSON. Blank lines are skipped; a
// line that is not one JSON object is an issue, reported by decodeJob.
func splitNDJSON(data []byte, offset int64) ([]job, error) {
	return splitLines(data, offset, 0)
}

// splitLines is splitNDJSON for input whose first line is line+1.
func splitLines(data []byte, offset int64, line int) ([]job, error) {
	var jobs []job
	for len(data) > 0 {
		line++
		var l []byte
		l, data, _ = bytes.Cut(data, []byte("\n"))
		lead := len(l) - len(bytes.TrimLeft(l, " \t\r"))
		t := bytes.TrimSpace(l)
		if len(t) > 0 {
			jobs = append(jobs, job{raw: t, location: "line " + strconv.Itoa(line), offset: offset + int64(lead)})
		}
		offset += int64(len(l)) + 1
	}
	if len(jobs) == 0 {
		return nil, ErrEmpty
	}
	return jobs, nil
}

// syntaxOnly describes a JSON syntax error by offset only: encoding/json
// messages can quote input bytes. offset is where the n bytes decoded
// start in the input.
func syntaxOnly(err error, offset int64, n int) string {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		if se.Offset >= int64(n) && strings.Contains(se.Error(), "unexpected end") {
			return "unexpected end of input at byte " + strconv.FormatInt(offset+int64(n), 10)
		}
		// Offset counts the bytes read, the offending one included.
		return "syntax error at byte " + strconv.FormatInt(offset+max(se.Offset-1, 0), 10)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of input at byte " + strconv.FormatInt(offset+int64(n), 10)
	}
	return "malformed"
}

// resourceHead is what is read of a resource that jsonformat rejected, to
// name it in the issue.
type resourceHead struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
}

// readHead reads a resource's top-level resourceType and id without
// decoding the rest (with the scanner, which does not recurse: the
// resource may be nested too deep for anything that does). Whatever
// cannot be read is left empty.
func readHead(raw []byte) resourceHead {
	var h resourceHead
	s := &scanner{data: raw}
	str := func(dst *string) error {
		if s.peek() != '"' {
			_, err := s.skip()
			return err
		}
		start := s.pos
		if _, err := s.str(); err != nil {
			return err
		}
		return json.Unmarshal(raw[start:s.pos], dst)
	}
	_ = s.object(func(key []byte) error {
		switch string(key) {
		case "resourceType":
			return str(&h.ResourceType)
		case "id":
			return str(&h.ID)
		}
		_, err := s.skip()
		return err
	})
	return h
}

// useFastDecode sends resources to the fast decoder (fastdecode.go)
// before jsonformat; tests turn it off to compare the two paths.
var useFastDecode = true

// decodeJob decodes one resource with u. A Bundle is flattened into its
// entries; a rejected resource becomes issues (and, in lenient mode, is
// repaired when it can be).
//
// The resource's bytes are first prescanned (scan.go): nesting past
// MaxDepth or MaxNestedBytes is refused before jsonformat sees it, and
// the whitespace between tokens is stripped. Without Options.Validate a
// resource the fast decoder is sure of is decoded there (the same proto,
// several times faster; see fastdecode.go), and anything else by
// jsonformat.
func decodeJob(u *jsonformat.Unmarshaller, j job, o *Options) jobResult {
	var res jobResult
	raw, sh := prescan(j.raw, j.base, make([]byte, 0, len(j.raw)))
	if sh.tooDeep >= 0 || sh.nested > MaxNestedBytes {
		head := readHead(j.raw)
		// A nested Bundle is opened while its resources can be within the
		// limit (this bounds the recursion too).
		if head.ResourceType == "Bundle" && j.base+4 <= MaxDepth && res.openBundle(u, j, o) {
			return res
		}
		e := &ResourceError{Location: j.location, ResourceType: head.ResourceType, ID: head.ID, Err: ErrTooDeep}
		if sh.tooDeep >= 0 {
			e.Path = joinPath(head.ResourceType, sh.under)
			e.Detail = "objects and arrays nested more than " + strconv.Itoa(MaxDepth) + " deep at byte " + strconv.FormatInt(j.offset+int64(sh.tooDeep), 10)
		} else {
			e.Detail = "nested bytes over " + strconv.Itoa(MaxNestedBytes>>20) + " MiB (bytes times depth)"
		}
		res.issues = append(res.issues, e)
		return res
	}
	if sh.ndups > 0 || j.dup != "" {
		head := readHead(j.raw)
		// A nested Bundle is opened: its entries' keys are checked
		// one by one, and only the resources that repeat one are hit.
		if head.ResourceType == "Bundle" && j.dup == "" && res.openBundle(u, j, o) {
			return res
		}
		res.issues = append(res.issues, duplicateIssues(j, head, sh, o.Lenient)...)
		if !o.Lenient {
			return res
		}
	}
	if o.skim() {
		if r, ok := skim(raw); ok {
			r.Location, r.FullURL, r.lenient = j.location, j.fullURL, o.Lenient
			res.resources = append(res.resources, r)
			return res
		}
	}
	if useFastDecode && !o.Validate && sh.ndups == 0 {
		if cr, ok := fastDecode(raw); ok {
			res.addDecoded(cr, j, nil, nil)
			return res
		}
	}
	msg, err := u.Unmarshal(raw)
	if msg != nil {
		cr := msg.(*bcrpb.ContainedResource)
		res.addDecoded(cr, j, err, nil)
		return res
	}
	var head resourceHead
	if jerr := json.Unmarshal(j.raw, &head); jerr != nil {
		res.issues = append(res.issues, &ResourceError{Location: j.location, Detail: "invalid JSON: " + syntaxOnly(jerr, j.offset, len(j.raw)), Err: ErrInvalidJSON})
		return res
	}
	// A nested Bundle with a bad entry: open it and decode its entries
	// one by one so the good ones survive.
	if head.ResourceType == "Bundle" && res.openBundle(u, j, o) {
		return res
	}
	base := ResourceError{Location: j.location, ResourceType: head.ResourceType, ID: head.ID}
	if !o.Lenient {
		res.issues = append(res.issues, issuesOf(err, base, false, nil)...)
		return res
	}
	repaired, repairs, stub := repair(u, raw, err, base)
	switch {
	case repaired != nil:
		res.addDecoded(repaired.msg, j, repaired.err, repairs)
	case stub != nil:
		stub.Location, stub.FullURL = j.location, j.fullURL
		res.resources = append(res.resources, stub)
		res.issues = append(res.issues, repairs...)
	default:
		res.issues = append(res.issues, issuesOf(err, base, false, nil)...)
	}
	return res
}

// duplicateIssues reports the keys a resource repeats, and the key its
// Bundle entry repeats: the resource is skipped in strict mode, and kept
// in lenient mode with the last value of each key (what jsonformat and
// encoding/json read).
func duplicateIssues(j job, head resourceHead, sh shape, lenient bool) []*ResourceError {
	var out []*ResourceError
	add := func(path string, offset int64) {
		out = append(out, &ResourceError{
			Location: j.location, ResourceType: head.ResourceType, ID: head.ID,
			Path:   path,
			Detail: "duplicate key at byte " + strconv.FormatInt(offset, 10),
			Kept:   lenient, Err: ErrDuplicateKey,
		})
	}
	if j.dup != "" {
		add(j.dup, j.dupOffset)
	}
	for _, d := range sh.dups {
		add(joinPath(head.ResourceType, d.path), j.offset+int64(d.offset))
	}
	if more := sh.ndups - len(sh.dups); more > 0 {
		out[len(out)-1].Detail += " (and " + strconv.Itoa(more) + " more)"
	}
	return out
}

// openBundle decodes the entries of the Bundle in j one by one. It
// reports false when j is not one JSON object.
func (res *jobResult) openBundle(u *jsonformat.Unmarshaller, j job, o *Options) bool {
	jobs, n, issues, ok := splitDocument(j.raw, j, o.Lenient)
	if !ok || n != 1 {
		return false
	}
	res.bundles++
	res.issues = append(res.issues, issues...)
	for _, sub := range jobs {
		r := decodeJob(u, sub, o)
		res.resources = append(res.resources, r.resources...)
		res.issues = append(res.issues, r.issues...)
		res.bundles += r.bundles
	}
	return true
}

// addDecoded adds a decoded resource, or the entries of a decoded Bundle,
// with the validation findings in verr (kept) and the lenient repairs.
func (res *jobResult) addDecoded(cr *bcrpb.ContainedResource, j job, verr error, repairs []*ResourceError) {
	if b := cr.GetBundle(); b != nil {
		res.bundles++
		for i, e := range b.GetEntry() {
			if e.GetResource() == nil {
				continue
			}
			r := newResource(e.GetResource())
			r.Location = joinLocation(j.location, "entry["+strconv.Itoa(i)+"]")
			r.FullURL = e.GetFullUrl().GetValue()
			if sub := e.GetResource().GetBundle(); sub != nil {
				res.addDecoded(e.GetResource(), job{location: r.Location}, nil, nil)
				continue
			}
			res.resources = append(res.resources, r)
		}
		// Findings on the Bundle as a whole (rare) are reported once.
		res.issues = append(res.issues, issuesOf(verr, ResourceError{Location: j.location, ResourceType: "Bundle", ID: b.GetId().GetValue()}, true, repairs)...)
		return
	}
	r := newResource(cr)
	r.Location = j.location
	r.FullURL = j.fullURL
	res.resources = append(res.resources, r)
	res.issues = append(res.issues, issuesOf(verr, ResourceError{Location: j.location, ResourceType: r.Type, ID: r.ID}, true, repairs)...)
}
