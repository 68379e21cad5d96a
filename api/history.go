package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/store"
)

// Page sizes of the history API.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// redactEvent applies anonymisation for id: the contributor's name becomes the viewer's
// pseudonym of it, and its own report id (which often embeds its name) is dropped.
func (s *Server) redactEvent(id access.Identity, e *store.StoredEvent) {
	if shown := s.Anon.Shown(&id, e.Contributor, e.Anonymise); shown != e.Contributor {
		e.Contributor, e.SourceID = shown, ""
	}
}

// fail answers err as JSON with the right status and returns that status for the audit.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) int {
	var br *badRequest
	switch {
	case errors.As(err, &br):
		writeError(w, http.StatusBadRequest, "bad_request", br.msg)
		return http.StatusBadRequest
	case errors.Is(err, errForbiddenExercise), errors.Is(err, errForbiddenMission):
		// The handler audits it; the log says it happened, as for the other refusals.
		s.refusals().Warn().Str("path", r.URL.Path).Strs("params", paramNames(r)).Int("status", http.StatusForbidden).
			Str("remote", r.RemoteAddr).Str("why", err.Error()).Msg("request refused")
		writeError(w, http.StatusForbidden, "forbidden", err.Error())
		return http.StatusForbidden
	case errors.Is(err, context.Canceled):
		return 499
	}
	s.storeError(r, err, "history query failed")
	writeError(w, http.StatusServiceUnavailable, "store_unavailable", "history store unavailable")
	return http.StatusServiceUnavailable
}

// logError starts an error log entry for r's err: the route and the names of its
// parameters, never their values (a search text, an observable), and err without what
// ClickHouse quotes of the query.
func (s *Server) logError(r *http.Request, err error) *zerolog.Event {
	return s.Log.Error().Str("error", store.Redacted(err)).Str("path", r.URL.Path).Strs("params", paramNames(r))
}

// storeError logs a failed store query of r.
func (s *Server) storeError(r *http.Request, err error, msg string) { s.logError(r, err).Msg(msg) }

// eventPage reads one page of events as id may see them.
func (s *Server) eventPage(r *http.Request, id access.Identity, c store.Caller, f store.EventFilter) ([]*store.StoredEvent, *store.Cursor, error) {
	out := []*store.StoredEvent{}
	next, err := s.Store.EachEvent(r.Context(), c, f, func(e *store.StoredEvent) error {
		s.redactEvent(id, e)
		out = append(out, e)
		return nil
	})
	return out, next, err
}

// events serves GET /api/v1/events: a page of events, or with ?format=csv|stix the whole
// filtered range streamed as it is read.
func (s *Server) events(w http.ResponseWriter, r *http.Request, id access.Identity) {
	q := r.URL.Query()
	format := q.Get("format")
	action := "events.list" // the audit records known actions only: never what a caller typed
	if format == "csv" || format == "stix" {
		action = "events.export." + format
	}
	rows, status := 0, http.StatusOK
	defer func() { s.audit(r, id, action, uint64(max(rows, 0)), status) }()
	c, err := callerFor(id, q)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	f, err := eventFilter(q)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	switch format {
	case "", "json":
	case "csv", "stix":
		if q.Get("limit") == "" {
			f.Limit = 0
		}
		rows, status = s.export(w, r, id, c, f, format)
		return
	default:
		status = s.fail(w, r, badParam("format", "json, csv or stix"))
		return
	}
	out, next, err := s.eventPage(r, id, c, f)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	rows = len(out)
	writeJSON(w, http.StatusOK, page("events", out, next))
}

func page(key string, items any, next *store.Cursor) map[string]any {
	m := map[string]any{key: items}
	if next != nil {
		m["next"] = next.String()
	}
	return m
}

// export streams the events of f as CSV or a STIX bundle. Once the first byte is out an
// error can only cut the stream short; it is logged and audited.
func (s *Server) export(w http.ResponseWriter, r *http.Request, id access.Identity, c store.Caller, f store.EventFilter, format string) (int, int) {
	flush := func() {}
	if fl, ok := w.(http.Flusher); ok {
		flush = fl.Flush
	}
	rows := 0
	var err error
	if format == "csv" {
		x := newCSVExport(w)
		_, err = s.Store.EachEvent(r.Context(), c, f, func(e *store.StoredEvent) error {
			s.redactEvent(id, e)
			rows++
			return x.write(e)
		})
		if cerr := x.close(); err == nil {
			err = cerr
		}
	} else {
		w.Header().Set("Content-Type", "application/stix+json;version=2.1")
		w.Header().Set("Content-Disposition", `attachment; filename="cop-events.json"`)
		x := newSTIXExport(w, flush, id.Name+"|"+r.URL.RawQuery+"|"+time.Now().String())
		notes := s.exportNotes(r, id, c, x)
		_, err = s.Store.EachEvent(r.Context(), c, f, func(e *store.StoredEvent) error {
			s.redactEvent(id, e)
			rows++
			return x.write(e, e.Contributor)
		})
		if err == nil {
			notes.write(r, x)
		}
		if cerr := x.close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		s.logError(r, err).Str("format", format).Int("rows", rows).Msg("export cut short")
		return rows, http.StatusInternalServerError
	}
	return rows, http.StatusOK
}

