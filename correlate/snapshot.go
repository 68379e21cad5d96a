package correlate

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"unsafe"
)

// Snapshot format: the magic, a format version, then every slab of the state as raw
// little-endian memory (each prefixed with its length and element size, so a change of
// layout is detected), the dictionaries and arena as length-prefixed bytes, the dedup
// windows oldest entry first, and a CRC-32C of everything before it.

const (
	snapshotMagic   = "COPCORR\x00"
	snapshotVersion = 13      // 10: situations keep their evidence, not their confidence; 11: and their stated names; 12: contributors their false positives; 13: a place keeps its member's severity
	maxSnapshotLen  = 1 << 34 // elements in one slab: refuses absurd lengths early
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func littleEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}

type snapWriter struct {
	w   *bufio.Writer
	crc hash.Hash32
	err error
	buf [8]byte
}

func (s *snapWriter) write(p []byte) {
	if s.err != nil {
		return
	}
	s.crc.Write(p)
	_, s.err = s.w.Write(p)
}

func (s *snapWriter) u64(x uint64) {
	binary.LittleEndian.PutUint64(s.buf[:], x)
	s.write(s.buf[:])
}

func (s *snapWriter) str(x string) {
	writeSlice(s, unsafe.Slice(unsafe.StringData(x), len(x)))
}

func writeSlice[T any](s *snapWriter, xs []T) {
	var zero T
	s.u64(uint64(len(xs)))
	s.u64(uint64(unsafe.Sizeof(zero)))
	if len(xs) > 0 {
		s.write(unsafe.Slice((*byte)(unsafe.Pointer(&xs[0])), len(xs)*int(unsafe.Sizeof(zero))))
	}
}

// writeSlab writes a slab in writeSlice's format.
func writeSlab[T any](s *snapWriter, xs *slab[T]) {
	var zero T
	s.u64(uint64(xs.n))
	s.u64(uint64(unsafe.Sizeof(zero)))
	for p, left := 0, xs.n; left > 0; p++ {
		page := xs.pages[p][:min(left, slabPageSize)]
		s.write(unsafe.Slice((*byte)(unsafe.Pointer(&page[0])), len(page)*int(unsafe.Sizeof(zero))))
		left -= len(page)
	}
}

// Snapshot writes the engine's whole state to w, so that Restore resumes exactly where
// it stopped: the same input then yields the same output.
func (e *Engine) Snapshot(w io.Writer) error {
	if !littleEndian() {
		return fmt.Errorf("cannot write snapshot: %w: big-endian host", ErrSnapshotVersion)
	}
	s := &snapWriter{w: bufio.NewWriterSize(w, 1<<16), crc: crc32.New(castagnoli)}
	s.write([]byte(snapshotMagic))
	s.u64(snapshotVersion)
	s.u64(e.seq)
	s.u64(uint64(e.epoch))
	writeSlice(s, []Counters{e.c})
	for _, x := range [...]uint32{e.freeLink, e.freeMembr, e.freeObs, e.orphans, e.freeCB, e.freeNode, e.freePlace} {
		s.u64(uint64(x))
	}
	s.u64(uint64(e.arena.live))
	for _, d := range []*dict{&e.scopes, &e.contribs, &e.words} {
		s.u64(uint64(len(d.names)))
		for _, n := range d.names {
			s.str(n)
		}
	}
	s.u64(uint64(len(e.arena.blocks)))
	for _, b := range e.arena.blocks {
		writeSlice(s, b)
	}
	writeSlice(s, e.obsIdx.slots)
	writeSlab(s, &e.obs)
	writeSlice(s, e.cblocks)
	writeSlab(s, &e.links)
	writeSlab(s, &e.members)
	writeSlice(s, e.parent)
	writeSlice(s, e.nodeData)
	writeSlice(s, e.nodeGen)
	writeSlice(s, e.nodeNext)
	writeSlab(s, &e.sits)
	writeSlice(s, e.freeSit)
	writeSlab(s, &e.places)
	writeSlice(s, e.queue[e.qHead:])
	s.u64(e.qBase + uint64(e.qHead))
	for _, win := range []*window{&e.ids, &e.fps} {
		s.u64(uint64(win.n()))
		win.entries(func(k uint64, v, aux, at uint32) {
			s.u64(k)
			s.u64(uint64(at))
			s.u64(uint64(v) | uint64(aux)<<32)
		})
	}
	if s.err == nil {
		binary.LittleEndian.PutUint32(s.buf[:4], s.crc.Sum32())
		_, s.err = s.w.Write(s.buf[:4])
	}
	if s.err == nil {
		s.err = s.w.Flush()
	}
	if s.err != nil {
		return fmt.Errorf("cannot write snapshot: %w", s.err)
	}
	return nil
}

