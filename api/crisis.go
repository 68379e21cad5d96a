package api

// The crisis paths: the board's list and one crisis (GET /api/v1/crises, /{id}), the
// actions of analysts and liaison officers (POST /api/v1/crises/{id}/actions) and the
// board's live updates (GET /ws/crises). Each reads through CrisisBoard.Visible and
// names anonymised contributors as the caller may see them; each is audited, refusals too.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/crisis"
)

// crisisReaders may read the crisis board; crisis.MayAct says who may act.
var crisisReaders = []access.Role{access.RoleCommander, access.RoleAnalyst, access.RoleLiaison, access.RoleAdmin}

// crisisRoutes adds the crisis paths to mux; without a board they answer 503.
func (s *Server) crisisRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/crises", s.authed(s.withBoard(s.crisisList), crisisReaders...))
	mux.Handle("GET /api/v1/crises/{id}", s.authed(s.withBoard(s.crisisGet), crisisReaders...))
	mux.Handle("POST /api/v1/crises/{id}/actions", s.authed(s.withBoard(s.crisisAct), access.RoleAnalyst, access.RoleLiaison, access.RoleAdmin))
	mux.Handle("GET /ws/crises", s.authedWS(s.withBoard(s.crisisWS), crisisReaders...))
}

// withBoard answers 503 when this instance runs no crisis board (cop api without it).
func (s *Server) withBoard(h func(http.ResponseWriter, *http.Request, access.Identity)) func(http.ResponseWriter, *http.Request, access.Identity) {
	return func(w http.ResponseWriter, r *http.Request, id access.Identity) {
		if s.Crises == nil {
			s.audit(r, id, "crises", 0, http.StatusServiceUnavailable)
			writeError(w, http.StatusServiceUnavailable, "no_crisis_board", "this instance runs no crisis board")
			return
		}
		h(w, r, id)
	}
}

// CrisisList is the body of GET /api/v1/crises and of every /ws/crises message.
type CrisisList struct {
	Type     string          `json:"type,omitempty"` // "crises" on the websocket
	At       time.Time       `json:"at"`
	Exercise string          `json:"exercise,omitempty"`
	Rules    string          `json:"rules_version"`
	MayAct   bool            `json:"may_act"` // the caller's role may act on crises
	Crises   []crisis.Crisis `json:"crises"`
}

// shownCrisis is c as id may see it: anonymised contributors by their pseudonyms, without
// their side (civil or military: the counts say it), sorted again by the names shown.
func (s *Server) shownCrisis(id *access.Identity, c crisis.Crisis) crisis.Crisis {
	for i := range c.Contributors {
		ct := &c.Contributors[i]
		if shown := s.Anon.Shown(id, ct.Name, ct.Anonymise); shown != ct.Name {
			ct.Name, ct.Military = shown, false
		}
	}
	slices.SortFunc(c.Contributors, func(a, b crisis.Contributor) int { return strings.Compare(a.Name, b.Name) })
	return c
}

// visibleCrises lists the crises id may see in exercise whose status is wanted, most
// urgent first (level, then status, then the latest change).
func (s *Server) visibleCrises(id *access.Identity, exercise, status string) CrisisList {
	out := CrisisList{At: time.Now().UTC(), Exercise: exercise, Rules: s.Crises.Rules.Version, MayAct: crisis.MayAct(id.Role), Crises: []crisis.Crisis{}}
	for _, c := range s.Crises.List() {
		if status == "open" && !c.Open() || status == "closed" && c.Open() || !s.Crises.Visible(id, exercise, &c) {
			continue
		}
		out.Crises = append(out.Crises, s.shownCrisis(id, c))
	}
	rank := map[crisis.Status]int{crisis.Coordinated: 0, crisis.Escalated: 1, crisis.Monitoring: 2, crisis.Closed: 3}
	slices.SortStableFunc(out.Crises, func(a, b crisis.Crisis) int {
		if a.Level != b.Level {
			return b.Level - a.Level
		}
		if a.Status != b.Status {
			return rank[a.Status] - rank[b.Status]
		}
		return b.UpdatedAt.Compare(a.UpdatedAt)
	})
	return out
}

// crisisQuery reads the exercise (which the caller must be allowed) and status filter.
func crisisQuery(r *http.Request, id *access.Identity) (exercise, status string, err error) {
	q := r.URL.Query()
	exercise = strings.ToUpper(q.Get("exercise"))
	if !id.AllowedExercise(exercise) {
		return "", "", errForbiddenExercise
	}
	status = q.Get("status")
	switch status {
	case "":
		status = "open"
	case "open", "closed", "all":
	default:
		return "", "", badParam("status", "open, closed or all")
	}
	return exercise, status, nil
}

// crisisList serves GET /api/v1/crises: the crises the caller may see, open ones unless
// ?status= says otherwise, in the real picture or the exercise ?exercise= names.
func (s *Server) crisisList(w http.ResponseWriter, r *http.Request, id access.Identity) {
	status, rows := http.StatusOK, 0
	defer func() { s.audit(r, id, "crises.list", uint64(rows), status) }()
	exercise, which, err := crisisQuery(r, &id)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	list := s.visibleCrises(&id, exercise, which)
	rows = len(list.Crises)
	writeJSON(w, http.StatusOK, list)
}

