package merge

import "unsafe"

// codeCache remembers the rules' concept of codings by where their strings
// live. Streams packed by [Pack] share one copy of each coding's strings,
// so the same address and length mean the same coding, and a hit costs two
// loads and compares instead of hashing the code. Strings elsewhere just
// miss. A string's address is only compared while the merge's input
// retains it, so the cache is cleared at the start of every merge: a later
// string may occupy a freed one's address.
type codeCache struct {
	slots [codeCacheSize]codeSlot
}

const codeCacheSize = 1 << 10

type codeSlot struct {
	code, sys  uintptr // addresses only: the cache keeps no string alive
	clen, slen int32
	concept    int32 // the rules' concept, or -1 when they do not map it
}

func (c *codeCache) reset() { clear(c.slots[:]) }

func (c *codeCache) slot(system, code string) *codeSlot {
	p := uintptr(unsafe.Pointer(unsafe.StringData(code)))
	return &c.slots[(p>>4^p>>14^uintptr(len(system)))&(codeCacheSize-1)]
}

// lookup is rules.lookup through the cache.
func (c *codeCache) lookup(rules *compiled, system, code string) (int32, bool) {
	cp, sp := uintptr(unsafe.Pointer(unsafe.StringData(code))), uintptr(unsafe.Pointer(unsafe.StringData(system)))
	s := c.slot(system, code)
	if s.code == cp && s.sys == sp && s.clen == int32(len(code)) && s.slen == int32(len(system)) && cp != 0 {
		return s.concept, s.concept >= 0
	}
	id, ok := rules.lookup(system, code)
	if !ok {
		id = -1
	}
	if len(code) < 1<<31 && len(system) < 1<<31 {
		*s = codeSlot{code: cp, sys: sp, clen: int32(len(code)), slen: int32(len(system)), concept: id}
	}
	return id, ok
}
