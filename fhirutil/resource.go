package fhirutil

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/carelens/carelens/provenance"
)

// Resource is one decoded R4 resource with the facts CareLens reads from
// every resource. The decoded content itself stays inside the package;
// [Resource.JSON] renders it.
type Resource struct {
	// Type is the resourceType, e.g. "Observation".
	Type string
	// ID is the logical id; empty when the resource has none (a
	// transaction entry identified only by its fullUrl).
	ID string
	// Version is meta.versionId.
	Version string
	// LastUpdated is meta.lastUpdated in UTC, zero when absent.
	LastUpdated time.Time
	// MetaSource is meta.source: the system the resource came from, as
	// the resource itself states it.
	MetaSource string
	// FullURL is the Bundle entry's fullUrl, when it came from a Bundle.
	FullURL string
	// Location is where the resource sat in the input ("entry[3]",
	// "line 7"), for messages.
	Location string

	cr *bcrpb.ContainedResource // nil for a stub or a skimmed resource
	// A skimmed resource (see [Options.SkimUnmapped]) keeps its JSON and
	// its status code; it is decoded in full only by [Resource.JSON].
	raw     []byte
	status  string
	lenient bool
}

// Key returns the id used in tags: the id, else the fullUrl.
func (r *Resource) Key() string {
	if r.ID != "" {
		return r.ID
	}
	return r.FullURL
}

// Tag returns the provenance tag of r as delivered by source, retrieved at
// the given time.
func (r *Resource) Tag(source string, retrieved time.Time) provenance.Tag {
	return provenance.Tag{
		Source:       source,
		ResourceType: r.Type,
		ResourceID:   r.Key(),
		Version:      r.Version,
		Asserted:     r.LastUpdated,
		Retrieved:    retrieved.UTC(),
	}
}

// Stub reports whether r is a stub kept in lenient mode for a resource
// type R4 does not define: only its type, id and meta are known.
func (r *Resource) Stub() bool { return r.cr == nil && r.raw == nil }

// Skimmed reports whether r was read with [Options.SkimUnmapped] without
// being decoded: only its type, id, meta and status were read and
// checked. [Resource.JSON] decodes it.
func (r *Resource) Skimmed() bool { return r.cr == nil && r.raw != nil }

// JSON renders r as compact R4 JSON. A stub renders as an error. A
// skimmed resource is decoded now, as [Decode] would have decoded it
// (strictly, or leniently if it was skimmed in lenient mode), and a
// resource that does not decode renders as its issues, each a
// [*ResourceError].
func (r *Resource) JSON() ([]byte, error) {
	if r.raw != nil && r.cr == nil {
		cr, err := r.decodeSkimmed()
		if err != nil {
			return nil, err
		}
		return marshal(cr)
	}
	if r.cr == nil {
		return nil, fmt.Errorf("%w: %s/%s is a stub", ErrUnknownResourceType, r.Type, r.ID)
	}
	return marshal(r.cr)
}

// decodeSkimmed decodes a skimmed resource with jsonformat.
func (r *Resource) decodeSkimmed() (*bcrpb.ContainedResource, error) {
	u := getUnmarshaller(true)
	defer putUnmarshaller(true, u)
	res := decodeJob(u, job{raw: r.raw, location: r.Location, fullURL: r.FullURL}, &Options{Lenient: r.lenient})
	var errs []error
	for _, is := range res.issues {
		if !is.Kept {
			errs = append(errs, is)
		}
	}
	if len(res.resources) != 1 || res.resources[0].cr == nil {
		if len(errs) == 0 {
			errs = append(errs, &ResourceError{Location: r.Location, ResourceType: r.Type, ID: r.ID, Err: ErrInvalidResource})
		}
		return nil, errors.Join(errs...)
	}
	return res.resources[0].cr, nil
}

func marshal(cr *bcrpb.ContainedResource) ([]byte, error) {
	m, err := jsonformat.NewMarshaller(false, "", "", fhirversion.R4)
	if err != nil {
		return nil, err
	}
	return m.Marshal(cr)
}

// inner returns the resource message held by a ContainedResource.
func inner(cr *bcrpb.ContainedResource) protoreflect.Message {
	m := cr.ProtoReflect()
	od := m.Descriptor().Oneofs().Get(0)
	f := m.WhichOneof(od)
	if f == nil {
		return nil
	}
	return m.Get(f).Message()
}

func newResource(cr *bcrpb.ContainedResource) *Resource {
	r := &Resource{cr: cr}
	m := inner(cr)
	if m == nil {
		return r
	}
	d := m.Descriptor()
	r.Type = string(d.Name())
	if f := d.Fields().ByName("id"); f != nil && m.Has(f) {
		if id, ok := m.Get(f).Message().Interface().(*dtpb.Id); ok {
			r.ID = id.GetValue()
		}
	}
	if f := d.Fields().ByName("meta"); f != nil && m.Has(f) {
		if meta, ok := m.Get(f).Message().Interface().(*dtpb.Meta); ok {
			r.Version = meta.GetVersionId().GetValue()
			r.MetaSource = meta.GetSource().GetValue()
			if lu := meta.GetLastUpdated(); lu != nil {
				r.LastUpdated = time.UnixMicro(lu.GetValueUs()).UTC()
			}
		}
	}
	return r
}
