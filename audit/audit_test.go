package audit

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/fhirutil"
	"github.com/carelens/carelens/provenance"
)

var testKey = []byte("0123456789abcdef0123456789abcdef-test-key")

// patientOf is a synthetic NHS-number-shaped id for the i-th patient.
func patientOf(i int) string { return fmt.Sprintf("99900%05d", i) }

func openLog(t testing.TB, dir string) *Log {
	t.Helper()
	l, err := Open(dir, Options{Key: testKey})
	require.NoError(t, err)
	return l
}

func viewEvent(i int) Event {
	return Event{
		Time:      time.Date(2025, 3, 1, 9, 0, i, 0, time.UTC),
		RequestID: fmt.Sprintf("req-%d", i), Action: ActionView,
		User: fmt.Sprintf("user-%d", i%3), Org: "RXX", Role: "clinician", Purpose: "TREAT",
		Patient: patientOf(i % 4), Asked: []string{"gp", "hospital"}, Answered: []string{"gp"},
		Withheld: []Withheld{{Source: "gp", Category: "note", Reason: "policy", Count: 2}},
		Client:   "192.0.2.1",
	}
}

// fill appends n view events and returns the log.
func fill(t testing.TB, dir string, n int) *Log {
	t.Helper()
	l := openLog(t, dir)
	for i := 1; i <= n; i++ {
		seq, err := l.Append(t.Context(), viewEvent(i))
		require.NoError(t, err)
		require.Equal(t, uint64(i), seq)
	}
	return l
}

func collect(t testing.TB, l *Log, f Filter) []Event {
	t.Helper()
	var out []Event
	for ev, err := range l.Events(t.Context(), f) {
		require.NoError(t, err)
		out = append(out, ev)
	}
	return out
}

func seqs(evs []Event) []uint64 {
	var out []uint64
	for _, e := range evs {
		out = append(out, e.Seq)
	}
	return out
}

func TestAppendVerifyEvents(t *testing.T) {
	dir := t.TempDir()
	l := fill(t, dir, 12)
	require.NoError(t, l.Verify(t.Context()))

	all := collect(t, l, Filter{})
	require.Len(t, all, 12)
	want := viewEvent(5)
	want.Seq = 5
	assert.Equal(t, want, all[4])

	assert.Equal(t, []uint64{2, 6, 10}, seqs(collect(t, l, Filter{Patient: patientOf(2)})), "who saw my record")
	assert.Equal(t, []uint64{10, 6, 2}, seqs(collect(t, l, Filter{Patient: patientOf(2), Newest: true})))
	assert.Equal(t, []uint64{1, 4, 7, 10}, seqs(collect(t, l, Filter{User: "user-1"})))
	assert.Equal(t, []uint64{6}, seqs(collect(t, l, Filter{Patient: patientOf(2), User: "user-0"})))
	assert.Equal(t, []uint64{3, 4}, seqs(collect(t, l, Filter{Since: viewEvent(3).Time, Until: viewEvent(5).Time})))
	assert.Equal(t, []uint64{12, 11}, seqs(collect(t, l, Filter{Since: viewEvent(11).Time, Newest: true})))
	assert.Empty(t, collect(t, l, Filter{Patient: patientOf(99)}))
	assert.Empty(t, collect(t, l, Filter{Patient: patientOf(2)[:9]}), "a prefix of a patient id selects nothing")

	// The sequence stops when the caller breaks.
	n := 0
	for range l.Events(t.Context(), Filter{}) {
		n++
		if n == 3 {
			break
		}
	}
	assert.Equal(t, 3, n)

	// The log carries on after reopening.
	seq, mac := l.Head()
	require.NoError(t, l.Close())
	require.ErrorIs(t, l.Close(), ErrClosed)
	l = openLog(t, dir)
	defer l.Close()
	s2, m2 := l.Head()
	assert.Equal(t, seq, s2)
	assert.Equal(t, mac, m2)
	next, err := l.Append(t.Context(), Event{Action: ActionSignOut, User: "user-1"})
	require.NoError(t, err)
	assert.Equal(t, uint64(13), next)
	require.NoError(t, l.Verify(t.Context()))
	last := collect(t, l, Filter{Newest: true})[0]
	assert.False(t, last.Time.IsZero(), "Append sets the time")
	assert.Equal(t, time.UTC, last.Time.Location())
}

