package api

// The bounded picture (cop serve --view-top N): each client holds the best N situations of
// its view, by the view's order, and counts of the rest; deltas are the difference
// between what it holds and the view's best N now. docs/websocket.md describes it.

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/picture"
)

// Defaults of the bounded picture.
const (
	DefaultViewTop = 300
	// maxViewPages is how many times N a client may ask to hold by scrolling ("more").
	maxViewPages = 20
	// viewKeep is how long a view no client holds is kept: a page reloaded, or a client
	// reconnecting, finds it built instead of scanning the picture again. It costs nothing
	// while kept: views are advanced only when a client asks.
	viewKeep = time.Minute
	// DefaultCampaignEvery is how often a view's campaigns are grouped again while its
	// picture changes: grouping reads every situation the view may see.
	DefaultCampaignEvery = 5 * time.Second
)

// boundedHub is the hub's state for the bounded picture.
type boundedHub struct {
	n             int // situations per client to start with; 0: the whole picture (no bound)
	campaignEvery time.Duration
	views         map[string]*viewTop // by scope key; Hub.mu should be held.
}

// boundedClient is a client's state in the bounded picture. Client lock should be held.
type boundedClient struct {
	vt    *viewTop
	held  *holding // what it holds; nil until its snapshot
	limit int      // how many situations it asks to hold
	focus focusHold
}

// holding is what the clients sent one message hold: immutable once built, shared by
// every client that was sent the same bytes.
type holding struct {
	seq      uint64
	limit    int
	campGen  uint64            // the view's grouping of campaigns it was built with
	versions map[string]uint64 // situation id → version
	rest     Counts
	camps    map[string]string // campaign id → its encoding as sent
	// The focus it was built with (hub_focus.go): its key, limit, how many match it and
	// the sequence of its top; "" without one.
	focusKey string
	flimit   int
	ftotal   int
	fseq     uint64
}

// SetViewTop bounds every client's picture to its view's best n situations (0: the whole
// picture, as before), grouping each view's campaigns again at most every campaignEvery
// (0: whenever the picture changed). Call it before serving.
func (h *Hub) SetViewTop(n int, campaignEvery time.Duration) {
	h.bounded.n, h.bounded.campaignEvery = max(n, 0), max(campaignEvery, 0)
}

// isBounded reports whether clients hold a bounded picture.
func (h *Hub) isBounded() bool { return h.bounded.n > 0 }

