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

// TestWriteCadenceBoundsPartsPerTable feeds the correlator (and a replica, 1 of 1, with
// its Sequencer) the demo's rate, 200 events/s in fetches of ~20 every 100 ms, for 20 s,
// on a scratch database of the real ClickHouse, and counts the parts inserts wrote into
// each table (system.parts: the tables' block numbers). One insert per fetch wrote ~10
// parts per second into each table; gathered, the tables must get at most 2 per second
// (FlushEvery is 1 s), and every event must be stored once.
func TestWriteCadenceBoundsPartsPerTable(t *testing.T) {
	kafkaAddr, ch := itest.Services(t)
	ns := itest.Namespace(t)
	db := "zz_cadence_" + ns
	t.Setenv("COP_CH_DATABASE", db)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
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
	const rate, seconds, maxPerSecond = 200, 20, 2.0
	for _, stage := range []string{"correlator", "replica"} {
		t.Run(stage, func(t *testing.T) {
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
				perSecond := float64(written) / elapsed
				t.Logf("%-20s %4d parts written in %.1f s: %5.2f/s, %4.0f/min; now %d active, %d kept, %d bytes on disk",
					name, written, elapsed, perSecond, 60*perSecond, after[name].Active, after[name].Parts, after[name].Bytes)
				if perSecond > maxPerSecond {
					t.Errorf("%s: %.2f parts written per second at %d events/s; want at most %.0f", name, perSecond, rate, maxPerSecond)
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
