package audit

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"iter"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Filter selects entries for [Log.Events]. The zero value selects every
// entry, oldest first.
type Filter struct {
	// Patient selects the entries about this patient (NHS number or
	// enterprise id, exactly as recorded): "who saw my record".
	Patient string
	// User selects the entries of this user.
	User string
	// Since and Until bound the entries' times: Since inclusive, Until
	// exclusive; zero means unbounded.
	Since, Until time.Time
	// Newest lists the newest entries first.
	Newest bool
}

func (f *Filter) match(ev *Event) bool {
	return (f.Patient == "" || ev.Patient == f.Patient) &&
		(f.User == "" || ev.User == f.User) &&
		(f.Since.IsZero() || !ev.Time.Before(f.Since)) &&
		(f.Until.IsZero() || ev.Time.Before(f.Until))
}

// Events returns the entries f selects, in sequence order (reversed when
// f.Newest), each with its Seq set. Selecting by patient or user reads an
// index rather than the whole log. Each entry's MAC is checked against its
// predecessor as it is read (unless the log was opened without a key);
// one that fails ends the sequence with a *[VerifyError]. Any error is
// yielded once, as the last element. The sequence may be iterated more
// than once; each iteration reads one consistent snapshot.
func (l *Log) Events(ctx context.Context, f Filter) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		txn, release, err := l.snapshot()
		if err != nil {
			yield(Event{}, err)
			return
		}
		defer release()
		var prefix []byte
		switch {
		case f.Patient != "":
			prefix = fieldKey(prefPatient, f.Patient, 0)
			prefix = prefix[:len(prefix)-8]
		case f.User != "":
			prefix = fieldKey(prefUser, f.User, 0)
			prefix = prefix[:len(prefix)-8]
		default:
			prefix = prefEntry
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: f.Newest, PrefetchValues: prefix[0] == prefEntry[0]})
		defer it.Close()
		if f.Newest {
			it.Seek(append(bytes.Clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
		} else {
			it.Rewind()
		}
		n := 0
		for ; it.Valid(); it.Next() {
			if n++; n%256 == 0 {
				if err := ctx.Err(); err != nil {
					yield(Event{}, err)
					return
				}
			}
			k := it.Item().Key()
			if len(k) < len(prefix)+8 {
				continue
			}
			seq := binary.BigEndian.Uint64(k[len(k)-8:])
			ev, err := l.read(txn, seq)
			if err != nil {
				yield(Event{}, err)
				return
			}
			if f.match(&ev) && !yield(ev, nil) {
				return
			}
		}
	}
}

// read returns entry seq, checked against its predecessor's MAC.
func (l *Log) read(txn *badger.Txn, seq uint64) (Event, error) {
	v, err := get(txn, entryKey(seq))
	if err != nil {
		return Event{}, fmt.Errorf("audit: read entry %d: %w: %v", seq, ErrCorrupt, err)
	}
	if v == nil {
		return Event{}, &VerifyError{Seq: seq, Problem: "missing (deleted)"}
	}
	var prev [macLen]byte
	if seq > 1 && l.key != nil {
		pv, err := get(txn, entryKey(seq-1))
		if err != nil {
			return Event{}, fmt.Errorf("audit: read entry %d: %w: %v", seq-1, ErrCorrupt, err)
		}
		if len(pv) < macLen {
			return Event{}, &VerifyError{Seq: seq - 1, Problem: "missing or malformed"}
		}
		copy(prev[:], pv)
	}
	return l.checkEntry(seq, prev, v)
}

// Alerts returns the open break-glass alerts of an organisation (org ""
// for every organisation), oldest first: the break-glass-start entries
// that no alert-resolved entry has resolved yet. The privacy officer
// reviews them and resolves each with [Log.ResolveAlert]. Errors are
// yielded as by [Log.Events].
func (l *Log) Alerts(ctx context.Context, org string) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		txn, release, err := l.snapshot()
		if err != nil {
			yield(Event{}, err)
			return
		}
		defer release()
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefAlert})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				yield(Event{}, err)
				return
			}
			k := it.Item().Key()
			if len(k) != len(prefAlert)+8 {
				continue
			}
			seq := binary.BigEndian.Uint64(k[len(prefAlert):])
			if hasKey(txn, binary.BigEndian.AppendUint64(bytes.Clone(prefResolve), seq)) {
				continue
			}
			ev, err := l.read(txn, seq)
			if err != nil {
				yield(Event{}, err)
				return
			}
			if ev.Action != ActionBreakGlassStart {
				yield(Event{}, &VerifyError{Seq: seq, Problem: "alert index names an entry that is not a break-glass start"})
				return
			}
			if (org == "" || ev.Org == org) && !yield(ev, nil) {
				return
			}
		}
	}
}

// ResolveAlert records that the break-glass alert opened by entry seq was
// reviewed: it appends an alert-resolved event (by, with its Action and
// Resolves set by ResolveAlert) naming the reviewer, and returns its
// sequence number. The log stays append-only: the alert's entry is not
// changed, it only stops being listed by [Log.Alerts]. An entry that is
// not an open alert gives ErrNoAlert.
func (l *Log) ResolveAlert(ctx context.Context, seq uint64, by Event) (uint64, error) {
	if seq == 0 {
		return 0, fmt.Errorf("%w: 0", ErrNoAlert)
	}
	by.Action, by.Resolves = ActionAlertResolved, seq
	return l.append(ctx, by)
}

// snapshot opens a read-only transaction on the log, holding the log open
// until release is called; a closed log is ErrClosed.
func (l *Log) snapshot() (txn *badger.Txn, release func(), err error) {
	if !l.rw.TryRLock() {
		return nil, nil, ErrClosed
	}
	if l.isClosed() {
		l.rw.RUnlock()
		return nil, nil, ErrClosed
	}
	txn = l.db.NewTransaction(false)
	return txn, func() { txn.Discard(); l.rw.RUnlock() }, nil
}
