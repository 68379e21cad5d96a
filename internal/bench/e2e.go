package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/ingest/native"
	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/store"
	"github.com/cidcc/cop/internal/synth"
)

// runBenchE2E measures COP end to end on the real services: feed messages into Kafka as
// fast as the producer goes, through ingest → correlate → ClickHouse → cop.picture → a
// websocket client, next to a bare kafka-go consume and a bare clickhouse-go insert of
// the same events, so the ratios show what COP adds. Everything it stores is tagged with
// its own exercise and dropped at the end (unless --keep).
func runE2E(ctx context.Context, args []string, h Host) error {
	fs := flag.NewFlagSet("bench e2e", flag.ContinueOnError)
	n := fs.Int("events", 200_000, "feed messages (one event each)")
	partitions := fs.Int("partitions", 4, "partitions of the topics the benchmark creates")
	rate := fs.Int("rate", 0, "offered load in events/s (0: as fast as the producer goes, which measures the sustained maximum)")
	probeEvery := fs.Duration("probe-every", 100*time.Millisecond, "how often a latency probe event is sent while the load runs")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	keep := fs.Bool("keep", false, "keep the stored events (dropped otherwise)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of COP's run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *partitions < 1 || *rate < 0 || *probeEvery <= 0 {
		return errors.New("want --events and --partitions of at least 1, --rate of 0 or more and a positive --probe-every")
	}
	kafkaAddr, chAddr, err := services()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	var b [4]byte
	rand.Read(b[:])
	tag := hex.EncodeToString(b[:])
	ns, ex := "e2e"+tag, "BENCH-E2E-"+strings.ToUpper(tag)
	bc := bus.Config{Brokers: bus.Brokers(kafkaAddr), Partitions: *partitions, Namespace: ns}

	msgs, topics, err := e2eFeed(bc, ex, *n)
	if err != nil {
		return err
	}
	st, err := store.OpenWith(ctx, chAddr, store.Options{Database: database()})
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return err
	}
	if !*keep {
		defer benchDrop(st, ex)
		defer benchDrop(st, ex+"-BARE")
	}
	fmt.Fprintf(os.Stderr, "bench e2e: %d events, namespace %s, exercise %s\n", *n, ns, ex)

	// 1. A bare consume of the feed: what Kafka alone gives on this machine.
	bare := bc
	bare.Namespace = ns + "-bare"
	consumeSecs, err := benchBareConsume(ctx, bare, topics, msgs)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bare kafka-go consume: %.2f s\n", consumeSecs)
	// 2. A bare insert of the same events: what ClickHouse alone gives.
	insertSecs, err := benchBareInsert(ctx, st, msgs, ex+"-BARE")
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bare clickhouse-go insert: %.2f s\n", insertSecs)

	// 3. COP.
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	r, err := benchCOP(ctx, h, bc, chAddr, kafkaAddr, st, topics, msgs, ex, *probeEvery, *rate)
	if err != nil {
		return err
	}
	printE2E(*n, *rate, consumeSecs, insertSecs, r)
	return nil
}

func pct(xs []time.Duration, p int) time.Duration {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := min(len(s)-1, (len(s)*p+99)/100-1)
	return s[max(i, 0)].Round(time.Millisecond)
}

// benchProduce produces msgs into bc's feed topics at rate events/s (0: as fast as it
// can), in tenths of a second.
func benchProduce(ctx context.Context, bc bus.Config, msgs []kafka.Message, rate int) error {
	w := bus.NewWriter(bc, "")
	defer w.Close()
	step := 5000
	var tick <-chan time.Time
	if rate > 0 {
		step = max(1, rate/10)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	for i := 0; i < len(msgs); i += step {
		batch := slices.Clone(msgs[i:min(i+step, len(msgs))])
		for j := range batch {
			_, c, _ := strings.Cut(batch[j].Topic, ".feed.")
			batch[j].Topic = bc.FeedTopic(c)
		}
		if err := w.WriteMessages(ctx, batch...); err != nil {
			return fmt.Errorf("cannot produce the feed: %w", err)
		}
		if tick != nil {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick:
			}
		}
	}
	return nil
}