// situationKeep returns the checks the store cannot make in SQL: a commander sees only
// situations in its missions' areas (or the one it names), and a contributor filter
// matches an anonymised contributor by name only for itself and admins. When the areas
// are countries only, it sets f.Areas so the store reads only situations that may pass.
func (s *Server) situationKeep(id access.Identity, q url.Values, f *store.SituationFilter) (func(*store.StoredSituation) bool, error) {
	var missions []access.Mission
	if m := strings.ToUpper(q.Get("mission")); m != "" {
		if !id.AllowedMission(m) {
			return nil, &badRequest{"mission: not one of this identity's missions"}
		}
		if ms, ok := s.Missions[m]; ok {
			missions = append(missions, ms)
		} else {
			return nil, badParam("mission", "a known mission")
		}
	} else if id.Role == access.RoleCommander {
		for _, m := range id.Missions {
			if ms, ok := s.Missions[m]; ok {
				missions = append(missions, ms)
			}
		}
		if len(missions) == 0 {
			return func(*store.StoredSituation) bool { return false }, nil
		}
	}
	var areas []string
	for _, m := range missions {
		if len(m.Boxes) > 0 { // a position in a box also covers: no country prefilter
			areas = nil
			break
		}
		areas = append(areas, m.Countries...)
	}
	f.Areas = areas
	return func(st *store.StoredSituation) bool {
		if len(missions) > 0 {
			covered := false
			for _, m := range missions {
				covered = covered || m.Covers(&st.Situation)
			}
			if !covered {
				return false
			}
		}
		if len(f.Contributors) > 0 && id.Role != access.RoleAdmin {
			named := false
			for _, c := range st.Contributors {
				for _, want := range f.Contributors {
					named = named || c.Name == want && (!c.Anonymise || c.Name == id.Name)
				}
			}
			if !named {
				return false
			}
		}
		return true
	}, nil
}

// situations serves GET /api/v1/situations: the latest version of each situation.
func (s *Server) situations(w http.ResponseWriter, r *http.Request, id access.Identity) {
	q := r.URL.Query()
	rows, status := 0, http.StatusOK
	defer func() { s.audit(r, id, "situations.list", uint64(max(rows, 0)), status) }()
	c, err := callerFor(id, q)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	f, err := situationFilter(q)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	keep, err := s.situationKeep(id, q, &f)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	out := []situationView{}
	next, err := s.Store.EachSituation(r.Context(), c, f, func(st *store.StoredSituation) (bool, error) {
		if !keep(st) {
			return false, nil
		}
		out = append(out, s.viewOf(id, st))
		return true, nil
	})
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	rows = len(out)
	writeJSON(w, http.StatusOK, page("situations", out, next))
}

// situationView is a situation as one viewer may see it.
type situationView struct {
	store.StoredSituation
}

func (s *Server) viewOf(id access.Identity, st *store.StoredSituation) situationView {
	v := situationView{*st}
	v.Situation = s.Anon.Redact(&id, st.Situation)
	return v
}

// liveSituation is situation sid as the live picture holds it, when the store does not
// hold it yet (the correlator writes small flushes up to --store-flush-wait after the
// picture shows them) and the caller may see it: the live picture's own rule
// (access.Identity.SituationVisible, in the caller's exercise) and the request's filters
// (keep). nil otherwise.
func (s *Server) liveSituation(id access.Identity, c store.Caller, sid string, keep func(*store.StoredSituation) bool) *store.StoredSituation {
	if s.Picture == nil {
		return nil
	}
	ps := s.Picture.Get(sid)
	if ps == nil || !id.SituationVisible(ps, access.View{Exercise: c.Exercise}, s.Missions) {
		return nil
	}
	st := &store.StoredSituation{Situation: *ps}
	if !keep(st) {
		return nil
	}
	return st
}