// crisisGet serves GET /api/v1/crises/{id}: one crisis, 404 alike when it does not exist
// and when the caller may not see it (or it is not in the exercise asked).
func (s *Server) crisisGet(w http.ResponseWriter, r *http.Request, id access.Identity) {
	status, rows := http.StatusOK, 0
	defer func() { s.audit(r, id, "crises.get", uint64(rows), status) }()
	exercise, _, err := crisisQuery(r, &id)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	c, ok := s.Crises.Get(r.PathValue("id"))
	if !ok || !s.Crises.Visible(&id, exercise, &c) {
		status = http.StatusNotFound
		writeError(w, status, "not_found", "id: no crisis with this id that this identity may see"+inExercise(exercise))
		return
	}
	rows = 1
	writeJSON(w, http.StatusOK, s.shownCrisis(&id, c))
}

func inExercise(exercise string) string {
	if exercise == "" {
		return " in the real picture (add ?exercise= for an exercise's)"
	}
	return " in exercise " + exercise
}

// crisisAct serves POST /api/v1/crises/{id}/actions {action, level, reason}: an analyst,
// liaison officer or admin confirms, escalates, downgrades, coordinates or closes a
// crisis it may see. The change is stored before the answer, alerted and pushed.
func (s *Server) crisisAct(w http.ResponseWriter, r *http.Request, id access.Identity) {
	status := http.StatusOK
	action := "crises.action"
	defer func() { s.audit(r, id, action, 0, status) }()
	exercise, _, err := crisisQuery(r, &id)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	var a crisis.Action
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		status = http.StatusBadRequest
		writeError(w, status, "bad_request", "body: want a JSON object {\"action\": one of "+strings.Join(crisis.Actions, ", ")+
			", \"level\": 1 to 4 (optional), \"reason\": text}")
		return
	}
	if slices.Contains(crisis.Actions, a.Action) {
		action = "crises." + a.Action
	}
	if len(a.Reason) > 2000 {
		status = http.StatusBadRequest
		writeError(w, status, "bad_request", "reason: want at most 2000 characters")
		return
	}
	ch, found, err := s.Crises.act(r.PathValue("id"), func(c *crisis.Crisis) bool { return s.Crises.Visible(&id, exercise, c) },
		a, id.Name, time.Now().UTC())
	switch {
	case !found:
		status = http.StatusNotFound
		writeError(w, status, "not_found", "id: no crisis with this id that this identity may see"+inExercise(exercise))
		return
	case errors.Is(err, crisis.ErrTransition):
		status = http.StatusConflict
		writeError(w, status, "conflict", err.Error())
		return
	case err != nil:
		status = http.StatusBadRequest
		writeError(w, status, "bad_request", err.Error())
		return
	}
	if s.Store != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
		err := s.Store.SaveCrises(ctx, s.Crises.Namespace, []crisis.Crisis{ch.Crisis})
		cancel()
		if err != nil {
			// Kept in memory and on the board; stored with its next change.
			s.logError(r, err).Str("crisis", ch.Crisis.ID).Msg("cannot store a crisis action")
		}
	}
	s.raiseCrisis(ch)
	writeJSON(w, http.StatusOK, s.shownCrisis(&id, ch.Crisis))
}

// crisisWS serves GET /ws/crises?exercise=: the board's live view. On connect and after
// every change it sends the whole list the caller may see (a CrisisList of type "crises"):
// crises are few, and a full list cannot drift. The client sends nothing.
func (s *Server) crisisWS(w http.ResponseWriter, r *http.Request, id access.Identity) {
	exercise, _, err := crisisQuery(r, &id)
	if err != nil {
		s.audit(r, id, "crises.ws", 0, s.fail(w, r, err))
		return
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader already answered
	}
	s.audit(r, id, "crises.ws", 0, http.StatusSwitchingProtocols)
	conn.NetConn().SetDeadline(time.Time{})
	conn.SetReadLimit(maxClientMessage)
	done := make(chan struct{})
	go func() { // reads only to see the client leave (and its pongs)
		defer close(done)
		conn.SetReadDeadline(time.Now().Add(pongWait))
		conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(pongWait)) })
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	go func() {
		defer conn.Close()
		ping := time.NewTicker(pingEvery)
		defer ping.Stop()
		var last []byte
		for {
			changed := s.Crises.Changed()
			list := s.visibleCrises(&id, exercise, "open")
			list.Type = "crises"
			list.At = time.Time{} // so an unchanged list encodes the same
			b, _ := json.Marshal(list)
			if string(b) != string(last) {
				conn.SetWriteDeadline(time.Now().Add(writeWait))
				if err := conn.WriteMessage(websocket.TextMessage, b); err != nil {
					return
				}
				last = b
			}
			select {
			case <-done:
				return
			case <-changed:
			case <-ping.C:
				conn.SetWriteDeadline(time.Now().Add(writeWait))
				if err := conn.WriteMessage(websocket.PingMessage, nil); err != nil {
					return
				}
			}
		}
	}()
}
