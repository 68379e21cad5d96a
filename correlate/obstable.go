package correlate

import (
	"math/bits"
	"unsafe"
)

// obsTable is the observable index: open addressing with linear probing from a non-zero
// 64-bit key to an index into Engine.obs, in 8-byte slots. A slot holds 32 bits of the
// key (the bits that do not choose the home slot) and the index + 1; a candidate is
// confirmed against the whole key kept in its obsRec, which the caller loads next anyway.
// Growing and deleting read the keys back from the obsRecs.
type obsTable struct {
	slots []obsSlot
	n     int
	shift uint8 // home slot = key >> shift
	obs   *slab[obsRec]
}

type obsSlot struct {
	fp  uint32 // the low 32 bits of the key
	idx uint32 // index + 1; 0 is an empty slot
}

func (t *obsTable) init(capHint int, obs *slab[obsRec]) {
	size := 16
	for size*3/4 < capHint {
		size <<= 1
	}
	t.obs = obs
	t.setSlots(make([]obsSlot, size))
	t.n = 0
}

func (t *obsTable) setSlots(s []obsSlot) {
	t.slots = s
	t.shift = uint8(64 - bits.TrailingZeros(uint(len(s))))
	adviseHuge(s)
}

func (t *obsTable) home(k uint64) uint64 { return k >> t.shift }

func (t *obsTable) get(k uint64) (uint32, bool) {
	k = tableKey(k)
	fp, mask := uint32(k), uint64(len(t.slots)-1)
	for i := t.home(k); ; i = (i + 1) & mask {
		s := t.slots[i]
		if s.idx == 0 {
			return 0, false
		}
		if s.fp == fp && t.obs.at(s.idx-1).key == k {
			return s.idx - 1, true
		}
	}
}

// candidate returns the index of the first entry whose slot matches k's 32 bits, without
// confirming it, or noNode.
func (t *obsTable) candidate(k uint64) uint32 {
	k = tableKey(k)
	fp, mask := uint32(k), uint64(len(t.slots)-1)
	for i := t.home(k); ; i = (i + 1) & mask {
		s := t.slots[i]
		if s.idx == 0 {
			return noNode
		}
		if s.fp == fp {
			return s.idx - 1
		}
	}
}

// slotAddr returns the address of k's home slot, for warm to prefetch.
func (t *obsTable) slotAddr(k uint64) uintptr {
	return uintptr(unsafe.Pointer(&t.slots[t.home(tableKey(k))]))
}

// put inserts k, which must be absent, with index v; obs.at(v).key must be k already.
func (t *obsTable) put(k uint64, v uint32) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	t.insert(tableKey(k), v)
	t.n++
}

func (t *obsTable) insert(k uint64, v uint32) {
	mask := uint64(len(t.slots) - 1)
	i := t.home(k)
	for t.slots[i].idx != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = obsSlot{fp: uint32(k), idx: v + 1}
}

func (t *obsTable) grow() {
	old := t.slots
	t.setSlots(make([]obsSlot, 2*len(old)))
	for _, s := range old {
		if s.idx != 0 {
			t.insert(t.obs.at(s.idx-1).key, s.idx-1)
		}
	}
}

func (t *obsTable) del(k uint64) bool {
	k = tableKey(k)
	fp, mask := uint32(k), uint64(len(t.slots)-1)
	i := t.home(k)
	for {
		s := t.slots[i]
		if s.idx == 0 {
			return false
		}
		if s.fp == fp && t.obs.at(s.idx-1).key == k {
			break
		}
		i = (i + 1) & mask
	}
	// Backward-shift deletion: move later entries of the probe run into the hole.
	for j := (i + 1) & mask; t.slots[j].idx != 0; j = (j + 1) & mask {
		home := t.home(t.obs.at(t.slots[j].idx - 1).key)
		if (j-home)&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = obsSlot{}
	t.n--
	return true
}