func benchBareConsume(ctx context.Context, bc bus.Config, topics []string, msgs []kafka.Message) (float64, error) {
	var ts []string
	for _, t := range topics {
		_, c, _ := strings.Cut(t, ".feed.")
		ts = append(ts, bc.FeedTopic(c))
	}
	if err := bus.EnsureTopics(ctx, bc, ts...); err != nil {
		return 0, err
	}
	if err := benchProduce(ctx, bc, msgs, 0); err != nil {
		return 0, err
	}
	r := bus.NewGroupReader(bc, bc.Group("bare"), ts...)
	defer r.Close()
	start := time.Now()
	var buf []kafka.Message
	for got := 0; got < len(msgs); {
		m, err := bus.FetchBatch(ctx, r, buf, 5000, 50*time.Millisecond)
		if err != nil && len(m) == 0 {
			return 0, fmt.Errorf("bare consume: %w after %d messages", err, got)
		}
		buf, got = m, got+len(m)
		if err := r.CommitMessages(ctx, m...); err != nil {
			return 0, err
		}
	}
	return time.Since(start).Seconds(), nil
}

func benchBareInsert(ctx context.Context, st *store.Store, msgs []kafka.Message, ex string) (float64, error) {
	evs := make([]event.Event, 0, len(msgs))
	at := time.Now().UTC()
	for _, m := range msgs {
		got, errs := native.Parse(m.Value, event.Source{Contributor: "bare", ReceivedAt: at})
		if len(errs) > 0 {
			return 0, fmt.Errorf("bare insert: %v", errs[0])
		}
		for _, e := range got {
			e.Exercise = ex
			evs = append(evs, e)
		}
	}
	start := time.Now()
	var b store.Batch
	for i := 0; i < len(evs); i += 5000 {
		b.Reset()
		b.Events = evs[i:min(i+5000, len(evs))]
		for range b.Events {
			b.Situations = append(b.Situations, "bare")
			b.Duplicate = append(b.Duplicate, false)
		}
		if err := st.Write(ctx, &b); err != nil {
			return 0, err
		}
	}
	return time.Since(start).Seconds(), nil
}

type e2eResult struct {
	secs, produceSecs float64
	maxLag            float64
	latencies         []time.Duration
	lostProbes        int
}

