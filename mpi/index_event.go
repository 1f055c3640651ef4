package mpi

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/carelens/carelens/match"
)

// EventKind says what an [Event] records.
type EventKind string

// Event kinds. A consumer that mirrors enterprise ids needs to follow
// EventMerged and EventMoved (and EventAdded, EventUpdated, EventRemoved
// for the records themselves).
const (
	// EventAdded: Record was added to the index, into person To.
	EventAdded EventKind = "added"
	// EventUpdated: Record's data changed; it was in From and is now in To
	// (the same person when the change did not move it).
	EventUpdated EventKind = "updated"
	// EventRemoved: Record was deleted from the index; it was in From.
	EventRemoved EventKind = "removed"
	// EventMerged: person From was merged into person To, which survives;
	// From now resolves to To. Records lists the records that moved.
	EventMerged EventKind = "merged"
	// EventMoved: Record moved from person From to person To, because a
	// person was split (a never-link decision, a deletion or an update
	// removed what held it together, or a merge was reverted).
	EventMoved EventKind = "moved"
	// EventLinked: a person decided that Pair are the same person.
	EventLinked EventKind = "linked"
	// EventNeverLinked: a person decided that Pair are different people.
	EventNeverLinked EventKind = "never-linked"
)

// Event is one entry of the index's change log. Events are numbered from 1
// in commit order and never rewritten. They carry record references and
// person ids only, never demographic values.
type Event struct {
	// Seq is the event's position in the log.
	Seq uint64 `json:"seq"`
	// Time is when the change was committed (UTC).
	Time time.Time `json:"time"`
	// Kind says what happened.
	Kind EventKind `json:"kind"`
	// Record is the record concerned (EventAdded, EventUpdated,
	// EventRemoved, EventMoved).
	Record match.RecordRef `json:"record,omitzero"`
	// From and To are person ids; see the kinds.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Records lists the records moved by an EventMerged.
	Records []match.RecordRef `json:"records,omitempty"`
	// Pair is the pair of records whose link caused a merge, or the pair a
	// decision is about.
	Pair [2]match.RecordRef `json:"pair,omitzero"`
	// By is "model" for automatic changes, otherwise who decided.
	By string `json:"by"`
	// Reason is why, as the person gave it (or the event reverted).
	Reason string `json:"reason,omitempty"`
	// Cause is the Seq of the event that caused this one (a decision, a
	// revert), or 0.
	Cause uint64 `json:"cause,omitempty"`
}

// ByModel is the [Event.By] of changes the matching model made on its own.
const ByModel = "model"

// DecisionKind is what a person decided about a pair of records.
type DecisionKind string

// Decision kinds.
const (
	// DecisionLink: the two records are the same person.
	DecisionLink DecisionKind = "link"
	// DecisionNeverLink: the two records are different people.
	DecisionNeverLink DecisionKind = "never-link"
)

// Decision is a person's judgement about a pair of records. Decisions
// outrank the model: an automatic link never joins a never-linked pair,
// and linked records stay together whatever their scores. They persist
// until a later decision about the same pair replaces them.
type Decision struct {
	A, B   match.RecordRef `json:"-"`
	Kind   DecisionKind    `json:"kind"`
	By     string          `json:"by"`
	Reason string          `json:"reason,omitempty"`
	Time   time.Time       `json:"time"`
	// Event is the Seq of the event that recorded the decision.
	Event uint64 `json:"event"`
}

// Actor says who makes a change through the [Index] API, and why.
type Actor struct {
	// By names the person (a user id, not PHI). It must not be empty or
	// "model".
	By string
	// Reason is free text kept with the decision. Do not put PHI in it.
	Reason string
}

func (a Actor) validate() error {
	if a.By == "" || a.By == ByModel {
		return fmt.Errorf("mpi: decision needs a person in Actor.By: %w", ErrInvalidDecision)
	}
	return nil
}

func encodeJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("mpi: encode: " + err.Error()) // only our own plain structs are encoded
	}
	return b
}

func decodeEvent(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, fmt.Errorf("mpi: event: %w", ErrCorrupt)
	}
	return e, nil
}
