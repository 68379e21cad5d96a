package correlate

import (
	"math"
	"time"

	"github.com/cidcc/cop/internal/event"
)

// obsRec is one tracked observable: its corroboration and the situation it links.
// Corroboration is the set of contributors that reported it, each with the highest
// confidence it reported: the first obsInline contributors (with ids below 255) are kept
// inline, so a report costs no walk and no extra cache miss; the rest go to a chain of
// contribBlocks, each one half cache line.
type obsRec struct {
	key   uint64 // its key in Engine.obsIdx; 0 for a free entry
	val   strRef
	sit   uint32 // situation node it links (noNode until linked, hubOrphan)
	first uint32 // Unix seconds of the earliest observation
	last  uint32
	next  uint32           // next observable of the same situation (or free, or orphan)
	more  uint32           // chain of further {contributor, confidence} in Engine.cblocks
	cid   [obsInline]uint8 // contributor id + 1; 0 is a free entry
	conf  [obsInline]uint8 // its highest confidence, 0–100
	links uint16           // how many times it glued otherwise separate observables (hub count)
	typ   event.ObservableType
	hub   bool
}

// obsInline is how many contributors an observable keeps inline; 4 fills obsRec to 48 bytes.
const obsInline = 4

// hubOrphan is the situation of a hub observable whose situation retired while the hub
// was still being reported: it belongs to no situation and ages on its own.
const hubOrphan = noNode - 1

// contribBlock holds further contributors of an observable: id + 1 (0 is free) and the
// highest confidence of each.
type contribBlock struct {
	cid  [5]uint32
	conf [5]uint8
	next uint32
}

// link is an entry of a singly-linked chain in Engine.links: set members of a situation
// (contributors, countries, sectors, techniques, releasability), an observable's
// contributors, or a situation's first observables.
type link struct {
	item uint32
	aux  uint32 // contributors: confidence 0–100 | anonBit | false positives << fpShift
	next uint32
}

const anonBit = 1 << 8

// A contributor's link keeps the highest count of false-positive sightings it gave any
// member (event.Event.FalsePositives, capped at fpMax) in the bits above fpShift.
const (
	fpShift = 16
	fpMax   = 0xff
)

// auxFP is the false-positive count of contributor link aux.
func auxFP(aux uint32) uint32 { return aux >> fpShift & fpMax }

// member is one of the newest event ids of a situation, oldest first. An id of 32
// lowercase hex digits (event.NewID) is kept as its 16 bytes; a shorter id as is; a
// longer one in the arena.
type member struct {
	seq  uint64
	id   [16]byte
	next uint32
	n    uint16 // length of a raw id, or memberHex or memberArena
}

const (
	memberHex   = 0xffff
	memberArena = 0xfffe
)

// sitData is the aggregate state of a live situation. Fields are ordered by size so
// that the record has no padding.
type sitData struct {
	version uint64
	first   int64 // ObservedAt, Unix ns
	last    int64
	bestAt  int64 // the most severe member (ties: earliest, then smallest id hash)
	bestIDH uint64
	fed     int64 // processing time of its last event, Unix ns
	// Countries, sectors and techniques: words with ids below 64 as bits, others in chains.
	countryBits, sectorBits, techBits uint64

	evid    float64 // effective evidence: Σ (confidence − against) × reliability over distinct contributors (evidence)
	score   float64 // last reported
	updated int64
	title   strRef

	node                                     uint32
	events                                   uint32
	contribs, countries, sectors, techs, rel uint32 // chains
	names                                    uint32 // chain of the stated names, words "kind:name"
	idsHead, idsTail                         uint32
	critWord                                 uint32 // word id + 1 of the most critical sector
	category                                 uint32 // word id + 1 of the category (a taxonomy class); 0 for none
	nextCheck                                uint32 // Unix second before which Tick cannot see a change over the threshold
	ownHead, ownTail                         uint32 // every observable it links, chained by obsRec.next
	nodeTail                                 uint32 // last node of its union-find tree (Engine.nodeNext)
	place                                    uint32 // its geolocation in Engine.places; 0 for none
	qpos                                     uint32 // position of its latest entry in Engine.queue
	epoch                                    uint32 // batch that last touched it
	delta                                    int32  // its delta in the current batch

	scope  uint16
	types  uint16 // observable types seen, for the lifetime
	nids   uint16
	ncontr uint16
	sev    event.Severity
	tlp    event.TLP
	kind   event.Kind
	flags  uint8
}

