package correlate

import (
	"slices"
	"unsafe"
)

// window remembers keys (event ids or fingerprints) for dedup, for a time and up to a
// count: the oldest are forgotten by age or when the configured size is reached.
//
// It is an open-addressing table whose entries carry their insertion position.
// Positions count insertions; the live entries are those inserted at positions tail to
// head-1, so forgetting the oldest entries is moving tail, with no access to them: an
// entry behind tail is dead, lookups skip it and insertions reuse its slot. When live
// and dead entries would fill the table, one sequential pass deletes the dead ones.
// Evictions are counted by how far tail moves.
//
// Slots are grouped in cache lines, keys, values (fingerprints: value | aux<<32) and the
// low 32 bits of positions side by side, so that a lookup or an insertion touches one
// line: 5 slots a line in a keys-only window, 3 in a value window. A key's home is the
// first slot of its line; probing goes on slot by slot into the next lines.
type window struct {
	lines  []winLine
	per    uint64 // slots in a line
	posAt  uint64 // index of the first position among a line's uint32s
	mask   uint64 // lines - 1
	used   int    // non-empty slots, live or dead
	head   uint64 // position of the next insertion
	tail   uint64 // position of the oldest live entry
	swept  uint64 // head at the last sweep
	max    int
	values bool
	// marks holds, oldest first, the position from which insertions happened at each
	// processing second: expiry by age moves tail to the first mark not older than the
	// cutoff.
	marks []winMark
	mHead int
}

type winLine [8]uint64

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
	w.per, w.posAt = 5, 10 // keys in words 0–4, positions in uint32s 10–14
	if w.values {
		w.per, w.posAt = 3, 12 // keys in words 0–2, values in 3–5, positions in uint32s 12–14
	}
	w.setSize(4)
	w.head, w.tail, w.swept = 0, 0, 0
	w.marks, w.mHead = w.marks[:0], 0
}

func (w *window) setSize(lines int) {
	w.lines = make([]winLine, lines)
	adviseHuge(w.lines)
	w.mask = uint64(lines - 1)
	w.used = 0
}

func (w *window) slots() int { return len(w.lines) * int(w.per) }

// n is the number of live entries.
func (w *window) n() int { return int(w.head - w.tail) }

// live reports whether the entry inserted at position p (its low 32 bits) is live.
func (w *window) live(p uint32) bool {
	return uint32(w.head)-p-1 < uint32(w.head-w.tail)
}

func (w *window) pos(l *winLine) *[16]uint32 { return (*[16]uint32)(unsafe.Pointer(l)) }

// A slot is referred to as its line<<3 | its index in the line.

// slotAt returns the line and the index in it of slot s.
func (w *window) slotAt(s uint64) (*winLine, uint64) { return &w.lines[s>>3], s & 7 }

// find returns the slot of k's live entry, or the first free (empty or dead) slot of
// its probe run and false.
func (w *window) find(k uint64) (uint64, bool) {
	k = tableKey(k)
	free := ^uint64(0)
	for l := k & w.mask; ; l = (l + 1) & w.mask {
		line := &w.lines[l]
		pos := w.pos(line)
		for o := range w.per {
			switch x := line[o]; {
			case x == 0:
				if free == ^uint64(0) {
					free = l<<3 | o
				}
				return free, false
			case !w.live(pos[w.posAt+o]):
				if free == ^uint64(0) {
					free = l<<3 | o
				}
			case x == k:
				return l<<3 | o, true
			}
		}
	}
}

func (w *window) has(k uint64) bool {
	_, ok := w.find(k)
	return ok
}

func (w *window) lookup(k uint64) (v, aux uint32, ok bool) {
	s, ok := w.find(k)
	if !ok {
		return 0, 0, false
	}
	line, o := w.slotAt(s)
	x := line[w.per+o]
	return uint32(x), uint32(x >> 32), true
}

