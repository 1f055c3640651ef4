package badgerstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Badger's logs, the memtable write-ahead logs (.mem) and the value logs
// (.vlog), are a 20-byte file header (an encryption key id and an IV)
// followed by entries, each
//
//	meta, user meta (a byte each), key length, value length, expiry
//	(uvarints), key, value, CRC32-C of all that (4 bytes, big-endian)
//
// Every key ends with its version, eight bytes big-endian, stored as
// MaxUint64 minus the version. Entries written by a transaction carry
// bitTxn, and the transaction ends with an entry carrying bitFinTxn whose
// value is the version in decimal; the value log keeps neither mark.
//
// Opened for writing, Badger replays every .mem file and the newest .vlog
// file up to the first entry it cannot use (one failing its checksum, cut
// short, or breaking the transaction structure) and truncates the file at
// the end of the last complete transaction before it. At the tail of a log
// that is its recovery from a crash in the middle of a write; in the
// middle, it silently drops every acknowledged entry after the damage.
// The functions here read the logs as Badger does, without changing them,
// to tell the two apart.
const (
	logHeaderSize = 20 // Badger's vlogHeaderSize
	logCRCSize    = 4
	// maxLogKey is the longest key Badger reads from a log: a longer
	// length field makes it stop there, as at damage.
	maxLogKey = 1 << 16

	bitTxn    = 1 << 6 // the entry is part of a transaction
	bitFinTxn = 1 << 7 // the entry ends a transaction
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// isLogFile reports whether Badger replays the file named name as a log.
func isLogFile(name string) bool {
	return strings.HasSuffix(name, ".mem") || strings.HasSuffix(name, ".vlog")
}

// checkLogs verifies every log file among names (the store directory's
// files) and returns a problem for each that is damaged before entries
// Badger would otherwise drop. Every value log is checked, not only the
// newest Badger replays: an older one is never cut, but Badger reads its
// values without verifying their checksums, so damage there would be
// returned as data.
func checkLogs(dir string, names []string) []Problem {
	newest, newestID := "", uint64(0)
	for _, name := range names {
		id, err := strconv.ParseUint(strings.TrimSuffix(name, ".vlog"), 10, 32)
		if err == nil && strings.HasSuffix(name, ".vlog") && id >= newestID {
			newest, newestID = name, id
		}
	}
	var ps []Problem
	for _, name := range names {
		if !isLogFile(name) {
			continue
		}
		cut := strings.HasSuffix(name, ".mem") || name == newest
		if what := checkLog(filepath.Join(dir, name), cut); what != "" {
			ps = append(ps, Problem{File: name, What: what})
		}
	}
	return ps
}

// checkLog reads the log at path, read-only, and says what is wrong with
// it, or "" when it is whole or no more than its tail is damaged. cut
// says whether Badger replays it on a write open, cutting it at damage.
func checkLog(path string, cut bool) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	size := fi.Size()
	if size <= logHeaderSize {
		// No entry: Badger writes a new header into it, or deletes it.
		return ""
	}
	if size > math.MaxUint32 {
		// Badger's offsets into a log are 32 bits: it never writes one
		// this long.
		return fmt.Sprintf("%d bytes, longer than a log can be", size)
	}
	// Mapped rather than read: a log is mostly unwritten space after a
	// crash (a .mem file twice the memory table, a .vlog twice the file
	// size limit), which the search below skips without copying it.
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Sprintf("cannot map: %v", err)
	}
	defer syscall.Munmap(data)
	return verifyLog(data, cut)
}

// verifyLog is checkLog on the bytes of a log.
func verifyLog(data []byte, cut bool) string {
	if id := binary.BigEndian.Uint64(data); id != 0 {
		// This package never encrypts; Badger would look the key up and
		// fail to open the store.
		return fmt.Sprintf("damaged header at byte 0: names encryption key %d, and this store uses none", id)
	}
	r := replay(data, logHeaderSize, false)
	switch {
	case r.fatal != "":
		return fmt.Sprintf("damaged entry at byte %d of %d: %s", r.stop, len(data), r.fatal)
	case r.end == len(data):
		return ""
	}
	next := r.stop + 1
	if next <= r.end {
		next = r.end + 1
	}
	at := nextCommitted(data, next)
	switch {
	case at < 0:
		return ""
	case cut:
		return fmt.Sprintf("damaged at byte %d of %d with valid entries after it (from byte %d): opened for writing, the storage engine would cut the file at byte %d and lose them",
			r.stop, len(data), at, r.end)
	default:
		return fmt.Sprintf("damaged at byte %d of %d with valid entries after it (from byte %d): the storage engine reads the values there without verifying their checksums",
			r.stop, len(data), at)
	}
}

// replayed is what replay learns.
type replayed struct {
	// end is the end of the last complete transaction, where Badger cuts
	// the file.
	end int
	// stop is the offset of the entry at which reading stopped (len(data)
	// at the end of the file).
	stop int
	// fatal says why, when Badger fails on the entry at stop (so cannot
	// open the store) rather than cutting the file there.
	fatal string
}

