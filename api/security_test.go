package api

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and client certificates.
type testPKI struct {
	dir      string
	ca       *x509.Certificate
	caKey    *ecdsa.PrivateKey
	certFile string
	keyFile  string
	caFile   string
	pool     *x509.CertPool
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "COP test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, _ = x509.ParseCertificate(der)
	p.caKey = key
	p.caFile = p.write(t, "ca.pem", "CERTIFICATE", der)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(p.ca)
	srv := p.issue(t, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	p.certFile = p.write(t, "server.pem", "CERTIFICATE", srv.Certificate[0])
	kb, _ := x509.MarshalECPrivateKey(srv.PrivateKey.(*ecdsa.PrivateKey))
	p.keyFile = p.write(t, "server-key.pem", "EC PRIVATE KEY", kb)
	return p
}

func (p *testPKI) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue signs a certificate for cn with the CA.
func (p *testPKI) issue(t *testing.T, cn string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func tlsFixture(t *testing.T, p *testPKI, clientCA string) *fixture {
	t.Helper()
	cfg, err := TLSConfig(p.certFile, p.keyFile, clientCA)
	if err != nil {
		t.Fatal(err)
	}
	return newFixture(t, nil, matrixIdentities, func(s *httptest.Server) {
		s.TLS = cfg
		s.StartTLS()
	})
}

func TestTLSNegotiatesHybridPostQuantumX25519MLKEM768(t *testing.T) {
	p := newPKI(t)
	f := tlsFixture(t, p, "")
	addr := strings.TrimPrefix(f.srv.URL, "https://")

	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1"}) // Go's defaults offer ML-KEM
	if err != nil {
		t.Fatal(err)
	}
	st := conn.ConnectionState()
	conn.Close()
	if st.Version != tls.VersionTLS13 {
		t.Errorf("version %s, want TLS 1.3", tls.VersionName(st.Version))
	}
	if st.CurveID != tls.X25519MLKEM768 {
		t.Errorf("key exchange %s, want X25519MLKEM768", st.CurveID)
	}

	// A client without ML-KEM still connects, classically.
	conn, err = tls.Dial("tcp", addr, &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1", CurvePreferences: []tls.CurveID{tls.X25519}})
	if err != nil {
		t.Fatal(err)
	}
	if got := conn.ConnectionState().CurveID; got != tls.X25519 {
		t.Errorf("classical client: key exchange %s, want X25519", got)
	}
	conn.Close()

	// TLS 1.2 is refused.
	if conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS12}); err == nil {
		conn.Close()
		t.Error("a TLS 1.2 client connected")
	}
	if CurvePreferences[0] != tls.X25519MLKEM768 {
		t.Errorf("CurvePreferences starts with %s", CurvePreferences[0])
	}
}

func TestMutualTLSCertificateCNAuthenticatesAsItsIdentity(t *testing.T) {
	p := newPKI(t)
	f := tlsFixture(t, p, p.caFile)
	whoami := func(cert *tls.Certificate, token string) (int, access.Identity) {
		t.Helper()
		cfg := &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1"}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
		req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/whoami", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			return -1, access.Identity{}
		}
		defer resp.Body.Close()
		var id access.Identity
		json.NewDecoder(resp.Body).Decode(&id)
		return resp.StatusCode, id
	}
	analyst := p.issue(t, "analyst-1", x509.ExtKeyUsageClientAuth)
	if st, id := whoami(&analyst, ""); st != 200 || id.Name != "analyst-1" || id.Role != access.RoleAnalyst {
		t.Errorf("certificate CN=analyst-1: %d %+v", st, id)
	}
	stranger := p.issue(t, "nobody-known", x509.ExtKeyUsageClientAuth)
	if st, _ := whoami(&stranger, ""); st != http.StatusUnauthorized {
		t.Errorf("certificate for an unknown CN: %d, want 401", st)
	}
	if st, id := whoami(&stranger, f.tokens["cmdr-green"]); st != 200 || id.Name != "cmdr-green" {
		t.Errorf("unknown CN with a valid token: %d %+v", st, id)
	}
	if st, _ := whoami(nil, ""); st != http.StatusUnauthorized {
		t.Errorf("no certificate, no token: %d, want 401", st)
	}
	other := newPKI(t) // a certificate from a CA the server does not trust
	forged := other.issue(t, "admin", x509.ExtKeyUsageClientAuth)
	if st, _ := whoami(&forged, ""); st == 200 {
		t.Error("certificate from an untrusted CA authenticated as admin")
	}
}

