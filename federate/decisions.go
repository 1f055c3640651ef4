package federate

import (
	"context"
	"errors"

	"github.com/carelens/carelens/match"
)

// IndexDecisions reads people's decisions from the identity index.
type IndexDecisions struct{ Index *match.Index }

// Decided returns the latest decision about the pair a, b in the index,
// if either record is in it and a decision names the other.
func (d IndexDecisions) Decided(ctx context.Context, a, b match.RecordRef) (match.DecisionKind, bool, error) {
	decs, err := d.Index.Decisions(ctx, a)
	if errors.Is(err, match.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	var kind match.DecisionKind
	var found bool
	var latest uint64
	for _, dc := range decs {
		if (dc.A == b || dc.B == b) && (!found || dc.Event >= latest) {
			kind, found, latest = dc.Kind, true, dc.Event
		}
	}
	return kind, found, nil
}

// Confirm records in the index that a person judged records a and b to
// be the same patient (link) or not (never link). Both records are added
// to the index first (identity data only) if they are not there.
func (d IndexDecisions) Confirm(ctx context.Context, a, b match.Record, same bool, actor match.Actor) error {
	for _, r := range []match.Record{a, b} {
		if _, err := d.Index.PersonOf(ctx, r.Ref()); errors.Is(err, match.ErrNotFound) {
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
