package mpi

import (
	"cmp"
	"encoding/binary"
	"fmt"

	"github.com/carelens/carelens/match"
)

// Key layout of the index inside its Store. Record references inside keys
// are length-prefixed (source, then id), so that one is never a prefix of
// another. No demographic value appears in a key. The blocking index is not
// stored, nor are the persons' record lists: each record keeps its person
// and its blocking-key hashes, and both are rebuilt from them in memory
// when the index is opened (see memState).
//
//	m/format                 index format marker
//	m/counters               next person number, next event sequence, next record sequence
//	r/<ref>                  stored record: sequence, person id, block hashes, record fields
//	a/<person>               survivor of a merged-away person id
//	d/<ref>                  people's decisions about pairs including the record
//	e/<seq8>                 change event
const indexFormat = "carelens-index/3"

// indexFormat2 also kept each person's records under p/<person>; format 3
// derives them from the records, as it does the blocking index. A format 2
// index opened for writing is marked format 3 and its person lists are
// deleted (dropPersonLists); opened read-only, it is read as it is.
const indexFormat2 = "carelens-index/2"

var (
	keyFormat   = []byte("m/format")
	keyCounters = []byte("m/counters")
)

func appendLP(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendRef(dst []byte, r match.RecordRef) []byte {
	return appendLP(appendLP(dst, r.Source), r.ID)
}

func recordKey(r match.RecordRef) []byte { return appendRef([]byte("r/"), r) }

func aliasKey(person string) []byte { return []byte("a/" + person) }

func decisionKey(a match.RecordRef) []byte { return appendRef([]byte("d/"), a) }

func compareRefs(a, b match.RecordRef) int {
	return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.ID, b.ID))
}

func eventKey(seq uint64) []byte { return binary.BigEndian.AppendUint64([]byte("e/"), seq) }

func (c counters) encode() []byte {
	b := binary.AppendUvarint(nil, c.person)
	b = binary.AppendUvarint(b, c.event)
	return binary.AppendUvarint(b, c.seq)
}

func (c *counters) decode(b []byte) error {
	d := decoder{b: b}
	c.person, c.event, c.seq = d.uvarint(), d.uvarint(), d.uvarint()
	if d.err != nil || c.person == 0 || c.event == 0 || c.seq == 0 {
		return fmt.Errorf("mpi: index counters: %w", ErrCorrupt)
	}
	return nil
}

// decoder reads the index's binary values; the first failure sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = ErrCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = ErrCorrupt
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) strs() []string { return decodeList(d, d.str) }

// decodeList reads a count and that many items with item. A count larger
// than the bytes left (each item takes at least one) is corrupt; nil for
// none.
func decodeList[T any](d *decoder, item func() T) []T {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err = ErrCorrupt
	}
	if d.err != nil || n == 0 {
		return nil
	}
	out := make([]T, n)
	for i := range out {
		out[i] = item()
	}
	return out
}

func (d *decoder) ref() match.RecordRef { return match.RecordRef{Source: d.str(), ID: d.str()} }

func appendStrs(dst []byte, ss []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ss)))
	for _, s := range ss {
		dst = appendLP(dst, s)
	}
	return dst
}

// storedRecord is the value under r/<ref>.
type storedRecord struct {
	seq    uint64   // order of first addition
	person string   // enterprise person id
	blocks []uint64 // hashes of the blocking keys it is posted under
	raw    []byte   // the encoded record fields (see appendRecord)
}

const storedRecordVersion = 1

func appendRecord(dst []byte, r *match.Record) []byte {
	dst = appendLP(dst, r.Source)
	dst = appendLP(dst, r.ID)
	dst = appendStrs(dst, r.Given)
	dst = appendLP(dst, r.Family)
	dst = appendLP(dst, r.FullName)
	dst = binary.AppendUvarint(dst, uint64(len(r.OtherNames)))
	for _, n := range r.OtherNames {
		dst = appendStrs(dst, n.Given)
		dst = appendLP(dst, n.Family)
		dst = appendLP(dst, n.Use)
	}
	dst = appendLP(dst, r.BirthDate)
	dst = appendLP(dst, r.Sex)
	dst = appendStrs(dst, r.Address)
	dst = appendLP(dst, r.Town)
	dst = appendLP(dst, r.Postcode)
	dst = appendLP(dst, r.State)
	dst = appendLP(dst, r.Phone)
	dst = appendLP(dst, r.Email)
	dst = appendLP(dst, r.NHSNumber)
	dst = binary.AppendUvarint(dst, uint64(len(r.Identifiers)))
	for _, id := range r.Identifiers {
		dst = appendLP(dst, id.System)
		dst = appendLP(dst, id.Value)
	}
	return dst
}

// decodeStoredHeader decodes everything but the record fields, which it
// leaves in s.raw.
func decodeStoredHeader(b []byte, s *storedRecord) error {
	if len(b) == 0 || b[0] != storedRecordVersion {
		return fmt.Errorf("mpi: stored record version: %w", ErrCorrupt)
	}
	d := decoder{b: b[1:]}
	s.seq = d.uvarint()
	s.person = d.str()
	n := d.uvarint()
	if d.err == nil && n*8 > uint64(len(d.b)) {
		d.err = ErrCorrupt
	}
	if d.err != nil {
		return fmt.Errorf("mpi: stored record: %w", d.err)
	}
	s.blocks = make([]uint64, n)
	for i := range s.blocks {
		s.blocks[i] = binary.BigEndian.Uint64(d.b[i*8:])
	}
	s.raw = d.b[n*8:]
	return nil
}

func decodeRecord(b []byte, r *match.Record) error {
	d := decoder{b: b}
	r.Source = d.str()
	r.ID = d.str()
	r.Given = d.strs()
	r.Family = d.str()
	r.FullName = d.str()
	r.OtherNames = decodeList(&d, func() match.Name { return match.Name{Given: d.strs(), Family: d.str(), Use: d.str()} })
	r.BirthDate = d.str()
	r.Sex = d.str()
	r.Address = d.strs()
	r.Town = d.str()
	r.Postcode = d.str()
	r.State = d.str()
	r.Phone = d.str()
	r.Email = d.str()
	r.NHSNumber = d.str()
	r.Identifiers = decodeList(&d, func() match.Identifier { return match.Identifier{System: d.str(), Value: d.str()} })
	if d.err != nil {
		return fmt.Errorf("mpi: stored record: %w", d.err)
	}
	return nil
}
