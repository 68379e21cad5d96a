package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/correlate"
	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/store"
)

// TestReplicasGiveTheSinglePicture feeds the same stream to one Correlator and to
// correlator replicas (each with its Sequencer, as `cop correlate --replica i/n` runs them)
// that change while the stream runs: two replicas for the first third; then a third joins
// and the first two restart counting three; then one leaves and comes back from its state
// file. It compares what both stored in ClickHouse: the same situations (member events)
// with the same scores, every event stored once.
func TestReplicasGiveTheSinglePicture(t *testing.T) {
	kafkaAddr, ch := itest.Services(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := store.Open(ctx, ch, itest.Database())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ns := itest.Namespace(t)
	single := bus.Config{Brokers: bus.Brokers(kafkaAddr), Partitions: 4, Namespace: ns + "-one"}
	multi := bus.Config{Brokers: bus.Brokers(kafkaAddr), Partitions: 4, Namespace: ns + "-many"}
	for _, bc := range []bus.Config{single, multi} {
		if err := bus.EnsureTopics(ctx, bc, bc.Events(), bc.Picture(), bc.DeadLetter()); err != nil {
			t.Fatal(err)
		}
	}
	exOne, exMany := strings.ToUpper("SCALE-1-"+ns), strings.ToUpper("SCALE-N-"+ns)
	stream := scaleStream(3000, time.Now().UTC().Truncate(time.Second))
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	run := func(ctx context.Context, f func(context.Context) error) <-chan struct{} {
		done := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done)
			if err := f(ctx); err != nil {
				t.Errorf("stage stopped: %v", err)
			}
		}()
		return done
	}
	cfg := correlate.DefaultConfig()
	cfg.Instance = "one-" + ns
	run(ctx, (&Correlator{Bus: single, Store: st, Engine: correlate.New(cfg), Log: log}).Run)
	dir := t.TempDir()
	stops := map[int]func(){}
	start := func(i, count int) {
		rctx, stop := context.WithCancel(ctx)
		r := &Replica{Bus: multi, Store: st, Log: log, Index: i,
			StatePath: filepath.Join(dir, fmt.Sprintf("r%d.snap", i)), SnapshotEvery: time.Second}
		rd := run(rctx, r.Run)
		sd := run(rctx, (&Sequencer{Bus: multi, Log: log, Count: count}).Run)
		stops[i] = func() { stop(); <-rd; <-sd }
	}
	feed := func(bc bus.Config, ex, prefix string, evs []event.Event) {
		t.Helper()
		w := bus.NewWriter(bc, bc.Events())
		defer w.Close()
		msgs := make([]kafka.Message, len(evs))
		for i, e := range evs {
			e.Exercise, e.ID = ex, prefix+e.ID
			v, _ := json.Marshal(e)
			msgs[i] = kafka.Message{Key: []byte(e.ID), Value: v}
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	third := len(stream) / 3
	phase := func(evs []event.Event) {
		feed(single, exOne, "a-", evs)
		feed(multi, exMany, "b-", evs)
		time.Sleep(2 * time.Second)
	}
	start(0, 2)
	start(1, 2)
	// Something no Sequencer wrote lands on cop.sequence: skipped by every replica, kept
	// in the dead letter.
	if err := bus.EnsureTopics(ctx, multi, multi.Sequence()); err != nil {
		t.Fatal(err)
	}
	junk := bus.NewWriter(multi, multi.Sequence())
	if err := junk.WriteMessages(ctx, kafka.Message{Value: []byte("not a record")}); err != nil {
		t.Fatal(err)
	}
	junk.Close()
	phase(stream[:third])
	start(2, 3) // a third replica joins ...
	for i := range 2 {
		stops[i]() // ... and the others restart counting it
		start(i, 3)
	}
	phase(stream[third : 2*third])
	stops[1]() // replica 1 leaves ...
	phase(stream[2*third:])
	start(1, 3) // ... and comes back from its state file

	want := map[string]bool{}
	for _, e := range stream {
		want[e.ID] = true
	}
	var one, many []string
	itest.Eventually(t, 90*time.Second, time.Second, func() (bool, string) {
		var msg string
		one, msg = storedPicture(t, st, exOne, "a-", len(want))
		if msg != "" {
			return false, "one correlator: " + msg
		}
		many, msg = storedPicture(t, st, exMany, "b-", len(want))
		if msg != "" {
			return false, "replicas: " + msg
		}
		if d := pictureDiff(one, many); d != "" {
			return false, d
		}
		return true, ""
	})
	linked := 0
	for _, s := range one {
		if strings.Contains(s, ",") {
			linked++
		}
	}
	if linked < 100 {
		t.Fatalf("only %d situations of several events: the stream does not exercise linking", linked)
	}
	// Read every dead letter up to each partition's end offset: a fetch that waits a
	// fixed time for the next one misses letters on a loaded broker.
	lreq := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for p := range 4 {
		lreq.Topics[multi.DeadLetter()] = append(lreq.Topics[multi.DeadLetter()], kafka.LastOffsetOf(p))
	}
	ends, err := multi.Client().ListOffsets(ctx, lreq)
	if err != nil {
		t.Fatal(err)
	}
	var letters int
	for _, end := range ends.Topics[multi.DeadLetter()] {
		if end.Error != nil {
			t.Fatalf("cannot list the end offset of %s/%d: %v", multi.DeadLetter(), end.Partition, end.Error)
		}
		r := bus.NewPartitionReader(multi, multi.DeadLetter(), end.Partition)
		for o := int64(0); o < end.LastOffset; o++ {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				t.Fatalf("cannot read dead letter %d of %s/%d: %v", o, multi.DeadLetter(), end.Partition, err)
			}
			o = m.Offset
			if strings.Contains(string(m.Value), "not a cop.sequence record") {
				letters++
			}
		}
		r.Close()
	}
	if letters != 1 {
		t.Errorf("%d dead letters for the record on cop.sequence no Sequencer wrote, want 1", letters)
	}
	// Each replica stores only its share: one row per event, not one per replica.
	var rows, ids uint64
	if err := st.Conn().QueryRow(ctx, `SELECT count(), uniqExact(id) FROM cop.events WHERE exercise = ?`, exMany).Scan(&rows, &ids); err != nil {
		t.Fatal(err)
	}
	if rows != ids {
		t.Errorf("the replicas stored %d rows for %d events", rows, ids)
	}
	t.Logf("%d events, %d situations (%d linking several events), identical with one correlator and with replicas joining and leaving", len(want), len(one), linked)
}

