package api

// Dashboard alerts: what the hub detects entering or rising in each connected view, what
// it is raised from elsewhere (Hub.Raise, an alert.Sink: the crisis code), the recent
// alerts kept for GET /api/v1/alerts, and who acknowledged them (docs/alerts.md).

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/alert"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

// Alert limits.
const (
	// maxAlerts is how many alerts the hub keeps for GET /api/v1/alerts and acks; the
	// oldest go first.
	maxAlerts = 512
	// connAlerts is how many alert ids one connection remembers so as not to be sent the
	// same alert twice.
	connAlerts = 256
	// alertFresh bounds how old a situation's last change may be for it to raise an
	// alert: a picture reloading from cop.picture after a restart raises none for what
	// changed long ago.
	alertFresh = 5 * time.Minute
)

// AlertMessage is what the hub sends on /ws/picture to a client that asked for alerts
// (alerts=1): one alert, its subject as this client may see it. It carries no sequence
// and leaves the client's picture as it was.
type AlertMessage struct {
	Type   string      `json:"type"` // "alert"
	SentAt time.Time   `json:"sent_at"`
	Alert  alert.Alert `json:"alert"`
}

// AlertView is an alert as GET /api/v1/alerts lists it.
type AlertView struct {
	alert.Alert
	DeliveredAt time.Time `json:"delivered_at"`
}

// clientAlerts is a connection's alert settings and the alerts it was sent. Its client's
// lock should be held.
type clientAlerts struct {
	on    bool    // the client asked for alerts
	score float64 // its alert threshold (alert.DefaultScore unless it set one)
	sent  []string
}

// alertEntry is one alert kept: to whom it was delivered and who acknowledged it.
type alertEntry struct {
	a         alert.Alert
	delivered map[string]time.Time // identity name → first delivery
	acked     map[string]time.Time // identity name → acknowledgement
}

// alertBook keeps the last maxAlerts alerts by id.
type alertBook struct {
	mu    sync.Mutex
	byID  map[string]*alertEntry // Lock should be held.
	order []string               // ids, oldest first; Lock should be held.
}

// add keeps a unless an alert of its id is kept already, and reports whether it is new.
func (b *alertBook) add(a alert.Alert) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.byID == nil {
		b.byID = map[string]*alertEntry{}
	}
	if _, ok := b.byID[a.ID]; ok {
		return false
	}
	if len(b.order) >= maxAlerts {
		delete(b.byID, b.order[0])
		b.order = slices.Delete(b.order, 0, 1)
	}
	b.byID[a.ID] = &alertEntry{a: a, delivered: map[string]time.Time{}, acked: map[string]time.Time{}}
	b.order = append(b.order, a.ID)
	return true
}

// delivered records that alert id reached identity name and reports whether it is the
// first time.
func (b *alertBook) delivered(id, name string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.byID[id]
	if e == nil {
		return false
	}
	if _, ok := e.delivered[name]; ok {
		return false
	}
	e.delivered[name] = now
	return true
}

// acked reports whether identity name acknowledged alert id.
func (b *alertBook) acked(id, name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.byID[id]
	if e == nil {
		return false
	}
	_, ok := e.acked[name]
	return ok
}

// pending returns the alerts delivered to name, or that concern it, and that it has not
// acknowledged, newest first; fresh are those delivered now, by this call (an alert
// raised while none of name's dashboards was connected).
func (b *alertBook) pending(name string, concerns func(*alert.Alert) bool, now time.Time) (out []AlertView, fresh []alert.Alert) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.order) - 1; i >= 0; i-- {
		e := b.byID[b.order[i]]
		if _, done := e.acked[name]; done {
			continue
		}
		at, ok := e.delivered[name]
		if !ok && concerns(&e.a) {
			at, ok = now, true
			e.delivered[name] = now
			fresh = append(fresh, e.a)
		}
		if ok {
			out = append(out, AlertView{Alert: e.a, DeliveredAt: at})
		}
	}
	return out, fresh
}

// ack records name's acknowledgement of alert id, which must have been delivered to it
// or concern it. It returns the alert and when it was first acknowledged; ok is false
// when it is neither (or no longer kept).
func (b *alertBook) ack(id, name string, concerns func(*alert.Alert) bool, now time.Time) (a alert.Alert, at time.Time, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.byID[id]
	if e == nil {
		return alert.Alert{}, time.Time{}, false
	}
	if _, ok := e.delivered[name]; !ok && !concerns(&e.a) {
		return alert.Alert{}, time.Time{}, false
	}
	if at, ok := e.acked[name]; ok {
		return e.a, at, true
	}
	e.acked[name] = now
	return e.a, now, true
}

