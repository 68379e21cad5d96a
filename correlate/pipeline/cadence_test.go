package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/store"
)

// TestWriteCadenceBoundsPartsPerTable feeds the correlator the demo's rate, 200 events/s
// in fetches of ~20 every 100 ms, for a minute (and a replica, 1 of 1, with its Sequencer,
// for 20 s), on a scratch database of the real ClickHouse, through the default flush
// cadence, and counts the parts inserts wrote into each table per minute (system.parts:
// the tables' block numbers, one per part an insert writes). The bound, derived: at this
// rate a flush never holds FlushMinRows (5000) rows, so it waits FlushWait (10 s): 6
// inserts a minute, each one part per table (one exercise, one stored day and month),
// plus 2 for the feed's last flush and an insert that straddles a stored day (8 in a
// minute); the bound, one insert per second, is 60. More than that fails: one
// insert per fetch wrote 400-600 a minute, one a second up to 60, and at one a second
// ClickHouse wrote 14x the bytes inserted in 17 minutes (docs/history.md, "Disk under
// the demo's rate"). Every event must be stored once.
func TestWriteCadenceBoundsPartsPerTable(t *testing.T) {
	kafkaAddr, ch := itest.Services(t)
	ns := itest.Namespace(t)
	db := "zz_cadence_" + ns
	t.Setenv("COP_CH_DATABASE", db)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	st, err := store.Open(ctx, ch, itest.Database())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Errorf("cannot drop scratch database %s: %v", db, err)
		}
		st.Close()
	})
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const rate = 200
	for _, stage := range []string{"correlator", "replica"} {
		t.Run(stage, func(t *testing.T) {
			seconds := 60
			if stage == "replica" {
				seconds = 20
			}
			bc := bus.Config{Brokers: bus.Brokers(kafkaAddr), Partitions: 4, Namespace: ns + "-" + stage}
			if err := bus.EnsureTopics(ctx, bc, bc.Events(), bc.Picture(), bc.DeadLetter()); err != nil {
				t.Fatal(err)
			}
			ex := strings.ToUpper("CADENCE-" + stage + "-" + ns)
			log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
			rctx, stop := context.WithCancel(ctx)
			var wg sync.WaitGroup
			run := func(f func(context.Context) error) {
				wg.Go(func() {
					if err := f(rctx); err != nil {
						t.Errorf("%s stopped: %v", stage, err)
					}
				})
			}
			if stage == "correlator" {
				run((&Correlator{Bus: bc, Store: st, Log: log}).Run)
			} else {
				run((&Sequencer{Bus: bc, Log: log, Count: 1}).Run)
				run((&Replica{Bus: bc, Store: st, Log: log, Index: 0,
					StatePath: filepath.Join(t.TempDir(), "r0.snap"), SnapshotEvery: time.Second}).Run)
			}
			defer func() { stop(); wg.Wait() }()

			before, err := st.Parts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			n := feedAtRate(ctx, t, bc, ex, rate, seconds)
			itest.Eventually(t, time.Minute, 500*time.Millisecond, func() (bool, string) {
				var got uint64
				if err := st.Conn().QueryRow(ctx, `SELECT uniqExact(id) FROM cop.events WHERE exercise = ?`, ex).Scan(&got); err != nil {
					return false, err.Error()
				}
				return got == uint64(n), fmt.Sprintf("%d of %d events stored", got, n)
			})
			elapsed := time.Since(start).Seconds()
			// One flush per FlushWait, plus the feed's last and a stored day's boundary.
			limit := uint64(elapsed/defaultFlushWait.Seconds()) + 2
			after, err := st.Parts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var tables []string
			for name := range after {
				if name != "schema_migrations" {
					tables = append(tables, name)
				}
			}
			slices.Sort(tables)
			if len(tables) < 5 {
				t.Fatalf("tables with parts: %v; want events, observables, situations and the daily views", tables)
			}
			for _, name := range tables {
				written := after[name].Inserted - before[name].Inserted
				perMinute := 60 * float64(written) / elapsed
				t.Logf("%-26s %4d parts written in %.1f s: %5.1f/min; now %d active, %d kept, %d bytes on disk",
					name, written, elapsed, perMinute, after[name].Active, after[name].Parts, after[name].Bytes)
				if written > limit {
					t.Errorf("%s: %d parts written in %.1f s (%.1f/min) at %d events/s; want at most %d (%.1f/min)",
						name, written, elapsed, perMinute, rate, limit, 60*float64(limit)/elapsed)
				}
			}
		})
	}
}

