package correlate

import (
	"strings"
	"unsafe"
)

// Strings in the engine's state live in an append-only byte arena and are referred to by
// offset, so the hot state holds no pointers for the garbage collector to scan. Bytes are
// never rewritten, which is what makes handing them out as strings (unsafe.String) safe:
// a string stays valid, and immutable, for as long as anyone holds it.

const (
	arenaBlockBits = 20
	arenaBlockSize = 1 << arenaBlockBits
	// maxArenaString is the longest string kept; longer ones are truncated.
	maxArenaString = arenaBlockSize
)

// strRef locates a string in an arena.
type strRef struct {
	off uint32 // block<<arenaBlockBits | offset in block
	n   uint32
}

type arena struct {
	blocks [][]byte
	live   int // bytes of the strings still referred to (add minus free)
}

func (a *arena) add(s string) strRef {
	if len(s) > maxArenaString {
		s = s[:maxArenaString]
	}
	if len(s) == 0 {
		return strRef{}
	}
	if len(a.blocks) == 0 || len(a.blocks[len(a.blocks)-1])+len(s) > arenaBlockSize {
		// The first block starts small and grows by append up to arenaBlockSize (strings
		// refer to it by offset, and those handed out keep the array they point into): an
		// engine that holds little text allocates little. Later ones start whole.
		size := arenaBlockSize
		if len(a.blocks) == 0 {
			size = max(4<<10, len(s))
		}
		a.blocks = append(a.blocks, make([]byte, 0, size))
	}
	b := len(a.blocks) - 1
	off := len(a.blocks[b])
	a.blocks[b] = append(a.blocks[b], s...)
	a.live += len(s)
	return strRef{off: uint32(b)<<arenaBlockBits | uint32(off), n: uint32(len(s))}
}

// free records that r is no longer referred to; compactArena reclaims the space.
func (a *arena) free(r strRef) { a.live -= int(r.n) }

func (a *arena) str(r strRef) string {
	if r.n == 0 {
		return ""
	}
	blk := a.blocks[r.off>>arenaBlockBits]
	return unsafe.String(&blk[r.off&(arenaBlockSize-1)], int(r.n))
}

func (a *arena) size() int {
	n := 0
	for _, b := range a.blocks {
		n += cap(b)
	}
	return n
}

// textBlock holds the strings built for one batch's outputs (event ids, explanations).
// Like the arena it never rewrites bytes: a full block is dropped (the garbage collector
// frees it once no output refers to it) and a new one started.
type textBlock struct {
	b []byte
}

const textBlockSize = 256 << 10

// begin returns a buffer with room for need bytes to append one string to (at most need);
// end turns what was appended into a string.
func (t *textBlock) begin(need int) []byte {
	if cap(t.b)-len(t.b) < need {
		// Blocks double from 4 KiB up to textBlockSize: a small engine renders little.
		t.b = make([]byte, 0, max(min(textBlockSize, 2*cap(t.b)), 4<<10, need))
	}
	return t.b[len(t.b):len(t.b)]
}

func (t *textBlock) end(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	if len(p) > cap(t.b)-len(t.b) {
		panic("BUG: textBlock string longer than announced")
	}
	t.b = t.b[:len(t.b)+len(p)]
	return unsafe.String(&p[0], len(p))
}

func (t *textBlock) str(s []byte) string {
	p := append(t.begin(len(s)), s...)
	return t.end(p)
}

// dict interns a small, bounded vocabulary (contributors, countries, sectors, techniques,
// releasability names, exercises) as dense ids. Lookups of known names do not allocate:
// an open-addressing table of ids by the names' hashes, confirmed against the name,
// which costs less than a map with string keys.
type dict struct {
	slots []uint32 // id + 1; 0 is empty; load at most 1/2
	names []string
}

func (d *dict) id(s string) uint32 {
	h := dictHash(s)
	mask := uint64(len(d.slots) - 1)
	if len(d.slots) > 0 {
		for i := h & mask; ; i = (i + 1) & mask {
			v := d.slots[i]
			if v == 0 {
				break
			}
			if d.names[v-1] == s {
				return v - 1
			}
		}
	}
	s = strings.Clone(s) // do not retain the caller's buffer
	id := uint32(len(d.names))
	d.names = append(d.names, s)
	if 2*len(d.names) > len(d.slots) {
		size := 16
		for size < 4*len(d.names) {
			size <<= 1
		}
		d.slots = make([]uint32, size)
		for k, n := range d.names {
			d.insert(dictHash(n), uint32(k))
		}
	} else {
		d.insert(h, id)
	}
	return id
}

func (d *dict) insert(h uint64, id uint32) {
	mask := uint64(len(d.slots) - 1)
	i := h & mask
	for d.slots[i] != 0 {
		i = (i + 1) & mask
	}
	d.slots[i] = id + 1
}