// tamper edits the store of a closed log directly.
func tamper(t *testing.T, dir string, fn func(txn *badger.Txn) error) {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil).WithSyncWrites(true).
		WithMemTableSize(8 << 20).WithNumCompactors(2).WithNumGoroutines(1))
	require.NoError(t, err)
	require.NoError(t, db.Update(fn))
	require.NoError(t, db.Close())
}

func value(t *testing.T, txn *badger.Txn, k []byte) []byte {
	t.Helper()
	item, err := txn.Get(k)
	require.NoError(t, err)
	v, err := item.ValueCopy(nil)
	require.NoError(t, err)
	return v
}

func TestTamperDetection(t *testing.T) {
	const n = 10
	tests := []struct {
		name    string
		edit    func(t *testing.T, txn *badger.Txn)
		wantSeq uint64
		// openFails: a writable Open already refuses the store.
		openFails bool
	}{
		{name: "byte of the event changed", wantSeq: 4, edit: func(t *testing.T, txn *badger.Txn) {
			v := value(t, txn, entryKey(4))
			i := bytes.Index(v, []byte(`"clinician"`)) + 1
			v[i] = 'C'
			require.NoError(t, txn.Set(entryKey(4), v))
		}},
		{name: "byte of the MAC changed", wantSeq: 4, edit: func(t *testing.T, txn *badger.Txn) {
			v := value(t, txn, entryKey(4))
			v[0] ^= 1
			require.NoError(t, txn.Set(entryKey(4), v))
		}},
		{name: "entry deleted", wantSeq: 4, edit: func(t *testing.T, txn *badger.Txn) {
			require.NoError(t, txn.Delete(entryKey(4)))
		}},
		{name: "entry deleted and later ones renumbered", wantSeq: 4, openFails: true, edit: func(t *testing.T, txn *badger.Txn) {
			for s := uint64(5); s <= n; s++ {
				require.NoError(t, txn.Set(entryKey(s-1), value(t, txn, entryKey(s))))
			}
			require.NoError(t, txn.Delete(entryKey(n)))
		}},
		{name: "entry appended after the head", wantSeq: n + 1, openFails: true, edit: func(t *testing.T, txn *badger.Txn) {
			require.NoError(t, txn.Set(entryKey(n+1), value(t, txn, entryKey(n))))
		}},
		{name: "entry inserted in the middle", wantSeq: 5, openFails: true, edit: func(t *testing.T, txn *badger.Txn) {
			for s := uint64(n); s >= 5; s-- {
				require.NoError(t, txn.Set(entryKey(s+1), value(t, txn, entryKey(s))))
			}
			require.NoError(t, txn.Set(entryKey(5), value(t, txn, entryKey(3))))
		}},
		{name: "entry 0 inserted", wantSeq: 1, edit: func(t *testing.T, txn *badger.Txn) {
			require.NoError(t, txn.Set(entryKey(0), value(t, txn, entryKey(1))))
		}},
		{name: "two entries swapped", wantSeq: 3, edit: func(t *testing.T, txn *badger.Txn) {
			a, b := value(t, txn, entryKey(3)), value(t, txn, entryKey(6))
			require.NoError(t, txn.Set(entryKey(3), b))
			require.NoError(t, txn.Set(entryKey(6), a))
		}},
		{name: "truncated", wantSeq: 8, openFails: true, edit: func(t *testing.T, txn *badger.Txn) {
			for s := uint64(8); s <= n; s++ {
				require.NoError(t, txn.Delete(entryKey(s)))
			}
		}},
		{name: "last entry replaced", wantSeq: n, openFails: true, edit: func(t *testing.T, txn *badger.Txn) {
			require.NoError(t, txn.Set(entryKey(n), value(t, txn, entryKey(n-1))))
		}},
		{name: "head deleted", wantSeq: 0, openFails: true, edit: func(t *testing.T, txn *badger.Txn) {
			require.NoError(t, txn.Delete(keyHead))
		}},
		{name: "head changed", wantSeq: 0, openFails: true, edit: func(t *testing.T, txn *badger.Txn) {
			v := value(t, txn, keyHead)
			v[len(v)-1] ^= 0x80
			require.NoError(t, txn.Set(keyHead, v))
		}},
		{name: "patient index entry deleted", wantSeq: 4, edit: func(t *testing.T, txn *badger.Txn) {
			require.NoError(t, txn.Delete(fieldKey(prefPatient, patientOf(0), 4)))
		}},
		{name: "stray patient index entry", wantSeq: 2, edit: func(t *testing.T, txn *badger.Txn) {
			require.NoError(t, txn.Set(fieldKey(prefPatient, patientOf(3), 2), nil))
		}},
		{name: "index entry for a missing entry", wantSeq: n + 5, edit: func(t *testing.T, txn *badger.Txn) {
			require.NoError(t, txn.Set(fieldKey(prefUser, "user-1", n+5), nil))
		}},
		{name: "foreign record", wantSeq: 0, edit: func(t *testing.T, txn *badger.Txn) {
			require.NoError(t, txn.Set([]byte("zzz"), []byte("x")))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, fill(t, dir, n).Close())
			tamper(t, dir, func(txn *badger.Txn) error { tc.edit(t, txn); return nil })

			if tc.openFails {
				_, err := Open(dir, Options{Key: testKey})
				require.ErrorIs(t, err, ErrTampered, "a writable open refuses it")
			}
			l, err := Open(dir, Options{Key: testKey, ReadOnly: true})
			require.NoError(t, err)
			defer l.Close()
			err = l.Verify(t.Context())
			ve, ok := errors.AsType[*VerifyError](err)
			require.True(t, ok, "got %v", err)
			assert.ErrorIs(t, err, ErrTampered)
			assert.Equal(t, tc.wantSeq, ve.Seq, ve.Error())
			assert.NotContains(t, err.Error(), "99900", "no patient values in errors")
		})
	}
}

