package main

import (
	"context"
	"encoding/json"
	"fmt"
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
	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/keys"
	"github.com/cidcc/cop/internal/store"
	"github.com/cidcc/cop/internal/synth"
)

// startServe runs `cop serve` in-process on the real services, in its own namespace.
func startServe(t *testing.T, ns string) (addr string, st *store.Store, bc bus.Config) {
	t.Helper()
	kafkaAddr, chAddr := itest.Services(t)
	bc = bus.Config{Brokers: bus.Brokers(kafkaAddr), Partitions: 4, Namespace: ns}
	// Keep the server's log; show its tail only when the test fails.
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			lines := strings.Split(logs.String(), "\n")
			t.Logf("last server log lines:\n%s", strings.Join(lines[max(0, len(lines)-60):], "\n"))
		}
	})
	log := zerolog.New(logs).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	addr, st = runTestServe(t, serveConfig{Kafka: kafkaAddr, ClickHouse: chAddr, Listen: "127.0.0.1:0", Insecure: true,
		Partitions: 4, Namespace: ns}, log)
	return addr, st, bc
}

// testKeysFile is the key file of every serve a test starts without one of its own, so
// that tests can mint the event ids serve mints (testIDs).
var testKeysFile = sync.OnceValue(func() string {
	dir, err := os.MkdirTemp("", "cop-test-keys-")
	if err != nil {
		panic(err)
	}
	return filepath.Join(dir, "keys.json")
})

// testIDs returns the source contributor's events get in a serve started by runTestServe.
func testIDs(t *testing.T, contributor string) event.Source {
	t.Helper()
	r, err := keys.Open(testKeysFile())
	if err != nil {
		t.Fatal(err)
	}
	return event.Source{Contributor: contributor, IDKey: r.IDs()}
}

// runTestServe runs serve(c) until the test ends and opens the store it writes to.
func runTestServe(t *testing.T, c serveConfig, log zerolog.Logger) (addr string, st *store.Store) {
	t.Helper()
	if c.Keys == "" {
		c.Keys = testKeysFile()
	}
	if c.Backends.CHDatabase == "" {
		c.Backends.CHDatabase = itest.Database() // as `cop serve` takes it from COP_CH_DATABASE
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan string, 1)
	go func() { done <- serve(ctx, c, log, started) }()
	select {
	case addr = <-started:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(90 * time.Second):
		cancel()
		t.Fatal("serve did not start in 90 s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop in 30 s after cancel")
		}
	})
	st, err := store.Open(context.Background(), c.ClickHouse, itest.Database())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return addr, st
}

// wsView is a websocket client's view of the live picture.
type wsView struct {
	mu       sync.Mutex
	events   map[string]int // situation id → event_count
	messages int
}

func followPicture(t *testing.T, addr string) *wsView { return followView(t, addr, "") }

