package correlate

import (
	"time"
	"unsafe"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

// Retirement keeps the engine's memory bounded on an endless stream. Live situations are
// kept in a queue ordered by the processing time of their last event (Engine.oldest). Tick retires those older than Config.RetireAfter; Apply retires the
// oldest when the state is over Config.MaxObservables or MaxSituations. Retiring frees
// everything the situation holds: its observables (each situation chains all it links),
// its union-find nodes (reused with a new generation, so ids never repeat), chains,
// members and arena strings.

// retiredRec is what the Removed delta of a retired situation needs once it is gone.
type retiredRec struct {
	id      string
	version uint64
	scope   uint16
	sev     event.Severity
	tlp     event.TLP
	kind    event.Kind
}

// enqueue records that situation di was touched: its newest entry in the queue is the
// only one that counts (sitData.qpos), earlier ones are skipped. Touching costs an append,
// not a visit to the neighbours' records as a linked list would.
func (e *Engine) enqueue(di uint32) {
	if live := len(e.queue) - e.qHead; live > 2*int(e.c.Situations)+4096 {
		e.compactQueue()
	} else if e.qHead > 4096 && e.qHead > len(e.queue)/2 {
		n := copy(e.queue, e.queue[e.qHead:])
		e.queue = e.queue[:n]
		e.qBase += uint64(e.qHead)
		e.qHead = 0
	}
	e.sits.at(di).qpos = uint32(e.qBase + uint64(len(e.queue)))
	e.queue = append(e.queue, di)
}

// valid reports whether the queue entry at index i is the latest of a live situation.
// Positions in the queue span less than 2³² (compactQueue), so 32 bits identify them.
func (e *Engine) valid(i int) bool {
	d := e.sits.at(e.queue[i])
	return d.flags&flagLive != 0 && d.qpos == uint32(e.qBase+uint64(i))
}

// compactQueue drops the entries that no longer count and renumbers the others.
func (e *Engine) compactQueue() {
	out := e.queue[:0]
	base := e.qBase + uint64(len(e.queue)) // new positions never met before
	for i := e.qHead; i < len(e.queue); i++ {
		if e.valid(i) {
			di := e.queue[i]
			e.sits.at(di).qpos = uint32(base + uint64(len(out)))
			out = append(out, di)
		}
	}
	e.queue, e.qHead, e.qBase = out, 0, base
}

// oldest returns the live situation touched longest ago, or noNode.
func (e *Engine) oldest() uint32 {
	for ; e.qHead < len(e.queue); e.qHead++ {
		if e.valid(e.qHead) {
			return e.queue[e.qHead]
		}
	}
	return noNode
}

// enforceCap retires the situations that have gone longest without an event, but none the
// current batch touched, until the state is within its caps.
func (e *Engine) enforceCap(now int64) {
	if e.c.Observables > uint64(e.cfg.MaxObservables) {
		// Orphaned hubs go first: they belong to no situation the cap could retire.
		for i := e.orphans; i != noNode; {
			next := e.obs.at(i).next
			e.dropObs(i)
			i = next
		}
		e.orphans = noNode
	}
	for e.c.Observables > uint64(e.cfg.MaxObservables) || e.c.Situations > uint64(e.cfg.MaxSituations) {
		di := e.oldest()
		if di == noNode || e.sits.at(di).epoch == e.epoch {
			return
		}
		e.retired = append(e.retired, e.retire(di, now))
		e.c.CapRetired++
	}
}

// retire forgets the live situation in sits slot di and everything it holds, and returns
// what its Removed delta needs. A hub observable still reported within the horizon
// outlives it as an orphan, so that it keeps not linking.
func (e *Engine) retire(di uint32, now int64) retiredRec {
	d := e.sits.at(di)
	rec := retiredRec{id: e.sitID(d.node), version: d.version + 1, scope: d.scope, sev: d.sev, tlp: d.tlp, kind: d.kind}
	for i := d.ownHead; i != noNode; {
		ob := e.obs.at(i)
		next := ob.next
		if ob.hub && !e.stale(ob, now) {
			ob.sit, ob.next = hubOrphan, e.orphans
			e.orphans = i
		} else {
			e.dropObs(i)
		}
		i = next
	}
	for n := d.node; n != noNode; {
		next := e.nodeNext[n]
		e.nodeGen[n]++
		e.parent[n], e.nodeData[n] = n, noNode
		e.nodeNext[n], e.freeNode = e.freeNode, n
		n = next
	}
	for _, h := range [...]uint32{d.contribs, d.countries, d.sectors, d.techs, d.rel, d.names} {
		e.freeChain(h)
	}
	for m := d.idsHead; m != 0; {
		next := e.members.at(m).next
		e.freeMember(m)
		m = next
	}
	e.arena.free(d.title)
	e.freePlaceEntry(d.place)
	*d = sitData{}
	e.freeSit = append(e.freeSit, di)
	e.c.Situations--
	e.c.Retired++
	return rec
}

// stale reports whether observable ob was last observed more than the horizon before now.
func (e *Engine) stale(ob *obsRec, now int64) bool {
	h := int64(e.cfg.RetireAfter)
	return h <= 0 || now/int64(time.Second)-int64(ob.last) > h/int64(time.Second)
}

// dropObs forgets observable i and frees its entry.
func (e *Engine) dropObs(i uint32) {
	ob := e.obs.at(i)
	if !e.obsIdx.del(ob.key) {
		panic("BUG: retired observable missing from the table")
	}
	if ob.hub {
		e.c.HubObservables--
	}
	for b := ob.more; b != 0; {
		next := e.cblocks[b].next
		e.cblocks[b] = contribBlock{next: e.freeCB}
		e.freeCB = b
		b = next
	}
	e.arena.free(ob.val)
	*ob = obsRec{sit: noNode, next: e.freeObs}
	e.freeObs = i
	e.c.Observables--
	e.c.RetiredObservables++
}

// sweepOrphans forgets the orphaned hub observables not reported within the horizon.
func (e *Engine) sweepOrphans(now int64) {
	p := &e.orphans
	for i := *p; i != noNode; i = *p {
		ob := e.obs.at(i)
		if e.stale(ob, now) {
			*p = ob.next
			e.dropObs(i)
		} else {
			p = &ob.next
		}
	}
}

// retiredDelta appends the Removed delta of a retired situation.
func (e *Engine) retiredDelta(ds *[]picture.Delta, rec *retiredRec, now int64) {
	dl := nextDelta(ds)
	dl.Removed = true
	dl.Situation.Contributors = nil // the same JSON whatever the slot held before
	dl.Situation.ID = rec.id
	dl.Situation.Version = rec.version
	dl.Situation.Exercise = e.scopes.names[rec.scope]
	dl.Situation.Kind, dl.Situation.Severity, dl.Situation.TLP = rec.kind, rec.sev, rec.tlp
	dl.Situation.UpdatedAt = time.Unix(0, now).UTC()
}

// compactMin is the arena size below which compactArena does not bother.
const compactMin = 4 * arenaBlockSize

// compactArena copies the strings still referred to into a fresh arena once at least half
// of the arena is dead. The old blocks are dropped, not reused: strings handed out
// earlier keep them alive until the garbage collector sees them unreferenced.
func (e *Engine) compactArena() {
	used := 0
	for _, b := range e.arena.blocks {
		used += len(b)
	}
	if used < compactMin || used < 2*e.arena.live {
		return
	}
	old := e.arena
	e.arena = arena{}
	move := func(r strRef) strRef { return e.arena.add(old.str(r)) }
	for i := range uint32(e.obs.len()) {
		if ob := e.obs.at(i); ob.key != 0 {
			ob.val = move(ob.val)
		}
	}
	for i := range uint32(e.sits.len()) {
		d := e.sits.at(i)
		if d.flags&flagLive == 0 {
			continue
		}
		d.title = move(d.title)
		for m := d.idsHead; m != 0; m = e.members.at(m).next {
			if mm := e.members.at(m); mm.n == memberArena {
				putRef(mm.id[:], move(getRef(mm.id[:])))
			}
		}
	}
}

// StateBytes returns the memory the engine's state holds: its tables, slabs, windows and
// arena, not the buffers of the last outputs.
func (e *Engine) StateBytes() int {
	n := int(e.obs.size(unsafe.Sizeof(obsRec{})) + e.links.size(unsafe.Sizeof(link{})) + e.places.size(unsafe.Sizeof(place{})) +
		e.members.size(unsafe.Sizeof(member{})) + e.sits.size(unsafe.Sizeof(sitData{})))
	n += cap(e.obsIdx.slots) * int(unsafe.Sizeof(obsSlot{}))
	n += cap(e.cblocks) * int(unsafe.Sizeof(contribBlock{}))
	n += 4 * (cap(e.parent) + cap(e.nodeData) + cap(e.nodeGen) + cap(e.nodeNext) + cap(e.freeSit) + cap(e.queue))
	n += e.arena.size()
	for _, w := range [...]*window{&e.ids, &e.fps} {
		n += w.bytes()
	}
	return n
}
