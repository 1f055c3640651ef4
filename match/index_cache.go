package match

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
)

// cacheEntry is a stored record prepared for scoring. hash is the FNV-1a
// hash of the encoded record it was prepared from; a lookup whose stored
// bytes hash differently ignores it, so a stale entry is never used.
type cacheEntry struct {
	hash   uint64
	p      any
	ev     evidence
	blocks []uint64
}

// prepCache is a bounded map of prepared records, sharded to keep readers
// and the writer from contending.
type prepCache struct {
	limit  int
	shards [16]struct {
		mu sync.Mutex
		m  map[RecordRef]*cacheEntry
	}
}

func (c *prepCache) init(limit int) {
	c.limit = limit / len(c.shards)
	for i := range c.shards {
		c.shards[i].m = map[RecordRef]*cacheEntry{}
	}
}

func (c *prepCache) shard(key RecordRef) int {
	h := uint32(2166136261)
	for i := 0; i < len(key.Source); i++ {
		h = (h ^ uint32(key.Source[i])) * 16777619
	}
	h = (h ^ 0xff) * 16777619
	for i := 0; i < len(key.ID); i++ {
		h = (h ^ uint32(key.ID[i])) * 16777619
	}
	return int(h % uint32(len(c.shards)))
}

func (c *prepCache) get(key RecordRef) *cacheEntry {
	if c.limit <= 0 {
		return nil
	}
	s := &c.shards[c.shard(key)]
	s.mu.Lock()
	e := s.m[key]
	s.mu.Unlock()
	return e
}

func (c *prepCache) put(key RecordRef, e *cacheEntry) {
	if c.limit <= 0 {
		return
	}
	s := &c.shards[c.shard(key)]
	s.mu.Lock()
	if len(s.m) >= c.limit {
		// Evict an arbitrary eighth (map order is randomised).
		n := c.limit / 8
		for k := range s.m {
			delete(s.m, k)
			if n--; n <= 0 {
				break
			}
		}
	}
	s.m[key] = e
	s.mu.Unlock()
}

func (c *prepCache) del(key RecordRef) {
	s := &c.shards[c.shard(key)]
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

func (c *prepCache) clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

// evidence is what the index's safety rules look at in a record,
// independently of the model: which values could justify an automatic
// link beyond name and birth date, and whether the name or birth date is a
// placeholder.
type evidence struct {
	nhs      string   // valid NHS number
	ids      []string // system + "\x00" + normalised value
	postcode string
	phone    string
	email    string
	address  string // first address line, folded
	weakName bool   // no usable given or family name (missing or placeholder)
	weakDOB  bool   // birth date missing, invalid, partial or a placeholder
}

// newEvidence computes r's safety evidence. Its birth date is read as p,
// which has already prepared r, reads it (the source's date order, the
// plausible range of p's [PrepareOptions]); a nil p reads it as a default
// Preparer would, day first.
func newEvidence(r *Record, p *Preparer) evidence {
	var ev evidence
	if ValidNHSNumber(r.NHSNumber) {
		ev.nhs = NormaliseNHSNumber(r.NHSNumber)
	}
	for _, id := range r.Identifiers {
		if v := indexIdentifier(id.Value); v != "" {
			ev.ids = append(ev.ids, strings.ToLower(id.System)+"\x00"+v)
		}
	}
	ev.postcode, _ = NormalisePostcode(r.Postcode)
	ev.phone = NormalisePhone(r.Phone)
	ev.email = NormaliseEmail(r.Email)
	if len(r.Address) > 0 {
		ev.address = foldName(r.Address[0])
	}
	given := strings.Join(r.Given, " ")
	family := r.Family
	if given == "" && family == "" && r.FullName != "" {
		if f := strings.Fields(r.FullName); len(f) > 1 {
			given, family = strings.Join(f[:len(f)-1], " "), f[len(f)-1]
		}
	}
	g, f := foldName(given), foldName(family)
	ev.weakName = g == "" || f == "" || placeholderName(g) || placeholderName(f) ||
		placeholderName(g+" "+f)
	var d Date
	var st DateStatus
	if p == nil {
		d, st = readBirthDate(r.BirthDate, DayFirst, DateRange{}.withDefaults())
	} else {
		d, st = p.birthDateOf(r)
	}
	ev.weakDOB = st != DateOK || d.Day == 0 || (d.Month == 1 && d.Day == 1)
	return ev
}

// indexIdentifier normalises an identifier value (letters and digits,
// upper case) and returns "" for values too short or too regular to
// identify anyone (one character repeated, a run such as 123456789).
func indexIdentifier(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	v := b.String()
	if len(v) < 4 {
		return ""
	}
	same, run := true, true
	for i := 1; i < len(v); i++ {
		same = same && v[i] == v[0]
		run = run && (v[i] == v[i-1]+1)
	}
	if same || run {
		return ""
	}
	return v
}

func nhsConflict(a, b *evidence) bool {
	return a.nhs != "" && b.nhs != "" && a.nhs != b.nhs
}

// strongEvidence reports whether a pair has evidence beyond name and birth
// date: the same valid NHS number or identifier; or, when neither record's
// name or birth date is a placeholder, the same postcode, phone, e-mail
// or first address line.
func strongEvidence(a, b *evidence) bool {
	if a.nhs != "" && a.nhs == b.nhs {
		return true
	}
	for _, x := range a.ids {
		if slices.Contains(b.ids, x) {
			return true
		}
	}
	if a.weakName || b.weakName || a.weakDOB || b.weakDOB {
		return false
	}
	eq := func(x, y string) bool { return x != "" && x == y }
	return eq(a.postcode, b.postcode) || eq(a.phone, b.phone) || eq(a.email, b.email) || eq(a.address, b.address)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
