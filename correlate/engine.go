package correlate

import (
	"math"
	"slices"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

// Engine holds the correlation state of one correlator: the dedup windows, the observables
// and their corroboration, and the situations. It is not safe for concurrent use: the
// pipeline owns it and calls it from one goroutine.
//
// All state is kept in pointer-free slabs indexed by uint32 and in open-addressing tables
// keyed by 64-bit hashes, so the garbage collector has nothing to scan and steady-state
// Apply does not allocate.
type Engine struct {
	cfg        Config
	hubK       uint32
	common     map[uint64]struct{} // hashes of Config.Common, scope-independent
	lifetimeNs [event.ObsASN + 1]int64
	defaultTau int64
	flatAge    float64 // share of a lifetime under which decay is exactly 1
	recencyInv float64 // 1 / Config.RecencyHalfLife in ns
	instance   uint64

	scopes    dict // exercise names; id 0 is the real picture ("")
	scopeHash []uint64
	contribs  dict
	reliab    []float64
	words     dict // countries, sectors, techniques and releasability names
	wordCrit  []float32

	arena  arena
	ids    window   // event ids
	fps    window   // content fingerprints → situation node
	obsIdx obsTable // observable key → index into obs
	obs    slab[obsRec]

	freeObs   uint32         // free obs entries, chained by next; noNode ends
	orphans   uint32         // hub observables whose situation retired, chained by next
	cblocks   []contribBlock // observables' further contributors; index 0 is nil
	freeCB    uint32         // free contribBlocks, chained by next
	links     slab[link]     // set and list entries; index 0 is the nil entry
	freeLink  uint32
	members   slab[member] // newest event ids of each situation; index 0 is nil
	freeMembr uint32

	parent    []uint32 // union-find over situation nodes
	nodeData  []uint32 // node → index into sits, for live roots; noNode otherwise
	nodeGen   []uint32 // times the node was reused, part of its situation id
	nodeNext  []uint32 // the nodes of one tree, root first; free nodes; noNode ends
	freeNode  uint32
	sits      slab[sitData]
	freeSit   []uint32
	places    slab[place] // situations' geolocations; index 0 is nil
	freePlace uint32
	// queue holds sits indexes in the order they were last touched; entries superseded by
	// a later one, or of situations gone, are skipped (see Engine.oldest).
	queue []uint32
	qHead int
	qBase uint64 // position of queue[0]

	seq   uint64 // events added, orders each situation's event ids
	epoch uint32 // batches applied
	c     Counters

	// Per-batch scratch, reused.
	res       Result
	evNode    []uint32
	touched   []uint32
	merged    []mergeRec
	retired   []retiredRec // situations the cap retired in this Apply
	obsH      []uint64     // observable hashes of the whole batch
	obsK      []uint64     // their table keys (scoped)
	obsI      []uint32     // their indexes in obs when warm found them, else noNode
	pre       []prepared
	addrs     []uintptr // warm's prefetches
	refs      []uint32
	roots     []uint32
	geos      []event.Geo
	liveIDs   []string  // ids of the touched live situations, as in touched
	liveDecay []float64 // and their decay factors
	deltas    []picture.Delta
	applied   int64 // processing time of the last Apply
	applying  int64 // processing time of the Apply running
	pending   bool  // Deltas has not rendered the last Apply yet
	tick      []picture.Delta
	tickGeo   []event.Geo
	text      textBlock
}

// Result is what one Apply produced. It is owned by the engine and valid until the next
// Apply or Tick: its slices are reused. Strings in it stay valid and unchanged forever.
//
// The deltas of the batch are not built by Apply: Engine.Deltas materialises them, so a
// caller that needs no deltas (replaying history to rebuild state) does not pay for them.
type Result struct {
	// Events has exactly one entry per input event, in batch order.
	Events []Stored
	// Situations is how many situations the batch created, updated or absorbed: the
	// number of deltas Engine.Deltas returns for it.
	Situations int
}

// Stored says how to store one input event.
type Stored struct {
	// SituationID is the situation the event belongs to after the batch; "" only for an
	// exact redelivery (same event id), which was dropped.
	SituationID string
	// Duplicate is true for a redelivery or a content duplicate (the same report re-sent
	// under a new id by the same contributor within the dedup window).
	Duplicate bool
}

// Counters are running totals (and, for Situations, Observables, HubObservables, gauges)
// for metrics.
type Counters struct {
	Events              uint64 // input events, duplicates included
	Duplicates          uint64 // redeliveries and content duplicates
	ContentDuplicates   uint64 // of which content duplicates under a new id
	Situations          uint64 // live situations
	Merges              uint64 // situations absorbed by a bridging event
	EvictedIDs          uint64 // event ids forgotten (age or size) by the dedup window
	EvictedFingerprints uint64 // fingerprints forgotten (age or size)
	Observables         uint64 // distinct observables tracked
	HubObservables      uint64 // observables that link nothing: over K, common, or of a type that does not identify (event.ObservableType.Identifies)
	Batches             uint64 // calls to Apply
	Retired             uint64 // situations retired, by age (Config.RetireAfter) or by the cap
	CapRetired          uint64 // of which retired by Config.MaxObservables or MaxSituations
	RetiredObservables  uint64 // observables forgotten with their situation
}

const noNode = math.MaxUint32

type mergeRec struct {
	node    uint32
	scope   uint16
	pre     bool // existed before this batch, so consumers know it
	version uint64
	sev     event.Severity
	tlp     event.TLP
	kind    event.Kind
}

// New returns an empty engine.
func New(cfg Config) *Engine {
	e := newEngine(cfg)
	e.ids.init(e.cfg.MaxEventIDs, true)
	e.fps.init(e.cfg.MaxFingerprints, false)
	e.obsIdx.init(e.cfg.ExpectedObservables, &e.obs)
	e.links.add(link{})
	e.cblocks = make([]contribBlock, 1, 1024)
	e.members.add(member{})
	e.places.add(place{})
	e.freeObs, e.orphans, e.freeNode = noNode, noNode, noNode
	return e
}

func newEngine(cfg Config) *Engine {
	cfg = cfg.withDefaults()
	e := &Engine{cfg: cfg, hubK: uint32(min(cfg.HubThreshold, math.MaxUint16-1))}
	e.instance = hashString(seedScope, cfg.Instance)
	e.common = make(map[uint64]struct{}, len(cfg.Common))
	for _, o := range cfg.Common {
		e.common[obsHash(o)] = struct{}{}
	}
	for i, d := range cfg.Lifetime {
		e.lifetimeNs[i] = int64(d)
	}
	e.defaultTau = int64(cfg.DefaultLifetime)
	e.flatAge = flatAge(cfg.DecaySpeed)
	e.recencyInv = 1 / float64(cfg.RecencyHalfLife)
	e.scope("")
	return e
}

// Counters returns the running totals.
func (e *Engine) Counters() Counters { return e.c }

// Instance returns the Config.Instance the engine mints situation ids from: a snapshot
// of it must be restored with the same, or the situations it holds change ids.
func (e *Engine) Instance() string { return e.cfg.Instance }

// scope returns the interned id of an exercise ("" is the real picture).
func (e *Engine) scope(name string) uint16 {
	if name == "" && len(e.scopeHash) > 0 {
		return 0 // the real picture, interned first by newEngine: no lookup
	}
	id := e.scopes.id(name)
	for int(id) >= len(e.scopeHash) {
		h := uint64(0)
		if n := e.scopes.names[len(e.scopeHash)]; n != "" {
			h = hashString(seedScope, n)
		}
		e.scopeHash = append(e.scopeHash, h)
	}
	return uint16(id)
}

func (e *Engine) contributor(name string) uint32 {
	id := e.contribs.id(name)
	for int(id) >= len(e.reliab) {
		r, ok := e.cfg.Reliability[e.contribs.names[len(e.reliab)]]
		if !ok {
			r = e.cfg.DefaultReliability
		}
		e.reliab = append(e.reliab, min(max(r, 0), 1))
	}
	return id
}

func (e *Engine) word(s string) uint32 {
	id := e.words.id(s)
	for int(id) >= len(e.wordCrit) {
		c, ok := e.cfg.SectorCriticality[e.words.names[len(e.wordCrit)]]
		if !ok {
			c = e.cfg.DefaultCriticality
		}
		e.wordCrit = append(e.wordCrit, float32(c))
	}
	return id
}

// Apply processes batch in order at processing time now. The returned *Result is owned by
// the engine and valid until the next Apply or Tick (buffers are reused).
func (e *Engine) Apply(batch []event.Event, now time.Time) *Result {
	e.epoch++
	e.c.Batches++
	nowNs := now.UnixNano()
	e.applying = nowNs
	clear(e.res.Events) // pins no old text block
	e.res.Events = e.res.Events[:0]
	e.pending = false
	e.evNode = e.evNode[:0]
	e.touched = e.touched[:0]
	e.merged = e.merged[:0]
	e.retired = e.retired[:0]
	cutoff := nowNs - int64(e.cfg.DedupWindow)
	e.c.EvictedIDs += e.ids.expire(unixSecNs(cutoff))
	e.c.EvictedFingerprints += e.fps.expire(unixSecNs(cutoff))
	sec := unixSecNs(nowNs)

	e.prepare(batch)
	e.warmStart()
	for i := range batch {
		if i%warmChunk == 0 {
			e.warm(i / warmChunk)
		}
		ev := &batch[i]
		e.c.Events++
		p := e.pre[i]
		scope, idk, fp := p.scope, p.idk, p.fp
		dup, evicted := e.ids.addNew(idk, sec)
		if dup {
			e.c.Duplicates++
			e.res.Events = append(e.res.Events, Stored{Duplicate: true})
			e.evNode = append(e.evNode, noNode)
			continue
		}
		e.c.EvictedIDs += evicted
		node, gen, dup, free := e.fps.lookupFree(fp)
		if dup {
			e.c.Duplicates++
			e.c.ContentDuplicates++
			if gen != e.nodeGen[node] {
				// The situation the original joined has been retired and its node reused.
				e.res.Events = append(e.res.Events, Stored{Duplicate: true, SituationID: e.sitIDGen(node, gen)})
				e.evNode = append(e.evNode, noNode)
				continue
			}
			e.res.Events = append(e.res.Events, Stored{Duplicate: true})
			e.evNode = append(e.evNode, node)
			continue
		}
		node = e.add(ev, scope, idk, e.obsH[p.off:p.end], e.obsK[p.off:p.end], e.obsI[p.off:p.end])
		e.c.EvictedFingerprints += e.fps.addAt(free, fp, node, e.nodeGen[node], sec)
		e.res.Events = append(e.res.Events, Stored{})
		e.evNode = append(e.evNode, node)
	}
	e.finish(nowNs)
	e.enforceCap(nowNs)
	e.res.Situations += len(e.retired)
	e.compactArena()
	return &e.res
}

// prepared holds what Apply computes about an event before changing any state.
type prepared struct {
	idk, fp  uint64
	off, end uint32 // its observables' hashes in Engine.obsH
	scope    uint16
}

// prepare hashes the batch without changing any state.
func (e *Engine) prepare(batch []event.Event) {
	e.pre = e.pre[:0]
	e.obsH = e.obsH[:0]
	e.obsK = e.obsK[:0]
	for i := range batch {
		ev := &batch[i]
		scope := e.scope(ev.Exercise)
		sh := e.scopeHash[scope]
		off := len(e.obsH)
		idk := hashString(seedID^sh, ev.ID)
		fp := e.fingerprint(ev, sh)
		for _, h0 := range e.obsH[off:] {
			e.obsK = append(e.obsK, fmix(h0^sh))
		}
		e.pre = append(e.pre, prepared{idk: idk, fp: fp, off: uint32(off), end: uint32(len(e.obsH)), scope: scope})
	}
	e.obsI = slices.Grow(e.obsI[:0], len(e.obsK))[:len(e.obsK)]
}

// fingerprint hashes what makes two reports the same report: everything but the ids and
// the time of reception. It appends each observable's hash to e.obsH. Strings are folded
// into one running hash, each with its length, lists with theirs, and finalised once.
func (e *Engine) fingerprint(ev *event.Event, sh uint64) uint64 {
	h := foldString(seedFP^sh, ev.Contributor)
	h = hashU64(h, uint64(ev.Kind)|uint64(ev.Severity)<<8|uint64(ev.Confidence)<<16|uint64(ev.TLP)<<24)
	if ev.Anonymise {
		h = hashU64(h, 1)
	}
	h = hashU64(h, uint64(ev.ObservedAt.UnixNano()))
	if !ev.ValidUntil.IsZero() {
		h = hashU64(h, uint64(ev.ValidUntil.UnixNano()))
	}
	h = foldString(h, ev.Title)
	h = foldString(h, ev.Summary)
	h = foldString(h, ev.Category)
	var sum uint64 // order-independent
	for _, o := range ev.Observables {
		oh := obsHash(o)
		e.obsH = append(e.obsH, oh)
		sum += fmix(oh)
	}
	h = hashU64(h, sum)
	for k, list := range [...][]string{ev.Sectors, ev.Countries, ev.Techniques, ev.ReleasableTo} {
		h = hashU64(h, uint64(k+4)|uint64(len(list))<<8)
		for _, s := range list {
			h = foldString(h, s)
		}
	}
	if ev.Geo != nil {
		h = hashU64(h, math.Float64bits(ev.Geo.Lat))
		h = hashU64(h, math.Float64bits(ev.Geo.Lon))
	}
	return fmix(h)
}

func obsHash(o event.Observable) uint64 {
	return hashString(seedObs+uint64(o.Type), o.Value)
}

// finish resolves the batch's situation ids and brings the touched situations to their
// new version and score; Deltas renders them.
func (e *Engine) finish(now int64) {
	live := e.touched[:0]
	clear(e.liveIDs)
	e.liveIDs = e.liveIDs[:0]
	e.liveDecay = e.liveDecay[:0]
	for _, n := range e.touched {
		if e.parent[n] != n {
			continue // absorbed later in the batch
		}
		d := e.sits.at(e.nodeData[n])
		d.version++
		d.updated = now
		d.flags |= flagPublished
		e.liveDecay = append(e.liveDecay, e.rescore(d, now))
		d.delta = int32(len(live))
		live = append(live, n)
		e.liveIDs = append(e.liveIDs, e.sitID(n))
	}
	e.touched = live
	for i, n := range e.evNode {
		if n == noNode {
			continue
		}
		r := e.find(n)
		if di := e.nodeData[r]; di != noNode && e.sits.at(di).epoch == e.epoch {
			e.res.Events[i].SituationID = e.liveIDs[e.sits.at(di).delta]
		} else {
			e.res.Events[i].SituationID = e.sitID(r)
		}
	}
	e.res.Situations = len(live)
	for _, m := range e.merged {
		if m.pre {
			e.res.Situations++
		}
	}
	e.applied = now
	e.pending = true
}

// Deltas returns the deltas of the last Apply: one per situation it touched, with its
// latest state (created or updated situations, MergedFrom naming those absorbed in the
// batch), then one Removed delta per absorbed situation. It builds them on the first call
// after an Apply; later calls return the same slice. The slice is owned by the engine and
// valid until the next Apply (Tick does not reuse it); strings in it stay valid forever.
//
// Call it before Tick: Tick changes situations, so it materialises pending deltas first.
func (e *Engine) Deltas() []picture.Delta {
	if !e.pending {
		return e.deltas
	}
	e.pending = false
	now := e.applied
	e.deltas = e.deltas[:0]
	for i, n := range e.touched {
		d := e.sits.at(e.nodeData[n])
		dl := nextDelta(&e.deltas)
		e.render(d, e.liveIDs[i], e.liveDecay[i], &dl.Situation, &e.geos, i)
	}
	for _, m := range e.merged {
		if !m.pre {
			continue
		}
		root := e.find(m.node)
		rdi := e.sits.at(e.nodeData[root]).delta
		id := e.sitID(m.node)
		rd := &e.deltas[rdi]
		rd.MergedFrom = append(rd.MergedFrom, id)
		dl := nextDelta(&e.deltas)
		dl.Removed = true
		dl.Situation.Contributors = nil // the same JSON whatever the slot held before
		dl.MergedInto = e.liveIDs[rdi]
		dl.Situation.ID = id
		dl.Situation.Version = m.version + 1
		dl.Situation.Exercise = e.scopes.names[m.scope]
		dl.Situation.Kind, dl.Situation.Severity, dl.Situation.TLP = m.kind, m.sev, m.tlp
		dl.Situation.UpdatedAt = time.Unix(0, now).UTC()
	}
	for i := range e.retired {
		e.retiredDelta(&e.deltas, &e.retired[i], now)
	}
	return e.deltas
}

// nextDelta appends a cleared delta to *ds, keeping the slices of a reused slot.
func nextDelta(ds *[]picture.Delta) *picture.Delta {
	n := len(*ds)
	if n < cap(*ds) {
		*ds = (*ds)[:n+1]
	} else {
		*ds = append(*ds, picture.Delta{})
	}
	d := &(*ds)[n]
	s := &d.Situation
	// Drop the strings the reused slices held, so they pin no old text block or arena.
	clear(d.MergedFrom)
	clear(s.Observables)
	clear(s.EventIDs)
	*d = picture.Delta{
		MergedFrom: d.MergedFrom[:0],
		Situation: picture.Situation{
			Contributors: s.Contributors[:0],
			Countries:    s.Countries[:0],
			Sectors:      s.Sectors[:0],
			Techniques:   s.Techniques[:0],
			ReleasableTo: s.ReleasableTo[:0],
			Observables:  s.Observables[:0],
			EventIDs:     s.EventIDs[:0],
		},
	}
	return d
}

// sitID returns the stable public id of a situation node.
func (e *Engine) sitID(node uint32) string { return e.sitIDGen(node, e.nodeGen[node]) }

// sitIDGen returns the id of node in its gen-th use: ids never repeat although nodes are
// reused after their situation retires.
func (e *Engine) sitIDGen(node, gen uint32) string {
	const hexd = "0123456789abcdef"
	v := fmix(e.instance ^ ((uint64(gen)<<32 | uint64(node)) + 1))
	p := append(e.text.begin(18), 's', '-')
	for i := 60; i >= 0; i -= 4 {
		p = append(p, hexd[v>>uint(i)&15])
	}
	return e.text.end(p)
}