// place is the geolocation of a situation: that of its best member with one, in the
// order its title is chosen by (better: most severe, then earliest, then smallest id
// hash), so that a situation titled after a report from one country is placed where that
// report is, not where an earlier, lesser one was (issue 19).
type place struct {
	at       int64
	idh      uint64
	lat, lon float64
	sev      event.Severity
}

const (
	flagLive = 1 << iota
	flagRelSet
	flagRelNone
	flagPublished // has been in a batch's deltas: consumers know it
)

func unixSec(t time.Time) uint32 { return clampSec(t.Unix()) }

// unixSecNs returns the Unix second of the Unix nanosecond ns, clamped to uint32.
func unixSecNs(ns int64) uint32 { return clampSec(ns / int64(time.Second)) }

func clampSec(s int64) uint32 {
	if s < 0 {
		return 0
	}
	if s > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(s)
}

func (e *Engine) newLink(item, aux, next uint32) uint32 {
	if i := e.freeLink; i != 0 {
		e.freeLink = e.links.at(i).next
		*e.links.at(i) = link{item, aux, next}
		return i
	}
	return e.links.add(link{item, aux, next})
}

func (e *Engine) freeLinkEntry(i uint32) {
	*e.links.at(i) = link{next: e.freeLink}
	e.freeLink = i
}

// add links a new (non-duplicate) event and returns its situation node.
// idk is the event id's dedup key, hashString(seedID^scopeHash, ev.ID).
func (e *Engine) add(ev *event.Event, scope uint16, idk uint64, obsH, obsK []uint64, obsI []uint32) uint32 {
	e.seq++
	ci := e.contributor(ev.Contributor)
	conf := uint32(min(ev.Confidence, 100))
	sec := unixSec(ev.ObservedAt)

	e.refs = e.refs[:0]
	for j, o := range ev.Observables {
		idx := obsI[j]
		if idx == noNode {
			var ok bool
			if idx, ok = e.obsIdx.get(obsK[j]); !ok {
				idx = e.newObs(o, obsH[j], obsK[j])
			}
		}
		e.corroborate(idx, ci, conf, sec)
		e.refs = append(e.refs, idx)
	}

	roots, fresh := e.linkRoots()
	if len(roots) > 1 || (len(roots) > 0 && fresh) {
		// Every existing observable of the event glues something new to its situation.
		hubbed := false
		for _, idx := range e.refs {
			ob := e.obs.at(idx)
			if ob.hub || ob.sit == noNode {
				continue
			}
			ob.links++
			if uint32(ob.links) > e.hubK {
				ob.hub = true
				e.c.HubObservables++
				hubbed = true
			}
		}
		if hubbed {
			roots, _ = e.linkRoots()
		}
	}

	var target uint32
	if len(roots) == 0 {
		target = e.newSituation(scope)
	} else {
		target = roots[0]
		for _, r := range roots[1:] {
			target = min(target, r)
		}
		for _, r := range roots {
			if r != target {
				e.merge(target, r)
			}
		}
	}
	d := e.sits.at(e.nodeData[target])
	for j, idx := range e.refs {
		ob := e.obs.at(idx)
		d.types |= 1 << ob.typ
		if ob.typ == event.ObsCVE {
			// A CVE links no situations (event.ObservableType.Identifies), but the
			// situation names it, as a word without a kind: render names it a
			// "vulnerability", and campaigns group on it with the sector.
			d.names = e.addWord(d.names, e.word(ev.Observables[j].Value))
		}
		if ob.sit == noNode {
			ob.sit = target
			ob.next = noNode
			if d.ownTail == noNode {
				d.ownHead = idx
			} else {
				e.obs.at(d.ownTail).next = idx
			}
			d.ownTail = idx
		} else if !ob.hub {
			ob.sit = target
		}
	}
	idh := idk // hashString(seedID, ev.ID) when the scope hash is 0
	if e.scopeHash[scope] != 0 {
		idh = hashString(seedID, ev.ID)
	}
	e.addEvent(d, ev, ci, conf, idh)
	e.touch(target)
	return target
}

