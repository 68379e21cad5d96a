package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/store"
)

// Authenticator turns a bearer token into an identity.
type Authenticator interface {
	Authenticate(token string) (access.Identity, bool)
}

// NameAuthenticator is implemented by authenticators that also know identities by name;
// with mutual TLS, a client certificate verified against the client CA authenticates as
// the identity its subject CN names (access.Tokens implements it).
type NameAuthenticator interface {
	AuthenticateName(name string) (access.Identity, bool)
}

// authed wraps h with authentication and a role check. The token comes from the
// Authorization header only: a token in a URL ends up in logs and histories, and a cookie
// rides along with cross-site requests (see authedWS for the one exception).
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, access.Identity), roles ...access.Role) http.Handler {
	return s.authedVia(false, h, roles...)
}

// authedWS is authed for the websocket route, which browsers cannot give headers: there
// the token may also come as ?access_token= (the dashboard's way; the hub checks Origin).
func (s *Server) authedWS(h func(http.ResponseWriter, *http.Request, access.Identity), roles ...access.Role) http.Handler {
	return s.authedVia(true, h, roles...)
}

func (s *Server) authedVia(viaURL bool, h func(http.ResponseWriter, *http.Request, access.Identity), roles ...access.Role) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, status, msg := s.identify(r, viaURL)
		if status != 0 {
			s.refused(r, id, status, "auth.unauthenticated", msg)
			writeError(w, status, "unauthenticated", msg)
			return
		}
		if !slices.Contains(roles, id.Role) {
			msg := "role " + string(id.Role) + " may not use this endpoint"
			s.refused(r, id, http.StatusForbidden, "auth.forbidden", msg)
			writeError(w, http.StatusForbidden, "forbidden", msg)
			return
		}
		h(w, r, id)
	})
}

// refused audits and logs a refusal of r (401, 403): who (when known), the route and the
// names of its parameters, why; never a token or a parameter's value. Logs are sampled so
// a flood of refusals cannot flood the log; every refusal is audited.
func (s *Server) refused(r *http.Request, id access.Identity, status int, action, why string) {
	s.audit(r, id, action, 0, status)
	s.refusals().Warn().Str("path", r.URL.Path).Strs("params", paramNames(r)).Int("status", status).
		Str("identity", id.Name).Str("role", string(id.Role)).Str("remote", r.RemoteAddr).Str("why", why).Msg("request refused")
}

// refusals is the sampled logger of refusals (at most 10 a second, then 1 in 100).
func (s *Server) refusals() *zerolog.Logger {
	s.refusalOnce.Do(func() {
		l := s.Log.Sample(&zerolog.BurstSampler{Burst: 10, Period: time.Second, NextSampler: &zerolog.BasicSampler{N: 100}})
		s.refusalLog = &l
	})
	return s.refusalLog
}

// paramNames are the names of r's query parameters, sorted, without the token's.
func paramNames(r *http.Request) []string {
	names := make([]string, 0, len(r.URL.Query()))
	for k := range r.URL.Query() {
		if k != "access_token" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names
}

// identify authenticates r: a verified client certificate first (its CN names the
// identity), then a bearer token (from the URL too when viaURL). It returns a non-zero
// status when r is not authenticated.
func (s *Server) identify(r *http.Request, viaURL bool) (access.Identity, int, string) {
	if s.Insecure {
		return DevIdentity, 0, ""
	}
	if s.Auth == nil {
		return access.Identity{}, http.StatusUnauthorized, "no identities configured"
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.PeerCertificates) > 0 {
		cn := r.TLS.PeerCertificates[0].Subject.CommonName
		if na, ok := s.Auth.(NameAuthenticator); ok {
			if id, ok := na.AuthenticateName(cn); ok {
				return id, 0, ""
			}
		}
		// A valid certificate for no known identity: fall through to the token, if any.
	}
	tok := bearer(r, viaURL)
	if tok == "" {
		want := "missing bearer token (Authorization: Bearer …) or client certificate"
		if !viaURL && r.URL.Query().Has("access_token") {
			want = "access_token in the URL is accepted on the websockets (/ws/…) only: send Authorization: Bearer …"
		}
		return access.Identity{}, http.StatusUnauthorized, want
	}
	id, ok := s.Auth.Authenticate(tok)
	if !ok {
		return access.Identity{}, http.StatusUnauthorized, "invalid token"
	}
	return id, 0, ""
}

// bearer finds the token: the Authorization header, or when viaURL (the websocket, which
// browsers cannot give headers) the access_token query parameter. No cookie: the
// dashboard sends its token in the header for REST and in the URL for the websocket.
func bearer(r *http.Request, viaURL bool) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
		return ""
	}
	if viaURL {
		return r.URL.Query().Get("access_token")
	}
	return ""
}

// auditFilter is the query string of r as an audit row keeps it: without the token.
func auditFilter(r *http.Request) string {
	q := r.URL.Query()
	q.Del("access_token")
	return r.URL.Path + "?" + q.Encode()
}

// audit records one query in cop.audit. A failing audit write is logged, never shown.
func (s *Server) audit(r *http.Request, id access.Identity, action string, rows uint64, status int) {
	if s.Store == nil {
		return
	}
	row := store.AuditEntry{At: time.Now().UTC(), Identity: id.Name, Role: string(id.Role), Action: action,
		Filter: auditFilter(r), Rows: rows, Status: uint16(status)}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := s.Store.Audit(ctx, row); err != nil {
		s.Log.Error().Str("error", store.Redacted(err)).Str("identity", id.Name).Str("action", action).Msg("cannot write audit row")
	}
}

// limitBodies caps every request body except pushes (the gateway has its own, larger cap).
func (s *Server) limitBodies(h http.Handler) http.Handler {
	max := s.MaxBody
	if max == 0 {
		max = 1 << 20
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody && r.URL.Path != "/api/v1/feeds" {
			r.Body = http.MaxBytesReader(w, r.Body, max)
		}
		h.ServeHTTP(w, r)
	})
}
