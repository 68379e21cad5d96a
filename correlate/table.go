package correlate

import "math/bits"

// Hashing and the pointer-free indexes the engine keeps its state in. Keys are 64-bit
// hashes of observables, event ids and fingerprints; a collision between two different
// values (probability ~n²/2⁶⁵) merges their state, which is accepted for speed.

const (
	hk0 = 0xa0761d6478bd642f
	hk1 = 0xe7037ed1a0b428db
	hk2 = 0x8ebc6af09c88c6e3

	seedObs   = 0x5bd1e9955bd1e995
	seedID    = 0x9e3779b97f4a7c15
	seedFP    = 0xc2b2ae3d27d4eb4f
	seedScope = 0x165667b19e3779f9
	seedDict  = 0x27d4eb2f165667c5
)

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// fmix is the splitmix64 finaliser: a bijection, so distinct inputs stay distinct.
func fmix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// hashString is a small wyhash-style hash; stable across processes, so snapshots stay valid.
func hashString(seed uint64, s string) uint64 {
	h := seed ^ hk0 ^ uint64(len(s))*hk2
	for len(s) >= 8 {
		v := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		h = mix(h^v, hk1)
		s = s[8:]
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		v |= uint64(s[i]) << (8 * i)
	}
	return fmix(mix(h^v^hk2, hk1))
}

// hashU64 folds x into h.
func hashU64(h, x uint64) uint64 { return mix(h^x^hk0, hk1) }

// table is an open-addressing hash table (linear probing, power-of-two size, load at most
// 3/4) from a non-zero 64-bit key to a uint32. A key and its value share a slot, so a
// lookup costs one cache miss. Deletion shifts entries back, so there are no tombstones.
type table struct {
	slots []slot
	n     int
}

type slot struct {
	key uint64
	val uint32
	aux uint32 // fingerprints: the generation of the node in val
}

func tableKey(k uint64) uint64 {
	if k == 0 {
		return 1
	}
	return k
}

func (t *table) init(capHint int) {
	size := 16
	for size*3/4 < capHint {
		size <<= 1
	}
	t.slots = make([]slot, size)
	adviseHuge(t.slots)
	t.n = 0
}

func (t *table) get(k uint64) (uint32, bool) {
	if len(t.slots) == 0 {
		return 0, false
	}
	k = tableKey(k)
	mask := uint64(len(t.slots) - 1)
	for i := k & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.key == k {
			return s.val, true
		}
		if s.key == 0 {
			return 0, false
		}
	}
}

// get2 is get that also returns the entry's aux.
func (t *table) get2(k uint64) (uint32, uint32, bool) {
	if len(t.slots) == 0 {
		return 0, 0, false
	}
	k = tableKey(k)
	mask := uint64(len(t.slots) - 1)
	for i := k & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.key == k {
			return s.val, s.aux, true
		}
		if s.key == 0 {
			return 0, 0, false
		}
	}
}

// peek loads the home slot of k, so that a later get finds it in cache.
func (t *table) peek(k uint64) uint64 {
	if len(t.slots) == 0 {
		return 0
	}
	return t.slots[k&uint64(len(t.slots)-1)].key
}

// put inserts or replaces k.
func (t *table) put(k uint64, v uint32) { t.put2(k, v, 0) }

func (t *table) put2(k uint64, v, aux uint32) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	k = tableKey(k)
	mask := uint64(len(t.slots) - 1)
	for i := k & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.key == k {
			s.val, s.aux = v, aux
			return
		}
		if s.key == 0 {
			*s = slot{k, v, aux}
			t.n++
			return
		}
	}
}