// TestTamperEveryByte flips each byte of one entry and of the head record
// in turn: every change is detected, and at the right place.
func TestTamperEveryByte(t *testing.T) {
	l := fill(t, t.TempDir(), 6)
	defer l.Close()
	set := func(k, v []byte) {
		require.NoError(t, l.db.Update(func(txn *badger.Txn) error { return txn.Set(k, v) }))
	}
	for _, tc := range []struct {
		key     []byte
		wantSeq uint64
	}{{entryKey(3), 3}, {entryKey(6), 6}, {keyHead, 0}} {
		var orig []byte
		require.NoError(t, l.db.View(func(txn *badger.Txn) error { orig = value(t, txn, tc.key); return nil }))
		for i := range orig {
			v := bytes.Clone(orig)
			v[i] ^= 0x01
			set(tc.key, v)
			err := l.Verify(t.Context())
			ve, ok := errors.AsType[*VerifyError](err)
			require.True(t, ok, "byte %d of %q: %v", i, tc.key, err)
			if tc.key[0] == keyHead[0] && i < 8 {
				// A changed sequence number in the head fails either
				// its MAC or the comparison with the entries.
				require.NotNil(t, ve)
			} else {
				require.Equal(t, tc.wantSeq, ve.Seq, "byte %d of %q: %v", i, tc.key, err)
			}
		}
		set(tc.key, orig)
		require.NoError(t, l.Verify(t.Context()))
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	require.NoError(t, fill(t, store, 3).Close())

	_, err := Open(filepath.Join(dir, "new"), Options{Key: testKey[:MinKeyLen-1]})
	assert.ErrorIs(t, err, ErrKey)
	_, err = Open(filepath.Join(dir, "new"), Options{})
	assert.ErrorIs(t, err, ErrKey)
	assert.NoDirExists(t, filepath.Join(dir, "new"))

	_, err = Open(store, Options{Key: bytes.Repeat([]byte("x"), MinKeyLen)})
	assert.ErrorIs(t, err, ErrWrongKey)

	_, err = Open(filepath.Join(dir, "missing"), Options{Key: testKey, ReadOnly: true})
	assert.ErrorIs(t, err, ErrNotFound)
	assert.NoDirExists(t, filepath.Join(dir, "missing"), "a read-only open creates nothing")
	require.NoError(t, os.Mkdir(filepath.Join(dir, "empty"), 0o755))
	_, err = Open(filepath.Join(dir, "empty"), Options{Key: testKey, ReadOnly: true})
	assert.ErrorIs(t, err, ErrNotFound)
	entries, _ := os.ReadDir(filepath.Join(dir, "empty"))
	assert.Empty(t, entries)

	foreign := filepath.Join(dir, "foreign")
	require.NoError(t, os.Mkdir(foreign, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("x"), 0o644))
	_, err = Open(foreign, Options{Key: testKey})
	assert.ErrorIs(t, err, ErrForeign)

	other := filepath.Join(dir, "other-badger")
	db, err := badger.Open(badger.DefaultOptions(other).WithLogger(nil))
	require.NoError(t, err)
	require.NoError(t, db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("x"), []byte("y")) }))
	require.NoError(t, db.Close())
	_, err = Open(other, Options{Key: testKey})
	assert.ErrorIs(t, err, ErrForeign)

	l := openLog(t, store)
	_, err = Open(store, Options{Key: testKey})
	assert.ErrorIs(t, err, ErrLocked)
	require.NoError(t, l.Close())

	ro, err := Open(store, Options{ReadOnly: true})
	require.NoError(t, err, "read-only without the key, to export unverified")
	assert.Len(t, collect(t, ro, Filter{}), 3)
	assert.ErrorIs(t, ro.Verify(t.Context()), ErrNoKey)
	_, err = ro.Append(t.Context(), viewEvent(1))
	assert.ErrorIs(t, err, ErrReadOnly)
	require.NoError(t, ro.Close())
}

