package api

// One websocket connection: the upgrade and its checks, the per-identity cap, the write
// and read loops, and the view messages a client sends.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/gorilla/websocket"
)

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

// ServeWS upgrades an authenticated request and serves the client until it leaves. The
// view on the URL is answered at once with a snapshot, unless the URL carries resume=1:
// then the hub waits for the client's view message, which may carry the epoch and
// sequence it holds.
func (h *Hub) ServeWS(w http.ResponseWriter, r *http.Request, id access.Identity) {
	q := r.URL.Query()
	v := access.View{Exercise: strings.ToUpper(q.Get("exercise")), Mission: strings.ToUpper(q.Get("mission"))}
	v = id.DefaultView(v)
	if !id.AllowedView(v) {
		writeError(w, http.StatusForbidden, "forbidden", "this identity may not take that view")
		return
	}
	alerts, msg := alertParams(q)
	if msg != "" {
		writeError(w, http.StatusBadRequest, "bad_request", msg)
		return
	}
	if !h.reserve(id.Name) {
		h.refused.Inc()
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusTooManyRequests, "too_many_connections", fmt.Sprintf(
			"identity %s already holds %d websocket connections, the most one identity may hold; close one first", id.Name, h.perIdentity))
		return
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		h.mu.Lock()
		h.releaseLocked(id.Name)
		h.mu.Unlock()
		return // the upgrader already answered
	}
	// net/http's deadlines for the request stay on the hijacked connection: cleared here,
	// the hub sets its own (pongWait, writeWait).
	conn.NetConn().SetDeadline(time.Time{})
	conn.SetReadLimit(maxClientMessage)
	now := time.Now()
	c := &client{id: id, conn: conn, queue: make(chan *websocket.PreparedMessage, clientQueue), done: make(chan struct{}),
		view: v, key: scopeKey(&id, v), lastPing: now, lastSent: now, viewTokens: float64(h.viewBurst), viewAt: now, alerts: alerts}
	h.mu.Lock()
	c.slot = h.next
	h.next = (h.next + 1) % len(h.slots)
	h.slots[c.slot][c] = struct{}{}
	h.connected.Set(float64(h.countLocked()))
	h.mu.Unlock()
	c.mu.Lock()
	h.attachView(c)
	c.mu.Unlock()
	go h.writeLoop(c)
	if q.Get("resume") != "1" {
		h.sendSnapshot(c, 0, "")
	}
	// Read on a goroutine of our own and return: net/http then lets go of the connection's
	// request, its 4 KB read and write buffers and this handler's deep stack, which it
	// would otherwise keep for the life of every websocket.
	go func() {
		defer func() {
			c.mu.Lock()
			h.mu.Lock()
			delete(h.slots[c.slot], c)
			h.releaseLocked(c.id.Name)
			h.connected.Set(float64(h.countLocked()))
			h.detachViewLocked(c)
			h.mu.Unlock()
			c.mu.Unlock()
			c.close(websocket.CloseNormalClosure, "")
		}()
		h.readLoop(c)
	}()
}

// reserve counts one more connection of identity name, unless it holds its most.
func (h *Hub) reserve(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.perIdentity > 0 && h.conns[name] >= h.perIdentity {
		return false
	}
	h.conns[name]++
	return true
}

// releaseLocked counts one connection of name less. Lock should be held.
func (h *Hub) releaseLocked(name string) {
	if h.conns[name]--; h.conns[name] <= 0 {
		delete(h.conns, name)
	}
}

// countLocked returns the number of clients. Lock should be held.
func (h *Hub) countLocked() int {
	n := 0
	for _, s := range h.slots {
		n += len(s)
	}
	return n
}

// writeLoop writes c's queue to its socket until c is closed. The write deadline is moved
// at most once a second: setting it costs a timer update, which at 10,000 clients and
// several messages a second each was a tenth of the hub's CPU.
func (h *Hub) writeLoop(c *client) {
	var deadline time.Time
	for {
		select {
		case <-c.done:
			return
		case pm := <-c.queue:
			now := time.Now()
			if deadline.Sub(now) < writeWait-time.Second {
				deadline = now.Add(writeWait)
				c.conn.SetWriteDeadline(deadline)
			}
			var err error
			if pm == pingMessage {
				err = c.conn.WriteControl(websocket.PingMessage, nil, deadline)
			} else {
				err = c.conn.WritePreparedMessage(pm)
			}
			if err != nil {
				// A write that times out is a client that stopped reading: dropped for
				// falling behind, like one whose queue filled.
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					h.dropped.Inc()
				}
				c.close(websocket.CloseAbnormalClosure, "write failed")
				return
			}
		}
	}
}

