package main

// Harness of the fault tests (fault_test.go): a `cop serve` child process, a synthetic
// feed producer, the services script, and exact counts in ClickHouse.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/correlate"
	"github.com/cidcc/cop/ingest"
	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
	"github.com/cidcc/cop/internal/synth"
)

// faults skips unless COP_FAULTS=1: fault tests stop and start the shared services, so
// the parallel `go test ./...` must never run them.
func faults(t *testing.T) (kafkaAddr, chAddr string) {
	t.Helper()
	if os.Getenv("COP_FAULTS") != "1" {
		t.Skip("fault test: kills processes and stops the shared Kafka and ClickHouse; run `make test-faults`")
	}
	return itest.Services(t)
}

// envInt reads a count from the environment (to shorten or lengthen a scenario).
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

var (
	copBinOnce sync.Once
	copBin     string
	copBinErr  error
)

// buildCop builds the cop binary once per test run.
func buildCop(t *testing.T) string {
	t.Helper()
	copBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cop-faults-")
		if err != nil {
			copBinErr = err
			return
		}
		copBin = filepath.Join(dir, "cop")
		out, err := exec.Command("go", "build", "-o", copBin, ".").CombinedOutput()
		if err != nil {
			copBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if copBinErr != nil {
		t.Fatal(copBinErr)
	}
	return copBin
}

// child is one `cop serve` process.
type child struct {
	t     *testing.T
	cmd   *exec.Cmd
	addr  string
	log   string
	done  chan struct{}
	start time.Time
}

// serveChild starts `cop serve` in namespace ns with its state file in dir and waits
// until it answers /healthz.
func serveChild(t *testing.T, ns, dir string, extra ...string) *child {
	t.Helper()
	kafkaAddr, chAddr := itest.Services(t)
	bin := buildCop(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logPath := filepath.Join(dir, "serve.log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--insecure-dev"}
	if slices.Contains(extra, "--identities") {
		args = args[:1] // authenticated: the identities file names the callers
	}
	args = append(append(args, "--listen", addr, "--namespace", ns, "--kafka", kafkaAddr,
		"--clickhouse", chAddr, "--state", filepath.Join(dir, ns+"-correlate.snap"), "--snapshot-every", "2s",
		"--push-rate", "0"), extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{t: t, cmd: cmd, addr: addr, log: logPath, done: make(chan struct{}), start: time.Now()}
	go func() {
		cmd.Wait()
		lf.Close()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.kill()
		if t.Failed() {
			c.tail(40)
		}
	})
	itest.Eventually(t, 90*time.Second, 200*time.Millisecond, func() (bool, string) {
		select {
		case <-c.done:
			c.tail(40)
			t.Fatalf("cop serve exited during start")
		default:
		}
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return c
}

func (c *child) tail(n int) {
	b, _ := os.ReadFile(c.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	c.t.Logf("last cop serve log lines (%s):\n%s", c.log, strings.Join(lines[max(0, len(lines)-n):], "\n"))
}

// kill sends SIGKILL (a crash: no drain, no final snapshot) and waits for the exit.
func (c *child) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Kill()
	<-c.done
}

// stop sends SIGTERM (a clean stop) and waits up to 40 s for the exit.
func (c *child) stop() {
	c.t.Helper()
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(40 * time.Second):
		c.tail(30)
		c.t.Fatal("cop serve did not stop within 40 s of SIGTERM")
	}
	if code := c.cmd.ProcessState.ExitCode(); code != 0 {
		c.tail(30)
		c.t.Fatalf("cop serve exited with %d after SIGTERM", code)
	}
}

// metric returns a value from /metrics (-1 when absent or unreachable).
func (c *child) metric(name string) float64 {
	resp, err := http.Get("http://" + c.addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == name {
			v, _ := strconv.ParseFloat(f[1], 64)
			return v
		}
	}
	return -1
}

// ready returns the /readyz status code (0 when unreachable).
func (c *child) ready() int {
	cl := http.Client{Timeout: 15 * time.Second}
	resp, err := cl.Get("http://" + c.addr + "/readyz")
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// rssKB is the child's resident set size from /proc (kB).
func (c *child) rssKB() int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// services runs scripts/services (stop|start kafka|clickhouse). COP_STATE must name the
// state directory of the running services when they were started from another checkout.
func services(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("../../scripts/services", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/services %v: %v\n%s", args, err, out)
	}
	t.Logf("scripts/services %v: %s", args, strings.TrimSpace(string(out)))
}

// feed is a set of contributors in one namespace and the messages sent on their topics.
type feed struct {
	ns    string
	bc    bus.Config
	names []string
	gen   *synth.Generator
	now   time.Time
}

func newFeed(t *testing.T, ns string, seed uint64) *feed {
	t.Helper()
	kafkaAddr, _ := itest.Services(t)
	f := &feed{ns: ns, bc: bus.Config{Brokers: bus.Brokers(kafkaAddr), Partitions: 4, Namespace: ns},
		gen: synth.New(seed), now: time.Now().UTC()}
	f.names = []string{ns + "-milcert", ns + "-csirt", ns + "-cert-eu"}
	var topics []string
	for _, n := range f.names {
		topics = append(topics, f.bc.FeedTopic(n))
	}
	if err := bus.EnsureTopics(context.Background(), f.bc, topics...); err != nil {
		t.Fatal(err)
	}
	return f
}

// valid returns n valid native messages, round-robin over the contributors.
func (f *feed) valid(t *testing.T, n int) []kafka.Message {
	t.Helper()
	msgs := make([]kafka.Message, 0, n)
	for i := 0; i < n; i++ {
		name := f.names[i%len(f.names)]
		in := f.gen.For(synth.Contributor{Name: name}, f.now)
		in.Anonymise = false
		if in.TLP == event.TLPRed {
			in.TLP, in.ReleasableTo = event.TLPAmberStrict, nil
		}
		v, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Topic: f.bc.FeedTopic(name), Value: v})
	}
	return msgs
}

// send writes msgs in chunks, pausing between chunks so the stream lasts a while; a
// failed write (broker down) is retried until it succeeds or ctx ends.
func (f *feed) send(ctx context.Context, t *testing.T, msgs []kafka.Message, chunk int, pause time.Duration) error {
	w := bus.NewWriter(f.bc, "")
	defer w.Close()
	for i := 0; i < len(msgs); i += chunk {
		part := msgs[i:min(i+chunk, len(msgs))]
		for {
			err := w.WriteMessages(ctx, part...)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return err
			}
			msg := err.Error()
			t.Logf("producer: %s; retrying", msg[:min(len(msg), 200)])
			time.Sleep(time.Second)
		}
		if pause > 0 {
			time.Sleep(pause)
		}
	}
	return nil
}

// counts is what ClickHouse holds for a feed.
type counts struct {
	rows, ids, letters, letterSources uint64
	eventCount                        int64
}

func (f *feed) counts(ctx context.Context, st *store.Store) (counts, error) {
	var c counts
	a, b, d := f.names[0], f.names[1], f.names[2]
	if err := st.Conn().QueryRow(ctx, `SELECT count(), uniqExact(id) FROM cop.events FINAL WHERE contributor IN (?, ?, ?)`, a, b, d).
		Scan(&c.rows, &c.ids); err != nil {
		return c, err
	}
	if err := st.Conn().QueryRow(ctx, `SELECT uniqExact(id), uniqExact(source) FROM cop.deadletter WHERE contributor IN (?, ?, ?)`, a, b, d).
		Scan(&c.letters, &c.letterSources); err != nil {
		return c, err
	}
	if err := st.Conn().QueryRow(ctx, `SELECT toInt64(sum(event_count)) FROM cop.situations FINAL
		WHERE hasAny(contributors, [?, ?, ?]) AND removed = 0 AND merged_into = ''`, a, b, d).Scan(&c.eventCount); err != nil {
		return c, err
	}
	return c, nil
}

func (c counts) String() string {
	return fmt.Sprintf("events count()=%d uniqExact(id)=%d; dead letters %d (%d sources); situations sum(event_count)=%d",
		c.rows, c.ids, c.letters, c.letterSources, c.eventCount)
}

// cleanEventCount is sum(event_count) over the live situations a fresh engine builds from
// msgs in one pass: what a run without faults stores.
func (f *feed) cleanEventCount(t *testing.T, msgs []kafka.Message) int64 {
	t.Helper()
	cfg := correlate.DefaultConfig()
	cfg.Instance = f.ns
	e := correlate.New(cfg)
	last := map[string]picture.Delta{}
	var batch []event.Event
	for i, m := range msgs {
		name, _ := f.bc.Contributor(m.Topic)
		res := ingest.Accept(ingest.FormatNative, m.Value, event.Source{Contributor: name, ReceivedAt: f.now}, fmt.Sprintf("ref:%d", i), "")
		batch = append(batch, res.Events...)
	}
	for i := 0; i < len(batch); i += 5000 {
		e.Apply(batch[i:min(i+5000, len(batch))], time.Now().UTC())
		for _, d := range e.Deltas() {
			last[d.Situation.ID] = d
		}
	}
	var sum int64
	for _, d := range last {
		if !d.Removed && d.MergedInto == "" {
			sum += int64(d.Situation.EventCount)
		}
	}
	return sum
}

// openStore opens ClickHouse for the test's checks.
func faultStore(t *testing.T) *store.Store {
	t.Helper()
	_, chAddr := itest.Services(t)
	st, err := store.Open(context.Background(), chAddr, itest.Database())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// waitExact waits until ClickHouse holds exactly want valid events and letters dead
// letters, then checks that no event id is stored twice after OPTIMIZE ... FINAL.
func (f *feed) waitExact(t *testing.T, st *store.Store, wait time.Duration, want, letters int) counts {
	t.Helper()
	ctx := context.Background()
	var last counts
	itest.Eventually(t, wait, time.Second, func() (bool, string) {
		c, err := f.counts(ctx, st)
		if err != nil {
			return false, err.Error()
		}
		last = c
		return c.ids == uint64(want) && c.letterSources == uint64(letters), c.String()
	})
	if err := st.Conn().Exec(ctx, `OPTIMIZE TABLE cop.events FINAL`); err != nil {
		t.Logf("OPTIMIZE TABLE cop.events FINAL: %v", err)
	}
	var dup int64
	a, b, d := f.names[0], f.names[1], f.names[2]
	if err := st.Conn().QueryRow(ctx, `SELECT count() - uniqExact(id) FROM cop.events WHERE contributor IN (?, ?, ?)`, a, b, d).Scan(&dup); err != nil {
		t.Fatal(err)
	}
	if dup != 0 {
		t.Errorf("%d event rows stored twice after OPTIMIZE FINAL", dup)
	}
	if last.rows != last.ids {
		t.Errorf("events: count()=%d but uniqExact(id)=%d", last.rows, last.ids)
	}
	return last
}

// lag is the correlator group's lag on cop.events: messages not committed yet.
func (f *feed) lag(t *testing.T, ctx context.Context) int64 {
	t.Helper()
	parts, err := bus.Partitions(ctx, f.bc, f.bc.Events())
	if err != nil {
		t.Fatal(err)
	}
	cl := &kafka.Client{Addr: kafka.TCP(f.bc.Brokers...), Timeout: 10 * time.Second}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, p := range parts {
		req.Topics[f.bc.Events()] = append(req.Topics[f.bc.Events()], kafka.LastOffsetOf(p))
	}
	lo, err := cl.ListOffsets(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	of, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: f.bc.Group("correlate"), Topics: map[string][]int{f.bc.Events(): parts}})
	if err != nil {
		t.Fatal(err)
	}
	committed := map[int]int64{}
	for _, p := range of.Topics[f.bc.Events()] {
		committed[p.Partition] = max(0, p.CommittedOffset)
	}
	var lag int64
	for _, p := range lo.Topics[f.bc.Events()] {
		lag += p.LastOffset - committed[p.Partition]
	}
	return lag
}