// TestFailingStore: every operation on a log whose store is gone fails
// with an error, and nothing panics.
func TestFailingStore(t *testing.T) {
	l := fill(t, t.TempDir(), 2)
	require.NoError(t, l.Close())
	_, err := l.Append(t.Context(), viewEvent(3))
	assert.ErrorIs(t, err, ErrClosed)
	_, err = l.ResolveAlert(t.Context(), 1, Event{User: "po"})
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, l.Verify(t.Context()), ErrClosed)
	for _, err := range l.Events(t.Context(), Filter{}) {
		assert.ErrorIs(t, err, ErrClosed)
	}
	for _, err := range l.Alerts(t.Context(), "") {
		assert.ErrorIs(t, err, ErrClosed)
	}

	// The storage engine refusing writes under the log: its database
	// swapped for a read-only handle on the same store.
	dir := t.TempDir()
	l = fill(t, dir, 2)
	require.NoError(t, l.db.Close())
	ro, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil).WithReadOnly(true))
	require.NoError(t, err)
	l.db = ro
	for range 2 {
		seq, err := l.Append(t.Context(), viewEvent(3))
		require.Error(t, err, "every append fails, the head read again each time")
		assert.Zero(t, seq)
	}
	require.NoError(t, l.Verify(t.Context()), "the failed appends left no trace")
	assert.Len(t, collect(t, l, Filter{}), 2)
	require.NoError(t, l.Close())

	// A cancelled context appends nothing.
	l = fill(t, t.TempDir(), 1)
	defer l.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = l.Append(ctx, viewEvent(2))
	assert.ErrorIs(t, err, context.Canceled)
	assert.Len(t, collect(t, l, Filter{}), 1)
}

func TestConcurrentAppend(t *testing.T) {
	l := openLog(t, t.TempDir())
	defer l.Close()
	const workers, each = 16, 40
	var mu sync.Mutex
	got := map[uint64]string{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				ev := viewEvent(i)
				ev.RequestID = fmt.Sprintf("w%d-%d", w, i)
				seq, err := l.Append(t.Context(), ev)
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				got[seq] = ev.RequestID
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, got, workers*each, "every append has its own sequence number")
	require.NoError(t, l.Verify(t.Context()))
	for _, ev := range collect(t, l, Filter{}) {
		assert.Equal(t, got[ev.Seq], ev.RequestID)
	}
	seq, _ := l.Head()
	assert.Equal(t, uint64(workers*each), seq)
}

