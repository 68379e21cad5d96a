package api

import (
	"context"
	"net/http"
	"strings"
	"time"

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

// authed wraps h with authentication and a role check.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, access.Identity), roles ...access.Role) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, status, msg := s.identify(r)
		if status != 0 {
			writeError(w, status, "unauthenticated", msg)
			return
		}
		allowed := false
		for _, role := range roles {
			if id.Role == role {
				allowed = true
			}
		}
		if !allowed {
			writeError(w, http.StatusForbidden, "forbidden", "role "+string(id.Role)+" may not use this endpoint")
			return
		}
		h(w, r, id)
	})
}

// identify authenticates r: a verified client certificate first (its CN names the
// identity), then a bearer token. It returns a non-zero status when r is not authenticated.
func (s *Server) identify(r *http.Request) (access.Identity, int, string) {
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
	tok := bearer(r)
	if tok == "" {
		return access.Identity{}, http.StatusUnauthorized, "missing bearer token or client certificate"
	}
	id, ok := s.Auth.Authenticate(tok)
	if !ok {
		return access.Identity{}, http.StatusUnauthorized, "invalid token"
	}
	return id, 0, ""
}

// bearer finds the token: the Authorization header, or for browsers' websockets (which
// cannot set headers) the access_token query parameter or the cop_token cookie.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
		return ""
	}
	if t := r.URL.Query().Get("access_token"); t != "" {
		return t
	}
	if c, err := r.Cookie("cop_token"); err == nil {
		return c.Value
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
