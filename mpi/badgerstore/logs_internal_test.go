package badgerstore

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// appendEntry appends a log entry as Badger encodes one.
func appendEntry(log []byte, meta byte, key, value []byte) []byte {
	start := len(log)
	log = append(log, meta, 0)
	log = binary.AppendUvarint(log, uint64(len(key)))
	log = binary.AppendUvarint(log, uint64(len(value)))
	log = binary.AppendUvarint(log, 0)
	log = append(log, key...)
	log = append(log, value...)
	return binary.BigEndian.AppendUint32(log, crc32.Checksum(log[start:], castagnoli))
}

// appendTxn appends a transaction of one entry at version v.
func appendTxn(log []byte, v uint64) []byte {
	key := binary.BigEndian.AppendUint64([]byte("key"), math.MaxUint64-v)
	log = appendEntry(log, bitTxn, key, []byte("value"))
	fin := binary.BigEndian.AppendUint64([]byte("!badger!txn"), math.MaxUint64-v)
	return appendEntry(log, bitFinTxn, fin, []byte(strconv.FormatUint(v, 10)))
}

// TestVerifyLog covers the cases of verifyLog on logs built in memory,
// including the lengths Badger fails on rather than cuts.
func TestVerifyLog(t *testing.T) {
	log := make([]byte, logHeaderSize)
	var starts []int
	for v := uint64(1); v <= 5; v++ {
		starts = append(starts, len(log))
		log = appendTxn(log, v)
	}
	whole := len(log)
	withZeros := append(append([]byte(nil), log...), make([]byte, 4096)...)

	damaged := func(at int, junk ...byte) []byte {
		b := append([]byte(nil), withZeros...)
		copy(b[at:], junk)
		return b
	}
	tests := []struct {
		name string
		log  []byte
		want string // a part of the answer; "" for none
	}{
		{"whole", log[:whole], ""},
		{"unwritten space after it", withZeros, ""},
		{"last transaction cut short", log[:starts[4]+7], ""},
		{"junk after the last transaction", damaged(whole+100, 1, 2, 3, 4, 5, 6, 7, 8, 9), ""},
		{"last transaction damaged", damaged(starts[4]+6, 'X'), ""},
		{"middle transaction damaged", damaged(starts[2]+6, 'X'),
			"damaged at byte " + strconv.Itoa(starts[2]) + " of " + strconv.Itoa(len(withZeros))},
		{"a length that overflows", damaged(starts[4]+2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
			"a length field overflows"},
		{"lengths that wrap around", damaged(starts[4]+2, 0x10, 0xf8, 0xff, 0xff, 0xff, 0x0f), // 16 + (2^32-8)
			"wrap around"},
		{"encryption key id", damaged(7, 1), "encryption key 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := verifyLog(tc.log, true)
			if tc.want == "" {
				assert.Empty(t, got)
				return
			}
			assert.True(t, strings.Contains(got, tc.want), "%q does not contain %q", got, tc.want)
		})
	}
	got := verifyLog(damaged(starts[1]+8, 'X'), true)
	assert.Contains(t, got, "from byte "+strconv.Itoa(starts[2]), "the first valid transaction after the damage")
	assert.Contains(t, got, "cut the file at byte "+strconv.Itoa(starts[1]))
}
