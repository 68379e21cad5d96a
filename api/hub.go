package api

import (
	"encoding/json"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/metrics"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

// Websocket limits.
const (
	maxClientMessage = 4 << 10 // a view is small; anything bigger is hostile
	clientQueue      = 64      // prepared messages waiting per client before it is dropped
	writeWait        = 5 * time.Second
	pongWait         = 60 * time.Second
	pingEvery        = 25 * time.Second
	// slotEvery is how far apart the hub's flush slots are: clients are spread over
	// every/slotEvery slots so that they do not all wake at once.
	slotEvery = 10 * time.Millisecond
	maxSlots  = 32
	// idleSeq is how long a client whose view sees no change goes without a message; then
	// it is sent an empty delta so that its sequence, for a resume, stays recent.
	idleSeq = 10 * time.Second
	// sharedSnapshots is how many built snapshots the hub keeps for clients that ask the
	// same view while the picture has not changed; beyond, the finished ones are let go.
	sharedSnapshots = 16
)

// Message is what the server sends on /ws/picture. Every message carries the picture
// sequence it brings the client to; docs/websocket.md describes the protocol.
type Message struct {
	Type string `json:"type"` // "snapshot" or "delta"
	// Epoch names the picture the sequence numbers belong to; a client resumes with both.
	Epoch string `json:"epoch"`
	Seq   uint64 `json:"seq"`
	// From is the sequence a delta applies to (the Seq of the client's previous message,
	// or a later one when nothing in its view changed in between).
	From uint64 `json:"from,omitempty"`
	// Resume answers a view message that carried a sequence: "deltas" (this delta brings
	// the client from that sequence to Seq) or "snapshot" (too old or unknown: start over).
	Resume     string              `json:"resume,omitempty"`
	At         time.Time           `json:"at"` // when the hub built the message
	Exercise   string              `json:"exercise,omitempty"`
	View       *access.View        `json:"view,omitempty"`
	Situations []picture.Situation `json:"situations"`
	Removed    []Removal           `json:"removed,omitempty"`
	// Campaigns, on a snapshot, group its situations (picture.GroupCampaigns over what
	// this viewer may see, so a campaign names no situation it may not). Deltas do not
	// carry them: the next snapshot does, or GET /api/v1/campaigns.
	Campaigns []picture.Campaign `json:"campaigns,omitempty"`
	// On the bounded picture (Hub.SetViewTop), deltas carry the campaigns that changed
	// and CampaignsRemoved those no longer in it; CampaignsAll says Campaigns is the whole
	// list (a resume). Rest counts what the view may see beyond the situations sent.
	CampaignsRemoved []string `json:"campaigns_removed,omitempty"`
	CampaignsAll     bool     `json:"campaigns_all,omitempty"`
	Rest             *Counts  `json:"rest,omitempty"`
	// Focus, on the bounded picture, is the focus the client holds beyond the view's
	// best (hub_focus.go), and how many of the view match it: sent when it changed.
	Focus *FocusState `json:"focus,omitempty"`
}

// Removal says a situation the client was sent left its picture (merged, retired, or no
// longer visible to it), and into which one it merged if it merged.
type Removal struct {
	ID         string `json:"id"`
	MergedInto string `json:"merged_into,omitempty"`
}

// Hub fans the live picture out to websocket clients: one writer goroutine per client, a
// bounded queue each, and one encoded message shared by all clients with the same scope
// and sequence. Clients are spread over flush slots a few milliseconds apart, each slot
// flushed once per interval, so that coalescing is per client and the writes of 10,000
// clients do not all start at once. No hub lock is held while building or writing.
type Hub struct {
	// Anon names anonymised contributors in every message; set it before Run.
	Anon access.Anonymiser
	// Audit records the alerts raised, delivered (once per alert and identity) and
	// acknowledged; nil records none. Set it before Run.
	Audit func(store.AuditEntry)
	// Campaigns are the campaign links of every snapshot and of GET /api/v1/campaigns
	// (the deployment's warning list among them); set it before Run.
	Campaigns picture.CampaignConfig

	picture  *Picture
	missions access.Missions
	log      zerolog.Logger
	every    time.Duration

	// perIdentity caps the connections of one identity (0: any); viewRate and viewBurst
	// the view messages applied per connection. Set by SetLimits before serving.
	perIdentity int
	viewRate    float64
	viewBurst   int

	mu    sync.Mutex
	slots []map[*client]struct{} // Lock should be held.
	next  int                    // slot of the next client; Lock should be held.
	conns map[string]int         // connections per identity name; Lock should be held.

	snapMu sync.Mutex
	snaps  map[string]*snapshotBuild // by snapshot key; snapMu should be held.

	bounded boundedHub // the bounded picture (SetViewTop)

	connected *metrics.Gauge
	refused   *metrics.Counter
	built     *metrics.Counter
	coalesced *metrics.Counter
	dropped   *metrics.Counter
	sent      *metrics.Counter
	resumed   *metrics.Counter
	fresh     *metrics.Counter

	alerts       alertBook
	alertsRaised *metrics.Counter
	alertsSent   *metrics.Counter
}

type client struct {
	id    access.Identity
	conn  *websocket.Conn
	queue chan *websocket.PreparedMessage // pingMessage asks the writer for a ping
	done  chan struct{}
	once  sync.Once
	slot  int
	// dropping is set when the queue filled and the client is being closed.
	dropping atomic.Bool

	mu       sync.Mutex
	view     access.View // Lock should be held.
	key      string      // scopeKey(id, view), kept with view; Lock should be held.
	gen      uint64      // bumped by every view message; Lock should be held.
	ready    bool        // the client holds the picture at seq; Lock should be held.
	seq      uint64      // Lock should be held.
	lastSent time.Time   // Lock should be held.
	lastPing time.Time   // Lock should be held.
	// viewTokens is the client's bucket of view messages, as of viewAt; pending the latest
	// view waiting for a token, applied by a timer. Lock should be held.
	viewTokens float64
	viewAt     time.Time
	pending    *viewRequest
	waiting    bool // a timer will apply pending
	alerts     clientAlerts
	b          boundedClient
}

// gone reports whether c was closed: work for it stops.
func (c *client) gone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// pingMessage is queued to make the writer send a ping; it is never written as is.
var pingMessage = new(websocket.PreparedMessage)

func (c *client) close(code int, reason string) {
	c.once.Do(func() {
		_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
		close(c.done)
		c.conn.Close()
	})
}

// NewHub returns a hub over picture that sends each client deltas at most every `every`.
func NewHub(picture *Picture, missions access.Missions, log zerolog.Logger, reg *metrics.Registry, every time.Duration) *Hub {
	n := min(max(int(every/slotEvery), 1), maxSlots)
	h := &Hub{
		picture: picture, missions: missions, log: log, every: every,
		slots:     make([]map[*client]struct{}, n),
		conns:     map[string]int{},
		snaps:     map[string]*snapshotBuild{},
		connected: reg.Gauge("cop_ws_clients", "Connected websocket clients."),
		refused:   reg.Counter("cop_ws_refused_total", "Websocket connections refused: the identity holds its most."),
		built:     reg.Counter("cop_ws_snapshots_built_total", "Websocket snapshots built (one per view and picture sequence, shared by the clients asking it)."),
		coalesced: reg.Counter("cop_ws_views_coalesced_total", "Websocket view messages replaced by a later one before they were applied."),
		dropped:   reg.Counter("cop_ws_dropped_total", "Websocket clients dropped for falling behind."),
		sent:      reg.Counter("cop_ws_messages_total", "Websocket messages queued to clients."),
		resumed:   reg.Counter(`cop_ws_resumes_total{result="deltas"}`, "Websocket resumes, answered with the deltas or a fresh snapshot."),
		fresh:     reg.Counter(`cop_ws_resumes_total{result="snapshot"}`, "Websocket resumes, answered with the deltas or a fresh snapshot."),
	}
	h.alertsRaised = reg.Counter("cop_alerts_raised_total", "Distinct alerts raised to dashboards (detected in a view or raised through the hub's alert.Sink).")
	h.alertsSent = reg.Counter("cop_alerts_sent_total", "Alert messages queued to websocket clients.")
	for i := range h.slots {
		h.slots[i] = map[*client]struct{}{}
	}
	h.SetLimits(Limits{})
	return h
}

// SetLimits sets the connections per identity and the view changes per connection (zero
// fields take their defaults, negative ones turn the limit off). Call it before serving.
func (h *Hub) SetLimits(l Limits) {
	l = l.WithDefaults()
	h.perIdentity, h.viewRate, h.viewBurst = l.WSPerIdentity, l.ViewRate, max(l.ViewBurst, 1)
}

// Run flushes the slots in turn, one every interval/slots, until stop is closed. A late
// tick (a busy machine) flushes every slot that has come due, so that no client waits
// much longer than the interval.
func (h *Hub) Run(stop <-chan struct{}) {
	step := h.every / time.Duration(len(h.slots))
	t := time.NewTicker(step)
	defer t.Stop()
	var f flush
	i, due := 0, time.Now().Add(step)
	for {
		select {
		case <-stop:
			h.mu.Lock()
			for _, slot := range h.slots {
				for c := range slot {
					c.close(websocket.CloseGoingAway, "server shutting down")
				}
			}
			h.mu.Unlock()
			return
		case now := <-t.C:
			if now.Sub(due) > h.every {
				due = now.Add(step - h.every) // a whole round behind: flush each slot once, not twice
			}
			for !now.Before(due) {
				h.flushSlot(i, &f)
				i, due = (i+1)%len(h.slots), due.Add(step)
			}
		}
	}
}

// flush is the scratch of one slot's flush, reused by the next.
type flush struct {
	clients []*client
	due     []pendingFlush
	froms   []uint64 // the distinct sequences of due
	since   map[uint64]sinceResult
	shared  map[groupKey]*websocket.PreparedMessage // nil: nothing for this group
	idle    map[groupKey]*websocket.PreparedMessage // the empty delta, for clients idle too long
	enc     sitBytes                                // the situations encoded for this flush's deltas
	alerts  flushAlerts
}

type sinceResult struct {
	changes []Change
	ok      bool
}

// pendingFlush is a client due a flush, with its state when the flush began.
type pendingFlush struct {
	c    *client
	v    access.View
	gk   groupKey
	gen  uint64
	idle bool
	// alerts: the client asked for alerts, raised at threshold.
	alerts    bool
	threshold float64
}

// groupKey identifies clients that are sent the same bytes: same scope, same sequence.
type groupKey struct {
	scope string
	from  uint64
}

// flushSlot sends every client of slot i what changed in its view since the sequence it
// holds, up to one sequence for all of them (so that they stay in few groups): one message
// built and encoded per distinct (scope, sequence), and nothing to a client whose view did
// not change.
func (h *Hub) flushSlot(i int, f *flush) {
	h.mu.Lock()
	f.clients = f.clients[:0]
	for c := range h.slots[i] {
		f.clients = append(f.clients, c)
	}
	h.mu.Unlock()
	if len(f.clients) == 0 {
		return
	}
	if f.since == nil {
		f.since, f.shared, f.idle = map[uint64]sinceResult{}, map[groupKey]*websocket.PreparedMessage{}, map[groupKey]*websocket.PreparedMessage{}
		f.enc = sitBytes{}
	}
	clear(f.enc)
	clear(f.since)
	clear(f.shared)
	clear(f.idle)
	clear(f.alerts)
	f.due, f.froms = f.due[:0], f.froms[:0]
	now := time.Now()
	for _, c := range f.clients {
		c.mu.Lock()
		ping := now.Sub(c.lastPing) >= pingEvery
		if ping {
			c.lastPing = now
		}
		if c.ready {
			f.due = append(f.due, pendingFlush{c: c, v: c.view, gk: groupKey{c.key, c.seq}, gen: c.gen, idle: now.Sub(c.lastSent) >= idleSeq,
				alerts: c.alerts.on, threshold: c.alerts.score})
			if _, ok := f.since[c.seq]; !ok {
				f.since[c.seq] = sinceResult{}
				f.froms = append(f.froms, c.seq)
			}
		}
		c.mu.Unlock()
		if ping {
			h.enqueue(c, pingMessage)
		}
	}
	if h.isBounded() {
		// Alerts do not depend on the bound: what entered or rose in a view raises one
		// whether or not it is among the situations the client is sent.
		if slices.ContainsFunc(f.due, func(d pendingFlush) bool { return d.alerts }) {
			h.picture.SinceEach(f.froms, func(from uint64, changes []Change, ok bool) {
				f.since[from] = sinceResult{changes: changes, ok: ok}
			})
		}
		h.flushBounded(f, now)
		clear(f.due)
		clear(f.clients)
		return
	}
	to := h.picture.SinceEach(f.froms, func(from uint64, changes []Change, ok bool) {
		f.since[from] = sinceResult{changes: changes, ok: ok}
	})
	for i := range f.due {
		d := &f.due[i]
		c, gk := d.c, d.gk
		if gk.from == to {
			continue
		}
		r := f.since[gk.from]
		if !r.ok {
			// Its sequence fell out of the history (a flood of changes): start over.
			h.sendSnapshot(c, d.gen, "")
			continue
		}
		pm, built := f.shared[gk]
		if !built {
			if b, any, err := h.deltaBytes(f.enc, &c.id, d.v, r.changes, gk.from, to, now); err != nil {
				h.log.Error().Err(err).Msg("BUG: cannot encode picture message")
			} else if any {
				pm = prepareBytes(b, h.log)
			}
			f.shared[gk] = pm
		}
		if pm == nil && d.idle {
			if pm = f.idle[gk]; pm == nil {
				pm = prepare(&Message{Type: "delta", Epoch: h.picture.Epoch(), Seq: to, From: gk.from, At: now,
					Exercise: d.v.Exercise, Situations: []picture.Situation{}}, h.log)
				f.idle[gk] = pm
			}
		}
		c.mu.Lock()
		current := c.gen == d.gen && c.seq == gk.from
		if current {
			// Even with nothing sent the client now holds the picture at to: nothing it may
			// see changed.
			c.seq = to
			if pm != nil {
				c.lastSent = now
				h.enqueue(c, pm)
			}
		}
		c.mu.Unlock()
		if current {
			h.deliverFlushAlerts(f, d, r.changes, now)
		}
	}
	clear(f.due) // let go of the clients until the next flush
	clear(f.clients)
}

// delta builds the message that brings a client of identity id under view v from the
// picture at sequence from to the picture at to. A situation is sent if the client may
// see its current version, and its removal if it may not but could see the version held
// at from: a client never learns of a situation it may not see, not even its id.
func (h *Hub) delta(id *access.Identity, v access.View, changes []Change, from, to uint64, now time.Time) *Message {
	msg := &Message{Type: "delta", Epoch: h.picture.Epoch(), Seq: to, From: from, At: now, Exercise: v.Exercise,
		Situations: []picture.Situation{}}
	for i := range changes {
		ch := &changes[i]
		switch {
		case ch.Cur != nil && id.SituationVisible(ch.Cur, v, h.missions):
			msg.Situations = append(msg.Situations, h.Anon.Redact(id, *ch.Cur))
			h.missions.Ranked(v, &msg.Situations[len(msg.Situations)-1])
		case ch.Prev != nil && id.SituationVisible(ch.Prev, v, h.missions):
			r := Removal{ID: ch.ID}
			if ch.Cur == nil {
				r.MergedInto = ch.MergedInto
			}
			msg.Removed = append(msg.Removed, r)
		}
	}
	return msg
}

// scopeKey identifies what a client may see: clients with equal keys get the same bytes.
// Anonymisation is per viewer name, so the name is part of the key when it matters.
func scopeKey(id *access.Identity, v access.View) string {
	b, _ := json.Marshal(struct {
		N  string
		R  access.Role
		T  int
		M  []string
		V  access.View
		Ex []string
	}{id.Name, id.Role, int(id.MaxTLP), id.Missions, v, id.Exercises})
	return string(b)
}

func prepare(m *Message, log zerolog.Logger) *websocket.PreparedMessage {
	b, err := json.Marshal(m)
	if err != nil {
		log.Error().Err(err).Msg("BUG: cannot encode picture message")
		return nil
	}
	return prepareBytes(b, log)
}

// prepareBytes is prepare of a message already encoded.
func prepareBytes(b []byte, log zerolog.Logger) *websocket.PreparedMessage {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, b)
	if err != nil {
		log.Error().Err(err).Msg("cannot prepare picture message")
		return nil
	}
	return pm
}

