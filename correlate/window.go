package correlate

import (
	"slices"
	"unsafe"
)

// window remembers keys (event ids or fingerprints) for dedup, for a time and up to a
// count: the oldest are forgotten by age or when the configured size is reached.
//
// It is an open-addressing table (linear probing, power-of-two size) whose entries carry
// their insertion position. Positions count insertions; the live entries are those
// inserted at positions tail to head-1, so forgetting the oldest entries is moving tail,
// with no access to them: an entry behind tail is dead and lookups skip it. Each
// insertion sweeps a few slots for dead entries, in order, so that dead entries do not
// pile up; a sequential read costs much less than the random access that deleting each
// evicted entry would. Evictions are counted by how far tail moves.
//
// Keys (0 is an empty slot), the low 32 bits of positions and the values (fingerprints:
// value | aux<<32) are kept in separate arrays: a lookup that misses, the common case,
// reads keys only, eight to a cache line.
type window struct {
	keys   []uint64
	pos    []uint32
	vals   []uint64 // nil in a keys-only window
	mask   uint64   // slots - 1
	used   int      // non-empty slots, live or dead
	head   uint64   // position of the next insertion
	tail   uint64   // position of the oldest live entry
	swept  uint64   // head at the last full sweep
	cursor uint64   // next slot the incremental sweep looks at
	max    int
	values bool
	// marks holds, oldest first, the position from which insertions happened at each
	// processing second: expiry by age moves tail to the first mark not older than the
	// cutoff.
	marks []winMark
	mHead int
}

type winMark struct {
	pos uint64
	sec uint32
}

// maxWindow bounds a window's size, so that positions 32 bits wide never alias: a dead
// entry is swept out before 2³² more insertions.
const maxWindow = 1 << 30

func (w *window) init(max int, keysOnly bool) {
	w.max = min(max, maxWindow)
	w.values = !keysOnly
	w.setSize(16)
	w.head, w.tail, w.swept = 0, 0, 0
	w.marks, w.mHead = w.marks[:0], 0
}

func (w *window) setSize(slots int) {
	w.keys = make([]uint64, slots)
	w.pos = make([]uint32, slots)
	adviseHuge(w.keys)
	adviseHuge(w.pos)
	w.vals = nil
	if w.values {
		w.vals = make([]uint64, slots)
		adviseHuge(w.vals)
	}
	w.mask = uint64(slots - 1)
	w.used = 0
}

// n is the number of live entries.
func (w *window) n() int { return int(w.head - w.tail) }

// live reports whether the entry inserted at position p (its low 32 bits) is live.
func (w *window) live(p uint32) bool {
	return uint32(w.head)-p-1 < uint32(w.head-w.tail)
}

// find returns the slot of k's live entry, or the empty slot that ends its probe run and
// false.
func (w *window) find(k uint64) (uint64, bool) {
	k = tableKey(k)
	keys := w.keys
	for i := k & w.mask; ; i = (i + 1) & w.mask {
		switch keys[i] {
		case 0:
			return i, false
		case k:
			if w.live(w.pos[i]) {
				return i, true
			}
		}
	}
}

func (w *window) has(k uint64) bool {
	_, ok := w.find(k)
	return ok
}

func (w *window) lookup(k uint64) (v, aux uint32, ok bool) {
	i, ok := w.find(k)
	if !ok {
		return 0, 0, false
	}
	return uint32(w.vals[i]), uint32(w.vals[i] >> 32), true
}

// slotAddrs appends the addresses of the cache lines k's lookup starts with, for warm to
// prefetch: its home slot's, and the next one's when the run is likely to reach it.
func (w *window) slotAddrs(addrs []uintptr, k uint64) []uintptr {
	i := tableKey(k) & w.mask
	a := uintptr(unsafe.Pointer(&w.keys[i]))
	addrs = append(addrs, a)
	if i&7 >= 6 { // two slots on is in the next line
		addrs = append(addrs, a+16)
	}
	// Where an insertion writes the entry's position and value.
	addrs = append(addrs, uintptr(unsafe.Pointer(&w.pos[i])))
	if w.values {
		addrs = append(addrs, uintptr(unsafe.Pointer(&w.vals[i])))
	}
	return addrs
}

// expire forgets the entries inserted before the second cutoff, up to the first one
// that is not (insertion seconds need not rise), and returns how many.
func (w *window) expire(cutoff uint32) uint64 {
	old := w.tail
	for w.mHead < len(w.marks) && w.marks[w.mHead].sec < cutoff {
		end := w.head
		if w.mHead+1 < len(w.marks) {
			end = w.marks[w.mHead+1].pos
		}
		w.tail = max(w.tail, end)
		w.mHead++
	}
	w.compactMarks()
	return w.tail - old
}

func (w *window) compactMarks() {
	if w.mHead == len(w.marks) {
		w.marks, w.mHead = w.marks[:0], 0
	} else if w.mHead > 64 && 2*w.mHead > len(w.marks) {
		n := copy(w.marks, w.marks[w.mHead:])
		w.marks, w.mHead = w.marks[:n], 0
	}
}

// add inserts k (which must not be live) with value v and aux at second at, and returns
// how many entries were evicted to make room.
func (w *window) add(k uint64, v, aux uint32, at uint32) uint64 {
	w.maintain()
	i, ok := w.find(k)
	ev := w.advance(at)
	w.put(i, ok, k, v, aux)
	return ev
}

