package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// VerifyError reports the first entry of the log that does not verify. It
// wraps [ErrTampered].
type VerifyError struct {
	// Seq is the sequence number of the first bad entry; 0 means the head
	// record or the store's metadata rather than an entry.
	Seq uint64
	// Problem says what is wrong, without any of the entry's content.
	Problem string
}

// Error returns "audit: log does not verify: entry 17: MAC mismatch ...".
func (e *VerifyError) Error() string {
	if e.Seq == 0 {
		return fmt.Sprintf("%v: %s", ErrTampered, e.Problem)
	}
	return fmt.Sprintf("%v: entry %d: %s", ErrTampered, e.Seq, e.Problem)
}

// Unwrap returns ErrTampered.
func (e *VerifyError) Unwrap() error { return ErrTampered }

// Verify checks the whole log against its key in one consistent snapshot:
// that the entries run from 1 without a gap, that each entry's MAC (which
// covers its sequence number, the previous entry's MAC and its bytes)
// holds, that the MAC'd head record names the last entry, and that the
// indexes behind [Log.Events] and [Log.Alerts] agree with the entries. It
// returns nil for a good log, a *[VerifyError] naming the first bad entry
// for a changed, deleted, inserted, reordered or truncated one, and
// ErrNoKey for a log opened without its key.
func (l *Log) Verify(ctx context.Context) error {
	if l.key == nil {
		return ErrNoKey
	}
	txn, release, err := l.snapshot()
	if err != nil {
		return err
	}
	defer release()

	// Entries, in order.
	var prev [macLen]byte
	want, indexed := uint64(1), 0
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefEntry, PrefetchValues: true, PrefetchSize: 64})
	for it.Rewind(); it.Valid(); it.Next() {
		if want%1024 == 0 {
			if err := ctx.Err(); err != nil {
				it.Close()
				return err
			}
		}
		item := it.Item()
		k := item.Key()
		if len(k) != len(prefEntry)+8 {
			it.Close()
			return &VerifyError{Seq: want, Problem: "unexpected key among the entries (inserted)"}
		}
		seq := binary.BigEndian.Uint64(k[len(prefEntry):])
		if seq != want {
			it.Close()
			if seq == 0 {
				return &VerifyError{Seq: want, Problem: "entry 0 present (inserted)"}
			}
			return &VerifyError{Seq: want, Problem: "missing (deleted)"}
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			it.Close()
			return fmt.Errorf("audit: verify: entry %d: %w: %v", seq, ErrCorrupt, err)
		}
		ev, err := l.checkEntry(seq, prev, v)
		if err != nil {
			it.Close()
			return err
		}
		keys, vals := indexKeys(&ev, seq)
		for i, key := range keys {
			got, err := get(txn, key)
			if err != nil {
				it.Close()
				return fmt.Errorf("audit: verify: %w: %v", ErrCorrupt, err)
			}
			if got == nil && !hasKey(txn, key) || !bytes.Equal(got, vals[i]) {
				it.Close()
				return &VerifyError{Seq: seq, Problem: "index entry missing or altered"}
			}
		}
		indexed += len(keys)
		copy(prev[:], v[:macLen])
		want++
	}
	it.Close()
	last := want - 1

	// The head.
	hv, err := get(txn, keyHead)
	if err != nil {
		return fmt.Errorf("audit: verify: head: %w: %v", ErrCorrupt, err)
	}
	if len(hv) != 8+2*macLen {
		return &VerifyError{Problem: "head record missing or malformed"}
	}
	hseq := binary.BigEndian.Uint64(hv)
	var hmacv [macLen]byte
	copy(hmacv[:], hv[8:])
	switch {
	case !hmac.Equal(hv, l.headValue(hseq, hmacv)):
		return &VerifyError{Problem: "head record altered"}
	case hseq > last:
		return &VerifyError{Seq: last + 1, Problem: fmt.Sprintf("missing: the log ends before its recorded head %d (truncated)", hseq)}
	case hseq < last:
		return &VerifyError{Seq: hseq + 1, Problem: "after the recorded head (inserted)"}
	case hmacv != prev:
		return &VerifyError{Seq: last, Problem: "does not match the head record"}
	}
	if c, err := get(txn, keyCheck); err != nil || !hmac.Equal(c, l.keyCheck()) {
		return &VerifyError{Problem: "key check record altered"}
	}
	if m, err := get(txn, keyMarker); err != nil || string(m) != FormatVersion {
		return &VerifyError{Problem: "format marker altered"}
	}
	return l.verifyIndexes(ctx, txn, indexed, last)
}

