package correlate

import "unsafe"

// Applying an event on a large state is mostly waiting for memory: its dedup slots, its
// observables' index slots and records, its situation. Apply therefore brings that state
// into cache ahead of the events, warmChunk events at a time, in a pipeline of prefetches
// that do not wait: each stage reads what the previous one brought in a chunk earlier and
// prefetches the next link of the chain for a later chunk. While chunk c is applied:
//
//	warmKeys  (c+3) prefetches the dedup slots and the observables' index slots,
//	warmIndex (c+2) reads those slots and prefetches the candidate observable records,
//	warmRecs  (c+1) confirms the candidates (e.obsI) and prefetches the situations,
//	warmSits  (c)   prefetches the situations' newest member and first contributor.
//
// Nothing here changes the state; e.obsI only saves add a lookup (noNode: look again).

// warmChunk is how many events a stage handles at once: enough independent prefetches to
// keep the memory system busy, few enough that what they bring in is still in cache when
// the events are applied.
const warmChunk = 64

// warmLag is how many chunks ahead of the events the first stage runs.
const warmLag = 3

// warmStart runs the stages for the first chunks of the batch.
func (e *Engine) warmStart() {
	n := e.chunks()
	for c := range min(warmLag, n) {
		e.warmKeys(c)
	}
	for c := range min(warmLag-1, n) {
		e.warmIndex(c)
	}
	if n > 0 {
		e.warmRecs(0)
	}
}

// warm runs the stages due when the events of chunk c are about to be applied.
func (e *Engine) warm(c int) {
	n := e.chunks()
	if c+warmLag < n {
		e.warmKeys(c + warmLag)
	}
	if c+2 < n {
		e.warmIndex(c + 2)
	}
	if c+1 < n {
		e.warmRecs(c + 1)
	}
	e.warmSits(c)
}

func (e *Engine) chunks() int { return (len(e.pre) + warmChunk - 1) / warmChunk }

// chunk returns the events of chunk c and the span of their observables in e.obsK.
func (e *Engine) chunk(c int) (pre []prepared, off, end uint32) {
	pre = e.pre[c*warmChunk : min((c+1)*warmChunk, len(e.pre))]
	return pre, pre[0].off, pre[len(pre)-1].end
}

func (e *Engine) warmKeys(c int) {
	_, off, end := e.chunk(c)
	addrs := e.addrs[:0]
	for _, k := range e.obsK[off:end] {
		addrs = append(addrs, e.obsIdx.slotAddr(k))
	}
	prefetchAll(addrs)
	e.addrs = addrs
}

func (e *Engine) warmIndex(c int) {
	_, off, end := e.chunk(c)
	addrs := e.addrs[:0]
	for j, k := range e.obsK[off:end] {
		idx := e.obsIdx.candidate(k)
		e.obsI[int(off)+j] = idx
		if idx != noNode {
			r := uintptr(unsafe.Pointer(e.obs.at(idx)))
			addrs = appendLines(addrs, r, unsafe.Sizeof(obsRec{}))
		}
	}
	prefetchAll(addrs)
	e.addrs = addrs
}

func (e *Engine) warmRecs(c int) {
	pre, off, end := e.chunk(c)
	addrs := e.addrs[:0]
	for j, k := range e.obsK[off:end] {
		idx := e.obsI[int(off)+j]
		if idx == noNode {
			continue
		}
		ob := e.obs.at(idx)
		if ob.key != tableKey(k) {
			if idx, ok := e.obsIdx.get(k); ok {
				e.obsI[int(off)+j] = idx
			} else {
				e.obsI[int(off)+j] = noNode
			}
		} else if ob.more != 0 { // popular observables: their further contributors
			addrs = append(addrs, uintptr(unsafe.Pointer(&e.cblocks[ob.more])))
		}
	}
	for i := range pre {
		p := &pre[i]
		addrs = e.ids.slotAddrs(addrs, p.idk)
		addrs = e.fps.slotAddrs(addrs, p.fp)
	}
	// The situation of each event's first linked observable.
	const sitSize = unsafe.Sizeof(sitData{})
	for i := range pre {
		p := &pre[i]
		if di := e.firstSit(p); di != noNode {
			addrs = appendLines(addrs, uintptr(unsafe.Pointer(e.sits.at(di))), sitSize)
		}
	}
	prefetchAll(addrs)
	e.addrs = addrs
}

func (e *Engine) warmSits(c int) {
	pre, _, _ := e.chunk(c)
	addrs := e.addrs[:0]
	for i := range pre {
		if di := e.firstSit(&pre[i]); di != noNode {
			d := e.sits.at(di)
			if d.idsTail != 0 {
				addrs = append(addrs, uintptr(unsafe.Pointer(e.members.at(d.idsTail))))
			}
			if d.contribs != 0 {
				addrs = append(addrs, uintptr(unsafe.Pointer(e.links.at(d.contribs))))
			}
		}
	}
	prefetchAll(addrs)
	e.addrs = addrs
}

// appendLines appends the address of each cache line that the n bytes at r overlap.
func appendLines(addrs []uintptr, r, n uintptr) []uintptr {
	for a := r &^ 63; a < r+n; a += 64 {
		addrs = append(addrs, a)
	}
	return addrs
}

// firstSit returns the situation of the event's first linked observable, as far as warm
// knows, or noNode.
func (e *Engine) firstSit(p *prepared) uint32 {
	for _, idx := range e.obsI[p.off:p.end] {
		if idx == noNode {
			continue
		}
		n := e.obs.at(idx).sit
		if n >= hubOrphan {
			continue
		}
		for e.parent[n] != n { // no path halving: warm changes nothing
			n = e.parent[n]
		}
		return e.nodeData[n]
	}
	return noNode
}