type snapReader struct {
	r   io.Reader
	crc hash.Hash32
	err error
	buf [8]byte
}

func (s *snapReader) read(p []byte) {
	if s.err != nil {
		return
	}
	if _, err := io.ReadFull(s.r, p); err != nil {
		s.err = fmt.Errorf("%w: truncated (%v)", ErrSnapshotFormat, err)
		return
	}
	s.crc.Write(p)
}

func (s *snapReader) u64() uint64 {
	s.read(s.buf[:])
	if s.err != nil {
		return 0
	}
	return binary.LittleEndian.Uint64(s.buf[:])
}

func (s *snapReader) fail(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf("%w: "+format, append([]any{ErrSnapshotFormat}, args...)...)
	}
}

// count reads a length and checks it against max.
func (s *snapReader) count(max uint64) int {
	n := s.u64()
	if n > max {
		s.fail("length %d over %d", n, max)
		return 0
	}
	return int(n)
}

func (s *snapReader) str() string {
	b := readSliceN[byte](s, maxArenaString)
	return string(b)
}

func readSlice[T any](s *snapReader) []T { return readSliceN[T](s, maxSnapshotLen) }

// readSlab reads a slab written by writeSlab a page at a time, so a damaged length cannot
// make it allocate much more than the input holds.
func readSlab[T any](s *snapReader, xs *slab[T]) {
	var zero T
	n := s.count(maxSnapshotLen)
	size := s.u64()
	if s.err != nil {
		return
	}
	if size != uint64(unsafe.Sizeof(zero)) {
		s.err = fmt.Errorf("%w: element size %d, this engine has %d", ErrSnapshotVersion, size, unsafe.Sizeof(zero))
		return
	}
	*xs = slab[T]{}
	for xs.n < n && s.err == nil {
		page := make([]T, slabPageSize)
		k := min(n-xs.n, slabPageSize)
		s.read(unsafe.Slice((*byte)(unsafe.Pointer(&page[0])), k*int(size)))
		xs.pages = append(xs.pages, page)
		xs.n += k
	}
}

// readSliceN reads a slab written by writeSlice, allocating as the data arrives so a
// damaged length cannot make it allocate more than the input holds.
func readSliceN[T any](s *snapReader, limit uint64) []T {
	var zero T
	n := s.count(limit)
	size := s.u64()
	if s.err != nil {
		return nil
	}
	if size != uint64(unsafe.Sizeof(zero)) {
		s.err = fmt.Errorf("%w: element size %d, this engine has %d", ErrSnapshotVersion, size, unsafe.Sizeof(zero))
		return nil
	}
	xs := make([]T, 0, min(n, 4096))
	for len(xs) < n && s.err == nil {
		chunk := min(n-len(xs), max(len(xs), 4096))
		start := len(xs)
		xs = append(xs, make([]T, chunk)...)
		s.read(unsafe.Slice((*byte)(unsafe.Pointer(&xs[start])), chunk*int(size)))
	}
	return xs
}

// Restore reads a snapshot written by Snapshot and returns an engine that continues from
// it with configuration cfg. Dedup window sizes and contributor reliabilities come from
// cfg; situations keep the evidence (and so the score) they had until their next change.
func Restore(r io.Reader, cfg Config) (*Engine, error) {
	e, err := restore(r, cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot restore engine: %w", err)
	}
	return e, nil
}

