package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Errors returned by this package. Their messages name sequence numbers,
// fields and directories, never patient values.
var (
	// ErrKey reports a MAC key that is missing or shorter than MinKeyLen.
	ErrKey = errors.New("audit: MAC key missing or too short")
	// ErrWrongKey reports a store created with a different MAC key.
	ErrWrongKey = errors.New("audit: the store was written with a different key")
	// ErrNoKey reports an operation that needs the MAC key on a log
	// opened without one.
	ErrNoKey = errors.New("audit: the log was opened without a key")
	// ErrTampered reports an entry, the head record or an index entry
	// that does not verify: changed, deleted, inserted, reordered or
	// truncated. It is wrapped by a *[VerifyError].
	ErrTampered = errors.New("audit: log does not verify")
	// ErrCorrupt reports a store that the storage engine cannot read.
	ErrCorrupt = errors.New("audit: store unreadable")
	// ErrNotFound reports a read-only open of a directory holding no store.
	ErrNotFound = errors.New("audit: no audit store")
	// ErrForeign reports a directory that holds something other than an
	// audit store.
	ErrForeign = errors.New("audit: not an audit store")
	// ErrLocked reports a store that another process has open.
	ErrLocked = errors.New("audit: store in use by another process")
	// ErrClosed reports use of a closed log.
	ErrClosed = errors.New("audit: log closed")
	// ErrReadOnly reports a write to a log opened read-only.
	ErrReadOnly = errors.New("audit: log opened read-only")
	// ErrInvalidEvent reports an event that cannot be recorded; the
	// message names the field.
	ErrInvalidEvent = errors.New("audit: invalid event")
	// ErrNoAlert reports a ResolveAlert of an entry that is not an open
	// break-glass alert.
	ErrNoAlert = errors.New("audit: no open alert with that sequence number")
)

// MinKeyLen is the shortest MAC key accepted, in bytes.
const MinKeyLen = 32

// FormatVersion names the on-disk format; it is stored in the store and
// bound into every MAC.
const FormatVersion = "carelens-audit/1"

// Keys of the store. Entries and the head are MAC'd; the indexes are
// checked against the entries by Verify.
var (
	keyMarker   = []byte("m")
	keyCheck    = []byte("k")
	keyHead     = []byte("h")
	prefEntry   = []byte("e")
	prefPatient = []byte("p")
	prefUser    = []byte("u")
	prefAlert   = []byte("a") // a + seq of a break-glass-start
	prefResolve = []byte("r") // r + seq of the alert -> seq of the resolution
)

const macLen = sha256.Size

// Options configures [Open].
type Options struct {
	// Key is the MAC key, at least MinKeyLen bytes, from the site's
	// configuration. It is required, except that a read-only log may be
	// opened without it to read or export entries unverified.
	Key []byte
	// ReadOnly opens an existing store for reading: it never writes, and a
	// missing store is ErrNotFound rather than created.
	ReadOnly bool
}

// Log is an append-only, hash-chained, MAC-keyed access log in a Badger
// store. It is safe for concurrent use.
type Log struct {
	db       *badger.DB
	dir      string
	key      []byte
	readOnly bool

	// rw is held for reading by every read and for writing by Close, so
	// that the store is not closed under a reader.
	rw sync.RWMutex

	mu         sync.Mutex
	idle       sync.Cond // signalled when committing becomes false
	queue      []*pending
	committing bool
	closed     bool
	headOK     bool // seq and mac hold the stored head
	seq        uint64
	mac        [macLen]byte
}

// pending is an event waiting in the group commit.
type pending struct {
	ev   *Event
	data []byte
	seq  uint64
	err  error
	done chan struct{}
}

// Open opens the log in dir, creating the store when dir is missing or
// empty (unless o.ReadOnly). It checks the format, the key and the head
// record: a store that fails these checks is reported (ErrWrongKey,
// ErrTampered, ErrCorrupt, ErrForeign), never repaired. A read-only open
// checks the format and the key only, leaving the rest to [Log.Verify],
// which names the first bad entry. Open does not verify every entry; call
// Verify for that.
func Open(dir string, o Options) (*Log, error) {
	if o.Key != nil && len(o.Key) < MinKeyLen || o.Key == nil && !o.ReadOnly {
		return nil, fmt.Errorf("%w: need at least %d bytes", ErrKey, MinKeyLen)
	}
	if err := checkDir(dir, o.ReadOnly); err != nil {
		return nil, err
	}
	bo := badger.DefaultOptions(dir).
		WithLogger(nil).
		WithSyncWrites(true).
		WithReadOnly(o.ReadOnly).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		WithValueLogFileSize(64 << 20).
		WithMetricsEnabled(false).
		WithCompression(options.None).
		WithBlockCacheSize(16 << 20).
		WithMemTableSize(16 << 20).
		WithDetectConflicts(false)
	db, err := badger.Open(bo)
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("audit: open %s: %w: %v", dir, ErrCorrupt, err)
	}
	l := &Log{db: db, dir: dir, key: bytes.Clone(o.Key), readOnly: o.ReadOnly}
	l.idle.L = &l.mu
	if err := l.init(); err != nil {
		db.Close()
		return nil, err
	}
	return l, nil
}