// scaleStream returns n events over a small observable universe, from several
// contributors, so that events sharing observables land on different partitions; plus
// redeliveries (same id) and re-sent content (new id). The universe is large enough that
// no observable becomes a hub: whether one does depends on arrival order (the engine's
// order independence holds below the hub threshold), and the two runs see the stream in
// different orders.
func scaleStream(n int, at time.Time) []event.Event {
	rng := rand.New(rand.NewPCG(7, 11))
	contributors := []string{"fr-comcyber", "de-cert-bw", "pl-csirt-mon", "it-csirt", "ee-cert"}
	var evs []event.Event
	for i := range n {
		switch {
		case i > 10 && rng.IntN(10) == 0: // a redelivery
			evs = append(evs, evs[rng.IntN(len(evs))])
			continue
		case i > 10 && rng.IntN(10) == 0: // the same report re-sent under a new id
			e := evs[rng.IntN(len(evs))]
			e.ID, e.SourceID = fmt.Sprintf("e%05d", i), fmt.Sprintf("resent-%d", i)
			evs = append(evs, e)
			continue
		}
		e := event.Event{ID: fmt.Sprintf("e%05d", i), Contributor: contributors[rng.IntN(len(contributors))],
			SourceID: fmt.Sprint("s", i), Kind: event.KindIndicator, ObservedAt: at, ReceivedAt: at,
			Severity: event.Severity(1 + rng.IntN(4)), Confidence: uint8(40 + rng.IntN(60)), TLP: event.TLPGreen,
			Sectors: []string{[]string{"energy", "telecom", "health"}[rng.IntN(3)]}, Title: fmt.Sprint("report ", i)}
		for range 1 + rng.IntN(3) {
			v := rng.IntN(3 * n)
			e.Observables = append(e.Observables, event.Observable{Type: event.ObsIPv4,
				Value: fmt.Sprintf("198.51.%d.%d", v/250, v%250)})
		}
		evs = append(evs, e)
	}
	return evs
}