// linkRoots returns the distinct situations the event's linking observables belong to and
// whether it has observables not yet in any situation.
func (e *Engine) linkRoots() ([]uint32, bool) {
	roots := e.roots[:0]
	fresh := false
	for _, idx := range e.refs {
		ob := e.obs.at(idx)
		if ob.hub {
			continue
		}
		if ob.sit == noNode {
			fresh = true
			continue
		}
		r := e.find(ob.sit)
		if e.nodeData[r] == noNode {
			panic("BUG: observable of a retired situation")
		}
		seen := false
		for _, x := range roots {
			if x == r {
				seen = true
				break
			}
		}
		if !seen {
			roots = append(roots, r)
		}
	}
	e.roots = roots
	return roots, fresh
}

func (e *Engine) newObs(o event.Observable, h0, k uint64) uint32 {
	rec := obsRec{key: tableKey(k), sit: noNode, next: noNode, val: e.arena.add(o.Value), typ: o.Type, first: math.MaxUint32}
	if _, common := e.common[h0]; common || !o.Type.Identifies() {
		rec.hub = true // links nothing, from the start
		e.c.HubObservables++
	}
	var idx uint32
	if idx = e.freeObs; idx != noNode {
		e.freeObs = e.obs.at(idx).next
		*e.obs.at(idx) = rec
	} else {
		idx = e.obs.add(rec)
	}
	e.obsIdx.put(k, idx)
	e.c.Observables++
	return idx
}

// corroborate records that contributor ci reported observable idx with confidence conf.
// A contributor's confidence for an observable is the highest it reported.
func (e *Engine) corroborate(idx, ci, conf, sec uint32) {
	ob := e.obs.at(idx)
	ob.first = min(ob.first, sec)
	ob.last = max(ob.last, sec)
	if ci < 255 {
		c := uint8(ci + 1)
		for k, x := range ob.cid {
			if x == c {
				ob.conf[k] = max(ob.conf[k], uint8(conf))
				return
			}
			if x == 0 {
				ob.cid[k], ob.conf[k] = c, uint8(conf)
				return
			}
		}
	}
	last := uint32(0)
	for i := ob.more; i != 0; i = e.cblocks[i].next {
		b := &e.cblocks[i]
		for k, x := range b.cid {
			if x == ci+1 {
				b.conf[k] = max(b.conf[k], uint8(conf))
				return
			}
			if x == 0 {
				b.cid[k], b.conf[k] = ci+1, uint8(conf)
				return
			}
		}
		last = i
	}
	nb := contribBlock{cid: [5]uint32{ci + 1}, conf: [5]uint8{uint8(conf)}}
	h := e.freeCB
	if h != 0 {
		e.freeCB = e.cblocks[h].next
		e.cblocks[h] = nb
	} else {
		e.cblocks = append(e.cblocks, nb)
		h = uint32(len(e.cblocks) - 1)
	}
	if last == 0 {
		e.obs.at(idx).more = h
	} else {
		e.cblocks[last].next = h
	}
}

// find returns the root of node, halving the path on the way.
func (e *Engine) find(n uint32) uint32 {
	p := e.parent
	for p[n] != n {
		p[n] = p[p[n]]
		n = p[n]
	}
	return n
}

func (e *Engine) newSituation(scope uint16) uint32 {
	node := e.newNode()
	d := sitData{
		node: node, scope: scope, flags: flagLive,
		first: math.MaxInt64, last: math.MinInt64,
		ownHead: noNode, ownTail: noNode, nodeTail: node,
	}
	var di uint32
	if n := len(e.freeSit); n > 0 {
		di = e.freeSit[n-1]
		e.freeSit = e.freeSit[:n-1]
		*e.sits.at(di) = d
	} else {
		di = e.sits.add(d)
	}
	e.nodeData[node] = di
	e.c.Situations++
	return node
}

// newNode returns a union-find node that is its own root and its tree's only node.
func (e *Engine) newNode() uint32 {
	n := e.freeNode
	if n != noNode {
		e.freeNode = e.nodeNext[n]
	} else {
		n = uint32(len(e.parent))
		e.parent = append(e.parent, n)
		e.nodeData = append(e.nodeData, noNode)
		e.nodeGen = append(e.nodeGen, 0)
		e.nodeNext = append(e.nodeNext, noNode)
	}
	e.parent[n], e.nodeNext[n] = n, noNode
	return n
}

// touch marks the situation of root node as changed by the batch and moves it to the
// young end of the retirement order.
func (e *Engine) touch(node uint32) {
	di := e.nodeData[node]
	d := e.sits.at(di)
	d.fed = e.applying
	if d.epoch != e.epoch {
		d.epoch = e.epoch
		e.touched = append(e.touched, node)
		e.enqueue(di)
	}
}
