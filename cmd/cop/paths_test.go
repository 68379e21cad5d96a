package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/ingest/native"
	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/synth"
)

// TestSameEventsOverKafkaHTTPAndPushAreStoredIdentically sends one set of reports three
// ways — a Kafka feed topic, the HTTP gateway, and `cop push` — as three contributors, and
// checks ClickHouse holds the same content for each (everything but who sent it and when).
func TestSameEventsOverKafkaHTTPAndPushAreStoredIdentically(t *testing.T) {
	ns := itest.Namespace(t)
	viaKafka, viaHTTP, viaCLI := ns+"-kafka", ns+"-http", ns+"-cli"
	ids := []access.Identity{
		{Name: viaHTTP, Role: access.RoleContributor, MaxTLP: event.TLPClear},
		{Name: viaCLI, Role: access.RoleContributor, MaxTLP: event.TLPClear},
	}
	s := startSecureServe(t, ns, ids, []string{viaKafka}, func(c *serveConfig) { c.PushRate, c.PushBurst = 1000, 1000 })

	const n = 300
	gen := synth.New(7)
	now := time.Now().UTC().Truncate(time.Second)
	var ins []native.Input
	for range n {
		_, in := gen.Next(now)
		ins = append(ins, in)
	}
	doc, _ := json.Marshal(ins)

	w := bus.NewWriter(s.bc, s.bc.FeedTopic(viaKafka))
	defer w.Close()
	var msgs []kafka.Message
	for _, in := range ins {
		v, _ := json.Marshal(in)
		msgs = append(msgs, kafka.Message{Value: v})
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	if status, body, _ := s.push(t, s.tokens[viaHTTP], string(doc)); status != 202 {
		t.Fatalf("HTTP push: %d %s", status, body)
	}
	file := filepath.Join(t.TempDir(), "feed.json")
	os.WriteFile(file, doc, 0o600)
	if err := runPush(context.Background(), []string{"--url", "http://" + s.addr, "--token", s.tokens[viaCLI], "--format", "native", file}); err != nil {
		t.Fatalf("cop push: %v", err)
	}

	content := func(contributor string) map[string]string {
		rows, err := s.st.Conn().Query(context.Background(), `SELECT source_id, kind, observed_at, valid_until, category,
			techniques, sectors, countries, has_geo, lat, lon, severity, confidence, tlp, releasable_to, anonymise,
			exercise, title, summary, obs_types, obs_values FROM cop.events WHERE contributor = ?`, contributor)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]string{}
		for rows.Next() {
			var (
				src, kind, cat, sev, tlp, ex, title, summary string
				obsAt, valid                                 time.Time
				tech, sectors, countries, rel, ot, ov        []string
				hasGeo, anon, conf                           uint8
				lat, lon                                     float64
			)
			if err := rows.Scan(&src, &kind, &obsAt, &valid, &cat, &tech, &sectors, &countries, &hasGeo, &lat, &lon,
				&sev, &conf, &tlp, &rel, &anon, &ex, &title, &summary, &ot, &ov); err != nil {
				t.Fatal(err)
			}
			out[src] = fmt.Sprint(kind, obsAt.Unix(), valid.Unix(), cat, tech, sectors, countries, hasGeo, lat, lon,
				sev, conf, tlp, rel, anon, ex, title, summary, ot, ov)
		}
		return out
	}
	var k, h, c map[string]string
	itest.Eventually(t, 90*time.Second, 500*time.Millisecond, func() (bool, string) {
		k, h, c = content(viaKafka), content(viaHTTP), content(viaCLI)
		return len(k) == n && len(h) == n && len(c) == n, fmt.Sprintf("stored: kafka %d, http %d, cop push %d of %d", len(k), len(h), len(c), n)
	})
	if !reflect.DeepEqual(k, h) || !reflect.DeepEqual(k, c) {
		for id, v := range k {
			if h[id] != v || c[id] != v {
				t.Fatalf("event %s differs by path:\nkafka %s\nhttp  %s\npush  %s", id, v, h[id], c[id])
			}
		}
		t.Fatal("paths stored different event sets")
	}
}