// slotAddrs appends the address of the line k's lookup starts with, for warm to prefetch.
func (w *window) slotAddrs(addrs []uintptr, k uint64) []uintptr {
	return append(addrs, uintptr(unsafe.Pointer(&w.lines[tableKey(k)&w.mask])))
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

// lookupFree is lookup for an insertion to follow: when k is not live, free is the slot
// that addAt will put it in, provided nothing else changes the window in between.
func (w *window) lookupFree(k uint64) (v, aux uint32, ok bool, free uint64) {
	w.maintain()
	s, ok := w.find(k)
	if !ok {
		return 0, 0, false, s
	}
	line, o := w.slotAt(s)
	x := line[w.per+o]
	return uint32(x), uint32(x >> 32), true, 0
}

// addAt inserts k, which lookupFree did not find, in the slot it returned, with value v
// and aux at second at, and returns how many entries were evicted to make room.
func (w *window) addAt(free, k uint64, v, aux uint32, at uint32) uint64 {
	ev := w.advance(at)
	w.put(free, false, k, v, aux)
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

// maintain makes room for one more entry, before an insertion looks for its slot: when
// live and dead entries fill three quarters of the table, it grows the table if the live
// ones fill half, and else deletes the dead ones: at most half live keeps the sweeps
// rare and most probes within their home line. It moves entries but changes none.
func (w *window) maintain() {
	if (w.used+1)*4 > w.slots()*3 || w.head-w.swept >= 1<<31 {
		if (min(w.n(), w.max-1)+1)*2 > w.slots() {
			w.grow()
		} else {
			w.sweep()
		}
	}
}

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

// put writes k's entry at slot s, which find returned, as the newest entry.
func (w *window) put(s uint64, ok bool, k uint64, v, aux uint32) {
	line, o := w.slotAt(s)
	if line[o] == 0 {
		w.used++
	}
	line[o], w.pos(line)[w.posAt+o] = tableKey(k), uint32(w.head)
	if w.values {
		line[w.per+o] = uint64(v) | uint64(aux)<<32
	}
	w.head++
}

// grow doubles the table, keeping the live entries.
func (w *window) grow() {
	old := w.lines
	w.setSize(2 * len(old))
	for l := range old {
		line := &old[l]
		for o := range w.per {
			if k := line[o]; k != 0 && w.live(w.pos(line)[w.posAt+o]) {
				s, _ := w.find(k)
				nl, no := w.slotAt(s)
				nl[no], w.pos(nl)[w.posAt+no] = k, w.pos(line)[w.posAt+o]
				if w.values {
					nl[w.per+no] = line[w.per+o]
				}
				w.used++
			}
		}
	}
	w.swept = w.head
}

// sweep deletes every dead entry.
func (w *window) sweep() {
	for l := range w.lines {
		line := &w.lines[l]
		for o := uint64(0); o < w.per; {
			if line[o] != 0 && !w.live(w.pos(line)[w.posAt+o]) {
				w.del(uint64(l), o) // the slot may now hold a later entry of its run: look again
				continue
			}
			o++
		}
	}
	w.swept = w.head
}

// del empties slot o of line l, shifting later entries of its probe run back into the
// hole. Distances are counted in slots.
func (w *window) del(l, o uint64) {
	n := uint64(len(w.lines)) * w.per
	dist := func(from, to uint64) uint64 {
		if to >= from {
			return to - from
		}
		return to + n - from
	}
	hl, ho, hs := &w.lines[l], o, l*w.per+o
	jl, jo, js := hl, ho, hs
	for {
		if jo++; jo == w.per {
			l = (l + 1) & w.mask
			jl, jo = &w.lines[l], 0
		}
		if js++; js == n {
			js = 0
		}
		k := jl[jo]
		if k == 0 {
			break
		}
		home := (k & w.mask) * w.per
		if dist(home, js) >= dist(hs, js) {
			hl[ho], w.pos(hl)[w.posAt+ho] = k, w.pos(jl)[w.posAt+jo]
			if w.values {
				hl[w.per+ho] = jl[w.per+jo]
			}
			hl, ho, hs = jl, jo, js
		}
	}
	hl[ho] = 0
	w.used--
}

// entries calls f for each live entry, oldest first, with the second it was inserted at.
func (w *window) entries(f func(k uint64, v, aux, at uint32)) {
	type ent struct {
		age  uint32
		slot uint64
	}
	var es []ent
	for l := range w.lines {
		line := &w.lines[l]
		for o := range w.per {
			if p := w.pos(line)[w.posAt+o]; line[o] != 0 && w.live(p) {
				es = append(es, ent{uint32(w.head) - p, uint64(l)<<3 | o})
			}
		}
	}
	slices.SortFunc(es, func(a, b ent) int { return int(b.age) - int(a.age) })
	m := w.mHead
	for _, x := range es {
		pos := w.head - uint64(x.age)
		for m+1 < len(w.marks) && w.marks[m+1].pos <= pos {
			m++
		}
		line, o := w.slotAt(x.slot)
		var v uint64
		if w.values {
			v = line[w.per+o]
		}
		f(line[o], uint32(v), uint32(v>>32), w.marks[m].sec)
	}
}

// bytes is the memory the window holds.
func (w *window) bytes() int {
	return int(unsafe.Sizeof(winLine{}))*cap(w.lines) + int(unsafe.Sizeof(winMark{}))*cap(w.marks)
}
