package api

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/metrics"
	"github.com/cidcc/cop/internal/picture"
)

// pushServer is a server whose push handler is push, with every other setting (its push
// limits included) left at what a Server gets by default.
func pushServer(t *testing.T, push func(http.ResponseWriter, *http.Request, access.Identity)) (*httptest.Server, map[string]string) {
	t.Helper()
	toks := map[string]string{}
	var entries []access.Entry
	for _, n := range []string{"feed-a", "feed-b"} {
		tok, hash := access.NewToken()
		toks[n] = tok
		entries = append(entries, access.Entry{Identity: access.Identity{Name: n, Role: access.RoleContributor, MaxTLP: event.TLPClear}, TokenSHA256: hash})
	}
	auth, err := access.NewTokens(entries)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Auth: auth, Metrics: &metrics.Registry{}, Log: zerolog.Nop(), Push: push}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv, toks
}

func push(t *testing.T, url, token string, body io.Reader, size int64) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/api/v1/feeds", body)
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	c := &http.Client{Timeout: 20 * time.Second}
	if size > 1<<20 {
		// Large bodies ask first: a refused push is then answered before its body is sent.
		req.Header.Set("Expect", "100-continue")
		c.Transport = &http.Transport{ExpectContinueTimeout: 5 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func accept(w http.ResponseWriter, r *http.Request, id access.Identity) {
	io.Copy(io.Discard, r.Body)
	writeJSON(w, http.StatusAccepted, map[string]string{"contributor": id.Name})
}

// The probe: 300 pushes in 0.2 s were all accepted by a server without push limits.
func TestServerWithoutLimitsSetStillLimitsPushRate(t *testing.T) {
	srv, toks := pushServer(t, accept)
	limited := 0
	for range 60 {
		if push(t, srv.URL, toks["feed-a"], strings.NewReader("[]"), 2).StatusCode == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("60 pushes at once all accepted: no default push rate limit")
	}
}

func TestOnePushOverTheConcurrencyLimitGets429WhileAnotherContributorPushes(t *testing.T) {
	release := make(chan struct{})
	var inside sync.WaitGroup
	srv, toks := pushServer(t, func(w http.ResponseWriter, r *http.Request, id access.Identity) {
		if id.Name == "feed-a" {
			inside.Done()
			<-release
		}
		accept(w, r, id)
	})
	n := DefaultLimits().PushConcurrent
	inside.Add(n)
	var done sync.WaitGroup
	for range n {
		done.Add(1)
		go func() {
			defer done.Done()
			push(t, srv.URL, toks["feed-a"], strings.NewReader("[]"), 2)
		}()
	}
	inside.Wait() // n pushes of feed-a in flight
	func() {
		defer close(release) // on old code the extra push would wait with the others
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/feeds", strings.NewReader("[]"))
		req.Header.Set("Authorization", "Bearer "+toks["feed-a"])
		c := &http.Client{Timeout: 3 * time.Second}
		resp, err := c.Do(req)
		if err != nil {
			t.Errorf("push %d of feed-a: %v (want an immediate 429)", n+1, err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("push %d of feed-a in flight: %d Retry-After %q, want 429 with Retry-After", n+1, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if st := push(t, srv.URL, toks["feed-b"], strings.NewReader("[]"), 2).StatusCode; st != http.StatusAccepted {
			t.Errorf("feed-b limited by feed-a's pushes in flight: %d", st)
		}
	}()
	done.Wait()
}

// zeros is an endless body of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestPushBytesOverTheBucketGet429(t *testing.T) {
	srv, toks := pushServer(t, accept)
	l := DefaultLimits()
	size := l.PushBytesBurst * 5 / 8 // two of them do not fit in the bucket, one does
	if st := push(t, srv.URL, toks["feed-a"], io.LimitReader(zeros{}, size), size).StatusCode; st != http.StatusAccepted {
		t.Fatalf("first push of %d MiB: %d", size>>20, st)
	}
	resp := push(t, srv.URL, toks["feed-a"], io.LimitReader(zeros{}, size), size)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second push of %d MiB right after: %d, want 429 (bytes per second)", size>>20, resp.StatusCode)
	}
	// One token of bytes is back after (size - left)/rate: Retry-After says so.
	if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	if st := push(t, srv.URL, toks["feed-b"], strings.NewReader("[]"), 2).StatusCode; st != http.StatusAccepted {
		t.Errorf("feed-b limited by feed-a's bytes: %d", st)
	}
}

func TestChunkedPushIsChargedWhatItSent(t *testing.T) {
	now := time.Unix(0, 0)
	l := &RateLimiter{BytesRate: 1 << 20, BytesBurst: 4 << 20, now: func() time.Time { return now }}
	if r := l.admit("a", -1); r != nil {
		t.Fatalf("chunked push refused on a full bucket: %+v", r)
	}
	l.charge("a", 6<<20) // it sent 6 MiB: 2 MiB of debt
	l.release("a")
	r := l.admit("a", -1)
	if r == nil || r.wait < 2*time.Second {
		t.Fatalf("push after 2 MiB of debt at 1 MiB/s: %+v, want refused for over 2 s", r)
	}
	now = now.Add(3 * time.Second)
	if r := l.admit("a", -1); r != nil {
		t.Fatalf("push once the debt is repaid: %+v", r)
	}
}

// The probe: 300 websockets of one commander took the server from 2.7 to 6.2 GB.
func TestNinthWebsocketOfOneIdentityRefusedWhileAnotherIdentityConnects(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	n := DefaultLimits().WSPerIdentity
	for range n {
		f.follow(t, "cmdr-althea", nil).snapshot(t)
	}
	conn, resp, err := f.dial(f.tokens["cmdr-althea"], nil, nil)
	if err == nil {
		conn.Close()
		t.Fatalf("websocket %d of one identity accepted", n+1)
	}
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("websocket %d of one identity: %v, want 429 before the upgrade", n+1, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "websocket connections") {
		t.Errorf("refusal does not say why: %s", body)
	}
	f.follow(t, "analyst-1", nil).snapshot(t)
}

func TestClosedWebsocketFreesItsPlace(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	n := DefaultLimits().WSPerIdentity
	var conns []*wsClient
	for range n {
		c := f.follow(t, "cmdr-althea", nil)
		c.snapshot(t)
		conns = append(conns, c)
	}
	conns[0].conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, _, err := f.dial(f.tokens["cmdr-althea"], nil, nil)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed websocket still counts against its identity: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The probe: each view message built a full snapshot, synchronously, for as many as were
// sent. A burst of 100 views must cost a few snapshots and end on the latest view.
func TestBurstOfViewsBuildsFewSnapshotsAndAppliesTheLatest(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	for i := range 200 {
		f.pic.Apply(deltas(sit(fmt.Sprintf("s%03d", i), event.TLPGreen, func(s *picture.Situation) { s.Score = float64(i % 100) })))
	}
	c := f.follow(t, "analyst-1", nil)
	c.snapshot(t)
	built := f.s.Metrics.Counter("cop_ws_snapshots_built_total", "")
	before := built.Load()
	const views = 100
	for i := range views {
		sendView(t, c.conn, viewRequest{View: access.View{MinScore: float64(i)}})
	}
	snapshots := 0
	for {
		m := readMessage(t, c.conn)
		if m.Type != "snapshot" {
			continue
		}
		snapshots++
		if m.View != nil && m.View.MinScore == views-1 {
			break
		}
	}
	burst := DefaultLimits().ViewBurst
	if snapshots > burst+2 {
		t.Errorf("%d views sent at once answered by %d snapshots, want at most %d", views, snapshots, burst+2)
	}
	if b := built.Load() - before; b > uint64(burst+2) || b == 0 {
		t.Errorf("%d snapshots built for %d views", b, views)
	}
}

func TestClientsAskingTheSameViewShareOneSnapshot(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	f.pic.Apply(deltas(sit("s1", event.TLPGreen, nil)))
	built := f.s.Metrics.Counter("cop_ws_snapshots_built_total", "")
	before := built.Load()
	for range 5 {
		f.follow(t, "cmdr-althea", nil).snapshot(t)
	}
	if b := built.Load() - before; b != 1 {
		t.Errorf("5 clients of one identity and view on an unchanged picture: %d snapshots built, want 1", b)
	}
	f.follow(t, "cmdr-green", nil).snapshot(t)
	if b := built.Load() - before; b != 2 {
		t.Errorf("another identity shares a snapshot it may not: %d built, want 2", b)
	}
}

// The probe: 1,000 unauthenticated idle connections were still open after 70 s.
func TestIdleKeepAliveConnectionIsClosed(t *testing.T) {
	s := &Server{Metrics: &metrics.Registry{}, Log: zerolog.Nop(), Limits: Limits{IdleTimeout: 200 * time.Millisecond}}
	hs := s.HTTPServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/v1/whoami HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated whoami: %d", resp.StatusCode)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle keep-alive connection after its idle timeout: %v, want closed by the server", err)
	}
}

// The probe: a push body that trickles in held its connection for ever.
func TestSlowPushBodyIsCut(t *testing.T) {
	var got error
	var mu sync.Mutex
	tok, hash := access.NewToken()
	auth, _ := access.NewTokens([]access.Entry{{Identity: access.Identity{Name: "feed-a", Role: access.RoleContributor}, TokenSHA256: hash}})
	s := &Server{Auth: auth, Metrics: &metrics.Registry{}, Log: zerolog.Nop(), Limits: Limits{PushBodyTimeout: 300 * time.Millisecond},
		Push: func(w http.ResponseWriter, r *http.Request, id access.Identity) {
			_, err := io.ReadAll(r.Body)
			mu.Lock()
			got = err
			mu.Unlock()
			if err != nil {
				writeError(w, http.StatusRequestTimeout, "body_timeout", err.Error())
				return
			}
			accept(w, r, id)
		}}
	hs := s.HTTPServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/feeds HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{", tok)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("slow body: %v, want an answer once the body timeout passed", err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if resp.StatusCode != http.StatusRequestTimeout || got == nil || !strings.Contains(got.Error(), "not received within 300ms") {
		t.Errorf("slow body: %d, handler read error %v", resp.StatusCode, got)
	}
}

// The probe: queued view changes ran on for 70–105 s after their client had gone.
func TestViewsWaitingWhenTheClientLeavesAreNeverBuilt(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	f.pic.Apply(deltas(sit("s1", event.TLPGreen, nil)))
	c := f.follow(t, "analyst-1", nil)
	c.snapshot(t)
	burst := DefaultLimits().ViewBurst
	for i := range burst + 10 {
		sendView(t, c.conn, viewRequest{View: access.View{MinScore: float64(i)}})
	}
	// The burst's views are answered; the last one waits for a token.
	for n := 0; n < burst; {
		if readMessage(t, c.conn).Type == "snapshot" {
			n++
		}
	}
	built := f.s.Metrics.Counter("cop_ws_snapshots_built_total", "")
	clients := f.s.Metrics.Gauge("cop_ws_clients", "")
	c.conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for clients.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the hub still counts the client 10 s after it left")
		}
		time.Sleep(10 * time.Millisecond)
	}
	after := built.Load()
	// Past the moment the waiting view's token is back (1/ViewRate).
	time.Sleep(time.Duration(float64(time.Second)/DefaultLimits().ViewRate) + 200*time.Millisecond)
	if b := built.Load(); b != after {
		t.Errorf("%d snapshots built for a client that had gone", b-after)
	}
}