func (t *table) del(k uint64) bool {
	if len(t.slots) == 0 {
		return false
	}
	k = tableKey(k)
	mask := uint64(len(t.slots) - 1)
	i := k & mask
	for ; t.slots[i].key != k; i = (i + 1) & mask {
		if t.slots[i].key == 0 {
			return false
		}
	}
	// Backward-shift deletion: move later entries of the probe run into the hole.
	for j := (i + 1) & mask; t.slots[j].key != 0; j = (j + 1) & mask {
		home := t.slots[j].key & mask
		// Entry j may move into the hole if the hole lies on its probe path from home.
		if (j-home)&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = slot{}
	t.n--
	return true
}

func (t *table) grow() {
	old := t.slots
	size := max(2*len(old), 16)
	t.slots = make([]slot, size)
	adviseHuge(t.slots)
	mask := uint64(size - 1)
	for _, s := range old {
		if s.key == 0 {
			continue
		}
		i := s.key & mask
		for t.slots[i].key != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

// keyTable is a set of non-zero 64-bit keys with table's layout, in 8-byte slots.
type keyTable struct {
	slots []uint64
	n     int
}

func (t *keyTable) init(capHint int) {
	size := 16
	for size*3/4 < capHint {
		size <<= 1
	}
	t.slots = make([]uint64, size)
	adviseHuge(t.slots)
	t.n = 0
}

func (t *keyTable) has(k uint64) bool {
	k = tableKey(k)
	mask := uint64(len(t.slots) - 1)
	for i := k & mask; ; i = (i + 1) & mask {
		switch t.slots[i] {
		case k:
			return true
		case 0:
			return false
		}
	}
}

func (t *keyTable) peek(k uint64) uint64 { return t.slots[k&uint64(len(t.slots)-1)] }

// put inserts k, which must be absent.
func (t *keyTable) put(k uint64) {
	if (t.n+1)*4 > len(t.slots)*3 {
		old := t.slots
		t.slots = make([]uint64, 2*len(old))
		adviseHuge(t.slots)
		for _, x := range old {
			if x != 0 {
				t.insert(x)
			}
		}
	}
	t.insert(tableKey(k))
	t.n++
}

func (t *keyTable) insert(k uint64) {
	mask := uint64(len(t.slots) - 1)
	i := k & mask
	for t.slots[i] != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = k
}

func (t *keyTable) del(k uint64) bool {
	k = tableKey(k)
	mask := uint64(len(t.slots) - 1)
	i := k & mask
	for ; t.slots[i] != k; i = (i + 1) & mask {
		if t.slots[i] == 0 {
			return false
		}
	}
	for j := (i + 1) & mask; t.slots[j] != 0; j = (j + 1) & mask {
		if home := t.slots[j] & mask; (j-home)&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = 0
	t.n--
	return true
}

// window remembers keys (event ids or fingerprints) for dedup in arrival order, so the
// oldest can be evicted by age or when the configured size is reached. A keys-only
// window (event ids) keeps its keys in a keyTable; the other maps each key to a value
// and aux (fingerprints: the situation node and its generation).
type window struct {
	idx      table
	set      keyTable
	keysOnly bool
	keys     []uint64
	at       []uint32 // processing time of insertion, Unix seconds
	head     int
	n        int
	max      int
}

func (w *window) init(max int, keysOnly bool) {
	w.max, w.keysOnly = max, keysOnly
	if keysOnly {
		w.set.init(min(max, 1024))
	} else {
		w.idx.init(min(max, 1024))
	}
	w.keys = make([]uint64, min(max, 1024))
	w.at = make([]uint32, len(w.keys))
	w.head, w.n = 0, 0
}

func (w *window) has(k uint64) bool { return w.set.has(k) }

func (w *window) lookup(k uint64) (v, aux uint32, ok bool) { return w.idx.get2(k) }

func (w *window) peek(k uint64) uint64 {
	if w.keysOnly {
		return w.set.peek(k)
	}
	return w.idx.peek(k)
}

// expire evicts entries inserted before the second cutoff and returns how many.
func (w *window) expire(cutoff uint32) uint64 {
	var ev uint64
	for w.n > 0 && w.at[w.head] < cutoff {
		w.pop()
		ev++
	}
	return ev
}

func (w *window) pop() {
	if w.keysOnly {
		w.set.del(w.keys[w.head])
	} else {
		w.idx.del(w.keys[w.head])
	}
	w.head = w.slot(1)
	w.n--
}

// add inserts k (which must be absent) with value v and aux at second at, and returns how
// many entries were evicted to make room.
func (w *window) add(k uint64, v, aux uint32, at uint32) uint64 {
	var ev uint64
	if w.n == len(w.keys) {
		if len(w.keys) < w.max {
			w.resize(min(2*len(w.keys), w.max))
		} else {
			w.pop()
			ev++
		}
	}
	i := w.slot(w.n)
	w.keys[i], w.at[i] = k, at
	w.n++
	if w.keysOnly {
		w.set.put(k)
	} else {
		w.idx.put2(k, v, aux)
	}
	return ev
}

// slot returns the ring index of the k-th oldest entry, 0 <= k <= len(w.keys), without
// a division.
func (w *window) slot(k int) int {
	i := w.head + k
	if i >= len(w.keys) {
		i -= len(w.keys)
	}
	return i
}

func (w *window) resize(size int) {
	keys, at := make([]uint64, size), make([]uint32, size)
	for i := 0; i < w.n; i++ {
		j := (w.head + i) % len(w.keys)
		keys[i], at[i] = w.keys[j], w.at[j]
	}
	w.keys, w.at, w.head = keys, at, 0
}