// viewRequest is what a client sends: its view, and optionally the picture it holds.
type viewRequest struct {
	Type string `json:"type"`
	access.View
	// Epoch and Seq are those of the last message the client applied, when it holds the
	// picture of this same view and wants only what changed since.
	Epoch string `json:"epoch,omitempty"`
	Seq   uint64 `json:"seq,omitempty"`
	// Limit, on the bounded picture, is how many situations the client holds or wants:
	// a "more" message raises it (the next delta brings those that enter), a view
	// message that resumes says how many it held.
	Limit int `json:"limit,omitempty"`
}

// readLoop takes view messages from the client; each is answered with a fresh snapshot,
// or with what changed since the sequence it carries. Views are applied at most viewRate
// a second (bursts of viewBurst): one that comes sooner waits, and replaces any view
// still waiting, so a flood of views costs one snapshot per token.
func (h *Hub) readLoop(c *client) {
	c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		c.conn.SetReadDeadline(time.Now().Add(pongWait))
		var req viewRequest
		if err := json.Unmarshal(b, &req); err == nil && req.Type == "more" && h.isBounded() {
			h.more(c, req.Limit)
			continue
		}
		if req.Type == "focus" {
			if !h.readFocus(c, b) {
				return
			}
			continue
		}
		if err := json.Unmarshal(b, &req); err != nil || req.Type != "view" {
			c.close(websocket.CloseUnsupportedData, `want {"type":"view",...}, {"type":"more","limit":n} or {"type":"focus",...}`)
			return
		}
		v := req.View
		v.Exercise, v.Mission = strings.ToUpper(v.Exercise), strings.ToUpper(v.Mission)
		c.mu.Lock()
		if c.id.Role == access.RoleCommander && v.Mission == "" {
			v.Mission = c.view.Mission
		}
		c.mu.Unlock()
		if !c.id.AllowedView(v) {
			c.close(websocket.ClosePolicyViolation, "view not allowed for this identity")
			return
		}
		req.View = v
		c.mu.Lock()
		if c.waiting {
			c.pending = &req
			c.mu.Unlock()
			h.coalesced.Inc()
			continue
		}
		if wait := h.takeView(c, time.Now()); wait > 0 {
			c.pending, c.waiting = &req, true
			c.mu.Unlock()
			time.AfterFunc(wait, func() { h.applyPending(c) })
			continue
		}
		gen := h.setView(c, req.View)
		c.mu.Unlock()
		h.answerView(c, gen, req)
	}
}

// takeView takes a token from c's view bucket, or says how long until one is back. c.mu
// should be held.
func (h *Hub) takeView(c *client, now time.Time) time.Duration {
	if h.viewRate <= 0 {
		return 0
	}
	c.viewTokens = min(float64(h.viewBurst), c.viewTokens+now.Sub(c.viewAt).Seconds()*h.viewRate)
	c.viewAt = now
	if c.viewTokens >= 1 {
		c.viewTokens--
		return 0
	}
	return time.Duration((1 - c.viewTokens) / h.viewRate * float64(time.Second))
}

// applyPending applies the view that waited for a token, unless the client has gone.
func (h *Hub) applyPending(c *client) {
	c.mu.Lock()
	req := c.pending
	c.pending, c.waiting = nil, false
	if req == nil || c.gone() {
		c.mu.Unlock()
		return
	}
	if wait := h.takeView(c, time.Now()); wait > 0 {
		// The timer fired a little early: the token is nearly back, take it now.
		c.viewTokens = 0
	}
	gen := h.setView(c, req.View)
	c.mu.Unlock()
	h.answerView(c, gen, *req)
}

// setView makes v the client's view and returns its generation. c.mu should be held.
func (h *Hub) setView(c *client, v access.View) uint64 {
	c.view, c.key = v, scopeKey(&c.id, v)
	c.gen++
	c.ready = false // flushes leave it alone until it has its snapshot or resume
	h.attachView(c)
	return c.gen
}

// answerView sends the snapshot or resume of a view just applied.
func (h *Hub) answerView(c *client, gen uint64, req viewRequest) {
	if (req.Seq > 0 || req.Epoch != "") && h.isBounded() {
		h.resumeBounded(c, gen, req.Epoch, req.Seq, req.Limit)
	} else if req.Seq > 0 || req.Epoch != "" {
		h.resume(c, gen, req.Epoch, req.Seq)
	} else {
		h.sendSnapshot(c, gen, "")
	}
}