// addNew inserts k at second at unless it is live, and reports whether it was; evicted
// is how many entries were evicted to make room. It is has and add in one probe.
func (w *window) addNew(k uint64, at uint32) (dup bool, evicted uint64) {
	w.maintain()
	i, ok := w.find(k)
	if ok {
		return true, 0
	}
	ev := w.advance(at)
	w.put(i, false, k, 0, 0)
	return false, ev
}

// maintain makes room for one more entry, before an insertion looks for its slot: it
// grows the table or sweeps it whole when it is full, or else sweeps some slots. It
// moves entries but changes none.
func (w *window) maintain() {
	slots := int(w.mask + 1)
	switch {
	case (w.used+1)*4 > slots*3 || w.head-w.swept >= 1<<31:
		if min(w.n(), w.max-1)+1 > slots/2 {
			w.grow()
		} else {
			w.sweep()
		}
	case w.used > w.n():
		w.sweepSome(sweepPerAdd)
	}
}

// sweepPerAdd is how many slots each insertion sweeps for dead entries: in a full window
// it keeps about one slot in sweepPerAdd dead, so that probe runs stay short, at the
// cost of a sequential read.
const sweepPerAdd = 8

// advance evicts the oldest entry when the window is full, and returns how many entries
// it evicted, then notes the insertion at second at. Entries do not move.
func (w *window) advance(at uint32) uint64 {
	if len(w.marks) == w.mHead || w.marks[len(w.marks)-1].sec != at {
		w.marks = append(w.marks, winMark{pos: w.head, sec: at})
	}
	if w.n() < w.max {
		return 0
	}
	w.tail = w.head - uint64(w.max) + 1
	// Marks wholly behind tail: the first mark must be that of the oldest live entry.
	for w.mHead+1 < len(w.marks) && w.marks[w.mHead+1].pos <= w.tail {
		w.mHead++
	}
	w.compactMarks()
	return 1
}

// put writes k's entry at slot i, which find returned, as the newest entry.
func (w *window) put(i uint64, ok bool, k uint64, v, aux uint32) {
	if !ok {
		w.used++
	}
	w.keys[i], w.pos[i] = tableKey(k), uint32(w.head)
	if w.values {
		w.vals[i] = uint64(v) | uint64(aux)<<32
	}
	w.head++
}

// sweepSome looks at the next budget slots of the incremental sweep and deletes the dead
// entries among them. A deletion only moves entries back into the hole, at or after the
// cursor, so every entry is looked at once a cycle.
func (w *window) sweepSome(budget int) {
	i := w.cursor & w.mask
	for ; budget > 0; budget-- {
		if w.keys[i] != 0 && !w.live(w.pos[i]) {
			w.del(i) // the slot may now hold a later entry of its run: look again
			continue
		}
		i = (i + 1) & w.mask
	}
	w.cursor = i
}

// grow doubles the table, keeping the live entries.
func (w *window) grow() {
	keys, pos, vals := w.keys, w.pos, w.vals
	w.setSize(2 * len(keys))
	for j, k := range keys {
		if k != 0 && w.live(pos[j]) {
			i := k & w.mask
			for w.keys[i] != 0 {
				i = (i + 1) & w.mask
			}
			w.keys[i], w.pos[i] = k, pos[j]
			if vals != nil {
				w.vals[i] = vals[j]
			}
			w.used++
		}
	}
	w.swept = w.head
}

// sweep deletes every dead entry.
func (w *window) sweep() {
	w.cursor = 0
	for range w.mask + 1 {
		w.sweepSome(1)
	}
	w.swept = w.head
}

// del empties slot i, shifting later entries of its probe run back into the hole.
func (w *window) del(i uint64) {
	for j := (i + 1) & w.mask; w.keys[j] != 0; j = (j + 1) & w.mask {
		home := w.keys[j] & w.mask
		if (j-home)&w.mask >= (j-i)&w.mask {
			w.keys[i], w.pos[i] = w.keys[j], w.pos[j]
			if w.values {
				w.vals[i] = w.vals[j]
			}
			i = j
		}
	}
	w.keys[i] = 0
	w.used--
}

// entries calls f for each live entry, oldest first, with the second it was inserted at.
func (w *window) entries(f func(k uint64, v, aux, at uint32)) {
	type ent struct {
		age  uint32
		slot uint64
	}
	var es []ent
	for i, k := range w.keys {
		if k != 0 && w.live(w.pos[i]) {
			es = append(es, ent{uint32(w.head) - w.pos[i], uint64(i)})
		}
	}
	slices.SortFunc(es, func(a, b ent) int { return int(b.age) - int(a.age) })
	m := w.mHead
	for _, x := range es {
		pos := w.head - uint64(x.age)
		for m+1 < len(w.marks) && w.marks[m+1].pos <= pos {
			m++
		}
		var v uint64
		if w.values {
			v = w.vals[x.slot]
		}
		f(w.keys[x.slot], uint32(v), uint32(v>>32), w.marks[m].sec)
	}
}

// bytes is the memory the window holds.
func (w *window) bytes() int {
	return 8*cap(w.keys) + 4*cap(w.pos) + 8*cap(w.vals) + int(unsafe.Sizeof(winMark{}))*cap(w.marks)
}
