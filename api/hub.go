package api

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/cidcc/cop/correlate"
	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/metrics"
)

// Websocket limits.
const (
	maxClientMessage = 4 << 10 // a view is small; anything bigger is hostile
	clientQueue      = 64      // prepared messages waiting per client before it is dropped
	writeWait        = 5 * time.Second
	pongWait         = 60 * time.Second
	pingEvery        = 25 * time.Second
)

// Message is what the server sends on /ws/picture.
type Message struct {
	Type       string                `json:"type"` // "snapshot" or "delta"
	Seq        uint64                `json:"seq"`
	Exercise   string                `json:"exercise,omitempty"`
	View       *access.View          `json:"view,omitempty"`
	Situations []correlate.Situation `json:"situations"`
	Removed    []Removal             `json:"removed,omitempty"`
}

// Removal says a situation left the picture, and into which one it merged.
type Removal struct {
	ID         string `json:"id"`
	MergedInto string `json:"merged_into,omitempty"`
}

// Hub fans the live picture out to websocket clients: one writer goroutine per client, a
// bounded queue each, and one encoded message shared by all clients with the same view.
type Hub struct {
	picture  *Picture
	missions access.Missions
	log      zerolog.Logger
	every    time.Duration

	mu      sync.Mutex
	clients map[*client]struct{} // Lock should be held.

	connected *metrics.Gauge
	dropped   *metrics.Counter
	sent      *metrics.Counter
}

type client struct {
	id    access.Identity
	conn  *websocket.Conn
	queue chan *websocket.PreparedMessage
	done  chan struct{}
	once  sync.Once

	mu   sync.Mutex
	view access.View // Lock should be held.
	key  string      // scopeKey(id, view), kept with view; Lock should be held.
}

func (c *client) close(code int, reason string) {
	c.once.Do(func() {
		_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
		close(c.done)
		c.conn.Close()
	})
}

// NewHub returns a hub over picture that pushes deltas at most every `every`.
func NewHub(picture *Picture, missions access.Missions, log zerolog.Logger, reg *metrics.Registry, every time.Duration) *Hub {
	return &Hub{
		picture: picture, missions: missions, log: log, every: every,
		clients:   map[*client]struct{}{},
		connected: reg.Gauge("cop_ws_clients", "Connected websocket clients."),
		dropped:   reg.Counter("cop_ws_dropped_total", "Websocket clients dropped for falling behind."),
		sent:      reg.Counter("cop_ws_messages_total", "Websocket messages queued to clients."),
	}
}

// Run pushes coalesced deltas until stop is closed.
func (h *Hub) Run(stop <-chan struct{}) {
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			h.mu.Lock()
			for c := range h.clients {
				c.close(websocket.CloseGoingAway, "server shutting down")
			}
			h.mu.Unlock()
			return
		case <-t.C:
			h.broadcast()
		}
	}
}

func (h *Hub) broadcast() {
	changed, removed, seq := h.picture.Drain()
	if len(changed) == 0 && len(removed) == 0 {
		return
	}
	sort.Slice(changed, func(i, j int) bool { return changed[i].ID < changed[j].ID })
	h.mu.Lock()
	clients := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		clients = append(clients, c)
	}
	h.mu.Unlock()
	// One message per distinct (identity scope, view): encoded once, shared.
	shared := map[string]*websocket.PreparedMessage{}
	for _, c := range clients {
		c.mu.Lock()
		v, key := c.view, c.key
		c.mu.Unlock()
		pm, ok := shared[key]
		if !ok {
			msg := Message{Type: "delta", Seq: seq, Exercise: v.Exercise, Situations: []correlate.Situation{}}
			for i := range changed {
				s := &changed[i]
				if c.id.SituationVisible(s, v, h.missions) {
					msg.Situations = append(msg.Situations, c.id.Redact(*s))
				} else if s.Exercise == strings.ToUpper(v.Exercise) {
					// It may have been visible before (score fell, marking tightened): tell
					// the client to drop it.
					msg.Removed = append(msg.Removed, Removal{ID: s.ID})
				}
			}
			for id, into := range removed {
				msg.Removed = append(msg.Removed, Removal{ID: id, MergedInto: into})
			}
			sort.Slice(msg.Removed, func(i, j int) bool { return msg.Removed[i].ID < msg.Removed[j].ID })
			pm = prepare(&msg, h.log)
			shared[key] = pm
		}
		h.enqueue(c, pm)
	}
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
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, b)
	if err != nil {
		log.Error().Err(err).Msg("cannot prepare picture message")
		return nil
	}
	return pm
}

