package bench

// The clients of `cop bench ws`: dialled in this process or in a child, each reading its
// view and timing what it receives.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// clientFleet is the clients of one run, in this process or in a child.
type clientFleet interface {
	// finish waits until every client's connection has ended (the hub closes them when it
	// stops) and sums up what they received.
	finish() (clientSummary, error)
}

// clientSummary is what the clients measured; a child process prints it as JSON.
type clientSummary struct {
	Messages, Situations, Removals uint64
	E2E, Fanout                    LatencySummary
	Lost, NoDelta                  int
	CPU                            float64 // CPU seconds of the child process; 0 in process
}

// benchClients are the clients of one run in this process.
type benchClients struct {
	clients   []*benchClient
	wg        sync.WaitGroup
	hist      *LatencyHist // situation update → receipt
	flushHist *LatencyHist // message built ("at") → receipt
}

// dialBenchClients connects cfg.Clients clients to addr and returns once each has the
// snapshot of its view.
func dialBenchClients(ctx context.Context, addr string, cfg wsBenchConfig, progress func(string, ...any)) (*benchClients, error) {
	if cfg.Dialers == 0 {
		cfg.Dialers = 32
	}
	views := benchViews(cfg.Views)
	base := "ws://" + addr + "/ws/picture?"
	dialer := &websocket.Dialer{ReadBufferSize: 512, WriteBufferSize: 256, WriteBufferPool: &sync.Pool{},
		HandshakeTimeout: 20 * time.Second}
	bc := &benchClients{clients: make([]*benchClient, cfg.Clients), hist: NewLatencyHist(), flushHist: NewLatencyHist()}
	clients := bc.clients
	var connectErr atomic.Pointer[error]
	ready := make(chan struct{}, cfg.Clients)
	next := atomic.Int64{}
	var dialWG sync.WaitGroup
	for range cfg.Dialers {
		dialWG.Add(1)
		go func() {
			defer dialWG.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.Clients || connectErr.Load() != nil || ctx.Err() != nil {
					return
				}
				v := i % len(views)
				conn, _, err := dialer.DialContext(ctx, base+views[v].query.Encode(), nil)
				if err != nil {
					err = fmt.Errorf("cannot connect client %d: %w", i, err)
					connectErr.CompareAndSwap(nil, &err)
					return
				}
				c := &benchClient{conn: conn, view: v}
				clients[i] = c
				bc.wg.Add(1)
				go func() {
					defer bc.wg.Done()
					c.read(views[c.view].msg, ready, bc.hist, bc.flushHist)
				}()
			}
		}()
	}
	dialWG.Wait()
	if p := connectErr.Load(); p != nil {
		return nil, *p
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	deadline := time.After(time.Duration(cfg.Clients)*5*time.Millisecond + 30*time.Second)
	for n := 0; n < cfg.Clients; n++ {
		select {
		case <-ready:
		case <-deadline:
			return nil, fmt.Errorf("only %d of %d clients got their snapshot", n, cfg.Clients)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if (n+1)%1000 == 0 {
			progress("bench ws: %d clients connected with their snapshot", n+1)
		}
	}
	return bc, nil
}

func (bc *benchClients) finish() (clientSummary, error) {
	bc.wg.Wait()
	var cs clientSummary
	for _, c := range bc.clients {
		if !errors.Is(c.err, errBenchStopped) {
			cs.Lost++
		}
		cs.Messages += c.messages
		cs.Situations += c.sits
		cs.Removals += c.removals
		if c.messages == 0 {
			cs.NoDelta++
		}
	}
	cs.E2E, cs.Fanout = bc.hist.Summary(), bc.flushHist.Summary()
	return cs, nil
}

// childClients are the clients of one run in a child process (`cop bench ws --clients-for
// ADDR`), used when this process may not open two descriptors per client.
type childClients struct {
	cmd *exec.Cmd
	out *bufio.Reader
}

func startChildClients(ctx context.Context, addr string, cfg wsBenchConfig) (*childClients, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find this executable to start the clients: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe, "bench", "ws", "--clients-for", addr, "--clients", strconv.Itoa(cfg.Clients),
		"--views", strconv.Itoa(cfg.Views), "--duration", cfg.Duration.String(), "--every", cfg.Every.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start the client process: %w", err)
	}
	cc := &childClients{cmd: cmd, out: bufio.NewReader(out)}
	line, err := cc.out.ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("client process did not get ready (%q): %v", line, err)
	}
	return cc, nil
}

func (cc *childClients) finish() (clientSummary, error) {
	var cs clientSummary
	err := json.NewDecoder(cc.out).Decode(&cs)
	if werr := cc.cmd.Wait(); err == nil && werr != nil {
		err = werr
	}
	if err != nil {
		return cs, fmt.Errorf("cannot read the client process's results: %w", err)
	}
	return cs, nil
}

