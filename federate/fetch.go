package federate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/carelens/carelens/nhsnumber"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/match"
	"github.com/carelens/carelens/merge"
	"github.com/carelens/carelens/provenance"
)

// FetchOptions configure [Federation.Fetch]. The zero value asks every
// source of the resolution and keeps every entry.
type FetchOptions struct {
	// Ask reports whether a source may be asked (unticked sources, opted
	// out patients); nil asks all. A source not asked is StateSkipped.
	Ask func(provenance.Source) bool
	// Keep reports whether an entry may be shown; it is called for every
	// entry of every source BEFORE merging, so that a withheld entry
	// neither shows nor lends its source to a merged one. It may be
	// called from several goroutines at once. nil keeps all.
	Keep func(src provenance.Source, e *merge.Entry) bool
}

// View is one patient's record as the sources gave it for one request. It
// lives in memory for that request only.
type View struct {
	Resolution *Resolution
	// Golden is the best current demographics, each field with the
	// sources that hold its value.
	Golden merge.Golden
	// Timeline is the merged record of the sources that answered.
	Timeline *merge.Timeline
	// Sources are the fetches' statuses, in federation order. A source
	// with no used record is StateNoRecord.
	Sources []SourceStatus
	// Fetched is when the sources were asked.
	Fetched time.Time
}

// Fetch asks every source holding a used record of res for everything
// about it, in parallel, each within its own timeout, and merges what
// answered. Failed and slow sources are reported in View.Sources; Fetch
// itself fails only for an invalid merge configuration or a cancelled ctx.
func (f *Federation) Fetch(ctx context.Context, res *Resolution, o *FetchOptions) (*View, error) {
	if o == nil {
		o = &FetchOptions{}
	}
	v := &View{Resolution: res, Fetched: f.now()}
	type result struct {
		entries []merge.Entry
		demo    []merge.Demographic
		st      SourceStatus
	}
	results := make([]result, len(f.members))
	var wg sync.WaitGroup
	for i, m := range f.members {
		info := m.Source.Info()
		st := SourceStatus{Source: info, Timeout: m.Config.EffectiveTimeout(), MaxAge: time.Duration(m.Config.MaxAge)}
		var recs []match.Record
		for _, c := range res.Used {
			if c.Record.Source == info.ID {
				recs = append(recs, c.Record)
			}
		}
		switch {
		case o.Ask != nil && !o.Ask(info):
			st.State = StateSkipped
		case len(recs) == 0:
			st.State = StateNoRecord
		}
		results[i].st = st
		if st.State != "" {
			continue
		}
		wg.Go(func() {
			r := &results[i]
			r.entries, r.demo, r.st = f.fetch(ctx, m, st, recs, o.Keep)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("federate: fetch: %w", err)
	}
	streams := make([][]merge.Entry, 0, len(results))
	var demo []merge.Demographic
	for _, r := range results {
		v.Sources = append(v.Sources, r.st)
		if len(r.entries) > 0 {
			streams = append(streams, r.entries)
		}
		demo = append(demo, r.demo...)
	}
	tl, err := f.engine.MergeSlices(streams)
	if err != nil {
		return nil, fmt.Errorf("federate: merge: %w", err)
	}
	v.Timeline = tl
	v.Golden = merge.Survive(demo, f.merge)
	return v, nil
}

// fetch asks one member for everything about each of its records within
// the member's timeout (one deadline for all its calls).
func (f *Federation) fetch(ctx context.Context, m Member, st SourceStatus, recs []match.Record,
	keep func(provenance.Source, *merge.Entry) bool) ([]merge.Entry, []merge.Demographic, SourceStatus) {
	ctx, cancel := context.WithTimeout(ctx, st.Timeout)
	defer cancel()
	start := time.Now()
	var entries []merge.Entry
	var demo []merge.Demographic
	for _, rec := range recs {
		b, err := m.Source.Everything(ctx, rec.ID)
		if err != nil {
			st.Elapsed = time.Since(start)
			st.State, st.Err = failure(ctx, err)
			return nil, nil, st
		}
		fresh := false
		for _, p := range b.Patients() {
			if p.ID == rec.ID {
				demo = append(demo, Demographic(p, b.Retrieved))
				fresh = true
			}
		}
		if !fresh {
			demo = append(demo, Demographic(rec, b.Retrieved))
		}
		for _, is := range b.Issues {
			if !is.Kept {
				st.Unreadable++
			}
		}
		for _, r := range b.Resources {
			if r.LastUpdated.After(st.LastUpdated) {
				st.LastUpdated = r.LastUpdated
			}
		}
		for _, e := range b.Entries() {
			if keep == nil || keep(st.Source, &e) {
				entries = append(entries, e)
			}
		}
		st.Records++
	}
	st.Elapsed = time.Since(start)
	st.State = StateOK
	st.Entries = len(entries)
	if st.MaxAge > 0 && !st.LastUpdated.IsZero() && f.now().Sub(st.LastUpdated) > st.MaxAge {
		st.Stale = true
	}
	f.engine.Sort(entries)
	return entries, demo, st
}

// Demographic maps a match record to the demographics golden survivorship
// reads, tagged with its source and record id.
func Demographic(r match.Record, retrieved time.Time) merge.Demographic {
	d := merge.Demographic{
		Tag:     provenance.Tag{Source: r.Source, ResourceType: "Patient", ResourceID: r.ID, Retrieved: retrieved},
		Name:    merge.Name{Given: r.Given, Family: r.Family},
		Sex:     r.Sex,
		Phone:   r.Phone,
		Email:   r.Email,
		Address: merge.Address{Lines: r.Address, City: r.Town, Postcode: r.Postcode},
	}
	if dt, st := match.ParseDate(r.BirthDate); st == match.DateOK && dt.Day != 0 {
		d.BirthDate = time.Date(dt.Year, time.Month(dt.Month), dt.Day, 0, 0, 0, 0, time.UTC)
	}
	if r.NHSNumber != "" && nhsnumber.Valid(r.NHSNumber) {
		d.Identifiers = append(d.Identifiers, merge.Identifier{System: fhirutil.NHSNumberSystem, Value: nhsnumber.Normalise(r.NHSNumber)})
	}
	for _, id := range r.Identifiers {
		d.Identifiers = append(d.Identifiers, merge.Identifier{System: id.System, Value: id.Value})
	}
	return d
}