func TestAlerts(t *testing.T) {
	l := fill(t, t.TempDir(), 2)
	defer l.Close()
	ctx := t.Context()
	bg := func(org string) uint64 {
		seq, err := l.Append(ctx, Event{Action: ActionBreakGlassStart, User: "dr-" + org, Org: org, Role: "clinician",
			Patient: patientOf(7), BreakGlass: true, BreakGlassReason: "emergency", BreakGlassText: "unconscious in ED"})
		require.NoError(t, err)
		return seq
	}
	a, b, c := bg("RXX"), bg("Y01234"), bg("RXX")
	alerts := func(org string) []uint64 {
		var out []uint64
		for ev, err := range l.Alerts(ctx, org) {
			require.NoError(t, err)
			out = append(out, ev.Seq)
		}
		return out
	}
	assert.Equal(t, []uint64{a, c}, alerts("RXX"))
	assert.Equal(t, []uint64{a, b, c}, alerts(""))

	po := Event{User: "privacy-officer", Org: "RXX", Role: "privacy-officer", Note: "reviewed with the clinician"}
	r, err := l.ResolveAlert(ctx, a, po)
	require.NoError(t, err)
	assert.Equal(t, []uint64{c}, alerts("RXX"))
	_, err = l.ResolveAlert(ctx, a, po)
	assert.ErrorIs(t, err, ErrNoAlert, "already resolved")
	_, err = l.ResolveAlert(ctx, 1, po)
	assert.ErrorIs(t, err, ErrNoAlert, "a view is no alert")
	_, err = l.ResolveAlert(ctx, 999, po)
	assert.ErrorIs(t, err, ErrNoAlert)
	_, err = l.Append(ctx, Event{Action: ActionAlertResolved, Resolves: c, User: "x"})
	assert.ErrorIs(t, err, ErrInvalidEvent, "only ResolveAlert resolves")

	// Two reviewers resolving the same alert at once: one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Go(func() {
			if _, err := l.ResolveAlert(ctx, c, po); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else {
				assert.ErrorIs(t, err, ErrNoAlert)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, wins)
	assert.Empty(t, alerts("RXX"))

	res := collect(t, l, Filter{User: "privacy-officer"})
	require.Len(t, res, 2)
	assert.Equal(t, r, res[0].Seq)
	assert.Equal(t, a, res[0].Resolves)
	assert.Equal(t, ActionAlertResolved, res[0].Action)
	require.NoError(t, l.Verify(ctx))
}

func TestEventValidation(t *testing.T) {
	l := openLog(t, t.TempDir())
	defer l.Close()
	long := strings.Repeat("x", maxField+1)
	tests := []struct {
		name, want string
		ev         Event
	}{
		{name: "no action", ev: Event{}, want: "action"},
		{name: "action shape", ev: Event{Action: "View Record"}, want: "action"},
		{name: "outcome", ev: Event{Action: ActionView, Outcome: "maybe"}, want: "outcome"},
		{name: "control characters", ev: Event{Action: ActionView, Patient: "9990000001\n"}, want: "patient: holds control characters"},
		{name: "long field", ev: Event{Action: ActionView, User: long}, want: "user: too long"},
		{name: "long text", ev: Event{Action: ActionBreakGlassStart, BreakGlassText: strings.Repeat("y", maxText+1)}, want: "too long"},
		{name: "empty source", ev: Event{Action: ActionView, Asked: []string{""}}, want: "asked or answered"},
		{name: "bad withheld", ev: Event{Action: ActionView, Withheld: []Withheld{{Source: "gp"}}}, want: "withheld[0]"},
		{name: "resolves on a view", ev: Event{Action: ActionView, Resolves: 3}, want: "resolves"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := l.Append(t.Context(), tc.ev)
			require.ErrorIs(t, err, ErrInvalidEvent)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "9990000001")
		})
	}
	seq, err := l.Append(t.Context(), Event{Action: "consent-recorded", Outcome: OutcomeSuccess})
	require.NoError(t, err, "a site's own action")
	assert.Equal(t, uint64(1), seq, "failed appends consume no sequence number")
}