func TestRoutesAuthenticateAndCheckRoles(t *testing.T) {
	liaison := access.Identity{Name: "liaison-1", Role: access.RoleLiaison, MaxTLP: event.TLPAmber}
	f := newFixture(t, nil, append(slices.Clone(matrixIdentities), liaison), nil)
	type cell struct {
		method, path, who string
		want              int
	}
	cells := []cell{
		{"GET", "/api/v1/whoami", "", 401},
		{"GET", "/api/v1/whoami", "bad", 401},
		{"GET", "/api/v1/whoami", "feed-a", 200},
		{"POST", "/api/v1/feeds", "", 401},
		{"POST", "/api/v1/feeds", "bad", 401},
		{"POST", "/api/v1/feeds", "feed-a", 202},
		{"POST", "/api/v1/feeds", "cmdr-althea", 403},
		{"POST", "/api/v1/feeds", "analyst-1", 403},
		{"POST", "/api/v1/feeds", "admin", 403}, // an admin pushes under no contributor's name
		{"GET", "/api/v1/stats", "feed-a", 403},
		{"GET", "/api/v1/stats", "cmdr-althea", 403},
		{"GET", "/api/v1/missions", "feed-a", 403},
		{"GET", "/api/v1/missions", "cmdr-althea", 200},
		{"GET", "/metrics", "", 401},
		{"GET", "/metrics", "analyst-1", 403},
		{"GET", "/metrics", "cmdr-althea", 403},
		{"GET", "/metrics", "admin", 200},
		{"GET", "/ws/picture", "feed-a", 403},
		{"GET", "/healthz", "", 200},
		// A crisis liaison officer: who it is, the missions, never a feed or the metrics.
		{"GET", "/api/v1/whoami", "liaison-1", 200},
		{"GET", "/api/v1/missions", "liaison-1", 200},
		{"POST", "/api/v1/feeds", "liaison-1", 403},
		{"GET", "/api/v1/stats", "liaison-1", 403},
		{"GET", "/metrics", "liaison-1", 403},
	}
	for _, c := range cells {
		t.Run(c.method+c.path+"/"+c.who, func(t *testing.T) {
			tok := f.tokens[c.who]
			if c.who == "bad" {
				tok = "cop_" + strings.Repeat("0", 64)
			}
			var body *strings.Reader
			if c.method == "POST" {
				body = strings.NewReader(`[]`)
			} else {
				body = strings.NewReader("")
			}
			resp := f.do(t, c.method, c.path, tok, body)
			if resp.StatusCode != c.want {
				t.Errorf("status %d, want %d", resp.StatusCode, c.want)
			}
		})
	}
	// Missions a commander is told about are its own only.
	resp := f.do(t, "GET", "/api/v1/missions", f.tokens["cmdr-althea"], nil)
	var ms []access.Mission
	json.NewDecoder(resp.Body).Decode(&ms)
	if len(ms) != 1 || ms[0].Name != "EUFOR-ALTHEA" {
		t.Errorf("commander's missions: %+v", ms)
	}
}

