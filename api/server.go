// Package api owns COP's HTTP surface: authentication, the websocket hub that pushes the
// live picture, the REST history API, the dashboard's static files, metrics and health.
// Every read path filters through internal/access. It does not correlate or parse feeds.
package api

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/alert"
	"github.com/cidcc/cop/internal/metrics"
	"github.com/cidcc/cop/internal/notify"
	"github.com/cidcc/cop/internal/store"
)

// DevIdentity is the identity every request gets with --insecure-dev.
var DevIdentity = access.Identity{Name: "dev", Role: access.RoleAdmin, MaxTLP: 5}

// Server is the API of one COP instance.
type Server struct {
	Auth     Authenticator // nil only with Insecure
	Insecure bool          // --insecure-dev: every caller is DevIdentity
	Store    *store.Store
	Picture  *Picture
	Hub      *Hub
	Missions access.Missions
	// Anon names anonymised contributors on every REST, export and TAXII path.
	Anon    access.Anonymiser
	Metrics *metrics.Registry
	Log     zerolog.Logger
	// UI holds the dashboard's static files; nil serves none.
	UI fs.FS
	// Ready reports whether the stage's dependencies answer; /readyz uses it.
	Ready func(ctx context.Context) error
	// Push, when set, serves POST /api/v1/feeds (the HTTP push gateway).
	Push func(w http.ResponseWriter, r *http.Request, id access.Identity)
	// PushLimit limits pushes per contributor; nil takes NewPushLimiter(Limits).
	PushLimit *RateLimiter
	// Limits bound each caller's cost: body and idle timeouts here and in HTTPServer, push
	// limits when PushLimit is nil. The hub has its own (Hub.SetLimits).
	Limits Limits
	// Crises is the crisis board (GET /api/v1/crises, /ws/crises); nil serves none.
	Crises *CrisisBoard
	// Alerts takes the alerts crises raise; nil raises none.
	Alerts alert.Sink
	// Notify, when set, is the outbound recipients GET /api/v1/notify/recipients lists.
	Notify *notify.Notifier
	// MaxBody caps request bodies other than pushes (which the gateway caps itself);
	// 0 means 1 MiB.
	MaxBody int64

	refusalOnce sync.Once
	refusalLog  *zerolog.Logger // sampled: see refusals
}

// Handler returns the HTTP handler with every route.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.authed(func(w http.ResponseWriter, r *http.Request, id access.Identity) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		s.Metrics.WriteTo(w)
	}, access.RoleAdmin))
	mux.Handle("GET /ws/picture", s.authedWS(s.Hub.ServeWS, access.RoleCommander, access.RoleAnalyst, access.RoleLiaison, access.RoleAdmin))
	mux.Handle("GET /api/v1/stats", s.authed(s.statsOrTrend, access.RoleAnalyst, access.RoleAdmin))
	s.historyRoutes(mux)
	s.noteRoutes(mux)
	s.crisisRoutes(mux)
	s.alertRoutes(mux)
	mux.Handle("GET /api/v1/whoami", s.authed(func(w http.ResponseWriter, r *http.Request, id access.Identity) {
		writeJSON(w, http.StatusOK, id)
	}, access.RoleContributor, access.RoleCommander, access.RoleAnalyst, access.RoleLiaison, access.RoleAdmin))
	mux.Handle("GET /api/v1/missions", s.authed(s.missions, access.RoleCommander, access.RoleAnalyst, access.RoleLiaison, access.RoleAdmin))
	mux.Handle("GET /api/v1/contributions", s.authed(s.contributions, access.RoleContributor, access.RoleAdmin))
	if s.Push != nil {
		if s.PushLimit == nil {
			s.PushLimit = NewPushLimiter(s.Limits)
		}
		mux.Handle("POST /api/v1/feeds", s.authed(s.PushLimit.limit(s.Push), access.RoleContributor))
	}
	if s.UI != nil {
		mux.Handle("GET /", staticFiles(s.UI))
	}
	return securityHeaders(s.deadlines(s.limitBodies(pushMethod(mux))))
}

// pushMethod answers any method but POST on /api/v1/feeds with 405 and Allow: POST; the
// mux's own answer listed GET and HEAD too, from the dashboard's catch-all GET /.
func pushMethod(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/feeds" && r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method: want POST")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if s.Ready != nil {
		if err := s.Ready(ctx); err != nil {
			writeError(w, http.StatusServiceUnavailable, "not_ready", err.Error())
			return
		}
	}
	if s.Picture != nil && !s.Picture.Loaded() {
		writeError(w, http.StatusServiceUnavailable, "not_ready", "live picture still loading from cop.picture")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request, id access.Identity) {
	exercise := strings.ToUpper(r.URL.Query().Get("exercise"))
	if !id.AllowedExercise(exercise) {
		s.audit(r, id, "stats", 0, http.StatusForbidden)
		writeError(w, http.StatusForbidden, "forbidden", "this identity may not view exercise "+exercise)
		return
	}
	sc := store.Scope{Exercise: exercise, MaxTLP: id.MaxTLP, Viewer: id.Name, Named: id.Recipients()}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &sc.Since}, {"until", &sc.Until}} {
		if v := r.URL.Query().Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, "bad_request", p.name+": want an RFC 3339 time")
				return
			}
			*p.dst = store.QueryTime(t)
		}
	}
	st, err := s.Store.Stats(r.Context(), sc)
	if err != nil {
		s.storeError(r, err, "stats query failed")
		s.audit(r, id, "stats", 0, http.StatusServiceUnavailable)
		writeError(w, http.StatusServiceUnavailable, "store_unavailable", "history store unavailable")
		return
	}
	if id.Role == access.RoleAdmin {
		st.DeadLetters, _ = s.Store.DeadLetterCount(r.Context())
	}
	s.audit(r, id, "stats", st.Events, http.StatusOK)
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) missions(w http.ResponseWriter, r *http.Request, id access.Identity) {
	out := []access.Mission{}
	for name, m := range s.Missions {
		if id.AllowedMission(name) {
			out = append(out, m)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		if r.TLS != nil {
			// Served over TLS: browsers must never fall back to plain HTTP for this host.
			hd.Set("Strict-Transport-Security", "max-age=63072000")
		}
		h.ServeHTTP(w, r)
	})
}

// errorBody is every error's JSON.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: msg, Code: code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}
