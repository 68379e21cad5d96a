package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/api"
	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/store"
)

func TestServeRefusesToStartWithoutIdentities(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := serve(ctx, serveConfig{Listen: "127.0.0.1:0", Kafka: "127.0.0.1:1", ClickHouse: "127.0.0.1:1"}, zerolog.Nop(), nil)
	if err == nil || !strings.Contains(err.Error(), "refusing to serve without authentication") {
		t.Errorf("serve without identities: %v", err)
	}
	err = serve(ctx, serveConfig{Listen: "127.0.0.1:0", TLSClientCA: "ca.pem", Insecure: true}, zerolog.Nop(), nil)
	if err == nil || !strings.Contains(err.Error(), "--tls-client-ca needs --identities") {
		t.Errorf("serve with a client CA but no identities: %v", err)
	}
	err = serve(ctx, serveConfig{Listen: "127.0.0.1:0", TLSCert: "cert.pem", Insecure: true}, zerolog.Nop(), nil)
	if err == nil || !strings.Contains(err.Error(), "--tls-key") {
		t.Errorf("serve with a certificate but no key: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "identities.json")
	os.WriteFile(bad, []byte(`{"identities": [{"name": "x", "role": "root", "token_sha256": "00"}]}`), 0o600)
	if err := serve(ctx, serveConfig{Listen: "127.0.0.1:0", Identities: bad}, zerolog.Nop(), nil); err == nil {
		t.Error("serve started with a broken identities file")
	}
}

// syncBuffer collects log output from every goroutine of serve.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// secureServe is `cop serve` with an identities file, in its own namespace.
type secureServe struct {
	addr   string
	st     *store.Store
	bc     bus.Config
	tokens map[string]string
	logs   *syncBuffer
}

func startSecureServe(t *testing.T, ns string, ids []access.Identity, feeds []string, mod func(*serveConfig)) *secureServe {
	t.Helper()
	kafkaAddr, chAddr := itest.Services(t)
	s := &secureServe{tokens: map[string]string{}, logs: &syncBuffer{}}
	s.bc = bus.Config{Brokers: bus.Brokers(kafkaAddr), Partitions: 2, Namespace: ns}
	var topics []string
	for _, f := range feeds {
		topics = append(topics, s.bc.FeedTopic(f))
	}
	if err := bus.EnsureTopics(context.Background(), s.bc, topics...); err != nil {
		t.Fatal(err)
	}
	var file access.File
	for _, id := range ids {
		tok, hash := access.NewToken()
		s.tokens[id.Name] = tok
		file.Identities = append(file.Identities, access.Entry{Identity: id, TokenSHA256: hash})
	}
	path := filepath.Join(t.TempDir(), "identities.json")
	b, _ := json.Marshal(file)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c := serveConfig{Kafka: kafkaAddr, ClickHouse: chAddr, Listen: "127.0.0.1:0", Identities: path, Partitions: 2, Namespace: ns, Limits: api.Limits{PushRate: 100, PushBurst: 100}}
	if mod != nil {
		mod(&c)
	}
	s.addr, s.st = runTestServe(t, c, zerolog.New(s.logs).Level(zerolog.DebugLevel))
	return s
}

func (s *secureServe) push(t *testing.T, token, body string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+s.addr+"/api/v1/feeds?format=native", strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// stored returns the contributors cop.events holds for source ids, by source id.
func (s *secureServe) stored(t *testing.T, sourceIDs ...string) map[string]string {
	t.Helper()
	rows, err := s.st.Conn().Query(context.Background(), `SELECT source_id, contributor FROM cop.events WHERE has(?, source_id)`, sourceIDs)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, c string
		if err := rows.Scan(&id, &c); err != nil {
			t.Fatal(err)
		}
		out[id] = c
	}
	return out
}

func nativeEvent(id, tlp, title, domain string, extra string) string {
	return fmt.Sprintf(`{"id": %q, "kind": "incident", "observed_at": %q, "severity": "high", "tlp": %q, "title": %q, "countries": ["BA"],
		"observables": [{"type": "domain", "value": %q}]%s}`, id, time.Now().UTC().Format(time.RFC3339), tlp, title, domain, extra)
}

// TestAccessMatrixPushAndKafkaFeed proves who may contribute, and that the contributor is
// always the authenticated identity (HTTP) or the feed topic (Kafka), never the payload.
func TestAccessMatrixPushAndKafkaFeed(t *testing.T) {
	ns := itest.Namespace(t)
	feedA, feedB := ns+"-feed-a", ns+"-feed-b"
	s := startSecureServe(t, ns, []access.Identity{
		{Name: feedA, Role: access.RoleContributor, MaxTLP: event.TLPClear},
		{Name: feedB, Role: access.RoleContributor, MaxTLP: event.TLPClear},
		{Name: ns + "-cmdr", Role: access.RoleCommander, MaxTLP: event.TLPRed, Missions: []string{"EUFOR-ALTHEA"}},
		{Name: ns + "-analyst", Role: access.RoleAnalyst, MaxTLP: event.TLPRed},
	}, []string{feedA}, func(c *serveConfig) { c.PushRate, c.PushBurst = 0.2, 3 })
	ok := nativeEvent(ns+"-push-ok", "AMBER", "pushed", ns+"-push.example", "")
	for _, c := range []struct {
		rule, who, token string
		want             int
	}{
		{"no_token/deny", "", "", 401},
		{"bad_token/deny", "", "cop_" + strings.Repeat("1", 64), 401},
		{"wrong_role_commander/deny", ns + "-cmdr", "", 403},
		{"wrong_role_analyst/deny", ns + "-analyst", "", 403},
		{"contributor/allow", feedA, "", 202},
	} {
		t.Run("push/"+c.rule, func(t *testing.T) {
			tok := c.token
			if c.who != "" {
				tok = s.tokens[c.who]
			}
			if status, body, _ := s.push(t, tok, ok); status != c.want {
				t.Errorf("status %d, want %d: %s", status, c.want, body)
			}
		})
	}
	t.Run("push/payload_contributor_field/deny", func(t *testing.T) {
		status, body, _ := s.push(t, s.tokens[feedA], nativeEvent(ns+"-push-forged", "GREEN", "forged", ns+"-forged.example", `, "contributor": "cert-eu"`))
		if status != http.StatusUnprocessableEntity || !strings.Contains(body, "contributor") {
			t.Errorf("status %d, want 422 naming the contributor field: %s", status, body)
		}
	})
	t.Run("push/rate_limited/deny", func(t *testing.T) {
		var last int
		var hdr http.Header
		for i := 0; i < 4 && last != http.StatusTooManyRequests; i++ {
			last, _, hdr = s.push(t, s.tokens[feedB], nativeEvent(fmt.Sprintf("%s-rate-%d", ns, i), "GREEN", "rate", ns+"-rate.example", ""))
		}
		if last != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
			t.Errorf("fourth push within a second: %d (Retry-After %q), want 429 with Retry-After", last, hdr.Get("Retry-After"))
		}
	})

	w := bus.NewWriter(s.bc, "")
	defer w.Close()
	hdr := []kafka.Header{{Key: "cop-format", Value: []byte("native")}}
	if err := w.WriteMessages(context.Background(),
		kafka.Message{Topic: s.bc.FeedTopic(feedA), Headers: hdr, Value: []byte(nativeEvent(ns+"-kafka-ok", "GREEN", "from topic", ns+"-kafka.example", ""))},
		kafka.Message{Topic: s.bc.FeedTopic(feedA), Headers: hdr, Value: []byte(nativeEvent(ns+"-kafka-forged", "GREEN", "forged", ns+"-kforged.example", `, "contributor": "cert-eu"`))},
	); err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	itest.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		got = s.stored(t, ns+"-push-ok", ns+"-kafka-ok")
		return len(got) == 2, fmt.Sprintf("stored %v", got)
	})
	t.Run("push/contributor_from_identity/allow", func(t *testing.T) {
		if got[ns+"-push-ok"] != feedA {
			t.Errorf("pushed event stored as %q, want %q", got[ns+"-push-ok"], feedA)
		}
	})
	t.Run("kafka/contributor_from_topic/allow", func(t *testing.T) {
		if got[ns+"-kafka-ok"] != feedA {
			t.Errorf("feed event stored as %q, want %q (the topic's)", got[ns+"-kafka-ok"], feedA)
		}
	})
	t.Run("kafka/payload_contributor_field/deny", func(t *testing.T) {
		itest.Eventually(t, 30*time.Second, 500*time.Millisecond, func() (bool, string) {
			var n uint64
			s.st.Conn().QueryRow(context.Background(), `SELECT count() FROM cop.deadletter WHERE contributor = ? AND position(reason, 'contributor') > 0`, feedA).Scan(&n)
			return n >= 1, "dead letter for the forged contributor field"
		})
		if forged := s.stored(t, ns+"-kafka-forged", ns+"-push-forged"); len(forged) != 0 {
			t.Errorf("events with a payload contributor were stored: %v", forged)
		}
	})
}

