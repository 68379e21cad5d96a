package api

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cidcc/cop/ui"
)

// A token is taken from the URL only on the websocket route (browsers cannot give a
// websocket headers), and never from a cookie: on /metrics, the push endpoint and every
// REST route a token in a URL ends up in logs and histories, and a cookie rides along
// with cross-site requests. The dashboard sends its token in the header for REST.
func TestTokenInURLOrCookieOnlyOnTheWebsocket(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	send := func(method, path, token string, cookie bool) int {
		t.Helper()
		req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader("[]"))
		if cookie {
			req.AddCookie(&http.Cookie{Name: "cop_token", Value: token})
		} else {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			req.URL, _ = url.Parse(f.srv.URL + path + sep + "access_token=" + url.QueryEscape(token))
		}
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct{ method, path, who string }{
		{"GET", "/metrics", "admin"},
		{"POST", "/api/v1/feeds", "feed-a"},
		{"POST", "/api/v1/feeds?format=native", "feed-a"},
		{"GET", "/api/v1/whoami", "analyst-1"},
		{"GET", "/api/v1/missions", "cmdr-althea"},
		{"GET", "/api/v1/situations", "cmdr-althea"},
		{"GET", "/api/v1/events", "analyst-1"},
		{"GET", "/taxii2/", "analyst-1"},
		{"GET", "/ws/picture", "cmdr-althea"}, // a cookie is not taken there either
	} {
		if c.path != "/ws/picture" {
			if got := send(c.method, c.path, f.tokens[c.who], false); got != http.StatusUnauthorized {
				t.Errorf("%s %s with ?access_token= of %s: %d, want 401", c.method, c.path, c.who, got)
			}
		}
		if got := send(c.method, c.path, f.tokens[c.who], true); got != http.StatusUnauthorized {
			t.Errorf("%s %s with a cop_token cookie of %s: %d, want 401", c.method, c.path, c.who, got)
		}
	}
	// The websocket, the dashboard's way.
	conn, resp, err := f.dial("", url.Values{"access_token": {f.tokens["cmdr-althea"]}}, nil)
	if err != nil {
		t.Fatalf("websocket with ?access_token=: %v (%v)", err, resp)
	}
	conn.Close()
}

// Refusals (401, 403) are audited and logged, without the token; the audit's action is
// one COP knows, never what a caller sent as format=.
func TestRefusalsAreAuditedAndLoggedWithoutTokens(t *testing.T) {
	env := newHistoryEnv(t)
	bogus := "cop_" + strings.Repeat("7", 64)
	if code, _, _ := env.get("nobody", "/api/v1/events?access_token="+bogus); code != 401 {
		t.Fatalf("bogus token: %d", code)
	}
	if code, _, _ := env.get("pusher", "/api/v1/events"); code != 403 {
		t.Fatalf("contributor on events: %d", code)
	}
	if code, _, _ := env.get("analyst-noex", "/api/v1/situations"); code != 403 {
		t.Fatalf("analyst on an exercise it may not view: %d", code)
	}
	if code, _, _ := env.get("analyst-1", "/api/v1/events?format=x-"+env.ex); code != 400 {
		t.Fatalf("unknown format: %d", code)
	}
	if err := env.st.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	count := func(where string, args ...any) uint64 {
		t.Helper()
		var n uint64
		if err := env.st.Conn().QueryRow(context.Background(), "SELECT count() FROM cop.audit WHERE position(filter, ?) > 0 AND "+where,
			append([]any{env.ex}, args...)...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count("identity = '' AND action = 'auth.unauthenticated' AND status = 401"); n != 1 {
		t.Errorf("audit rows of the 401: %d, want 1", n)
	}
	if n := count("identity = 'pusher' AND action = 'auth.forbidden' AND status = 403"); n != 1 {
		t.Errorf("audit rows of the contributor's 403: %d, want 1", n)
	}
	if n := count("identity = 'analyst-noex' AND status = 403"); n != 1 {
		t.Errorf("audit rows of the exercise's 403: %d, want 1", n)
	}
	if n := count("position(filter, ?) > 0", bogus); n != 0 {
		t.Errorf("%d audit rows hold the token", n)
	}
	if n := count("position(action, ?) > 0", "x-"+env.ex); n != 0 {
		t.Errorf("%d audit rows record the caller's format= as their action", n)
	}
	if n := count("identity = 'analyst-1' AND action = 'events.list' AND status = 400"); n != 1 {
		t.Errorf("audit rows of the unknown format: %d, want 1 as events.list", n)
	}
	logs := env.logs.String()
	if strings.Count(logs, `"message":"request refused"`) != 3 || !strings.Contains(logs, `"identity":"pusher"`) ||
		!strings.Contains(logs, `"status":401`) {
		t.Errorf("refusals not logged:\n%s", logs)
	}
	for _, secret := range []string{bogus, env.tokens["pusher"], env.tokens["analyst-noex"]} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a token:\n%s", logs)
		}
	}
}