// storedPicture reads back from ClickHouse what was stored for exercise ex: each live
// situation as its member events (ids without prefix) and score, sorted. msg says why
// it is not complete yet: events missing, an event stored under two situations.
func storedPicture(t *testing.T, st *store.Store, ex, prefix string, events int) ([]string, string) {
	t.Helper()
	ctx := context.Background()
	// Re-sent content is stored too (flagged duplicate, in the situation of the report it
	// repeats); which of the two came first depends on arrival order, so both count.
	rows, err := st.Conn().Query(ctx, `SELECT id, groupUniqArray(situation_id) FROM cop.events
		WHERE exercise = ? GROUP BY id`, ex)
	if err != nil {
		t.Fatal(err)
	}
	member := map[string]string{}
	for rows.Next() {
		var id string
		var sits []string
		if err := rows.Scan(&id, &sits); err != nil {
			t.Fatal(err)
		}
		if len(sits) != 1 {
			rows.Close()
			return nil, fmt.Sprintf("event %s stored under situations %v", id, sits)
		}
		member[strings.TrimPrefix(id, prefix)] = sits[0]
	}
	rows.Close()
	if len(member) != events {
		return nil, fmt.Sprintf("%d of %d events stored", len(member), events)
	}
	rows, err = st.Conn().Query(ctx, `SELECT id, argMax(merged_into, version), argMax(toUInt8(removed), version),
		argMax(score, version) FROM cop.situations WHERE exercise = ? GROUP BY id`, ex)
	if err != nil {
		t.Fatal(err)
	}
	into, score := map[string]string{}, map[string]float64{}
	for rows.Next() {
		var id, merged string
		var removed uint8
		var sc float64
		if err := rows.Scan(&id, &merged, &removed, &sc); err != nil {
			t.Fatal(err)
		}
		if removed != 0 {
			into[id] = merged
		} else {
			score[id] = sc
		}
	}
	rows.Close()
	groups := map[string][]string{}
	for ev, sit := range member {
		for into[sit] != "" {
			sit = into[sit]
		}
		if _, ok := score[sit]; !ok {
			return nil, fmt.Sprintf("event %s in situation %s, which is not stored (yet)", ev, sit)
		}
		groups[sit] = append(groups[sit], ev)
	}
	var out []string
	for sit, evs := range groups {
		slices.Sort(evs)
		out = append(out, fmt.Sprintf("%s score=%.3f", strings.Join(evs, ","), score[sit]))
	}
	slices.Sort(out)
	return out, ""
}

// pictureDiff compares two stored pictures: the same member sets, scores within 0.05
// (the two runs decay over a few seconds of difference). "" when equal.
func pictureDiff(a, b []string) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d situations against %d", len(a), len(b))
	}
	for i := range a {
		ma, sa, _ := strings.Cut(a[i], " score=")
		mb, sb, _ := strings.Cut(b[i], " score=")
		var fa, fb float64
		fmt.Sscan(sa, &fa)
		fmt.Sscan(sb, &fb)
		if ma != mb || math.Abs(fa-fb) > 0.05 {
			return fmt.Sprintf("situation %d differs: %q against %q", i, a[i], b[i])
		}
	}
	return ""
}