// checkDir refuses a directory that is neither empty nor a Badger store,
// and a missing one when reading only.
func checkDir(dir string, readOnly bool) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if readOnly {
			return fmt.Errorf("audit: open %s: %w", dir, ErrNotFound)
		}
		return nil
	case err != nil:
		return fmt.Errorf("audit: open %s: %w", dir, err)
	}
	if len(entries) == 0 {
		if readOnly {
			return fmt.Errorf("audit: open %s: %w", dir, ErrNotFound)
		}
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
		return fmt.Errorf("audit: open %s: %w: the directory is not empty and holds no store", dir, ErrForeign)
	}
	return nil
}

// init checks the marker, the key and the head, writing them into a new
// store.
func (l *Log) init() error {
	var marker, check []byte
	empty := true
	err := l.db.View(func(txn *badger.Txn) error {
		var err error
		if marker, err = get(txn, keyMarker); err != nil {
			return err
		}
		if check, err = get(txn, keyCheck); err != nil {
			return err
		}
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		it.Rewind()
		empty = !it.Valid()
		return nil
	})
	if err != nil {
		return fmt.Errorf("audit: open %s: %w: %v", l.dir, ErrCorrupt, err)
	}
	switch {
	case empty && l.readOnly:
		return fmt.Errorf("audit: open %s: %w", l.dir, ErrNotFound)
	case empty:
		return l.create()
	case marker == nil:
		return fmt.Errorf("audit: open %s: %w: no format marker", l.dir, ErrForeign)
	case string(marker) != FormatVersion:
		return fmt.Errorf("audit: open %s: %w: format %q, want %q", l.dir, ErrForeign, marker, FormatVersion)
	}
	if l.key != nil && !hmac.Equal(check, l.keyCheck()) {
		return fmt.Errorf("audit: open %s: %w", l.dir, ErrWrongKey)
	}
	if l.readOnly {
		// A reader opens the store as it is, so that Verify can name
		// the first bad entry; Head reports the head as recorded.
		return l.db.View(func(txn *badger.Txn) error {
			if v, err := get(txn, keyHead); err == nil && len(v) == 8+2*macLen {
				l.seq = binary.BigEndian.Uint64(v)
				copy(l.mac[:], v[8:])
			}
			return nil
		})
	}
	return l.db.View(func(txn *badger.Txn) error {
		seq, mac, err := l.readHead(txn)
		if err != nil {
			return fmt.Errorf("audit: open %s: %w", l.dir, err)
		}
		l.seq, l.mac, l.headOK = seq, mac, true
		return nil
	})
}

func (l *Log) create() error {
	txn := l.db.NewTransaction(true)
	defer txn.Discard()
	var zero [macLen]byte
	err := errors.Join(
		txn.Set(keyMarker, []byte(FormatVersion)),
		txn.Set(keyCheck, l.keyCheck()),
		txn.Set(keyHead, l.headValue(0, zero)),
		txn.Commit(),
	)
	if err != nil {
		return fmt.Errorf("audit: create %s: %w", l.dir, err)
	}
	l.seq, l.mac, l.headOK = 0, zero, true
	return nil
}