// attachView makes c a holder of its scope's viewTop, letting go of the one it held.
// c.mu should be held.
func (h *Hub) attachView(c *client) {
	if !h.isBounded() {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.detachViewLocked(c)
	h.pruneViewsLocked(time.Now())
	vt := h.bounded.views[c.key]
	if vt == nil {
		vt = newViewTop(c.id, c.view, h.missions)
		vt.links = h.Campaigns
		h.bounded.views[c.key] = vt
	}
	vt.refs++
	c.b.vt, c.b.held = vt, nil
	c.b.limit = h.bounded.n
	h.attachFocusLocked(c) // a focus outlives a view change: the map still shows that area
}

// detachViewLocked lets go of c's viewTop; the last holder's going frees it. Hub lock
// and c.mu should be held.
func (h *Hub) detachViewLocked(c *client) {
	h.detachFocusLocked(c)
	vt := c.b.vt
	if vt == nil {
		return
	}
	c.b.vt, c.b.held = nil, nil
	if vt.refs--; vt.refs <= 0 {
		vt.idleAt = time.Now() // kept viewKeep for a reload, then let go by attachView
	}
}

// more lets c hold more situations of its view: the next flush sends those that enter.
func (h *Hub) more(c *client, limit int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.b.limit = min(max(limit, c.b.limit, h.bounded.n), h.bounded.n*maxViewPages)
}

// boundedMessage builds the message that brings a holder of held (nil: nothing, a
// snapshot) to the view's best limit situations, and what its receivers then hold.
// vt.mu should be held, and vt advanced.
func (h *Hub) boundedMessage(vt *viewTop, held *holding, limit int, typ string, now time.Time) (*Message, *holding) {
	return h.boundedMessageOf(vt, held, wanted{limit: limit}, typ, now)
}

// boundedMessageOf is boundedMessage of what w asks: the view's best w.limit and the best
// of its focus. vt.mu and w's focus top should be held (wanted.lock), and both advanced.
func (h *Hub) boundedMessageOf(vt *viewTop, held *holding, w wanted, typ string, now time.Time) (*Message, *holding) {
	limit := w.limit
	es, rest := w.withFocus(vt.best(limit))
	camps, campOf := vt.campaigns(h.picture, h.bounded.campaignEvery, now)
	next := &holding{seq: vt.seq, limit: limit, campGen: vt.campGen, versions: make(map[string]uint64, len(es)), rest: rest, camps: map[string]string{}}
	v := vt.v
	msg := &Message{Type: typ, Epoch: h.picture.Epoch(), Seq: vt.seq, At: now, Exercise: v.Exercise, Situations: []picture.Situation{}}
	msg.Focus = w.focusState(held, next)
	if held != nil {
		msg.From = held.seq
	}
	if typ == "snapshot" {
		msg.View = &v
	}
	// The campaigns of the situations sent, each listing only those.
	in := map[int][]string{}
	var order []int
	for _, e := range es {
		id := e.s.ID
		next.versions[id] = e.s.Version
		if held == nil || held.versions[id] != e.s.Version {
			msg.Situations = append(msg.Situations, h.Anon.Redact(&vt.id, *e.s))
			h.missions.Ranked(v, &msg.Situations[len(msg.Situations)-1])
		}
		if ci, ok := campOf[id]; ok {
			if _, seen := in[ci]; !seen {
				order = append(order, ci)
			}
			in[ci] = append(in[ci], id)
		}
	}
	if held != nil {
		// A delta lists situations by id, as the whole picture's deltas do.
		slices.SortFunc(msg.Situations, func(a, b picture.Situation) int { return cmpString(a.ID, b.ID) })
		for id := range held.versions {
			if _, ok := next.versions[id]; !ok {
				msg.Removed = append(msg.Removed, Removal{ID: id, MergedInto: vt.merged[id]})
			}
		}
		slices.SortFunc(msg.Removed, func(a, b Removal) int { return cmpString(a.ID, b.ID) })
	}
	if held == nil || !held.rest.equal(rest) {
		msg.Rest = &next.rest
	}
	for _, ci := range order {
		c := camps[ci]
		ids := in[ci]
		// Listed in the campaign's order (best first).
		listed := make([]string, 0, len(ids))
		for _, id := range c.Situations {
			if slices.Contains(ids, id) {
				listed = append(listed, id)
			}
		}
		c.Situations = listed
		b, _ := json.Marshal(c)
		next.camps[c.ID] = string(b)
		if held == nil || held.camps[c.ID] != string(b) {
			msg.Campaigns = append(msg.Campaigns, c)
		}
	}
	if held != nil {
		for id := range held.camps {
			if _, ok := next.camps[id]; !ok {
				msg.CampaignsRemoved = append(msg.CampaignsRemoved, id)
			}
		}
		slices.Sort(msg.CampaignsRemoved)
	}
	return msg, next
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// empty reports whether a delta brings nothing.
func (m *Message) empty() bool {
	return len(m.Situations) == 0 && len(m.Removed) == 0 && m.Rest == nil && len(m.Campaigns) == 0 && len(m.CampaignsRemoved) == 0 && m.Focus == nil
}

// sendBoundedSnapshot sends c the best of its view, unless a view message changed the
// view since gen. Clients of one scope and limit asking while the picture has not changed
// share one build.
func (h *Hub) sendBoundedSnapshot(c *client, gen uint64, resume string) {
	if c.gone() {
		return
	}
	c.mu.Lock()
	h.applyFocus(c, time.Now(), true) // a focus asked before the view comes with its snapshot
	vt, w, key := c.b.vt, c.wanted(), c.key
	c.mu.Unlock()
	if vt == nil {
		return
	}
	limit := w.limit
	// A snapshot built is shared while the picture does not change, and its campaigns
	// have not been grouped again since.
	w.lock(vt)
	w.advance(h.picture, vt)
	vt.campaigns(h.picture, h.bounded.campaignEvery, time.Now()) // grouped now, or started
	campGen := vt.campGen
	w.unlock(vt)
	b := h.snapshot(key+"\x00"+resume+"\x00"+itoa(limit)+"\x00"+strconv.FormatUint(campGen, 10)+"\x00"+w.focusKey(), func(sb *snapshotBuild) {
		w.lock(vt)
		defer w.unlock(vt)
		w.advance(h.picture, vt)
		now := time.Now()
		msg, next := h.boundedMessageOf(vt, nil, w, "snapshot", now)
		msg.Resume = resume
		sb.pm, sb.seq, sb.at, sb.held = prepare(msg, h.log), next.seq, now, next
	})
	h.sendHeld(c, gen, b.pm, b.held, b.at)
}

// sendHeld queues pm, after which c holds held, unless a view message changed the view
// since gen.
func (h *Hub) sendHeld(c *client, gen uint64, pm *websocket.PreparedMessage, held *holding, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || pm == nil || held == nil {
		return
	}
	c.seq, c.ready, c.lastSent, c.b.held = held.seq, true, now, held
	h.enqueue(c, pm)
}

// boundedGroup is the clients of one flush that hold the same and ask the same limit.
type boundedGroup struct {
	held   *holding
	limit  int
	ft     *viewTop // the focus asked, and how many of it
	flimit int
}

type boundedResult struct {
	pm, idle *websocket.PreparedMessage
	msg      *Message
	next     *holding
}

// flushBounded sends each due client the difference between what it holds and its view's
// best now: one message built per group of clients holding the same.
func (h *Hub) flushBounded(f *flush, now time.Time) {
	results := map[boundedGroup]*boundedResult{}
	for i := range f.due {
		d := &f.due[i]
		c := d.c
		c.mu.Lock()
		h.applyFocus(c, now, false)
		vt, held, w := c.b.vt, c.b.held, c.wanted()
		c.mu.Unlock()
		if vt == nil || held == nil {
			continue
		}
		limit := w.limit
		g := boundedGroup{held, limit, w.ft, w.flimit}
		r := results[g]
		if r == nil {
			r = &boundedResult{}
			w.lock(vt)
			sw := w.withoutUnbuilt(h.picture) // what can be sent now
			sw.advance(h.picture, vt)
			// Group the campaigns again when they are stale, though nothing may be sent
			// now: once grouped, campGen moves and the next flush sends them, however
			// quiet the picture has gone since.
			vt.campaigns(h.picture, h.bounded.campaignEvery, now)
			if vt.seq != held.seq || limit != held.limit || vt.campGen != held.campGen || sw.changedSince(held) {
				r.msg, r.next = h.boundedMessageOf(vt, held, sw, "delta", now)
				if !r.msg.empty() {
					r.pm = prepare(r.msg, h.log)
				}
			}
			w.unlock(vt)
			results[g] = r
		}
		if r.next == nil {
			continue // nothing changed at all
		}
		pm := r.pm
		if pm == nil && d.idle {
			if r.idle == nil {
				r.idle = prepare(&Message{Type: "delta", Epoch: h.picture.Epoch(), Seq: r.next.seq, From: held.seq, At: now,
					Exercise: d.v.Exercise, Situations: []picture.Situation{}}, h.log)
			}
			pm = r.idle
		}
		c.mu.Lock()
		current := c.gen == d.gen && c.b.held == held
		if current {
			c.b.held, c.seq = r.next, r.next.seq
			if pm != nil {
				c.lastSent = now
				h.enqueue(c, pm)
			}
		}
		c.mu.Unlock()
		if since := f.since[d.gk.from]; current && since.ok {
			h.deliverFlushAlerts(f, d, since.changes, now)
		}
	}
}

// resumeBounded answers a resume from sequence from: the view's best limit situations as
// of from are rebuilt from its best now and the versions the history kept (which
// situations changed since, and what they were), and the client is sent the difference.
// When the history or the view's top does not reach that far, it gets a snapshot.
func (h *Hub) resumeBounded(c *client, gen uint64, epoch string, from uint64, limit int) {
	if c.gone() {
		return
	}
	c.mu.Lock()
	vt := c.b.vt
	if limit > 0 {
		c.b.limit = min(max(limit, h.bounded.n), h.bounded.n*maxViewPages)
	}
	limit = c.b.limit
	h.applyFocus(c, time.Now(), true)
	focused := c.b.focus.ft != nil
	c.mu.Unlock()
	if vt == nil {
		return
	}
	if focused {
		// What it held of a focus is not rebuilt: a snapshot of the view and the focus.
		h.fresh.Inc()
		h.sendBoundedSnapshot(c, gen, "snapshot")
		return
	}
	var (
		msg  *Message
		next *holding
	)
	if epoch == h.picture.Epoch() && from > 0 {
		vt.mu.Lock()
		vt.advance(h.picture, limit)
		if held := vt.heldAt(h.picture, from, limit); held != nil {
			msg, next = h.boundedMessage(vt, held, limit, "delta", time.Now())
			msg.Resume = "deltas"
			// The client's campaigns are unknown: it is sent them all, and replaces its own.
			msg.Campaigns = msg.Campaigns[:0]
			for _, s := range next.camps {
				var cp picture.Campaign
				if json.Unmarshal([]byte(s), &cp) == nil {
					msg.Campaigns = append(msg.Campaigns, cp)
				}
			}
			slices.SortFunc(msg.Campaigns, func(a, b picture.Campaign) int { return cmpString(a.ID, b.ID) })
			msg.CampaignsRemoved, msg.CampaignsAll = nil, true
			msg.Rest = &next.rest
		}
		vt.mu.Unlock()
	}
	if msg == nil {
		h.fresh.Inc()
		h.sendBoundedSnapshot(c, gen, "snapshot")
		return
	}
	h.resumed.Inc()
	h.sendHeld(c, gen, prepare(msg, h.log), next, msg.At)
	// The alerts of what changed in its view while it was away, bound or not.
	if changes, _, ok := h.picture.Since(from); ok {
		c.mu.Lock()
		v := c.view
		c.mu.Unlock()
		h.resumeAlerts(c, v, changes, msg.At)
	}
}

// heldAt rebuilds what a client of this view held at sequence from with limit situations:
// the situations that have not changed since rank as they do now, the others as the
// history's version of them at from did. nil when the history does not reach from, or the
// top does not hold enough unchanged situations to be sure of the order. vt.mu should be
// held, and vt advanced.
func (t *viewTop) heldAt(p *Picture, from uint64, limit int) *holding {
	var (
		changes []Change
		ok      bool
	)
	to := p.SinceEach([]uint64{from}, func(_ uint64, cs []Change, k bool) { changes, ok = slices.Clone(cs), k })
	if !ok || to != t.seq {
		return nil // changed in between: a snapshot is the simple answer
	}
	changed := make(map[string]*picture.Situation, len(changes))
	for i := range changes {
		ch := &changes[i]
		changed[ch.ID] = ch.Prev
		if ch.Cur == nil && ch.MergedInto != "" {
			t.merged[ch.ID] = ch.MergedInto
		}
	}
	var es []topEntry
	for _, e := range t.top {
		if _, ok := changed[e.s.ID]; !ok {
			es = append(es, e)
		}
	}
	for _, prev := range changed {
		if t.visible(prev) {
			es = append(es, t.entry(prev))
		}
	}
	slices.SortFunc(es, compareEntries)
	// Every visible situation outside top ranks after its last: if the limit-th rebuilt
	// one ranks no later than that, nothing outside can be among the best limit.
	if !t.complete && (len(es) < limit || len(t.top) == 0 || t.top[len(t.top)-1].before(es[limit-1])) {
		return nil
	}
	es = es[:min(limit, len(es))]
	held := &holding{seq: from, limit: limit, versions: make(map[string]uint64, len(es)), camps: map[string]string{}}
	for _, e := range es {
		held.versions[e.s.ID] = e.s.Version
	}
	return held
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// SnapshotMessage returns the snapshot a client of id under view v would be sent on
// connecting now, bounded or whole as the hub is set (cop bench quality measures it).
func (h *Hub) SnapshotMessage(id access.Identity, v access.View) *Message {
	v = id.DefaultView(v)
	if !h.isBounded() {
		return h.wholeSnapshot(&id, v, "")
	}
	vt := newViewTop(id, v, h.missions)
	vt.links = h.Campaigns
	vt.mu.Lock()
	defer vt.mu.Unlock()
	vt.advance(h.picture, h.bounded.n)
	m, _ := h.boundedMessage(vt, nil, h.bounded.n, "snapshot", time.Now())
	return m
}