// runBenchClients is the child side: connect, say "ready", print the summary as JSON when
// the server has closed every connection.
func runBenchClients(ctx context.Context, addr string, cfg wsBenchConfig) error {
	if err := RaiseFileLimit(cfg.Clients + 64); err != nil {
		return err
	}
	bc, err := dialBenchClients(ctx, addr, cfg, func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, format+"\n", a...)
	})
	if err != nil {
		return err
	}
	fmt.Println("ready")
	cs, err := bc.finish()
	if err != nil {
		return err
	}
	cs.CPU = cpuSeconds()
	return json.NewEncoder(os.Stdout).Encode(cs)
}

var errBenchStopped = errors.New("server going away")

// read follows the picture: snapshot, the view message if any and its snapshot, then
// deltas until the connection ends. It parses only what it measures.
func (c *benchClient) read(viewMsg []byte, ready chan<- struct{}, hist, flushHist *LatencyHist) {
	wantSnapshots := 1
	if viewMsg != nil {
		wantSnapshots = 2
	}
	for {
		_, r, err := c.conn.NextReader()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseGoingAway) {
				err = errBenchStopped
			}
			c.err = err
			c.conn.Close()
			return
		}
		buf := benchBuffers.Get().(*bytes.Buffer)
		buf.Reset()
		_, err = buf.ReadFrom(r)
		now := time.Now()
		c.handle(buf.Bytes(), now, viewMsg, wantSnapshots, ready, hist, flushHist)
		benchBuffers.Put(buf)
		if err == nil {
			err = c.err
		}
		if err != nil {
			c.err = err
			c.conn.Close()
			return
		}
	}
}

// benchBuffers hold one message while it is parsed: a client keeps no buffer between
// messages, so the client side adds little to the memory measured per connection.
var benchBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (c *benchClient) handle(b []byte, now time.Time, viewMsg []byte, wantSnapshots int, ready chan<- struct{}, hist, flushHist *LatencyHist) {
	if bytes.HasPrefix(b, []byte(`{"type":"snapshot"`)) {
		c.snapshots++
		if c.snapshots == 1 && viewMsg != nil {
			if err := c.conn.WriteMessage(websocket.TextMessage, viewMsg); err != nil {
				c.err = err
				return
			}
		}
		if c.snapshots == wantSnapshots {
			ready <- struct{}{}
		}
		return
	}
	c.messages++
	if at, ok := jsonTime(b, `"at":"`); ok {
		flushHist.Add(now.Sub(at))
	}
	c.sits += uint64(ScanUpdatedAt(b, now, hist))
	if i := bytes.Index(b, []byte(`"removed":[`)); i >= 0 {
		c.removals += uint64(bytes.Count(b[i:], []byte(`{"id":`)))
	}
}

// ScanUpdatedAt records now − updated_at of every situation in b and returns how many.
// A `"updated_at":"` cannot occur inside a JSON string, whose quotes are escaped.
func ScanUpdatedAt(b []byte, now time.Time, hist *LatencyHist) int {
	key := []byte(`"updated_at":"`)
	n := 0
	for {
		i := bytes.Index(b, key)
		if i < 0 {
			return n
		}
		b = b[i+len(key):]
		j := bytes.IndexByte(b, '"')
		if j < 0 {
			return n
		}
		if t, err := time.Parse(time.RFC3339Nano, string(b[:j])); err == nil {
			hist.Add(now.Sub(t))
			n++
		}
		b = b[j:]
	}
}

// jsonTime returns the RFC 3339 time after the first key in b.
func jsonTime(b []byte, key string) (time.Time, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return time.Time{}, false
	}
	b = b[i+len(key):]
	j := bytes.IndexByte(b, '"')
	if j < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(b[:j]))
	return t, err == nil
}

// LatencyHist counts latencies in 50 µs buckets up to 10 s, safe for concurrent use.
type LatencyHist struct {
	buckets []atomic.Uint64
	max     atomic.Int64
}

const latencyBucket = 50 * time.Microsecond

// NewLatencyHist returns an empty histogram.
func NewLatencyHist() *LatencyHist {
	return &LatencyHist{buckets: make([]atomic.Uint64, int(10*time.Second/latencyBucket)+1)}
}

// Add counts one latency.
func (h *LatencyHist) Add(d time.Duration) {
	d = max(d, 0)
	i := min(int(d/latencyBucket), len(h.buckets)-1)
	h.buckets[i].Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// Summary returns the percentiles of what was added.
func (h *LatencyHist) Summary() LatencySummary {
	var total uint64
	for i := range h.buckets {
		total += h.buckets[i].Load()
	}
	if total == 0 {
		return LatencySummary{}
	}
	at := func(q float64) time.Duration {
		want := uint64(math.Ceil(q * float64(total)))
		var n uint64
		for i := range h.buckets {
			if n += h.buckets[i].Load(); n >= want {
				return time.Duration(i+1) * latencyBucket
			}
		}
		return time.Duration(h.max.Load())
	}
	return LatencySummary{P50: at(0.50), P99: at(0.99), Max: time.Duration(h.max.Load())}
}