// benchCOP runs serve on a fresh namespace, produces msgs and latency probes, and waits
// until ClickHouse holds every event.
func benchCOP(ctx context.Context, h Host, bc bus.Config, chAddr, kafkaAddr string, st *store.Store, topics []string,
	msgs []kafka.Message, ex string, probeEvery time.Duration, rate int) (*e2eResult, error) {
	if err := bus.EnsureTopics(ctx, bc, append(slices.Clone(topics), bc.FeedTopic("e2e-probe"))...); err != nil {
		return nil, err
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	started := make(chan string, 1)
	serveErr := make(chan error, 1)
	o := ServeOptions{Kafka: kafkaAddr, ClickHouse: chAddr, Database: database(), Partitions: bc.Partitions, Namespace: bc.Namespace}
	go func() { serveErr <- h.Serve(sctx, o, started) }()
	var addr string
	select {
	case addr = <-started:
	case err := <-serveErr:
		return nil, err
	}
	defer func() { stop(); <-serveErr }()

	p := &probes{sent: map[string]time.Time{}}
	if err := p.watch(ctx, addr, ex); err != nil {
		return nil, err
	}
	defer p.conn.Close()
	pctx, stopProbes := context.WithCancel(sctx)
	defer stopProbes()
	probesDone := make(chan struct{})
	go func() { defer close(probesDone); p.send(pctx, bc, ex, probeEvery) }()

	// Warm up: the load starts once the first probe came back (consumer groups joined).
	for ready := false; !ready; {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the first probe never reached the websocket: %w", ctx.Err())
		case err := <-serveErr:
			return nil, fmt.Errorf("serve stopped: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
		p.mu.Lock()
		ready, p.lat = len(p.lat) > 0, nil
		p.mu.Unlock()
	}
	res := &e2eResult{}
	if err := waitStored(ctx, bc, st, addr, ex, msgs, rate, serveErr, res); err != nil {
		return nil, err
	}
	stopProbes()
	<-probesDone
	time.Sleep(2 * time.Second) // the last probes' deltas
	p.mu.Lock()
	res.latencies, res.lostProbes = p.lat, len(p.sent)
	p.mu.Unlock()
	return res, nil
}

// probes are latency probes: new situations of one observable each, sent to the feed and
// timed when the websocket shows them.
type probes struct {
	conn *websocket.Conn
	mu   sync.Mutex
	sent map[string]time.Time // observable → when its probe was sent
	lat  []time.Duration
}

// watch connects to the websocket, watching exercise ex, and times the probes it shows.
func (p *probes) watch(ctx context.Context, addr, ex string) error {
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+addr+"/ws/picture", nil)
	if err != nil {
		return fmt.Errorf("cannot connect to /ws/picture: %w", err)
	}
	if err := conn.WriteJSON(map[string]any{"type": "view", "exercise": ex}); err != nil {
		conn.Close()
		return err
	}
	p.conn = conn
	go func() {
		for {
			// Not decoded: the client shares the two cores with the COP it measures, and
			// decoding every message took ~11% of the profiled process (probeValues).
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			at := time.Now()
			p.mu.Lock()
			probeValues(msg, func(v []byte) {
				if t, ok := p.sent[string(v)]; ok {
					p.lat = append(p.lat, at.Sub(t))
					delete(p.sent, string(v))
				}
			})
			p.mu.Unlock()
		}
	}()
	return nil
}

// probeValues calls f with every JSON string following a "value" key in a websocket
// message: the values of its situations' observables (a probe's SHA-256, in hex, needs no
// escape), found by a scan that allocates nothing instead of decoding the message.
func probeValues(msg []byte, f func(v []byte)) {
	key := []byte(`"value":"`)
	for {
		i := bytes.Index(msg, key)
		if i < 0 {
			return
		}
		msg = msg[i+len(key):]
		j := bytes.IndexByte(msg, '"')
		if j < 0 {
			return
		}
		f(msg[:j])
		msg = msg[j:]
	}
}

// send writes a probe every `every` until ctx ends.
func (p *probes) send(ctx context.Context, bc bus.Config, ex string, every time.Duration) {
	w := bus.NewWriter(bc, bc.FeedTopic("e2e-probe"))
	defer w.Close()
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sum := sha256.Sum256(fmt.Appendf(nil, "%s probe %d", ex, n))
		h := hex.EncodeToString(sum[:])
		in := native.Input{ID: "probe-" + h[:16], Kind: event.KindIndicator, ObservedAt: time.Now().UTC(),
			Observables: []event.Observable{{Type: event.ObsSHA256, Value: h}}, Severity: event.SeverityHigh,
			TLP: event.TLPGreen, Exercise: ex, Title: "end-to-end latency probe"}
		v, _ := json.Marshal(in)
		p.mu.Lock()
		p.sent[h] = time.Now()
		p.mu.Unlock()
		w.WriteMessages(ctx, kafka.Message{Value: v})
	}
}