func TestPushRateLimitAnswers429WithRetryAfterPerContributor(t *testing.T) {
	f := newFixture(t, nil, append(matrixIdentities, access.Identity{Name: "feed-b", Role: access.RoleContributor, MaxTLP: 1}), nil)
	f.s.PushLimit.Rate, f.s.PushLimit.Burst = 0.5, 3
	for i := 0; i < 3; i++ {
		if st := f.do(t, "POST", "/api/v1/feeds", f.tokens["feed-a"], strings.NewReader("[]")).StatusCode; st != 202 {
			t.Fatalf("push %d within the burst: %d", i, st)
		}
	}
	resp := f.do(t, "POST", "/api/v1/feeds", f.tokens["feed-a"], strings.NewReader("[]"))
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("push over the burst: %d, want 429", resp.StatusCode)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "2" {
		t.Errorf("Retry-After %q, want 2 (one token at 0.5/s)", ra)
	}
	if st := f.do(t, "POST", "/api/v1/feeds", f.tokens["feed-b"], strings.NewReader("[]")).StatusCode; st != 202 {
		t.Errorf("another contributor limited by feed-a's rate: %d", st)
	}
}

func TestRateLimiterRefills(t *testing.T) {
	now := time.Unix(0, 0)
	l := &RateLimiter{Rate: 2, Burst: 1, now: func() time.Time { return now }}
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("first request refused")
	}
	ok, wait := l.Allow("a")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("second request: %v after %s, want refused for 500ms", ok, wait)
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.Allow("a"); !ok {
		t.Error("refilled token refused")
	}
	var nilLimiter *RateLimiter
	if ok, _ := nilLimiter.Allow("a"); !ok {
		t.Error("nil limiter refused")
	}
}

func TestSecurityHeadersAndStrictCSPOnDashboard(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	for _, path := range []string{"/healthz", "/api/v1/whoami", "/ws/picture"} {
		resp := f.do(t, "GET", path, "", nil)
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "connect-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*", "http:", "https:"} {
			if strings.Contains(csp, bad) {
				t.Errorf("%s: CSP %q allows %q", path, csp, bad)
			}
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
			if h.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", path, k, h.Get(k), v)
			}
		}
	}
}

func TestWebsocketRefusesOtherOrigins(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	host := strings.TrimPrefix(f.srv.URL, "http://")
	for _, c := range []struct {
		origin string
		ok     bool
	}{{"", true}, {"http://" + host, true}, {"https://" + host, true}, {"http://evil.example", false}, {"http://" + host + ".evil.example", false}, {"null", false}} {
		h := http.Header{}
		if c.origin != "" {
			h.Set("Origin", c.origin)
		}
		conn, resp, err := f.dial(f.tokens["cmdr-althea"], nil, h)
		if conn != nil {
			conn.Close()
		}
		if got := err == nil; got != c.ok {
			status := 0
			if resp != nil {
				status = resp.StatusCode
			}
			t.Errorf("origin %q: connected %v (status %d), want %v", c.origin, got, status, c.ok)
		}
	}
}

func TestWebsocketClosesOnOversizedFrame(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	cl := f.follow(t, "cmdr-althea", nil)
	cl.snapshot(t)
	big := `{"type":"view","mission":"` + strings.Repeat("A", maxClientMessage) + `"}`
	if err := cl.conn.WriteMessage(1, []byte(big)); err != nil {
		t.Fatal(err)
	}
	cl.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := cl.conn.ReadMessage(); err != nil {
			if strings.Contains(err.Error(), "timeout") {
				t.Fatalf("connection still open after a %d-byte frame", len(big))
			}
			return
		}
	}
}

func TestRequestBodiesAreCapped(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	f.s.MaxBody = 16
	var got error
	f.s.Push = nil
	h := f.s.limitBodies(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, got = r.Body.Read(make([]byte, 64))
		buf := make([]byte, 64)
		for got == nil {
			_, got = r.Body.Read(buf)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/anything", strings.NewReader(strings.Repeat("x", 100))))
	var mbe *http.MaxBytesError
	if got == nil || !asMaxBytes(got, &mbe) {
		t.Errorf("reading a 100-byte body under a 16-byte cap: %v", got)
	}
	got = nil
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/api/v1/feeds", strings.NewReader(strings.Repeat("x", 100))))
	if got != nil && got.Error() != "EOF" {
		t.Errorf("push body capped by the general cap: %v", got)
	}
}

func asMaxBytes(err error, target **http.MaxBytesError) bool {
	e, ok := err.(*http.MaxBytesError)
	if ok {
		*target = e
	}
	return ok
}