// enqueue queues pm for c, or drops c if its queue is full.
func (h *Hub) enqueue(c *client, pm *websocket.PreparedMessage) {
	if pm == nil {
		return
	}
	select {
	case c.queue <- pm:
		if pm != pingMessage {
			h.sent.Inc()
		}
	case <-c.done:
	default:
		if c.dropping.CompareAndSwap(false, true) {
			h.dropped.Inc()
			h.log.Warn().Str("identity", c.id.Name).Msg("websocket client fell behind; dropped")
			// Closing writes a close frame, which can wait up to a second behind the
			// blocked write: not on the caller's goroutine, which serves other clients.
			go c.close(websocket.ClosePolicyViolation, "client too slow: queue full")
		}
	}
}

// sendSnapshot sends c the whole picture under its view of generation gen, unless a view
// message has changed the view since. resume is the Message.Resume to send with it.
//
// Clients of the same scope asking at the same time, or while the picture has not changed,
// share one built and encoded snapshot. Nothing is built for a client that has gone.
func (h *Hub) sendSnapshot(c *client, gen uint64, resume string) {
	if h.isBounded() {
		h.sendBoundedSnapshot(c, gen, resume)
		return
	}
	if c.gone() {
		return
	}
	c.mu.Lock()
	v, key := c.view, c.key
	c.mu.Unlock()
	b := h.snapshot(key+"\x00"+resume, func(b *snapshotBuild) { h.buildSnapshot(b, &c.id, v, resume) })
	h.sendPrepared(c, gen, b.pm, b.seq, b.at)
}