// The request timeouts must not cut a websocket: it is a long-lived connection whose
// deadlines the hub sets itself.
func TestWebsocketOutlivesTheRequestTimeouts(t *testing.T) {
	reg := &metrics.Registry{}
	pic := NewPicture(PictureConfig{Metrics: reg})
	missions := access.DefaultMissions()
	hub := NewHub(pic, missions, zerolog.Nop(), reg, 10*time.Millisecond)
	stop := make(chan struct{})
	go hub.Run(stop)
	defer close(stop)
	short := 100 * time.Millisecond
	s := &Server{Insecure: true, Picture: pic, Hub: hub, Missions: missions, Metrics: reg, Log: zerolog.Nop(),
		Limits: Limits{IdleTimeout: short, WriteTimeout: short, BodyTimeout: short, PushBodyTimeout: short}}
	hs := s.HTTPServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	defer hs.Close()
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/ws/picture", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if m := readMessage(t, conn); m.Type != "snapshot" {
		t.Fatalf("first message %q", m.Type)
	}
	time.Sleep(5 * short) // every request timeout has passed
	pic.Apply(deltas(sit("s1", event.TLPGreen, nil)))
	m := readMessage(t, conn)
	if m.Type != "delta" || len(m.Situations) != 1 {
		t.Fatalf("after the request timeouts: %+v, want the delta", m)
	}
}