// feedAtRate writes rate events per second to bc's cop.events, a tenth of them every 100
// ms, for seconds, in exercise ex, and returns how many it wrote. Observables repeat
// across events, so situations grow and change.
func feedAtRate(ctx context.Context, t *testing.T, bc bus.Config, ex string, rate, seconds int) int {
	t.Helper()
	w := bus.NewWriter(bc, bc.Events())
	defer w.Close()
	rng := rand.New(rand.NewPCG(17, 29))
	contributors := []string{"fr-comcyber", "de-cert-bw", "pl-csirt-mon", "it-csirt", "ee-cert"}
	per := rate / 10
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	n := 0
	for range seconds * 10 {
		<-tick.C
		now := time.Now().UTC().Truncate(time.Second)
		msgs := make([]kafka.Message, per)
		for i := range msgs {
			e := event.Event{ID: fmt.Sprintf("%s-%06d", ex, n), Contributor: contributors[rng.IntN(len(contributors))],
				SourceID: fmt.Sprint("s", n), Kind: event.KindIndicator, ObservedAt: now, ReceivedAt: now,
				Severity: event.Severity(1 + rng.IntN(4)), Confidence: uint8(40 + rng.IntN(60)), TLP: event.TLPGreen,
				Sectors: []string{[]string{"energy", "telecom", "health"}[rng.IntN(3)]}, Exercise: ex,
				Title: fmt.Sprint("report ", n)}
			for range 1 + rng.IntN(2) {
				v := rng.IntN(rate * seconds)
				e.Observables = append(e.Observables, event.Observable{Type: event.ObsIPv4,
					Value: fmt.Sprintf("198.51.%d.%d", v/250, v%250)})
			}
			v, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			msgs[i] = kafka.Message{Key: []byte(e.ID), Value: v}
			n++
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// TestCadenceWaitsForRowsUpToFlushWait: a flush goes every FlushEvery once it holds
// FlushMinRows rows or the last one did, else once its first batch waited FlushWait, and
// at FlushRows at once.
func TestCadenceWaitsForRowsUpToFlushWait(t *testing.T) {
	c := newCadence(0, 0, 0, 0)
	f := func(events int, after time.Duration, want bool) {
		t.Helper()
		var p store.Pending
		if events >= 0 {
			b := &store.Batch{Events: make([]event.Event, events), Situations: make([]string, events), Duplicate: make([]bool, events)}
			if err := p.Add(b); err != nil {
				t.Fatal(err)
			}
		}
		if got := c.due(&p, p.Since().Add(after)); got != want {
			t.Errorf("%d rows after %s: due %v, want %v", events, after, got, want)
		}
	}
	f(-1, time.Hour, false) // nothing gathered
	f(0, 9*time.Second, false)
	f(0, 10*time.Second, true) // a batch of no rows still has offsets to commit
	f(1000, 999*time.Millisecond, false)
	f(1000, time.Second, false)
	f(1000, 9999*time.Millisecond, false)
	f(1000, 10*time.Second, true)
	f(4999, 9*time.Second, false)
	f(5000, 999*time.Millisecond, false)
	f(5000, time.Second, true)
	f(50000, 0, true)

	// After a write of FlushMinRows rows the stream is fast: its tail goes at FlushEvery.
	c.wrote(5000)
	f(1000, time.Second, true)
	f(0, time.Second, true)
	c.wrote(4999)
	f(1000, time.Second, false)
	f(1000, 10*time.Second, true)

	if c := newCadence(2*time.Second, time.Second, 10, 100); c.wait != 2*time.Second {
		t.Errorf("FlushWait 1 s under FlushEvery 2 s: wait %s, want FlushEvery", c.wait)
	}
	var p store.Pending
	p.Add(&store.Batch{})
	if !newCadence(-1, 0, 0, 0).due(&p, p.Since()) {
		t.Error("a negative FlushEvery must write every batch at once")
	}
}