// replay reads the log in data from offset off as Badger's replay does
// (logFile.iterate in Badger's memtable.go). With first, it returns at the
// end of the first complete transaction.
func replay(data []byte, off int, first bool) replayed {
	r := replayed{end: off, stop: off}
	var txn uint64 // the version of the transaction being read; 0 between
	for {
		r.stop = off
		e, n, fatal := readEntry(data, off)
		if fatal != "" {
			r.fatal = fatal
			return r
		}
		if n == 0 || len(e.key) == 0 {
			return r
		}
		off += n
		switch {
		case e.meta&bitTxn != 0:
			v := keyVersion(e.key)
			if txn == 0 {
				txn = v
			}
			if v != txn {
				return r
			}
		case e.meta&bitFinTxn != 0:
			v, err := strconv.ParseUint(string(e.value), 10, 64)
			if err != nil || v != txn {
				return r
			}
			txn = 0
			r.end = off
		default:
			if txn != 0 {
				return r
			}
			r.end = off
		}
		if first && r.end > r.stop {
			r.stop = off
			return r
		}
	}
}

// logEntry is an entry read from a log; key and value alias the log.
type logEntry struct {
	meta       byte
	key, value []byte
}

// readEntry reads the entry at off as Badger's log reader (safeRead.Entry)
// does. n is the entry's length, 0 where Badger stops reading: at the end
// of the data, or at an entry that is cut short, too long or fails its
// checksum. fatal says why Badger would fail on the entry instead: a length
// field that overflows, or key and value lengths whose 32-bit sum wraps
// around (Badger then slices out of range and panics).
func readEntry(data []byte, off int) (e logEntry, n int, fatal string) {
	p := off + 2 // meta and user meta
	if p > len(data) {
		return e, 0, ""
	}
	var lens [3]uint64
	for i := range lens {
		v, k := binary.Uvarint(data[p:])
		if k < 0 {
			return e, 0, "a length field overflows"
		}
		if k == 0 {
			return e, 0, "" // cut short
		}
		lens[i], p = v, p+k
	}
	// Badger keeps the lengths as 32 bits, dropping the high ones.
	klen, vlen := uint32(lens[0]), uint32(lens[1])
	if klen > maxLogKey {
		return e, 0, ""
	}
	kv := int(klen + vlen) // in 32 bits, as Badger adds them
	if kv > len(data)-p {
		return e, 0, ""
	}
	// Badger slices the key before reading the checksum.
	if uint32(kv) < klen {
		return e, 0, "the key and value lengths wrap around"
	}
	if logCRCSize > len(data)-p-kv {
		return e, 0, ""
	}
	body := data[off : p+kv]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(data[p+kv:]) {
		return e, 0, ""
	}
	e = logEntry{meta: data[off], key: data[p : p+int(klen)], value: data[p+int(klen) : p+kv]}
	return e, p + kv + logCRCSize - off, ""
}

// keyVersion is the version at the end of a log entry's key (Badger's
// y.ParseTs).
func keyVersion(key []byte) uint64 {
	if len(key) <= 8 {
		return 0
	}
	return math.MaxUint64 - binary.BigEndian.Uint64(key[len(key)-8:])
}

// nextCommitted returns the offset, from off on, of the first entry from
// which Badger would read a complete transaction (or an entry outside
// one), or -1 if there is none: whether acknowledged entries follow
// damage, or only the remains of a write cut short by a crash.
//
// It tries every offset. Cheap tests come first, so that the search
// over a long damaged or unwritten tail stays fast: an entry's key is at
// least a byte and its version, and the version is below 2^48 (Badger
// counts versions up from 1, one per commit), so its first two bytes are
// 0xff. An offset passing them is replayed, and its entries' checksums
// decide; the false match of a checksum (one in 2^32) is then further
// required to form a complete transaction.
func nextCommitted(data []byte, off int) int {
	for off < len(data) {
		// The key length comes third; zero (unwritten space) cannot start
		// an entry, so skip to the next nonzero byte.
		if off+2 < len(data) && data[off+2] == 0 {
			off = nextNonZero(data, off+2) - 2
			continue
		}
		if !plausibleEntry(data, off) {
			off++
			continue
		}
		r := replay(data, off, true)
		if r.end > off {
			return off
		}
		// The entries from off to r.stop are sound but end in damage
		// before their transaction completes; replaying from any of them
		// stops at the same place, and none of the bytes between them can
		// start another entry without a checksum having matched falsely.
		off = max(r.stop, off+1)
	}
	return -1
}

// plausibleEntry reports whether an entry read at off could be one Badger
// wrote, before its checksum is computed (see nextCommitted).
func plausibleEntry(data []byte, off int) bool {
	p := off + 2
	if p >= len(data) {
		return false
	}
	klen, k := binary.Uvarint(data[p:])
	if k <= 0 || klen < 9 || klen > maxLogKey {
		return false
	}
	p += k
	for range 2 { // value length, expiry
		_, k := binary.Uvarint(data[p:])
		if k <= 0 {
			return false
		}
		p += k
	}
	end := p + int(klen)
	return end <= len(data) && data[end-8] == 0xff && data[end-7] == 0xff
}

// nextNonZero returns the offset of the first nonzero byte of data from
// off on, or len(data).
func nextNonZero(data []byte, off int) int {
	for off < len(data) && off%8 != 0 {
		if data[off] != 0 {
			return off
		}
		off++
	}
	for off+8 <= len(data) && binary.LittleEndian.Uint64(data[off:]) == 0 {
		off += 8
	}
	for off < len(data) && data[off] == 0 {
		off++
	}
	return off
}
