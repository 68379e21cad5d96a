package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/ingest/inject"
	"github.com/cidcc/cop/ingest/native"
	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/scenario"
	"github.com/cidcc/cop/internal/store"
)

func nsSeed(ns string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(ns))
	return h.Sum64()
}

// exerciseRows returns exercise → stored rows of the events with ids.
func exerciseRows(t *testing.T, st *store.Store, ids []any) map[string]uint64 {
	t.Helper()
	rows, err := st.Conn().Query(context.Background(), `SELECT exercise, uniqExact(id) FROM cop.events WHERE id IN (`+
		strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")+`) GROUP BY exercise`, ids...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var ex string
		var n uint64
		if err := rows.Scan(&ex, &n); err != nil {
			t.Fatal(err)
		}
		out[ex] = n
	}
	return out
}

// TestExerciseScenarioStaysInItsExercise pushes the energy-cables scenario as exercise
// traffic through Kafka and checks that it is stored with its exercise tag, shows in the
// exercise's picture and history as few linked situations, and never in the real ones.
func TestExerciseScenarioStaysInItsExercise(t *testing.T) {
	ns := itest.Namespace(t)
	addr, st, bc := startServe(t, ns)
	real := followPicture(t, addr)
	ex := strings.ToUpper("CYDEF-" + ns)
	exView := followView(t, addr, "exercise="+ex)

	feeds, err := scenario.Generate("energy-cables", scenario.Options{Seed: nsSeed(ns),
		Start: time.Now().UTC().Add(-scenario.Duration - time.Hour), Exercise: ex})
	if err != nil {
		t.Fatal(err)
	}
	p := inject.NewPusher(bc, ex)
	defer p.Close()
	var ids []any
	var c2 string // an observable unique to this run's infrastructure
	for _, f := range feeds {
		for _, e := range f.Events {
			ids = append(ids, testIDs(t, f.Contributor).EventID(e.ID))
			if e.Category == "malicious-code/c2-server" {
				c2 = e.Observables[1].Value
			}
		}
		if err := p.Push(context.Background(), f.Contributor, f.Events); err != nil {
			t.Fatal(err)
		}
	}
	total := len(ids)
	itest.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		got := exerciseRows(t, st, ids)
		events, sits := exView.totalEvents()
		return got[ex] == uint64(total) && len(got) == 1 && events == total,
			fmt.Sprintf("stored per exercise %v, exercise picture %d events in %d situations; want all %d in %s", got, events, sits, total, ex)
	})
	_, sits := exView.totalEvents()
	if sits > 3 {
		t.Errorf("the campaign is %d situations in the exercise picture; want it linked into few (≤ 3)", sits)
	}
	// The real picture holds none of the exercise's situations.
	exView.mu.Lock()
	exSits := make([]string, 0, len(exView.events))
	for id := range exView.events {
		exSits = append(exSits, id)
	}
	exView.mu.Unlock()
	real.mu.Lock()
	for _, id := range exSits {
		if _, ok := real.events[id]; ok {
			t.Errorf("exercise situation %s is in the real picture", id)
		}
	}
	real.mu.Unlock()
	// History: the exercise's scope finds the C2, the real scope does not.
	count := func(exercise string) int {
		n := 0
		if _, err := st.EachEvent(context.Background(), store.Caller{Name: "dev", MaxTLP: event.TLPAmber, Exercise: exercise},
			store.EventFilter{ObsValue: c2}, func(*store.StoredEvent) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if inEx, inReal := count(ex), count(""); inEx == 0 || inReal != 0 {
		t.Errorf("events with the campaign's C2 %s: %d in the exercise, %d in the real picture; want some and none", c2, inEx, inReal)
	}
	t.Logf("%d scenario events in %d exercise situations; none in the real picture", total, sits)
}

// duplicates reads cop_duplicates_total from the server's /metrics.
func duplicates(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "cop_duplicates_total "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return int(n)
		}
	}
	return 0
}