// get returns a copy of key's value, or nil when it is missing.
func get(txn *badger.Txn, key []byte) ([]byte, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

func (l *Log) newMAC(label string) hashWriter {
	h := hmac.New(sha256.New, l.key)
	h.Write([]byte(FormatVersion))
	h.Write([]byte{0})
	h.Write([]byte(label))
	h.Write([]byte{0})
	return hashWriter{h}
}

// hashWriter writes the parts of a MAC'd record in order.
type hashWriter struct{ h hash.Hash }

func (w hashWriter) seq(s uint64) hashWriter {
	w.h.Write(binary.BigEndian.AppendUint64(nil, s))
	return w
}

func (w hashWriter) bytes(b []byte) hashWriter {
	w.h.Write(b)
	return w
}

func (w hashWriter) sum() (out [macLen]byte) {
	copy(out[:], w.h.Sum(nil))
	return out
}

func (l *Log) keyCheck() []byte {
	s := l.newMAC("key check").sum()
	return s[:]
}

// entryMAC chains an entry to its predecessor: it covers the entry's
// sequence number, the previous entry's MAC and the event bytes.
func (l *Log) entryMAC(seq uint64, prev [macLen]byte, data []byte) [macLen]byte {
	return l.newMAC("entry").seq(seq).bytes(prev[:]).bytes(data).sum()
}

// headValue is the head record: the last sequence number and MAC, MAC'd,
// so that entries removed from the end are detected.
func (l *Log) headValue(seq uint64, mac [macLen]byte) []byte {
	v := binary.BigEndian.AppendUint64(nil, seq)
	v = append(v, mac[:]...)
	m := l.newMAC("head").seq(seq).bytes(mac[:]).sum()
	return append(v, m[:]...)
}

// readHead reads and checks the head record, and checks that the entry it
// names is the last one.
func (l *Log) readHead(txn *badger.Txn) (uint64, [macLen]byte, error) {
	var mac [macLen]byte
	v, err := get(txn, keyHead)
	if err != nil {
		return 0, mac, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if len(v) != 8+2*macLen {
		return 0, mac, &VerifyError{Problem: "head record missing or malformed"}
	}
	seq := binary.BigEndian.Uint64(v)
	copy(mac[:], v[8:])
	if l.key != nil && !hmac.Equal(v, l.headValue(seq, mac)) {
		return 0, mac, &VerifyError{Problem: "head record altered"}
	}
	if seq > 0 {
		last, err := get(txn, entryKey(seq))
		if err != nil {
			return 0, mac, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if len(last) < macLen || !bytes.Equal(last[:macLen], mac[:]) {
			return 0, mac, &VerifyError{Seq: seq, Problem: "last entry missing or changed (truncated)"}
		}
	}
	next, err := get(txn, entryKey(seq+1))
	if err != nil {
		return 0, mac, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if next != nil {
		return 0, mac, &VerifyError{Seq: seq + 1, Problem: "entry after the recorded head (inserted)"}
	}
	return seq, mac, nil
}

func entryKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(bytes.Clone(prefEntry), seq) }

// fieldKey is prefix, the field's length, the field and the sequence
// number.
func fieldKey(prefix []byte, field string, seq uint64) []byte {
	k := binary.AppendUvarint(bytes.Clone(prefix), uint64(len(field)))
	k = append(k, field...)
	return binary.BigEndian.AppendUint64(k, seq)
}

// indexKeys returns the index entries of an event at seq, with their
// values.
func indexKeys(ev *Event, seq uint64) (keys, vals [][]byte) {
	add := func(k, v []byte) { keys, vals = append(keys, k), append(vals, v) }
	if ev.Patient != "" {
		add(fieldKey(prefPatient, ev.Patient, seq), nil)
	}
	if ev.User != "" {
		add(fieldKey(prefUser, ev.User, seq), nil)
	}
	if ev.Action == ActionBreakGlassStart {
		add(binary.BigEndian.AppendUint64(bytes.Clone(prefAlert), seq), nil)
	}
	if ev.Action == ActionAlertResolved {
		add(binary.BigEndian.AppendUint64(bytes.Clone(prefResolve), ev.Resolves), binary.BigEndian.AppendUint64(nil, seq))
	}
	return keys, vals
}

// Append records ev and returns its sequence number. The entry is synced
// to disk before Append returns: when it returns an error the event may or
// may not be recorded, and the caller must fail the request it was
// recording. Concurrent appends are committed together, in one sync, in
// the order they reached the log.
func (l *Log) Append(ctx context.Context, ev Event) (uint64, error) {
	if ev.Action == ActionAlertResolved {
		return 0, fmt.Errorf("%w: action: alert-resolved is written by ResolveAlert", ErrInvalidEvent)
	}
	return l.append(ctx, ev)
}

func (l *Log) append(ctx context.Context, ev Event) (uint64, error) {
	if l.readOnly {
		return 0, ErrReadOnly
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Time = ev.Time.UTC()
	ev.Seq = 0
	if err := ev.validate(); err != nil {
		return 0, err
	}
	data, err := json.Marshal(&ev)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	p := &pending{ev: &ev, data: data, done: make(chan struct{})}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	l.queue = append(l.queue, p)
	if l.committing {
		l.mu.Unlock()
		<-p.done
		return p.seq, p.err
	}
	l.committing = true
	for len(l.queue) > 0 {
		batch := l.takeBatch()
		l.mu.Unlock()
		l.commit(batch)
		l.mu.Lock()
	}
	l.committing = false
	l.idle.Broadcast()
	l.mu.Unlock()
	<-p.done
	return p.seq, p.err
}

// Batches are bounded so that one transaction stays well inside Badger's
// limits.
const (
	maxBatch      = 256
	maxBatchBytes = 1 << 20
)

// takeBatch removes the next batch from the queue; l.mu is held.
func (l *Log) takeBatch() []*pending {
	n, size := 0, 0
	for n < len(l.queue) && n < maxBatch && (n == 0 || size+len(l.queue[n].data) <= maxBatchBytes) {
		size += len(l.queue[n].data)
		n++
	}
	batch := l.queue[:n:n]
	l.queue = append([]*pending(nil), l.queue[n:]...)
	return batch
}

// commit writes a batch in one synced transaction and completes each
// pending. Only the committing goroutine calls it, so it may use the head
// fields without l.mu except to publish them.
func (l *Log) commit(batch []*pending) {
	finish := func(err error) {
		for _, p := range batch {
			if p.err == nil {
				p.err = err
			}
			if p.err != nil {
				p.seq = 0
			}
			close(p.done)
		}
	}
	txn := l.db.NewTransaction(true)
	defer txn.Discard()
	if !l.headOK {
		seq, mac, err := l.readHead(txn)
		if err != nil {
			finish(fmt.Errorf("audit: append: %w", err))
			return
		}
		l.seq, l.mac, l.headOK = seq, mac, true
	}
	seq, mac := l.seq, l.mac
	resolved := map[uint64]bool{}
	written := 0
	for _, p := range batch {
		if p.ev.Action == ActionAlertResolved {
			if err := l.checkAlert(txn, p.ev.Resolves, resolved); err != nil {
				p.err = err
				continue
			}
			resolved[p.ev.Resolves] = true
		}
		seq++
		mac = l.entryMAC(seq, mac, p.data)
		if err := txn.Set(entryKey(seq), append(mac[:], p.data...)); err != nil {
			finish(fmt.Errorf("audit: append: %w", err))
			return
		}
		keys, vals := indexKeys(p.ev, seq)
		for i := range keys {
			if err := txn.Set(keys[i], vals[i]); err != nil {
				finish(fmt.Errorf("audit: append: %w", err))
				return
			}
		}
		p.seq = seq
		written++
	}
	if written == 0 {
		finish(nil)
		return
	}
	if err := txn.Set(keyHead, l.headValue(seq, mac)); err != nil {
		finish(fmt.Errorf("audit: append: %w", err))
		return
	}
	if err := txn.Commit(); err != nil {
		// The commit may have reached the disk or not: read the head
		// again before the next append.
		l.mu.Lock()
		l.headOK = false
		l.mu.Unlock()
		finish(fmt.Errorf("audit: append: %w", err))
		return
	}
	l.mu.Lock()
	l.seq, l.mac = seq, mac
	l.mu.Unlock()
	finish(nil)
}

// checkAlert reports whether seq is an open alert, counting those resolved
// earlier in the batch.
func (l *Log) checkAlert(txn *badger.Txn, seq uint64, resolved map[uint64]bool) error {
	_, err := txn.Get(binary.BigEndian.AppendUint64(bytes.Clone(prefAlert), seq))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return fmt.Errorf("%w: %d", ErrNoAlert, seq)
	}
	if err != nil {
		return fmt.Errorf("audit: resolve alert: %w", err)
	}
	_, err = txn.Get(binary.BigEndian.AppendUint64(bytes.Clone(prefResolve), seq))
	switch {
	case err == nil || resolved[seq]:
		return fmt.Errorf("%w: %d is already resolved", ErrNoAlert, seq)
	case !errors.Is(err, badger.ErrKeyNotFound):
		return fmt.Errorf("audit: resolve alert: %w", err)
	}
	return nil
}

// Head returns the sequence number and MAC of the last entry (0 and a zero
// MAC for an empty log). On a read-only log it is the head as recorded,
// unchecked until [Log.Verify] succeeds. A site may copy them elsewhere from time to time
// (a checkpoint): a log rewritten wholesale by someone holding the key, or
// deleted, can then be detected against the copy.
func (l *Log) Head() (seq uint64, mac [macLen]byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq, l.mac
}

// Close waits for appends and reads in progress and closes the store.
// Later calls fail with ErrClosed. Do not call Close from inside an
// iteration over [Log.Events] or [Log.Alerts]: it would wait for itself.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closed = true
	for l.committing {
		l.idle.Wait()
	}
	l.mu.Unlock()
	l.rw.Lock()
	defer l.rw.Unlock()
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("audit: close %s: %w", l.dir, err)
	}
	return nil
}

func (l *Log) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}