// followView follows the picture of view query (e.g. "exercise=CYDEF-X"; "" is the real one).
func followView(t *testing.T, addr, query string) *wsView {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws/picture?"+query, nil)
	if err != nil {
		t.Fatalf("cannot connect to /ws/picture: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	p := &wsView{events: map[string]int{}}
	var first sync.WaitGroup
	first.Add(1)
	go func() {
		snap := false
		for {
			var m api.Message
			if err := conn.ReadJSON(&m); err != nil {
				t.Logf("websocket read: %v", err)
				if !snap {
					first.Done()
				}
				return
			}
			p.mu.Lock()
			p.messages++
			if m.Type == "snapshot" {
				p.events = map[string]int{}
			}
			for _, s := range m.Situations {
				p.events[s.ID] = s.EventCount
			}
			for _, r := range m.Removed {
				delete(p.events, r.ID)
			}
			p.mu.Unlock()
			if !snap {
				snap = true
				first.Done()
			}
		}
	}()
	first.Wait()
	return p
}

func (p *wsView) totalEvents() (events, situations int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range p.events {
		events += n
	}
	return events, len(p.events)
}

// TestPipelineEndToEnd is the foundation's acceptance test: 10,000 events from 3
// contributors through real Kafka, of which 1,000 are redeliveries, plus 50 malformed
// messages. ClickHouse must hold exactly the 9,000 distinct events, the dead letter the 50
// with reasons, and a websocket client connected before the first event must have
// received deltas covering all 9,000.
func TestPipelineEndToEnd(t *testing.T) {
	ns := itest.Namespace(t)
	kafkaAddr, _ := itest.Services(t)
	contributors := []synth.Contributor{{Name: ns + "-milcert"}, {Name: ns + "-csirt"}, {Name: ns + "-cert-eu"}}
	bc0 := bus.Config{Brokers: bus.Brokers(kafkaAddr), Partitions: 4, Namespace: ns}
	var topics []string
	for _, c := range contributors {
		topics = append(topics, bc0.FeedTopic(c.Name))
	}
	if err := bus.EnsureTopics(context.Background(), bc0, topics...); err != nil {
		t.Fatal(err)
	}
	addr, st, bc := startServe(t, ns)
	pic := followPicture(t, addr)

	const distinct, redeliveries, malformed = 9000, 1000, 50
	gen := synth.New(42)
	now := time.Now().UTC()
	var msgs []kafka.Message
	for i := 0; i < distinct; i++ {
		c := contributors[i%len(contributors)]
		in := gen.For(c, now)
		in.Anonymise = false
		if in.TLP == event.TLPRed {
			// RED goes to named recipients only; the test's viewer must be cleared for all.
			in.TLP, in.ReleasableTo = event.TLPAmberStrict, nil
		}
		v, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Topic: bc.FeedTopic(c.Name), Value: v})
	}
	for i := 0; i < redeliveries; i++ {
		msgs = append(msgs, msgs[(i*7919)%distinct]) // the same bytes again, as a retrying producer sends
	}
	for i := 0; i < malformed; i++ {
		c := contributors[i%len(contributors)]
		msgs = append(msgs, kafka.Message{Topic: bc.FeedTopic(c.Name), Value: gen.Malformed(i)})
	}
	w := bus.NewWriter(bc, "")
	defer w.Close()
	for i := 0; i < len(msgs); i += 1000 {
		if err := w.WriteMessages(context.Background(), msgs[i:min(i+1000, len(msgs))]...); err != nil {
			t.Fatal(err)
		}
	}

	names := []string{contributors[0].Name, contributors[1].Name, contributors[2].Name}
	ctx := context.Background()
	itest.Eventually(t, 60*time.Second, time.Second, func() (bool, string) {
		var rows, ids uint64
		if err := st.Conn().QueryRow(ctx, `SELECT count(), uniqExact(id) FROM cop.events WHERE contributor IN (?, ?, ?)`, names[0], names[1], names[2]).
			Scan(&rows, &ids); err != nil {
			return false, err.Error()
		}
		var letters uint64
		if err := st.Conn().QueryRow(ctx, `SELECT uniqExact(id) FROM cop.deadletter WHERE contributor IN (?, ?, ?)`, names[0], names[1], names[2]).
			Scan(&letters); err != nil {
			return false, err.Error()
		}
		seen, sits := pic.totalEvents()
		msg := fmt.Sprintf("ClickHouse count()=%d uniqExact(id)=%d dead letters=%d; websocket: %d events in %d situations",
			rows, ids, letters, seen, sits)
		return rows == distinct && ids == distinct && letters == malformed && seen == distinct, msg
	})

	// The dead letters say why.
	rows, err := st.Conn().Query(ctx, `SELECT reason, source FROM cop.deadletter WHERE contributor IN (?, ?, ?)`, names[0], names[1], names[2])
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var reason, source string
		if err := rows.Scan(&reason, &source); err != nil {
			t.Fatal(err)
		}
		if reason == "" || source == "" {
			t.Errorf("dead letter without reason or source: %q %q", reason, source)
		}
	}
	// Redeliveries are dropped before storage, so nothing was stored twice even unmerged.
	var dupRows int64
	if err := st.Conn().QueryRow(ctx, `SELECT count() - uniqExact(id) FROM cop.events WHERE contributor IN (?, ?, ?)`, names[0], names[1], names[2]).Scan(&dupRows); err != nil {
		t.Fatal(err)
	}
	if dupRows != 0 {
		t.Errorf("%d event rows stored twice", dupRows)
	}
	_, sits := pic.totalEvents()
	t.Logf("9,000 events in %d situations; %d websocket messages", sits, pic.messages)
}

// TestUndecodableEventGoesToTheDeadLetter: a message on cop.events that is not an event
// (ingest never writes one, but a misconfigured producer could) is kept in the dead letter
// with where it came from, never skipped.
func TestUndecodableEventGoesToTheDeadLetter(t *testing.T) {
	ns := itest.Namespace(t)
	_, st, bc := startServe(t, ns)
	w := bus.NewWriter(bc, bc.Events())
	defer w.Close()
	if err := w.WriteMessages(context.Background(), kafka.Message{Value: []byte("not an event " + ns)}); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		var n uint64
		if err := st.Conn().QueryRow(context.Background(), `SELECT count() FROM cop.deadletter WHERE position(source, ?) = 7
			AND position(reason, 'undecodable cop.events message') = 1`, bc.Events()).Scan(&n); err != nil {
			return false, err.Error()
		}
		return n == 1, fmt.Sprintf("%d dead letters from %s", n, bc.Events())
	})
}
