package fhirutil

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/carelens/carelens/merge"
)

// ConflictSystem is the code and identifier system of the DetectedIssue
// resources with which [TimelineBundle] carries a timeline's conflicts: the
// code is the [merge.Reason], the identifier the [merge.ConflictID].
const ConflictSystem = "https://carelens.example/fhir/timeline-conflict"

// conflictIssues returns one DetectedIssue for each conflict among entries
// (entries sharing a non-zero Conflict), implicating the resources written
// for them at urls, so that the flag the text output shows ("CONFLICT #1
// (value)") reaches any system that reads the FHIR. A reason comes from
// conflicts; one not listed there is written as "disagree".
func conflictIssues(entries []merge.Entry, urls []string, conflicts []merge.Conflict, subject map[string]any) []map[string]any {
	implicated := map[merge.ConflictID][]any{}
	var ids []merge.ConflictID
	for i, e := range entries {
		if e.Conflict == 0 {
			continue
		}
		if _, ok := implicated[e.Conflict]; !ok {
			ids = append(ids, e.Conflict)
		}
		implicated[e.Conflict] = append(implicated[e.Conflict], map[string]any{"reference": urls[i]})
	}
	var out []map[string]any
	for _, id := range ids {
		reason := merge.Reason("disagree")
		if i := slices.IndexFunc(conflicts, func(c merge.Conflict) bool { return c.ID == id }); i >= 0 {
			reason = conflicts[i].Reason
		}
		is := map[string]any{
			"resourceType": "DetectedIssue",
			"status":       "final",
			"identifier":   []any{map[string]any{"system": ConflictSystem, "value": strconv.FormatUint(uint64(id), 10)}},
			"code": map[string]any{
				"coding": []any{map[string]any{"system": ConflictSystem, "code": string(reason)}},
				"text":   fmt.Sprintf("CONFLICT #%d (%s)", id, reason),
			},
			"severity":   "moderate",
			"implicated": implicated[id],
			"detail":     "Sources report the same item at the same time and disagree; every side is kept.",
		}
		if _, ok := subject["reference"]; ok {
			is["patient"] = subject
		}
		out = append(out, is)
	}
	return out
}

// conflictMark is what a DetectedIssue of [ConflictSystem] says of one
// implicated resource.
type conflictMark struct {
	id     merge.ConflictID
	reason merge.Reason
}

// addConflict reads r when it is a DetectedIssue that carries
// [ConflictSystem]: for each implicated reference (a fullUrl or
// "Type/id"), its conflict.
func (x *crossRefs) addConflict(r *Resource) {
	v, ok := r.conflictIdentifier()
	if !ok {
		return
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 0 {
		return
	}
	m := conflictMark{id: merge.ConflictID(n)}
	di := r.cr.GetDetectedIssue()
	for _, c := range di.GetCode().GetCoding() {
		if c.GetSystem().GetValue() == ConflictSystem {
			m.reason = merge.Reason(c.GetCode().GetValue())
		}
	}
	for _, ref := range di.GetImplicated() {
		if s := referenceString(ref); s != "" {
			if x.conflicts == nil {
				x.conflicts = map[string]conflictMark{}
			}
			s, _, _ = strings.Cut(s, "/_history/")
			x.conflicts[s] = m
		}
	}
}

// conflictIdentifier returns the value of r's identifier in
// [ConflictSystem] when r is a DetectedIssue that has one.
func (r *Resource) conflictIdentifier() (string, bool) {
	for _, id := range r.cr.GetDetectedIssue().GetIdentifier() {
		if id.GetSystem().GetValue() == ConflictSystem {
			return id.GetValue().GetValue(), true
		}
	}
	return "", false
}

// isConflictIssue reports whether r is a DetectedIssue of [ConflictSystem]:
// not an entry of its own, but the conflict of the entries it implicates.
func (r *Resource) isConflictIssue() bool {
	_, ok := r.conflictIdentifier()
	return ok
}

// conflictOf returns the conflict marked on the resource k, by fullUrl or
// "Type/id".
func (x *crossRefs) conflictOf(k refKey) (conflictMark, bool) {
	if m, ok := x.conflicts[k.fullURL]; ok && k.fullURL != "" {
		return m, true
	}
	m, ok := x.conflicts[k.typ+"/"+k.id]
	return m, ok && k.id != ""
}

// Conflicts returns the conflicts that b's DetectedIssue resources of
// [ConflictSystem] declare (as [TimelineBundle] writes them), by id, each
// with its reason and its entries' positions in [Batch.Entries]; the
// entries themselves carry the conflict's id.
func (b *Batch) Conflicts() []merge.Conflict {
	var x crossRefs
	for _, r := range b.Resources {
		x.addConflict(r)
	}
	return conflictsOf(x.conflicts, b.Entries())
}

// conflictsOf lists the conflicts marked in idx that entries carry.
func conflictsOf(idx map[string]conflictMark, entries []merge.Entry) []merge.Conflict {
	reasons := map[merge.ConflictID]merge.Reason{}
	for _, m := range idx {
		reasons[m.id] = m.reason
	}
	var out []merge.Conflict
	at := map[merge.ConflictID]int{} // a conflict's position in out
	for i, e := range entries {
		if e.Conflict == 0 {
			continue
		}
		j, ok := at[e.Conflict]
		if !ok {
			j = len(out)
			at[e.Conflict] = j
			out = append(out, merge.Conflict{ID: e.Conflict, Reason: reasons[e.Conflict]})
		}
		out[j].Entries = append(out[j].Entries, i)
	}
	slices.SortFunc(out, func(a, b merge.Conflict) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