// TestAccessMatrixKafkaOverTLS runs every stage of serve on the real broker's SSL listener
// as deploy/ does: principal cop over mutual TLS, deploy/kafka/init.sh's ACLs, the topics
// made beforehand by the admin as kafka-init makes them. Serve starts; a contributor's
// report written over mutual TLS into its own feed is stored under its name and the api
// stage's live picture (read from cop.picture) shows it; one it writes into another
// contributor's feed is refused; no stage logs an authorization error.
func TestAccessMatrixKafkaOverTLS(t *testing.T) {
	sslAddr, certs := itest.KafkaSSL(t)
	ns := itest.Namespace(t)
	own, other := itest.SSLContributors[0], itest.SSLContributors[1]
	admin := itest.SSLConfig(t, sslAddr, certs, "admin", ns)
	if err := bus.EnsureTopics(context.Background(), admin, admin.FeedTopic(own), admin.FeedTopic(other),
		admin.Events(), admin.Picture(), admin.DeadLetter()); err != nil {
		t.Fatal(err)
	}
	itest.GrantACLs(t, admin, itest.DeployACLs(t, ns, itest.SSLContributors...))
	cmdr := ns + "-cmdr"
	s := startSecureServe(t, ns, []access.Identity{{Name: cmdr, Role: access.RoleCommander, MaxTLP: event.TLPRed, Missions: []string{"EUFOR-ALTHEA"}}}, nil,
		func(c *serveConfig) {
			c.Kafka = sslAddr
			c.Backends.KafkaCA = filepath.Join(certs, "ca.pem")
			c.Backends.KafkaCert, c.Backends.KafkaKey = filepath.Join(certs, "cop.crt"), filepath.Join(certs, "cop.key")
		})

	contributor := itest.SSLConfig(t, sslAddr, certs, own, ns)
	hdr := []kafka.Header{{Key: "cop-format", Value: []byte("native")}}
	write := func(topic, id string) error {
		w := bus.NewWriter(contributor, topic)
		w.MaxAttempts = 2
		defer w.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return w.WriteMessages(ctx, kafka.Message{Headers: hdr, Value: []byte(nativeEvent(id, "GREEN", "over TLS", id+".example", ""))})
	}
	t.Run("kafka_tls/contributor_own_feed/allow", func(t *testing.T) {
		if err := write(contributor.FeedTopic(own), ns+"-tls-own"); err != nil {
			t.Fatal(err)
		}
		itest.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
			got := s.stored(t, ns+"-tls-own")
			return got[ns+"-tls-own"] == own, fmt.Sprintf("stored %v, want the event under %s", got, own)
		})
	})
	t.Run("kafka_tls/api_reads_picture/allow", func(t *testing.T) {
		p := followView(t, s.addr, "access_token="+s.tokens[cmdr])
		itest.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
			n, _ := p.totalEvents()
			return n >= 1, fmt.Sprintf("the commander's live picture (from %s over TLS) holds %d events", s.bc.Picture(), n)
		})
	})
	t.Run("kafka_tls/contributor_other_feed/deny", func(t *testing.T) {
		if err := write(contributor.FeedTopic(other), ns+"-tls-other"); err == nil {
			t.Errorf("%s wrote into %s's feed", own, other)
		}
	})
	t.Run("kafka_tls/stages_authorized/allow", func(t *testing.T) {
		for _, bad := range []string{"Authorization Failed", "not authorized"} {
			if strings.Contains(s.logs.String(), bad) {
				t.Errorf("serve logged %q on the SSL listener with init.sh's ACLs:\n%s", bad, s.logs)
			}
		}
	})
}

