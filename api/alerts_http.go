package api

// The alert routes: a caller's recent unacknowledged alerts, its acknowledgement of one,
// and (admins) the outbound recipients' state.

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/alert"
	"github.com/cidcc/cop/internal/notify"
)

// alertRoles may see and acknowledge the alerts delivered to them.
var alertRoles = []access.Role{access.RoleCommander, access.RoleAnalyst, access.RoleLiaison, access.RoleAdmin}

func (s *Server) alertRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/alerts", s.authed(s.listAlerts, alertRoles...))
	mux.Handle("POST /api/v1/alerts/{id}/ack", s.authed(s.ackAlert, alertRoles...))
	mux.Handle("GET /api/v1/notify/recipients", s.authed(s.notifyRecipients, access.RoleAdmin))
}

// alertParams reads a websocket URL's alert settings: alerts=1 asks for alert messages,
// alert_score sets the view's threshold (default alert.DefaultScore). msg says what is
// wrong, if anything.
func alertParams(q url.Values) (a clientAlerts, msg string) {
	a.score = alert.DefaultScore
	switch q.Get("alerts") {
	case "", "0", "false":
	case "1", "true":
		a.on = true
	default:
		return a, "alerts: want 1 or 0"
	}
	if v := q.Get("alert_score"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 100 {
			return a, "alert_score: want a number from 0 to 100"
		}
		a.score = f
	}
	return a, ""
}

// listAlerts serves GET /api/v1/alerts: the alerts delivered to the caller, or that
// concern it (raised while none of its dashboards was connected: Hub.concerns), that it
// has not acknowledged, newest first, each still filtered by its clearance and anonymised
// for it, so that a reload shows them again.
func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request, id access.Identity) {
	out := []AlertView{}
	if s.Hub != nil {
		views, fresh := s.Hub.alerts.pending(id.Name, func(a *alert.Alert) bool { return s.Hub.concerns(&id, a) }, time.Now().UTC())
		s.Hub.deliveredLate(&id, fresh)
		for _, a := range views {
			if alertVisible(&id, &a.Alert) {
				a.Subject = s.Anon.Redact(&id, a.Subject)
				out = append(out, a)
			}
		}
	}
	s.audit(r, id, "alerts.list", uint64(len(out)), http.StatusOK)
	writeJSON(w, http.StatusOK, map[string]any{"alerts": out})
}

// ackAlert serves POST /api/v1/alerts/{id}/ack: the caller acknowledges an alert that was
// delivered to it or concerns it. Another's alert, or one it may no longer see, is
// answered as unknown: nobody acknowledges another's alert, nor learns it exists.
func (s *Server) ackAlert(w http.ResponseWriter, r *http.Request, id access.Identity) {
	aid := r.PathValue("id")
	var (
		a   alert.Alert
		at  time.Time
		ok  bool
		now = time.Now().UTC()
	)
	if s.Hub != nil {
		a, at, ok = s.Hub.alerts.ack(aid, id.Name, func(a *alert.Alert) bool { return s.Hub.concerns(&id, a) }, now)
	}
	if !ok || !alertVisible(&id, &a) {
		s.audit(r, id, "alert.ack", 0, http.StatusNotFound)
		writeError(w, http.StatusNotFound, "not_found", "id: no alert "+strconv.Quote(aid)+" was delivered to this identity")
		return
	}
	s.audit(r, id, "alert.ack", 1, http.StatusOK)
	writeJSON(w, http.StatusOK, map[string]any{"id": a.ID, "acked_at": at})
}

// notifyRecipients serves GET /api/v1/notify/recipients (admins): each outbound
// recipient's filters and delivery counts, never its secret.
func (s *Server) notifyRecipients(w http.ResponseWriter, r *http.Request, id access.Identity) {
	out := []notify.Status{}
	if s.Notify != nil {
		out = s.Notify.Status()
	}
	s.audit(r, id, "notify.recipients", uint64(len(out)), http.StatusOK)
	writeJSON(w, http.StatusOK, map[string]any{"recipients": out})
}
