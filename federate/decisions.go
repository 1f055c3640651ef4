package federate

import (
	"context"
	"errors"

	"github.com/carelens/carelens/mpi"

	"github.com/carelens/carelens/match"
)

// IndexDecisions reads people's decisions from the identity index.
type IndexDecisions struct{ Index *mpi.Index }

// Decided returns the latest decision about the pair a, b in the index,
// if either record is in it and a decision names the other.
func (d IndexDecisions) Decided(ctx context.Context, a, b match.RecordRef) (mpi.DecisionKind, bool, error) {
	decs, err := d.Index.Decisions(ctx, a)
	if errors.Is(err, mpi.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	var kind mpi.DecisionKind
	var found bool
	var latest uint64
	for _, dc := range decs {
		if (dc.A == b || dc.B == b) && (!found || dc.Event >= latest) {
			kind, found, latest = dc.Kind, true, dc.Event
		}
	}
	return kind, found, nil
}

// Linked returns the records a person linked to ref (by their latest
// decision), as the index holds them: a record found once, confirmed, and
// not found again by a later search (another family name, say) still
// belongs to the patient.
func (d IndexDecisions) Linked(ctx context.Context, ref match.RecordRef) ([]match.Record, error) {
	decs, err := d.Index.Decisions(ctx, ref)
	if errors.Is(err, mpi.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	latest := map[match.RecordRef]mpi.Decision{}
	for _, dc := range decs {
		other := dc.B
		if other == ref {
			other = dc.A
		}
		if prev, ok := latest[other]; !ok || dc.Event >= prev.Event {
			latest[other] = dc
		}
	}
	var out []match.Record
	for other, dc := range latest {
		if dc.Kind != mpi.DecisionLink {
			continue
		}
		r, err := d.Index.Record(ctx, other)
		if errors.Is(err, mpi.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Confirm records in the index that a person judged records a and b to
// be the same patient (link) or not (never link). Both records are added
// to the index first (identity data only) if they are not there.
func (d IndexDecisions) Confirm(ctx context.Context, a, b match.Record, same bool, actor mpi.Actor) error {
	for _, r := range []match.Record{a, b} {
		if _, err := d.Index.PersonOf(ctx, r.Ref()); errors.Is(err, mpi.ErrNotFound) {
			if _, err := d.Index.Add(ctx, r); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
	}
	if same {
		return d.Index.Link(ctx, a.Ref(), b.Ref(), actor)
	}
	return d.Index.NeverLink(ctx, a.Ref(), b.Ref(), actor)
}