// TestLogsHoldNoTokensNorAmberContent runs serve with AMBER and RED traffic on both push
// paths, a dead letter quoting AMBER values, and a dashboard-style websocket with the
// token in its URL, and checks the logs hold none of it.
func TestLogsHoldNoTokensNorAmberContent(t *testing.T) {
	ns := itest.Namespace(t)
	feed := ns + "-feed"
	s := startSecureServe(t, ns, []access.Identity{
		{Name: feed, Role: access.RoleContributor, MaxTLP: event.TLPClear},
		{Name: ns + "-admin", Role: access.RoleAdmin, MaxTLP: event.TLPRed},
	}, []string{feed}, nil)
	secrets := []string{s.tokens[feed], s.tokens[ns+"-admin"]}
	amber := func(kind string) (title, domain string) {
		title, domain = "Operation "+kind+" "+ns, kind+"-"+ns+".example"
		secrets = append(secrets, title, domain)
		return
	}
	t1, d1 := amber("amberpush")
	t2, d2 := amber("redpush")
	t3, d3 := amber("amberkafka")
	t4, d4 := amber("badtechnique")
	status, body, _ := s.push(t, s.tokens[feed], "["+nativeEvent(ns+"-1", "AMBER", t1, d1, "")+","+
		nativeEvent(ns+"-2", "RED", t2, d2, `, "releasable_to": ["`+ns+`-admin"]`)+"]")
	if status != 202 {
		t.Fatalf("push: %d %s", status, body)
	}
	// The dashboard's way: token in the websocket URL.
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+s.addr+"/ws/picture?access_token="+s.tokens[ns+"-admin"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A technique that is no ATT&CK id is refused, its reason quoting the AMBER value (an
	// unknown category was the example before categories outside the taxonomy were kept).
	badTechnique := `, "techniques": ["` + t4 + ` ` + d4 + `"]`
	w := bus.NewWriter(s.bc, "")
	defer w.Close()
	hdr := []kafka.Header{{Key: "cop-format", Value: []byte("native")}}
	if err := w.WriteMessages(context.Background(),
		kafka.Message{Topic: s.bc.FeedTopic(feed), Headers: hdr, Value: []byte(nativeEvent(ns+"-3", "AMBER+STRICT", t3, d3, ""))},
		kafka.Message{Topic: s.bc.FeedTopic(feed), Headers: hdr, Value: []byte(nativeEvent(ns+"-4", "AMBER", t4, d4, badTechnique))},
	); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		got := s.stored(t, ns+"-1", ns+"-2", ns+"-3")
		logs := s.logs.String()
		return len(got) == 3 && strings.Contains(logs, "dead letter"), fmt.Sprintf("stored %d of 3; dead letter logged: %v", len(got), strings.Contains(logs, "dead letter"))
	})
	conn.Close()
	// Unauthenticated and forbidden requests with tokens in URLs log nothing either.
	http.Get("http://" + s.addr + "/api/v1/stats?access_token=" + s.tokens[feed])
	logs := s.logs.String()
	if !strings.Contains(logs, `"reason"`) {
		t.Fatalf("no dead-letter reason logged; the capture is broken:\n%s", logs)
	}
	for _, secret := range secrets {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
	if strings.Contains(logs, "cop_") {
		t.Error("logs contain something shaped like a token (cop_…)")
	}
}