// situation serves GET /api/v1/situations/{id}: its latest version and member events.
// A situation the live picture shows before the store holds it is answered from the
// picture, with the events stored so far.
func (s *Server) situation(w http.ResponseWriter, r *http.Request, id access.Identity) {
	q := r.URL.Query()
	rows, status := 0, http.StatusOK
	defer func() { s.audit(r, id, "situations.get", uint64(max(rows, 0)), status) }()
	c, err := callerFor(id, q)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	sf := store.SituationFilter{ID: r.PathValue("id"), Limit: 1}
	keep, err := s.situationKeep(id, q, &sf)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	var found *situationView
	sid := sf.ID
	if _, err := s.Store.EachSituation(r.Context(), c, sf, func(st *store.StoredSituation) (bool, error) {
		if keep(st) {
			v := s.viewOf(id, st)
			found = &v
		}
		return true, nil
	}); err != nil {
		status = s.fail(w, r, err)
		return
	}
	if found == nil {
		if st := s.liveSituation(id, c, sid, keep); st != nil {
			v := s.viewOf(id, st)
			found = &v
		}
	}
	if found == nil {
		// The same answer whether it does not exist or may not be seen.
		status = http.StatusNotFound
		writeError(w, status, "not_found", "no situation "+sid+" in this identity's view")
		return
	}
	f := store.EventFilter{Situation: sid, Limit: MaxLimit}
	if f.After, err = parseCursor(q); err != nil {
		status = s.fail(w, r, err)
		return
	}
	events, next, err := s.eventPage(r, id, c, f)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	rows = 1 + len(events)
	body := map[string]any{"situation": found, "events": events}
	if next != nil {
		body["next"] = next.String()
	}
	writeJSON(w, http.StatusOK, body)
}

// observable serves GET /api/v1/observables/{value}: every sighting of the value.
func (s *Server) observable(w http.ResponseWriter, r *http.Request, id access.Identity) {
	q := r.URL.Query()
	rows, status := 0, http.StatusOK
	defer func() { s.audit(r, id, "observables.get", uint64(max(rows, 0)), status) }()
	c, err := callerFor(id, q)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	value, typ, err := observableParam(r.PathValue("value"), q.Get("type"))
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	h, err := s.Store.Observable(r.Context(), c, value, typ)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	for i := range h.Sightings {
		sg := &h.Sightings[i]
		sg.Contributor = s.Anon.Shown(&id, sg.Contributor, sg.Anonymise)
	}
	rows = len(h.Sightings)
	writeJSON(w, http.StatusOK, h)
}

// statsOrTrend serves GET /api/v1/stats: the totals as before, or with ?group= trend
// counts of distinct events (analysts and admins).
func (s *Server) statsOrTrend(w http.ResponseWriter, r *http.Request, id access.Identity) {
	if r.URL.Query().Get("group") == "" {
		s.stats(w, r, id)
		return
	}
	q := r.URL.Query()
	rows, status := 0, http.StatusOK
	defer func() { s.audit(r, id, "stats.trend", uint64(max(rows, 0)), status) }()
	if id.Role != access.RoleAnalyst && id.Role != access.RoleAdmin {
		status = http.StatusForbidden
		writeError(w, status, "forbidden", "trends are for analysts")
		return
	}
	c, err := callerFor(id, q)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	f, err := eventFilter(q)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	dims := list(q, "group")
	for _, d := range dims {
		if !validDim(d) {
			status = s.fail(w, r, badParam("group", "one or two of "+strings.Join(store.TrendDims(), ", ")))
			return
		}
	}
	if len(dims) > 2 {
		status = s.fail(w, r, badParam("group", "one or two dimensions"))
		return
	}
	trend, err := s.Store.Trend(r.Context(), c, f, dims)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	for i := range trend {
		for j, d := range dims {
			if d == "contributor" {
				trend[i].Key[j] = s.Anon.Shown(&id, trend[i].Key[j], trend[i].Anonymise)
			}
		}
	}
	if trend == nil {
		trend = []store.TrendRow{}
	}
	rows = len(trend)
	writeJSON(w, http.StatusOK, map[string]any{"group": dims, "rows": trend})
}

func validDim(d string) bool {
	for _, x := range store.TrendDims() {
		if d == x {
			return true
		}
	}
	return false
}

// historyRoutes registers the analysts' history API, its OpenAPI description and TAXII.
func (s *Server) historyRoutes(mux *http.ServeMux) {
	analysts := []access.Role{access.RoleAnalyst, access.RoleAdmin}
	mux.Handle("GET /api/v1/events", s.authed(s.events, analysts...))
	mux.Handle("GET /api/v1/situations", s.authed(s.situations, access.RoleCommander, access.RoleAnalyst, access.RoleAdmin))
	mux.Handle("GET /api/v1/situations/{id}", s.authed(s.situation, access.RoleCommander, access.RoleAnalyst, access.RoleLiaison, access.RoleAdmin))
	mux.Handle("GET /api/v1/campaigns", s.authed(s.campaigns, access.RoleCommander, access.RoleAnalyst, access.RoleLiaison, access.RoleAdmin))
	mux.Handle("GET /api/v1/campaigns/{id}", s.authed(s.campaign, access.RoleCommander, access.RoleAnalyst, access.RoleLiaison, access.RoleAdmin))
	mux.Handle("GET /api/v1/observables/{value}", s.authed(s.observable, analysts...))
	s.taxiiRoutes(mux)
	s.mispRoutes(mux)
	mux.HandleFunc("GET /api/v1/openapi.json", serveOpenAPI)
}
