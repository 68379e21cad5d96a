package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/synth"
)

// TestStagesScaleOut runs COP as a deployment does: one ingest instance, two correlator
// replicas (`cop correlate --replica i/2`) and two API instances (`cop api`), each its own
// serve. A websocket client on each API must end with the same picture, covering every
// event exactly once.
func TestStagesScaleOut(t *testing.T) {
	ns := itest.Namespace(t)
	kafkaAddr, chAddr := itest.Services(t)
	bc := bus.Config{Brokers: bus.Brokers(kafkaAddr), Partitions: 4, Namespace: ns}
	contributors := []synth.Contributor{{Name: ns + "-milcert"}, {Name: ns + "-csirt"}}
	var topics []string
	for _, c := range contributors {
		topics = append(topics, bc.FeedTopic(c.Name))
	}
	if err := bus.EnsureTopics(context.Background(), bc, topics...); err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	base := serveConfig{Kafka: kafkaAddr, ClickHouse: chAddr, Listen: "127.0.0.1:0", Insecure: true, Partitions: 4,
		Namespace: ns, SnapshotEvery: time.Second, Backends: backendAuth{CHDatabase: itest.Database()}}
	background := func(c serveConfig) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- serve(ctx, c, log, nil) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve --stages %s: %v", c.Stages, err)
			}
		})
	}
	c := base
	c.Stages = "ingest"
	background(c)
	for i := range 2 {
		c := base
		c.Stages, c.Replica, c.State = "correlate", fmt.Sprintf("%d/2", i), filepath.Join(t.TempDir(), "state.snap")
		background(c)
	}
	var pics []*wsView
	c = base
	c.Stages = "api"
	addr, st := runTestServe(t, c, log)
	pics = append(pics, followPicture(t, addr))
	addr, _ = runTestServe(t, c, log)
	pics = append(pics, followPicture(t, addr))

	const distinct = 2000
	gen := synth.New(77)
	now := time.Now().UTC()
	var msgs []kafka.Message
	for i := range distinct {
		c := contributors[i%len(contributors)]
		in := gen.For(c, now)
		in.Anonymise = false
		if in.TLP == event.TLPRed {
			in.TLP, in.ReleasableTo = event.TLPAmberStrict, nil
		}
		v, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Topic: bc.FeedTopic(c.Name), Value: v})
	}
	w := bus.NewWriter(bc, "")
	defer w.Close()
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	names := []string{contributors[0].Name, contributors[1].Name}
	itest.Eventually(t, 90*time.Second, time.Second, func() (bool, string) {
		var rows, ids uint64
		if err := st.Conn().QueryRow(context.Background(), `SELECT count(), uniqExact(id) FROM cop.events WHERE contributor IN (?, ?)`,
			names[0], names[1]).Scan(&rows, &ids); err != nil {
			return false, err.Error()
		}
		e0, s0 := pics[0].totalEvents()
		e1, s1 := pics[1].totalEvents()
		msg := fmt.Sprintf("ClickHouse %d rows of %d events; API 1: %d events in %d situations, API 2: %d in %d",
			rows, ids, e0, s0, e1, s1)
		if rows != distinct || ids != distinct || e0 != distinct || e1 != distinct {
			return false, msg
		}
		pics[0].mu.Lock()
		defer pics[0].mu.Unlock()
		pics[1].mu.Lock()
		defer pics[1].mu.Unlock()
		if !maps.Equal(pics[0].events, pics[1].events) {
			return false, "the two APIs' pictures differ: " + msg
		}
		return true, msg
	})
	_, sits := pics[0].totalEvents()
	t.Logf("%d events in %d situations, the same on both APIs", distinct, sits)
}