func hasKey(txn *badger.Txn, key []byte) bool {
	_, err := txn.Get(key)
	return err == nil
}

// checkEntry checks one stored entry against its predecessor's MAC and
// decodes it.
func (l *Log) checkEntry(seq uint64, prev [macLen]byte, v []byte) (Event, error) {
	var ev Event
	if len(v) <= macLen {
		return ev, &VerifyError{Seq: seq, Problem: "malformed"}
	}
	if l.key != nil {
		mac := l.entryMAC(seq, prev, v[macLen:])
		if !hmac.Equal(mac[:], v[:macLen]) {
			return ev, &VerifyError{Seq: seq, Problem: "MAC mismatch: changed, inserted or moved"}
		}
	}
	if err := json.Unmarshal(v[macLen:], &ev); err != nil {
		return ev, &VerifyError{Seq: seq, Problem: "undecodable"}
	}
	ev.Seq = seq
	return ev, nil
}

// verifyIndexes checks that the store holds no key but the metadata, the
// entries and the indexes the entries call for (want of them).
func (l *Log) verifyIndexes(ctx context.Context, txn *badger.Txn, want int, last uint64) error {
	it := txn.NewIterator(badger.IteratorOptions{})
	defer it.Close()
	got := 0
	for it.Rewind(); it.Valid(); it.Next() {
		k := it.Item().Key()
		switch {
		case bytes.Equal(k, keyMarker), bytes.Equal(k, keyCheck), bytes.Equal(k, keyHead), bytes.HasPrefix(k, prefEntry):
		case bytes.HasPrefix(k, prefPatient), bytes.HasPrefix(k, prefUser), bytes.HasPrefix(k, prefAlert), bytes.HasPrefix(k, prefResolve):
			got++
		default:
			return &VerifyError{Problem: "unexpected record in the store (inserted)"}
		}
	}
	if got == want {
		return nil
	}
	// Some index entry matches no entry: find the first.
	var bad []uint64
	it.Rewind()
	for ; it.Valid(); it.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		item := it.Item()
		k := item.KeyCopy(nil)
		var seq uint64
		switch {
		case bytes.HasPrefix(k, prefPatient), bytes.HasPrefix(k, prefUser), bytes.HasPrefix(k, prefAlert):
			seq = binary.BigEndian.Uint64(k[len(k)-8:])
		case bytes.HasPrefix(k, prefResolve):
			v, err := item.ValueCopy(nil)
			if err != nil || len(v) != 8 {
				bad = append(bad, 0)
				continue
			}
			seq = binary.BigEndian.Uint64(v)
		default:
			continue
		}
		if seq == 0 || seq > last {
			bad = append(bad, max(seq, 1))
			continue
		}
		v, err := get(txn, entryKey(seq))
		if err != nil || len(v) <= macLen {
			bad = append(bad, seq)
			continue
		}
		var ev Event
		if json.Unmarshal(v[macLen:], &ev) != nil {
			bad = append(bad, seq)
			continue
		}
		keys, _ := indexKeys(&ev, seq)
		if !slices.ContainsFunc(keys, func(x []byte) bool { return bytes.Equal(x, k) }) {
			bad = append(bad, seq)
		}
	}
	if len(bad) == 0 {
		return &VerifyError{Problem: "index entries do not match the entries"}
	}
	return &VerifyError{Seq: slices.Min(bad), Problem: "stray index entry (inserted)"}
}