func (h *Hub) enqueue(c *client, pm *websocket.PreparedMessage) {
	if pm == nil {
		return
	}
	select {
	case c.queue <- pm:
		h.sent.Inc()
	case <-c.done:
	default:
		h.dropped.Inc()
		h.log.Warn().Str("identity", c.id.Name).Msg("websocket client fell behind; dropped")
		c.close(websocket.ClosePolicyViolation, "client too slow: queue full")
	}
}

// snapshot sends c the whole picture under its current view.
func (h *Hub) snapshot(c *client) {
	c.mu.Lock()
	v := c.view
	c.mu.Unlock()
	msg := Message{Type: "snapshot", Exercise: v.Exercise, View: &v, Situations: []correlate.Situation{}}
	msg.Seq = h.picture.Snapshot(func(s *correlate.Situation) {
		if c.id.SituationVisible(s, v, h.missions) {
			msg.Situations = append(msg.Situations, c.id.Redact(*s))
		}
	})
	sort.Slice(msg.Situations, func(i, j int) bool { return msg.Situations[i].Score > msg.Situations[j].Score })
	h.enqueue(c, prepare(&msg, h.log))
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

// sameOrigin accepts requests without an Origin (non-browser clients) and browser
// requests whose Origin is the host they connect to.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	o = strings.TrimPrefix(strings.TrimPrefix(o, "https://"), "http://")
	return strings.EqualFold(o, r.Host)
}

// ServeWS upgrades an authenticated request and serves the client until it leaves.
func (h *Hub) ServeWS(w http.ResponseWriter, r *http.Request, id access.Identity) {
	v := access.View{Exercise: strings.ToUpper(r.URL.Query().Get("exercise")), Mission: strings.ToUpper(r.URL.Query().Get("mission"))}
	if id.Role == access.RoleCommander && v.Mission == "" && len(id.Missions) > 0 {
		v.Mission = id.Missions[0]
	}
	if !id.AllowedExercise(v.Exercise) || (v.Mission != "" || id.Role == access.RoleCommander) && !id.AllowedMission(v.Mission) {
		writeError(w, http.StatusForbidden, "forbidden", "this identity may not take that view")
		return
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader already answered
	}
	conn.SetReadLimit(maxClientMessage)
	c := &client{id: id, conn: conn, queue: make(chan *websocket.PreparedMessage, clientQueue), done: make(chan struct{}),
		view: v, key: scopeKey(&id, v)}
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.connected.Set(float64(len(h.clients)))
	h.mu.Unlock()
	go h.writeLoop(c)
	h.snapshot(c)
	// Read on a goroutine of our own and return: net/http then lets go of the connection's
	// request, its 4 KB read and write buffers and this handler's deep stack, which it
	// would otherwise keep for the life of every websocket.
	go func() {
		defer func() {
			h.mu.Lock()
			delete(h.clients, c)
			h.connected.Set(float64(len(h.clients)))
			h.mu.Unlock()
			c.close(websocket.CloseNormalClosure, "")
		}()
		h.readLoop(c)
	}()
}

func (h *Hub) writeLoop(c *client) {
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-c.done:
			return
		case pm := <-c.queue:
			c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.conn.WritePreparedMessage(pm); err != nil {
				// A write that times out is a client that stopped reading: dropped for
				// falling behind, like one whose queue filled.
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					h.dropped.Inc()
				}
				c.close(websocket.CloseAbnormalClosure, "write failed")
				return
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				c.close(websocket.CloseAbnormalClosure, "ping failed")
				return
			}
		}
	}
}

// readLoop takes view changes from the client; each answers with a fresh snapshot.
func (h *Hub) readLoop(c *client) {
	c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		c.conn.SetReadDeadline(time.Now().Add(pongWait))
		var req struct {
			Type string `json:"type"`
			access.View
		}
		if err := json.Unmarshal(b, &req); err != nil || req.Type != "view" {
			c.close(websocket.CloseUnsupportedData, `want {"type":"view",...}`)
			return
		}
		v := req.View
		v.Exercise, v.Mission = strings.ToUpper(v.Exercise), strings.ToUpper(v.Mission)
		if c.id.Role == access.RoleCommander && v.Mission == "" {
			v.Mission = c.view.Mission
		}
		if !c.id.AllowedExercise(v.Exercise) || (v.Mission != "" || c.id.Role == access.RoleCommander) && !c.id.AllowedMission(v.Mission) {
			c.close(websocket.ClosePolicyViolation, "view not allowed for this identity")
			return
		}
		c.mu.Lock()
		c.view, c.key = v, scopeKey(&c.id, v)
		c.mu.Unlock()
		h.snapshot(c)
	}
}