// Under TLS every answer carries Strict-Transport-Security; in plain HTTP (behind a
// proxy that terminates TLS, or tests) it would mean nothing and is not sent.
func TestStrictTransportSecurityUnderTLS(t *testing.T) {
	p := newPKI(t)
	f := tlsFixture(t, p, "")
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1"}}}
	for _, path := range []string{"/healthz", "/api/v1/whoami", "/nope"} {
		resp, err := c.Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=") {
			t.Errorf("%s over TLS: Strict-Transport-Security %q", path, got)
		}
	}
	plain := newFixture(t, nil, matrixIdentities, nil)
	if got := plain.do(t, "GET", "/healthz", "", nil).Header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("plain HTTP: Strict-Transport-Security %q", got)
	}
}

// The dashboard's files: a path that cannot name a file is 400, one that names none or
// a directory 404 (no listings), never 500.
func TestStaticFilesRefuseBadPathsAndListNoDirectory(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	f.s.UI = ui.Files()
	srv := httptest.NewServer(f.s.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.RawPath, req.URL.Path = "", "" // send path as typed
		req.URL.Opaque = "//" + req.URL.Host + path
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for path, want := range map[string]int{
		"/":                                     200,
		"/app.js":                               200,
		"/vendor/leaflet/leaflet.js":            200,
		"/%ff":                                  400,
		"/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd": 400,
		"/vendor/%ff/x":                         400,
		"/..%2f..%2fetc%2fpasswd":               400,
		"/%00":                                  400,
		"/vendor/":                              404,
		"/vendor/leaflet/":                      404,
		"/vendor/leaflet/images/":               404,
		"/vendor":                               404,
		"/nope.js":                              404,
	} {
		code, body := get(path)
		if code != want {
			t.Errorf("GET %s: %d, want %d (%.100s)", path, code, want, body)
		}
		if want != 200 && strings.Contains(body, `<a href="`) {
			t.Errorf("GET %s lists a directory: %.200s", path, body)
		}
	}
}

// The OpenAPI lists every answer of the push, and the push route allows POST only.
func TestOpenAPIListsThePushAnswersAndFeedsAllowsPOSTOnly(t *testing.T) {
	var spec struct {
		Paths map[string]map[string]struct {
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &spec); err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{"202", "400", "401", "403", "413", "415", "422", "429", "503"} {
		if _, ok := spec.Paths["/api/v1/feeds"]["post"].Responses[code]; !ok {
			t.Errorf("openapi.json: POST /api/v1/feeds does not document %s", code)
		}
	}
	f := newFixture(t, nil, matrixIdentities, nil)
	f.s.UI = ui.Files()
	srv := httptest.NewServer(f.s.Handler())
	defer srv.Close()
	for _, method := range []string{"GET", "PUT", "DELETE", "PATCH"} {
		req, _ := http.NewRequest(method, srv.URL+"/api/v1/feeds", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Errorf("%s /api/v1/feeds: %d, Allow %q; want 405 and Allow POST", method, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
}