// snapshotBuild is one snapshot being built or built: done is closed when pm, seq and at
// are set.
type snapshotBuild struct {
	done chan struct{}
	pm   *websocket.PreparedMessage
	seq  uint64
	at   time.Time
	held *holding // the bounded picture's clients hold this after it
}

// snapshot returns the snapshot of key (the scope and resume flag of a client): one
// being built for another client, one built at the picture's current sequence, or a new
// one, which build makes.
func (h *Hub) snapshot(key string, build func(*snapshotBuild)) *snapshotBuild {
	cur := h.picture.Seq()
	h.snapMu.Lock()
	b := h.snaps[key]
	if b != nil {
		select {
		case <-b.done:
			if b.seq != cur {
				b = nil
			}
		default: // being built: wait for it
		}
	}
	if b != nil {
		h.snapMu.Unlock()
		<-b.done
		return b
	}
	// Built snapshots of an older picture are of no use any more; of the current one, a few
	// are kept (each can be megabytes).
	full := len(h.snaps) >= sharedSnapshots
	for k, o := range h.snaps {
		select {
		case <-o.done:
			if full || o.seq != cur {
				delete(h.snaps, k)
			}
		default:
		}
	}
	b = &snapshotBuild{done: make(chan struct{})}
	h.snaps[key] = b
	h.snapMu.Unlock()
	defer close(b.done)
	h.built.Inc()
	build(b)
	return b
}