// waitStored produces msgs at rate and waits until ClickHouse holds every one, noting
// the times and the largest lag in res.
func waitStored(ctx context.Context, bc bus.Config, st *store.Store, addr, ex string, msgs []kafka.Message, rate int,
	serveErr <-chan error, res *e2eResult) error {
	start := time.Now()
	produced := make(chan error, 1)
	go func() {
		err := benchProduce(ctx, bc, msgs, rate)
		res.produceSecs = time.Since(start).Seconds()
		produced <- err
	}()
	want := uint64(len(msgs))
	tk := time.NewTicker(500 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("not every event stored before --timeout: %w", ctx.Err())
		case err := <-serveErr:
			return fmt.Errorf("serve stopped: %w", err)
		case err := <-produced:
			if err != nil {
				return err
			}
			produced = nil
			continue
		case <-tk.C:
		}
		m := scrapeMetrics("http://" + addr + "/metrics")
		res.maxLag = max(res.maxLag, m["cop_correlate_lag"])
		var stored uint64
		if err := st.Conn().QueryRow(ctx, `SELECT uniqExact(id) FROM cop.events WHERE exercise = ? AND contributor != 'e2e-probe'`, ex).Scan(&stored); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%6.1fs stored %d of %d, lag %.0f\n", time.Since(start).Seconds(), stored, want, m["cop_correlate_lag"])
		if stored >= want && produced == nil {
			res.secs = time.Since(start).Seconds()
			return nil
		}
	}
}

// e2eFeed builds n synthetic feed messages of exercise ex over four contributors, and
// their topics.
func e2eFeed(bc bus.Config, ex string, n int) (msgs []kafka.Message, topics []string, err error) {
	contributors := []synth.Contributor{{Name: "milcert-de"}, {Name: "csirt-it"}, {Name: "cert-eu"}, {Name: "csirt-pl"}}
	gen := synth.New(uint64(time.Now().UnixNano()))
	now := time.Now().UTC()
	msgs = make([]kafka.Message, n)
	for i := range msgs {
		c := contributors[i%len(contributors)]
		in := gen.For(c, now)
		in.Exercise = ex
		v, err := json.Marshal(in)
		if err != nil {
			return nil, nil, err
		}
		msgs[i] = kafka.Message{Topic: bc.FeedTopic(c.Name), Value: v}
	}
	for _, c := range contributors {
		topics = append(topics, bc.FeedTopic(c.Name))
	}
	return msgs, topics, nil
}

// printE2E prints the table of `cop bench e2e`.
func printE2E(n, rate int, consumeSecs, insertSecs float64, r *e2eResult) {
	perSec := func(secs float64) float64 { return float64(n) / secs }
	fmt.Printf("%-52s %10s %10s %12s\n", "path (same events)", "events", "seconds", "events/s")
	fmt.Printf("%-52s %10d %10.2f %12.0f\n", "bare kafka-go consume of the feed topics", n, consumeSecs, perSec(consumeSecs))
	fmt.Printf("%-52s %10d %10.2f %12.0f\n", "bare clickhouse-go insert (store.Write, 5000/batch)", n, insertSecs, perSec(insertSecs))
	what := "COP: feed → ingest → correlate → ClickHouse → picture"
	if rate > 0 {
		what = fmt.Sprintf("COP, offered %d events/s", rate)
	}
	fmt.Printf("%-52s %10d %10.2f %12.0f\n", what, n, r.secs, perSec(r.secs))
	fmt.Printf("\nCOP at %.0f%% of the bare consume, %.0f%% of the bare insert; producer wrote the feed in %.2f s\n",
		100*consumeSecs/r.secs, 100*insertSecs/r.secs, r.produceSecs)
	fmt.Printf("Kafka lag (cop.events, correlator): max %.0f messages\n", r.maxLag)
	if len(r.latencies) > 0 {
		fmt.Printf("event → websocket latency under load (%d probes, %d lost): p50 %s, p99 %s, max %s\n",
			len(r.latencies), r.lostProbes, pct(r.latencies, 50), pct(r.latencies, 99), pct(r.latencies, 100))
	} else {
		fmt.Printf("event → websocket latency: no probe came back (%d sent)\n", r.lostProbes)
	}
}