func TestExport(t *testing.T) {
	l := fill(t, t.TempDir(), 4)
	defer l.Close()
	_, err := l.Append(t.Context(), Event{Action: ActionBreakGlassStart, User: "dr-a", Org: "RXX", Patient: patientOf(1),
		BreakGlass: true, BreakGlassReason: "emergency", BreakGlassText: "collapsed"})
	require.NoError(t, err)
	_, err = l.Append(t.Context(), Event{Action: ActionSignInFailed, Outcome: OutcomeDenied, User: "dr-b", Client: "192.0.2.9"})
	require.NoError(t, err)

	var out bytes.Buffer
	n, err := l.Export(t.Context(), Filter{}, &out)
	require.NoError(t, err)
	assert.Equal(t, 6, n)
	b, err := fhirutil.Decode(out.Bytes(), &fhirutil.Options{Validate: true})
	require.NoError(t, err)
	require.NoError(t, b.Err())
	require.Empty(t, b.Issues)
	require.Len(t, b.Resources, 6)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	assert.Contains(t, lines[0], `"id":"audit-1"`)
	assert.Contains(t, lines[0], `"valueString":"note policy 2"`)
	assert.Contains(t, lines[4], `"ETREAT"`)
	assert.Contains(t, lines[5], `"outcome":"4"`)

	out.Reset()
	n, err = l.Export(t.Context(), Filter{Patient: patientOf(1)}, &out)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "the patient's view and the break-glass")
}

func TestWithheldFrom(t *testing.T) {
	gp := provenance.Source{ID: "gp", Kind: provenance.KindGP}
	mh := provenance.Source{ID: "mh", Kind: provenance.KindMentalHealth}
	var w provenance.Withheld
	w.Add(gp, "note", provenance.Decision{Reason: provenance.ReasonPolicy}, 2)
	w.Add(gp, "document", provenance.Decision{Reason: provenance.ReasonPolicy}, 1)
	w.Add(gp, "result", provenance.Decision{Reason: provenance.ReasonRestricted}, 4)
	w.AddOptOut(mh)
	assert.Equal(t, []Withheld{
		{Source: "gp", Category: "document", Reason: "policy", Count: 1},
		{Source: "gp", Category: "note", Reason: "policy", Count: 2},
		{Source: "gp", Category: "result", Reason: "restricted", Count: 4},
		{Source: "mh", Reason: "opt-out"},
	}, WithheldFrom(&w))
}

func TestIndexKeysDoNotCollide(t *testing.T) {
	// A patient id that is a prefix of another cannot reach the other's
	// index entries: the length comes first.
	a := fieldKey(prefPatient, "12", 1)
	b := fieldKey(prefPatient, "123", 1)
	assert.False(t, bytes.HasPrefix(b, a[:len(a)-8]))
	assert.Equal(t, uint64(1), binary.BigEndian.Uint64(a[len(a)-8:]))
	assert.True(t, slices.Equal(entryKey(7), append([]byte("e"), 0, 0, 0, 0, 0, 0, 0, 7)))
}

// BenchmarkAppend measures synced appends from one and from many
// goroutines; concurrent appends share a sync.
func BenchmarkAppend(b *testing.B) {
	for _, par := range []int{1, 16} {
		b.Run(fmt.Sprintf("goroutines=%d", par), func(b *testing.B) {
			l := openLog(b, b.TempDir())
			defer l.Close()
			ev := viewEvent(1)
			b.ReportAllocs()
			b.SetParallelism(par)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := l.Append(b.Context(), ev); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func TestReadKey(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	require.NoError(t, os.WriteFile(good, append(testKey, '\n'), 0o600))
	k, err := ReadKey(good)
	require.NoError(t, err)
	assert.Equal(t, testKey, k)

	short := filepath.Join(dir, "short")
	require.NoError(t, os.WriteFile(short, []byte("  s3cr3t  \n"), 0o600))
	_, err = ReadKey(short)
	assert.ErrorIs(t, err, ErrKey)
	assert.NotContains(t, err.Error(), "s3cr3t")

	open := filepath.Join(dir, "open")
	require.NoError(t, os.WriteFile(open, testKey, 0o644))
	require.NoError(t, os.Chmod(open, 0o644))
	_, err = ReadKey(open)
	assert.ErrorIs(t, err, ErrKey)

	_, err = ReadKey(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}