// buildSnapshot builds the whole picture of id under v into b.
func (h *Hub) buildSnapshot(b *snapshotBuild, id *access.Identity, v access.View, resume string) {
	msg := h.wholeSnapshot(id, v, resume)
	b.pm, b.seq, b.at = prepare(msg, h.log), msg.Seq, msg.At
}

// wholeSnapshot is the snapshot of the whole picture id may see under v.
func (h *Hub) wholeSnapshot(id *access.Identity, v access.View, resume string) *Message {
	all, seq := h.picture.Snapshot()
	now := time.Now()
	msg := Message{Type: "snapshot", Epoch: h.picture.Epoch(), Seq: seq, Resume: resume, At: now, Exercise: v.Exercise, View: &v,
		Situations: []picture.Situation{}}
	for _, s := range all {
		if id.SituationVisible(s, v, h.missions) {
			msg.Situations = append(msg.Situations, h.Anon.Redact(id, *s))
			h.missions.Ranked(v, &msg.Situations[len(msg.Situations)-1])
		}
	}
	sort.Slice(msg.Situations, func(i, j int) bool {
		return access.CompareRanked(&msg.Situations[i], &msg.Situations[j]) < 0
	})
	msg.Campaigns = campaignsOf(msg.Situations, h.Campaigns)
	return &msg
}

