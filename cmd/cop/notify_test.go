package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/notify"
)

// TestServeNotifiesTheRecipientsConcerned runs `cop serve --notify` on the real services:
// a situation in Bosnia corroborated by eight contributors crosses the alert threshold and
// reaches EUFOR Althea's liaison officer (a signed webhook) and a SIEM (syslog CEF over
// TCP), both on loopback, and not EUNAVFOR Atalanta's.
func TestServeNotifiesTheRecipientsConcerned(t *testing.T) {
	ns := itest.Namespace(t)
	kafkaAddr, chAddr := itest.Services(t)
	const secret = "e2e webhook secret, 32 bytes...."
	type hit struct {
		body []byte
		ts   string
		sig  string
	}
	var mu sync.Mutex
	hits := map[string][]hit{}
	hook := func(name string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			hits[name] = append(hits[name], hit{b, r.Header.Get(notify.HeaderTimestamp), r.Header.Get(notify.HeaderSignature)})
			mu.Unlock()
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lines := make(chan string, 100)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	cfg := notify.Config{Recipients: []notify.Recipient{
		{Name: "LO-ALTHEA", TLPMax: 3, Missions: []string{"EUFOR-ALTHEA"}, Webhook: &notify.Webhook{URL: hook("althea"), Secret: secret}},
		{Name: "LO-ATALANTA", TLPMax: 5, Missions: []string{"EUNAVFOR-ATALANTA"}, Webhook: &notify.Webhook{URL: hook("atalanta"), Secret: secret}},
		{Name: "SIEM", TLPMax: 2, Syslog: &notify.Syslog{Address: ln.Addr().String(), Network: "tcp"}},
	}}
	path := filepath.Join(t.TempDir(), "recipients.json")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	var contributors []string
	bc := bus.Config{Brokers: bus.Brokers(kafkaAddr), Partitions: 4, Namespace: ns}
	var topics []string
	for i := range 8 {
		c := fmt.Sprintf("%s-cert%d", ns, i)
		contributors = append(contributors, c)
		topics = append(topics, bc.FeedTopic(c))
	}
	if err := bus.EnsureTopics(context.Background(), bc, topics...); err != nil {
		t.Fatal(err)
	}
	runTestServe(t, serveConfig{Kafka: kafkaAddr, ClickHouse: chAddr, Listen: "127.0.0.1:0", Insecure: true,
		Partitions: 4, Namespace: ns, Notify: path}, zerolog.Nop())

	title := "Substation wiper Tuzla " + ns
	var msgs []kafka.Message
	for i, c := range contributors {
		v, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("%s-%d", ns, i), "kind": "incident", "title": title,
			"observed_at": time.Now().UTC().Format(time.RFC3339), "severity": "critical", "confidence": 90, "tlp": "GREEN",
			"category": "intrusions/system-compromise", "sectors": []string{"energy"}, "countries": []string{"BA"},
			"observables": []map[string]string{{"type": "domain", "value": "wiper-" + ns + ".example"}}})
		msgs = append(msgs, kafka.Message{Topic: bc.FeedTopic(c), Value: v})
	}
	w := bus.NewWriter(bc, "")
	defer w.Close()
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}

	var line string
	select {
	case line = <-lines:
	case <-time.After(60 * time.Second):
		t.Fatal("no syslog line within 60 s")
	}
	if !strings.Contains(line, "CEF:0|CIDCC|COP|"+version+"|situation.entered|"+title+"|") {
		t.Errorf("syslog line %q", line)
	}
	itest.Eventually(t, 10*time.Second, 50*time.Millisecond, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(hits["althea"]) > 0, "no webhook to EUFOR Althea's liaison officer"
	})
	mu.Lock()
	defer mu.Unlock()
	h := hits["althea"][0]
	if err := notify.Verify([]byte(secret), h.ts, h.sig, h.body, time.Now(), time.Minute); err != nil {
		t.Errorf("webhook signature: %v", err)
	}
	var p notify.Payload
	if err := json.Unmarshal(h.body, &p); err != nil || p.Alert.Subject.Title != title || p.Alert.Subject.Score < 40 {
		t.Errorf("webhook body %s: %v", h.body, err)
	}
	if n := len(hits["atalanta"]); n != 0 {
		t.Errorf("EUNAVFOR Atalanta's liaison officer got %d alerts of a situation in Bosnia", n)
	}
}