func restore(r io.Reader, cfg Config) (*Engine, error) {
	if !littleEndian() {
		return nil, fmt.Errorf("%w: big-endian host", ErrSnapshotVersion)
	}
	s := &snapReader{r: bufio.NewReaderSize(r, 1<<16), crc: crc32.New(castagnoli)}
	var magic [len(snapshotMagic)]byte
	s.read(magic[:])
	if s.err != nil || string(magic[:]) != snapshotMagic {
		return nil, fmt.Errorf("%w: bad magic", ErrSnapshotFormat)
	}
	if v := s.u64(); s.err == nil && v != snapshotVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrSnapshotVersion, v, snapshotVersion)
	}
	e := newEngine(cfg)
	e.obsIdx.obs = &e.obs
	e.ids.init(e.cfg.MaxEventIDs, true)
	e.fps.init(e.cfg.MaxFingerprints, false)
	e.seq = s.u64()
	e.epoch = uint32(s.u64())
	if c := readSliceN[Counters](s, 1); len(c) == 1 {
		e.c = c[0]
	} else {
		s.fail("counters missing")
	}
	for _, x := range [...]*uint32{&e.freeLink, &e.freeMembr, &e.freeObs, &e.orphans, &e.freeCB, &e.freeNode, &e.freePlace} {
		*x = uint32(s.u64())
	}
	e.arena.live = int(s.u64())
	e.scopes = dict{}
	e.scopeHash = nil
	for k := 0; k < 3 && s.err == nil; k++ {
		n := s.count(1 << 24)
		for i := 0; i < n && s.err == nil; i++ {
			name := s.str()
			switch k {
			case 0:
				e.scope(name)
			case 1:
				e.contributor(name)
			case 2:
				e.word(name)
			}
		}
	}
	nb := s.count(1 << 16)
	for i := 0; i < nb && s.err == nil; i++ {
		b := readSliceN[byte](s, arenaBlockSize)
		blk := make([]byte, len(b)) // the last one grows by append as add needs
		copy(blk, b)
		e.arena.blocks = append(e.arena.blocks, blk)
	}
	e.obsIdx.slots = readSlice[obsSlot](s)
	readSlab(s, &e.obs)
	e.cblocks = readSlice[contribBlock](s)
	readSlab(s, &e.links)
	readSlab(s, &e.members)
	e.parent = readSlice[uint32](s)
	e.nodeData = readSlice[uint32](s)
	e.nodeGen = readSlice[uint32](s)
	e.nodeNext = readSlice[uint32](s)
	readSlab(s, &e.sits)
	e.freeSit = readSlice[uint32](s)
	readSlab(s, &e.places)
	e.queue = readSlice[uint32](s)
	e.qBase = s.u64()
	for _, win := range []*window{&e.ids, &e.fps} {
		n := s.count(maxSnapshotLen)
		for i := 0; i < n && s.err == nil; i++ {
			k, at, v := s.u64(), uint32(s.u64()), s.u64()
			win.add(k, uint32(v), uint32(v>>32), at)
		}
	}
	if s.err != nil {
		return nil, s.err
	}
	want := s.crc.Sum32()
	var tail [4]byte
	if _, err := io.ReadFull(s.r, tail[:]); err != nil || binary.LittleEndian.Uint32(tail[:]) != want {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrSnapshotFormat)
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	return e, nil
}

// check verifies that every index in the restored state is in range, so that a snapshot
// from a buggy or hostile writer fails here rather than panicking later.
func (e *Engine) check() error {
	if err := e.checkObservableTable(); err != nil {
		return err
	}
	if e.links.len() == 0 || len(e.cblocks) == 0 || e.members.len() == 0 || len(e.parent) != len(e.nodeData) ||
		len(e.nodeGen) != len(e.parent) || len(e.nodeNext) != len(e.parent) || e.places.len() == 0 {
		return snapshotError("empty slabs")
	}
	if err := e.checkChains(); err != nil {
		return err
	}
	return e.checkSituations()
}

func snapshotError(what string) error { return fmt.Errorf("%w: %s", ErrSnapshotFormat, what) }

// in returns the range checks of a restored state's indexes.
func (e *Engine) in() (links, members, obs, nodes func(uint32) bool, ref func(strRef) bool) {
	links = func(i uint32) bool { return int(i) < e.links.len() }
	members = func(i uint32) bool { return int(i) < e.members.len() }
	obs = func(i uint32) bool { return i == noNode || int(i) < e.obs.len() }
	nodes = func(i uint32) bool { return i == noNode || int(i) < len(e.parent) }
	ref = func(r strRef) bool {
		b := int(r.off >> arenaBlockBits)
		return r.n == 0 || b < len(e.arena.blocks) && int(r.off&(arenaBlockSize-1))+int(r.n) <= len(e.arena.blocks[b])
	}
	return
}