// resume answers a view message that carried the client's epoch and sequence: what
// changed in its view since, if the history still holds it, else a fresh snapshot.
func (h *Hub) resume(c *client, gen uint64, epoch string, from uint64) {
	if c.gone() {
		return
	}
	var (
		changes []Change
		to      uint64
		ok      bool
	)
	if epoch == h.picture.Epoch() && from > 0 {
		changes, to, ok = h.picture.Since(from)
	}
	if !ok {
		h.fresh.Inc()
		h.sendSnapshot(c, gen, "snapshot")
		return
	}
	h.resumed.Inc()
	c.mu.Lock()
	v := c.view
	c.mu.Unlock()
	now := time.Now()
	msg := h.delta(&c.id, v, changes, from, to, now)
	msg.Resume = "deltas"
	h.send(c, gen, msg, now)
	h.resumeAlerts(c, v, changes, now)
}

// send queues msg, which brings c to msg.Seq, unless a view message changed the view
// since gen.
func (h *Hub) send(c *client, gen uint64, msg *Message, now time.Time) {
	h.sendPrepared(c, gen, prepare(msg, h.log), msg.Seq, now)
}

// sendPrepared queues pm, which brings c to seq, unless a view message changed the view
// since gen.
func (h *Hub) sendPrepared(c *client, gen uint64, pm *websocket.PreparedMessage, seq uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || pm == nil {
		return
	}
	c.seq, c.ready, c.lastSent = seq, true, now
	h.enqueue(c, pm)
}

// upgrader keeps little per connection (cop bench ws measures it): the hub writes only
// prepared messages, which gorilla writes straight to the socket, so a write buffer is taken
// from the pool only for the rare other write instead of 4 KB held by every client; reads
// are small view messages.
var upgrader = websocket.Upgrader{
	ReadBufferSize:  512,
	WriteBufferSize: 4096,
	WriteBufferPool: &sync.Pool{},
	CheckOrigin:     sameOrigin,
}
