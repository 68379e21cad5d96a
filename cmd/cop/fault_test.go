package main

// Fault tests (issue 9): crashes, broker and database outages and hostile input, each
// ending with exact counts in ClickHouse. They stop and start the shared services, so they
// run only with COP_FAULTS=1 (`make test-faults`), never in the parallel `go test ./...`.

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/itest"
)

// TestFaultKill9DuringStreamLosesAndDoublesNothing kills `cop serve` with SIGKILL at
// random points of a 100k-event stream (COP_FAULT_EVENTS), three times, restarts it, and
// requires every event stored exactly once and the situations' event counts equal to a
// clean run's (no corroboration lost or counted twice). Then a clean stop and restart
// must re-apply nothing.
func TestFaultKill9DuringStreamLosesAndDoublesNothing(t *testing.T) {
	faults(t)
	ns, dir := itest.Namespace(t), t.TempDir()
	st := faultStore(t)
	f := newFeed(t, ns, 9001)
	n := envInt("COP_FAULT_EVENTS", 100000)
	msgs := f.valid(t, n)
	want := f.cleanEventCount(t, msgs)

	c := serveChild(t, ns, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sent := make(chan error, 1)
	go func() { sent <- f.send(ctx, t, msgs, 1000, 150*time.Millisecond) }()
	for i := 1; i <= envInt("COP_FAULT_KILLS", 3); i++ {
		time.Sleep(time.Duration(2000+rand.IntN(4000)) * time.Millisecond)
		cur, _ := f.counts(ctx, st)
		c.kill()
		t.Logf("kill -9 #%d after %s: %s", i, time.Since(c.start).Round(time.Millisecond), cur)
		c = serveChild(t, ns, dir)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	got := f.waitExact(t, st, 5*time.Minute, n, 0)
	t.Logf("after 3 kills: %s; recovered %s after the last event was sent", got, time.Since(t0).Round(time.Millisecond))
	itest.Eventually(t, time.Minute, time.Second, func() (bool, string) {
		cur, err := f.counts(ctx, st)
		if err != nil {
			return false, err.Error()
		}
		return cur.eventCount == want, cur.String() + "; clean run's sum(event_count)=" + strconv.FormatInt(want, 10)
	})

	// A clean stop drains, commits and snapshots: the restart re-applies nothing.
	c.stop()
	c = serveChild(t, ns, dir)
	itest.Eventually(t, time.Minute, 500*time.Millisecond, func() (bool, string) {
		return c.ready() == 200, "not ready"
	})
	time.Sleep(3 * time.Second)
	replayed, applied := c.metric("cop_correlate_replayed_total"), c.metric("cop_correlate_events_total")
	if replayed != 0 || applied != 0 {
		t.Errorf("after a clean stop, the restart re-applied %v and applied %v events; want 0 and 0", replayed, applied)
	}
	t.Logf("after a clean restart: replayed %v, applied %v", replayed, applied)
}

// TestFaultKafkaRestartMidStreamLosesNothing stops the Kafka broker mid-stream and starts
// it again: /readyz must say not ready meanwhile, and every event must be stored once.
func TestFaultKafkaRestartMidStreamLosesNothing(t *testing.T) {
	faults(t)
	ns, dir := itest.Namespace(t), t.TempDir()
	st := faultStore(t)
	f := newFeed(t, ns, 9002)
	n := envInt("COP_FAULT_EVENTS_OUTAGE", 30000)
	msgs := f.valid(t, n)
	c := serveChild(t, ns, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sent := make(chan error, 1)
	go func() { sent <- f.send(ctx, t, msgs, 1000, 200*time.Millisecond) }()
	time.Sleep(2 * time.Second)
	services(t, "stop", "kafka")
	down := time.Now()
	itest.Eventually(t, 30*time.Second, 500*time.Millisecond, func() (bool, string) {
		code := c.ready()
		return code != 200, "/readyz answers " + strconv.Itoa(code) + " with Kafka down"
	})
	time.Sleep(5 * time.Second)
	services(t, "start", "kafka")
	itest.Eventually(t, 2*time.Minute, time.Second, func() (bool, string) {
		code := c.ready()
		return code == 200, "/readyz answers " + strconv.Itoa(code) + " after Kafka is back"
	})
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	got := f.waitExact(t, st, 5*time.Minute, n, 0)
	t.Logf("Kafka down %s in total; %s; recovered %s after the broker stopped", "~5s+restart", got, time.Since(down).Round(time.Millisecond))
}

// TestFaultClickHouseOutageBackpressuresAndDrains stops ClickHouse for 20 s
// (COP_FAULT_CH_DOWN) mid-stream: the correlator holds its batch and retries, so Kafka lag
// grows instead of memory; /readyz says not ready; afterwards the lag drains and every
// event is stored once.
func TestFaultClickHouseOutageBackpressuresAndDrains(t *testing.T) {
	faults(t)
	ns, dir := itest.Namespace(t), t.TempDir()
	st := faultStore(t)
	f := newFeed(t, ns, 9003)
	n := envInt("COP_FAULT_EVENTS_OUTAGE", 30000)
	msgs := f.valid(t, n)
	c := serveChild(t, ns, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := f.send(ctx, t, msgs[:n/3], 1000, 0); err != nil {
		t.Fatal(err)
	}
	services(t, "stop", "clickhouse")
	down := time.Now()
	t.Cleanup(func() { services(t, "start", "clickhouse") }) // idempotent
	itest.Eventually(t, 30*time.Second, 500*time.Millisecond, func() (bool, string) {
		code := c.ready()
		return code != 200, "/readyz answers " + strconv.Itoa(code) + " with ClickHouse down"
	})
	if err := f.send(ctx, t, msgs[n/3:], 1000, 0); err != nil {
		t.Fatal(err)
	}
	lagDown := f.lag(t, ctx)
	time.Sleep(time.Duration(envInt("COP_FAULT_CH_DOWN", 20))*time.Second - time.Since(down))
	lagLate := f.lag(t, ctx)
	rss := c.rssKB()
	services(t, "start", "clickhouse")
	up := time.Now()
	if lagLate <= 0 {
		t.Errorf("cop.events lag while ClickHouse is down: %d then %d; want it to grow (backpressure)", lagDown, lagLate)
	}
	got := f.waitExact(t, st, 5*time.Minute, n, 0)
	itest.Eventually(t, time.Minute, time.Second, func() (bool, string) {
		l := f.lag(t, ctx)
		return l == 0, "lag " + strconv.FormatInt(l, 10)
	})
	t.Logf("ClickHouse down %s: cop.events lag %d then %d, RSS %d kB; %s; drained %s after ClickHouse came back",
		up.Sub(down).Round(time.Second), lagDown, lagLate, rss, got, time.Since(up).Round(time.Millisecond))
}