// TestReplayReinjectsAWindowIntoAnExercise stores real traffic in a window of its own,
// replays the window into an exercise and checks every event arrives there once, under
// an id derived from its own, with its contributor and markings; a second replay of the
// same window adds nothing.
func TestReplayReinjectsAWindowIntoAnExercise(t *testing.T) {
	ns := itest.Namespace(t)
	addr, st, bc := startServe(t, ns)
	ctx := context.Background()
	// A window nobody else writes to: a minute-aligned slot in 2003 chosen by the namespace.
	from := time.Date(2003, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(nsSeed(ns)%500_000) * time.Minute)
	const n = 120
	contributors := []string{ns + "-ee-cert", ns + "-it-csirt"}
	if err := bus.EnsureTopics(ctx, bc, bc.FeedTopic(contributors[0]), bc.FeedTopic(contributors[1])); err != nil {
		t.Fatal(err)
	}
	w := bus.NewWriter(bc, "")
	defer w.Close()
	var msgs []kafka.Message
	var realIDs []any
	origin := map[string]event.Event{}
	for i := 0; i < n; i++ {
		c := contributors[i%2]
		conf := 60 + i%30
		in := native.Input{ID: fmt.Sprintf("%s-%04d", c, i), Kind: event.KindSighting, ObservedAt: from.Add(time.Duration(i) * time.Second),
			Observables: []event.Observable{{Type: event.ObsIPv4, Value: fmt.Sprintf("192.0.2.%d", i%50)}},
			Category:    "intrusion-attempts/brute-force", Sectors: []string{"energy"}, Countries: []string{"EE"},
			Severity: event.SeverityMedium, Confidence: &conf, TLP: event.TLPGreen, Anonymise: i%7 == 0, Title: "SSH brute force " + ns}
		v, _ := json.Marshal(in)
		msgs = append(msgs, kafka.Message{Topic: bc.FeedTopic(c), Value: v})
		id := testIDs(t, c).EventID(in.ID)
		realIDs = append(realIDs, id)
		origin[id] = event.Event{Contributor: c, Anonymise: in.Anonymise, Confidence: uint8(conf)}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		got := exerciseRows(t, st, realIDs)
		return got[""] == n, fmt.Sprintf("real traffic stored: %v; want %d", got, n)
	})

	ex := strings.ToUpper("REPLAY-" + ns)
	cfg := inject.ReplayConfig{From: from, To: from.Add(n * time.Second), Speed: 120, Exercise: ex}
	began := time.Now()
	sent, err := inject.Replay(ctx, st, bc, cfg, nil)
	if err != nil || sent != n {
		t.Fatalf("replay sent %d, %v; want %d", sent, err, n)
	}
	if took := time.Since(began); took < 500*time.Millisecond {
		t.Errorf("replay of %d s of feeds at 120x took %s; want paced (about 1 s)", n, took)
	}
	var exIDs []any
	for _, id := range realIDs {
		o := origin[id.(string)]
		exIDs = append(exIDs, testIDs(t, o.Contributor).EventID("replay-"+ex+"-"+id.(string)))
	}
	itest.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		got := exerciseRows(t, st, exIDs)
		return got[ex] == n && len(got) == 1, fmt.Sprintf("replayed events stored per exercise: %v; want %d in %s", got, n, ex)
	})
	// Contributor and markings ride along; the window moved to now.
	if _, err := st.EachEvent(ctx, store.Caller{Name: "dev", MaxTLP: event.TLPAmber, Exercise: ex, SeeAnonymised: true},
		store.EventFilter{Q: "SSH brute force " + ns}, func(e *store.StoredEvent) error {
			o := origin[strings.TrimPrefix(e.SourceID, "replay-"+ex+"-")]
			if e.Contributor != o.Contributor || e.Anonymise != o.Anonymise || e.Confidence != o.Confidence || e.TLP != event.TLPGreen {
				t.Errorf("replayed %s: contributor %s anonymise %v confidence %d tlp %v; want %s %v %d GREEN",
					e.SourceID, e.Contributor, e.Anonymise, e.Confidence, e.TLP, o.Contributor, o.Anonymise, o.Confidence)
			}
			if e.ObservedAt.Before(began.Add(-time.Minute)) {
				t.Errorf("replayed %s observed at %s; want moved to the replay's clock", e.SourceID, e.ObservedAt)
			}
			return nil
		}); err != nil {
		t.Fatal(err)
	}
	// Replaying again: the same ids, recognised as duplicates, nothing stored twice.
	before := duplicates(t, addr)
	cfg.Speed = 0
	if sent, err := inject.Replay(ctx, st, bc, cfg, nil); err != nil || sent != n {
		t.Fatalf("second replay sent %d, %v", sent, err)
	}
	itest.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		d := duplicates(t, addr) - before
		return d >= n, fmt.Sprintf("%d duplicates recognised after the second replay; want %d", d, n)
	})
	var rows uint64
	if err := st.Conn().QueryRow(ctx, `SELECT count() FROM cop.events WHERE exercise = ?`, ex).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != n {
		t.Errorf("%d rows in exercise %s after two replays; want %d", rows, ex, n)
	}
	if got := exerciseRows(t, st, realIDs); got[""] != n || len(got) != 1 {
		t.Errorf("the real traffic changed: %v", got)
	}
}