// alertVisible reports whether id may still see a (its clearance may have changed since
// the alert was delivered): the marking rules on its subject in its own exercise.
func alertVisible(id *access.Identity, a *alert.Alert) bool {
	s := &a.Subject
	return id.AllowedExercise(s.Exercise) &&
		id.CanSee(access.Marked{TLP: s.TLP, ReleasableTo: s.ReleasableTo, Exercise: s.Exercise}, s.Exercise)
}

// concerns reports whether a concerns id when none of its dashboards was there to be
// sent it: its subject in id's picture under the view it takes by default (each of a
// commander's missions; every area for the other roles) of the subject's exercise, and,
// but for a crisis, at or above the default alert threshold.
func (h *Hub) concerns(id *access.Identity, a *alert.Alert) bool {
	s := &a.Subject
	if a.Kind != alert.KindCrisis && s.Score < alert.DefaultScore || !id.AllowedExercise(s.Exercise) {
		return false
	}
	if id.Role != access.RoleCommander {
		return id.SituationVisible(s, access.View{Exercise: s.Exercise}, h.missions)
	}
	for _, m := range id.Missions {
		if id.SituationVisible(s, access.View{Mission: m, Exercise: s.Exercise}, h.missions) {
			return true
		}
	}
	return false
}

// deliveredLate audits the alerts GET /api/v1/alerts delivered to id.
func (h *Hub) deliveredLate(id *access.Identity, as []alert.Alert) {
	for _, a := range as {
		h.auditAlert(store.AuditEntry{Identity: id.Name, Role: string(id.Role), Action: "alert.deliver",
			Filter: "alert:" + a.ID + " via=list", Rows: 1, Status: 200})
	}
}

// Raise delivers a to every connected client that asked for alerts and whose view
// concerns it (access.Identity.SituationVisible of its subject under the client's view):
// Hub implements alert.Sink. It does not wait for any client.
func (h *Hub) Raise(a alert.Alert) {
	if a.ID == "" {
		h.log.Error().Str("kind", string(a.Kind)).Msg("BUG: alert raised without an id; dropped")
		return
	}
	if a.At.IsZero() {
		a.At = time.Now().UTC()
	}
	h.keepAlert(a)
	h.mu.Lock()
	var cs []*client
	for _, slot := range h.slots {
		for c := range slot {
			cs = append(cs, c)
		}
	}
	h.mu.Unlock()
	for _, c := range cs {
		c.mu.Lock()
		on, v := c.alerts.on, c.view
		c.mu.Unlock()
		if on && c.id.SituationVisible(&a.Subject, v, h.missions) {
			h.sendAlert(c, a)
		}
	}
}

// keepAlert keeps a for GET /api/v1/alerts; the first raise of an id is audited.
func (h *Hub) keepAlert(a alert.Alert) {
	if h.alerts.add(a) {
		h.alertsRaised.Inc()
		h.auditAlert(store.AuditEntry{Identity: "cop", Role: "system", Action: "alert.raise",
			Filter: fmt.Sprintf("alert:%s kind=%s score=%.1f", a.ID, a.Kind, a.Subject.Score), Status: 200})
	}
}

// sendAlert sends a to c, its subject as c may see it, unless c was sent it already. The
// first delivery of an alert to an identity is audited.
func (h *Hub) sendAlert(c *client, a alert.Alert) {
	c.mu.Lock()
	if slices.Contains(c.alerts.sent, a.ID) {
		c.mu.Unlock()
		return
	}
	if len(c.alerts.sent) >= connAlerts {
		c.alerts.sent = slices.Delete(c.alerts.sent, 0, 1)
	}
	c.alerts.sent = append(c.alerts.sent, a.ID)
	c.mu.Unlock()
	a.Subject = h.Anon.Redact(&c.id, a.Subject)
	now := time.Now().UTC()
	b, err := json.Marshal(AlertMessage{Type: "alert", SentAt: now, Alert: a})
	if err != nil {
		h.log.Error().Err(err).Msg("BUG: cannot encode alert message")
		return
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, b)
	if err != nil {
		return
	}
	h.enqueue(c, pm)
	h.alertsSent.Inc()
	if h.alerts.delivered(a.ID, c.id.Name, now) {
		h.auditAlert(store.AuditEntry{Identity: c.id.Name, Role: string(c.id.Role), Action: "alert.deliver",
			Filter: "alert:" + a.ID, Rows: 1, Status: 200})
	}
}

func (h *Hub) auditAlert(e store.AuditEntry) {
	if h.Audit != nil {
		e.At = time.Now().UTC()
		h.Audit(e)
	}
}