// checkObservableTable checks the open-addressed observable index and recounts it.
func (e *Engine) checkObservableTable() error {
	n := len(e.obsIdx.slots)
	if n&(n-1) != 0 || n == 0 {
		return snapshotError(fmt.Sprintf("observable table size %d", n))
	}
	e.obsIdx.setSlots(e.obsIdx.slots)
	e.obsIdx.n = 0
	for j, sl := range e.obsIdx.slots {
		if sl.idx == 0 {
			continue
		}
		e.obsIdx.n++
		if int(sl.idx-1) >= e.obs.len() {
			return snapshotError("observable index out of range")
		}
		k := e.obs.at(sl.idx - 1).key
		if k == 0 || uint32(k) != sl.fp {
			return snapshotError("observable key mismatch")
		}
		// Every slot from its home to it is taken, or lookups would miss it.
		mask := uint64(n - 1)
		for i := e.obsIdx.home(k); i != uint64(j); i = (i + 1) & mask {
			if e.obsIdx.slots[i].idx == 0 {
				return snapshotError("observable table out of order")
			}
		}
	}
	if e.obsIdx.n*4 > n*3 {
		return snapshotError("observable table overfull")
	}
	return nil
}

// checkChains checks that every index held by an observable, node, block, link, member
// and free list is in range.
func (e *Engine) checkChains() error {
	inLinks, inMembers, inObs, inNodes, ref := e.in()
	for i := range uint32(e.obs.len()) {
		o := e.obs.at(i)
		if o.sit < hubOrphan && int(o.sit) >= len(e.parent) || int(o.more) >= len(e.cblocks) || !ref(o.val) || !inObs(o.next) {
			return snapshotError("observable state out of range")
		}
	}
	for _, n := range e.nodeNext {
		if !inNodes(n) {
			return snapshotError("node chain out of range")
		}
	}
	for _, b := range e.cblocks {
		if int(b.next) >= len(e.cblocks) {
			return snapshotError("contributor block out of range")
		}
	}
	for i := range uint32(e.links.len()) {
		if !inLinks(e.links.at(i).next) {
			return snapshotError("link out of range")
		}
	}
	for i := range uint32(e.members.len()) {
		m := e.members.at(i)
		if !inMembers(m.next) || m.n == memberArena && !ref(getRef(m.id[:])) ||
			m.n != memberHex && m.n != memberArena && int(m.n) > len(m.id) {
			return snapshotError("member out of range")
		}
	}
	if !inLinks(e.freeLink) || !inMembers(e.freeMembr) || !inObs(e.freeObs) || !inObs(e.orphans) ||
		int(e.freeCB) >= len(e.cblocks) || !inNodes(e.freeNode) || int(e.freePlace) >= e.places.len() {
		return snapshotError("free list out of range")
	}
	for i, k := e.freePlace, 0; i != 0; i, k = uint32(e.places.at(i).at), k+1 {
		if at := e.places.at(i).at; at < 0 || at >= int64(e.places.len()) || k > e.places.len() {
			return snapshotError("free places out of range")
		}
	}
	return nil
}

// checkSituations checks the situation nodes, the live situations and the queue.
func (e *Engine) checkSituations() error {
	inLinks, inMembers, inObs, _, ref := e.in()
	for i, p := range e.parent {
		if int(p) >= len(e.parent) || p == uint32(i) && e.nodeData[i] != noNode && int(e.nodeData[i]) >= e.sits.len() {
			return snapshotError("situation node out of range")
		}
	}
	for _, f := range e.freeSit {
		if int(f) >= e.sits.len() {
			return snapshotError("free situation out of range")
		}
	}
	for i := range uint32(e.sits.len()) {
		d := e.sits.at(i)
		if d.flags&flagLive == 0 {
			continue
		}
		for _, h := range []uint32{d.contribs, d.countries, d.sectors, d.techs, d.rel, d.names} {
			if !inLinks(h) {
				return snapshotError("situation chain out of range")
			}
		}
		if !inObs(d.ownHead) || !inObs(d.ownTail) || int(d.place) >= e.places.len() ||
			int(d.nodeTail) >= len(e.parent) ||
			!inMembers(d.idsHead) || !inMembers(d.idsTail) || int(d.node) >= len(e.parent) ||
			int(d.scope) >= len(e.scopes.names) || !ref(d.title) || d.category > uint32(len(e.words.names)) ||
			d.critWord > uint32(len(e.words.names)) ||
			len(e.words.names) < 64 && (d.countryBits|d.sectorBits|d.techBits)>>len(e.words.names) != 0 {
			return snapshotError("situation out of range")
		}
	}
	for _, di := range e.queue {
		if int(di) >= e.sits.len() {
			return snapshotError("queue out of range")
		}
	}
	return nil
}
