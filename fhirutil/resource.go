package fhirutil

import (
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

	cr *bcrpb.ContainedResource // nil for a stub of an unknown type
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
func (r *Resource) Stub() bool { return r.cr == nil }

// JSON renders r as compact R4 JSON. A stub renders as an error.
func (r *Resource) JSON() ([]byte, error) {
	if r.cr == nil {
		return nil, fmt.Errorf("%w: %s/%s is a stub", ErrUnknownResourceType, r.Type, r.ID)
	}
	return marshal(r.cr)
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