// viewAlerts are the alerts of one flush group: what in changes entered, or rose in, the
// view v of identity id, as that identity may see them.
func (h *Hub) viewAlerts(id *access.Identity, v access.View, changes []Change, threshold float64, now time.Time) []alert.Alert {
	var out []alert.Alert
	for i := range changes {
		if a, ok := h.changeAlert(id, v, &changes[i], threshold, now); ok {
			out = append(out, a)
		}
	}
	return out
}

// changeAlert is the alert ch raises in view v of id, if any: its situation entered the
// view at or above threshold (it was not visible before, or scored below), or crossed
// alert.CriticalScore while in it.
func (h *Hub) changeAlert(id *access.Identity, v access.View, ch *Change, threshold float64, now time.Time) (alert.Alert, bool) {
	cur := ch.Cur
	if cur == nil || cur.Score < threshold || now.Sub(cur.UpdatedAt) > alertFresh || !id.SituationVisible(cur, v, h.missions) {
		return alert.Alert{}, false
	}
	prev := -1.0 // not in the view
	if ch.Prev != nil && id.SituationVisible(ch.Prev, v, h.missions) {
		prev = ch.Prev.Score
	}
	return Crossing(cur, prev, threshold, now)
}

// Crossing is the alert a situation raises whose score went from prev (-1: it was not
// there) to cur.Score against threshold: "entered" when prev was below threshold,
// "critical" when it crossed alert.CriticalScore above threshold; ok is false when it
// crossed nothing. A situation naming a campaign raises the campaign's alert instead of its
// own when it enters, so that a campaign's members alert once. The alert's id depends on the
// subject and the reason only, so a repeat is the same alert.
func Crossing(cur *picture.Situation, prev, threshold float64, now time.Time) (alert.Alert, bool) {
	a := alert.Alert{At: now.UTC(), Kind: alert.KindSituation, Subject: *cur}
	switch {
	case prev < threshold:
		a.ID = "situation:" + cur.ID + ":entered"
		a.Reason = fmt.Sprintf("%s entered the view at score %.0f (alert threshold %.0f)", cur.Title, cur.Score, threshold)
		for _, n := range cur.Names {
			if n.Kind == "campaign" {
				a.ID, a.Kind = "campaign:"+strings.ToLower(n.Name)+":entered", alert.KindCampaign
				a.Reason = fmt.Sprintf("campaign %s entered the view: %s at score %.0f", n.Name, cur.Title, cur.Score)
				break
			}
		}
	case prev < alert.CriticalScore && cur.Score >= alert.CriticalScore && threshold < alert.CriticalScore:
		a.ID = "situation:" + cur.ID + ":critical"
		a.Reason = fmt.Sprintf("%s rose to score %.0f (critical at %d)", cur.Title, cur.Score, alert.CriticalScore)
	default:
		return alert.Alert{}, false
	}
	return a, true
}

// flushAlerts is the alert scratch of one slot's flush: the alerts of each group and
// threshold, computed once.
type flushAlerts map[alertGroup][]alert.Alert

type alertGroup struct {
	gk        groupKey
	threshold float64
}

// deliverFlushAlerts sends c the alerts that the changes of its flush raise in its view.
func (h *Hub) deliverFlushAlerts(f *flush, d *pendingFlush, changes []Change, now time.Time) {
	if !d.alerts {
		return
	}
	if f.alerts == nil {
		f.alerts = flushAlerts{}
	}
	ag := alertGroup{d.gk, d.threshold}
	as, ok := f.alerts[ag]
	if !ok {
		as = h.viewAlerts(&d.c.id, d.v, changes, d.threshold, now)
		f.alerts[ag] = as
	}
	h.deliverAlerts(d.c, as)
}

// deliverAlerts keeps and sends c the alerts as, but those its identity acknowledged.
func (h *Hub) deliverAlerts(c *client, as []alert.Alert) {
	for _, a := range as {
		if h.alerts.acked(a.ID, c.id.Name) {
			continue // a repeat of an alert this identity acknowledged
		}
		h.keepAlert(a)
		h.sendAlert(c, a)
	}
}

// resumeAlerts sends a client that resumed the alerts of what changed in its view while it
// was away.
func (h *Hub) resumeAlerts(c *client, v access.View, changes []Change, now time.Time) {
	c.mu.Lock()
	on, threshold := c.alerts.on, c.alerts.score
	c.mu.Unlock()
	if on {
		h.deliverAlerts(c, h.viewAlerts(&c.id, v, changes, threshold, now))
	}
}
