package api

import (
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/keys"
	"github.com/cidcc/cop/internal/metrics"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

// fixture is an API server on a real listener with a real hub, picture and identities;
// only the picture's feed from Kafka is replaced by Apply.
type fixture struct {
	srv    *httptest.Server
	s      *Server
	pic    *Picture
	tokens map[string]string // identity name → bearer token
}

// fixtureViewTop is the websocket bound of every test server, as cop serve's default:
// -view-top=0 runs the same tests on the whole, unbounded picture.
var fixtureViewTop = flag.Int("view-top", DefaultViewTop, "the test servers' websocket bound (cop serve --view-top)")

// matrixIdentities are the viewers of the access matrix.
var matrixIdentities = []access.Identity{
	{Name: "feed-a", Role: access.RoleContributor, MaxTLP: event.TLPClear},
	{Name: "cmdr-althea", Role: access.RoleCommander, MaxTLP: event.TLPRed, Missions: []string{"EUFOR-ALTHEA"}, Exercises: []string{"CYDEF-X"}},
	{Name: "cmdr-green", Role: access.RoleCommander, MaxTLP: event.TLPGreen, Missions: []string{"EUFOR-ALTHEA"}},
	{Name: "analyst-1", Role: access.RoleAnalyst, MaxTLP: event.TLPAmberStrict, Exercises: []string{"CYDEF-X"}},
	{Name: "admin", Role: access.RoleAdmin, MaxTLP: event.TLPRed},
}

// testAnon is the anonymiser of every test server, with a fixed key.
var testAnon = access.Anonymiser{Keys: keys.Fixed(keys.Set{
	IDs:        keys.Key{Secret: []byte("test id key: 32 bytes, not zero")},
	Pseudonyms: keys.Key{Secret: []byte("test pseudonym key, not secret!!")}})}

func newFixture(t testing.TB, st *store.Store, ids []access.Identity, start func(*httptest.Server)) *fixture {
	t.Helper()
	f := &fixture{tokens: map[string]string{}}
	var entries []access.Entry
	for _, id := range ids {
		tok, hash := access.NewToken()
		f.tokens[id.Name] = tok
		entries = append(entries, access.Entry{Identity: id, TokenSHA256: hash})
	}
	tokens, err := access.NewTokens(entries)
	if err != nil {
		t.Fatal(err)
	}
	reg := &metrics.Registry{}
	f.pic = NewPicture(PictureConfig{Metrics: reg})
	missions := access.DefaultMissions()
	hub := NewHub(f.pic, missions, zerolog.Nop(), reg, 10*time.Millisecond)
	hub.Anon = testAnon
	if st != nil {
		hub.Audit = func(e store.AuditEntry) { st.Audit(context.Background(), e) }
	}
	hub.SetViewTop(*fixtureViewTop, 0)
	stop := make(chan struct{})
	go hub.Run(stop)
	f.s = &Server{Auth: tokens, Store: st, Picture: f.pic, Hub: hub, Missions: missions, Anon: testAnon, Metrics: reg, Log: zerolog.Nop(),
		Push: func(w http.ResponseWriter, r *http.Request, id access.Identity) {
			io.Copy(io.Discard, r.Body)
			writeJSON(w, http.StatusAccepted, map[string]string{"contributor": id.Name})
		},
		PushLimit: NewRateLimiter(1000, 1000),
	}
	f.srv = httptest.NewUnstartedServer(f.s.Handler())
	if start != nil {
		start(f.srv)
	} else {
		f.srv.Start()
	}
	t.Cleanup(func() {
		close(stop)
		f.srv.Close()
	})
	return f
}

// get sends an authenticated GET (token "" sends none).
func (f *fixture) do(t testing.TB, method, path, token string, body io.Reader) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// dial opens /ws/picture with token in the Authorization header and query q.
func (f *fixture) dial(token string, q url.Values, header http.Header) (*websocket.Conn, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/ws/picture?" + q.Encode()
	if header == nil {
		header = http.Header{}
	}
	if token != "" {
		header.Set("Authorization", "Bearer "+token)
	}
	return websocket.DefaultDialer.Dial(u, header)
}

// wsClient collects every situation a websocket client was ever sent, by id.
type wsClient struct {
	conn *websocket.Conn
	seen map[string]picture.Situation
}

// readUntil reads messages until one carries situation id want, or fails after 10 s.
func (c *wsClient) readUntil(t testing.TB, want string) {
	t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var m Message
		if err := c.conn.ReadJSON(&m); err != nil {
			t.Fatalf("websocket read while waiting for %s: %v", want, err)
		}
		done := false
		for _, s := range m.Situations {
			c.seen[s.ID] = s
			if s.ID == want {
				done = true
			}
		}
		if done {
			return
		}
	}
}

// snapshot reads the first message, which must be the snapshot.
func (c *wsClient) snapshot(t testing.TB) {
	t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m Message
	if err := c.conn.ReadJSON(&m); err != nil {
		t.Fatalf("websocket snapshot: %v", err)
	}
	if m.Type != "snapshot" {
		t.Fatalf("first message is %q, want snapshot", m.Type)
	}
	for _, s := range m.Situations {
		c.seen[s.ID] = s
	}
}

func (f *fixture) follow(t testing.TB, name string, q url.Values) *wsClient {
	t.Helper()
	conn, resp, err := f.dial(f.tokens[name], q, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("%s cannot connect (%d): %v", name, status, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &wsClient{conn: conn, seen: map[string]picture.Situation{}}
}

// sit builds a live situation for the picture.
func sit(id string, tlp event.TLP, mod func(*picture.Situation)) picture.Situation {
	now := time.Now().UTC()
	s := picture.Situation{ID: id, Version: 1, Title: "title of " + id, Kind: event.KindIncident, Severity: event.SeverityHigh,
		Confidence: 60, Score: 50, TLP: tlp, Countries: []string{"BA"}, EventCount: 1,
		Contributors: []picture.Contributor{{Name: "feed-a"}}, FirstSeen: now, LastSeen: now, UpdatedAt: now}
	if mod != nil {
		mod(&s)
	}
	return s
}

func deltas(ss ...picture.Situation) []picture.Delta {
	out := make([]picture.Delta, len(ss))
	for i, s := range ss {
		out[i] = picture.Delta{Situation: s}
	}
	return out
}
