package main

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cidcc/cop/internal/bench"
	"github.com/cidcc/cop/internal/itest"
)

// TestFaultSlowWebsocketClientsAreDroppedReadersKeepUp connects 1,000 websocket clients
// (COP_FAULT_WS_CLIENTS) to `cop serve`, 100 of which (a tenth) never read, and feeds it a
// steady event stream for 30 s (COP_FAULT_WS_SECONDS). Every reader must receive deltas in
// every 10 s window of the stream, with a p99 receive latency against the situations'
// updated_at under 5 s (loose: the machine is shared); the server must disconnect every
// non-reader and keep its RSS under COP_FAULT_RSS_MB (default 600).
//
// What the design guarantees for a non-reader: its socket fills (the non-readers shrink
// their receive buffer to 4 KB so this takes seconds, not minutes), then the hub's write
// times out after writeWait (5 s) and the server closes it; if the buffers never filled it
// would still be closed pongWait (60 s) after connecting, since it never answers a ping.
// cop_ws_dropped_total counts only the queue-full path (64 messages queued behind a
// blocked write), which the 5 s write timeout usually pre-empts, so it is reported, not
// asserted; the assertion is on cop_ws_clients falling to the number of readers.
func TestFaultSlowWebsocketClientsAreDroppedReadersKeepUp(t *testing.T) {
	faults(t)
	total := envInt("COP_FAULT_WS_CLIENTS", 1000)
	stalled := total / 10
	secs := envInt("COP_FAULT_WS_SECONDS", 30)
	rssMax := envInt("COP_FAULT_RSS_MB", 600) << 10
	if err := bench.RaiseFileLimit(2*total + 1000); err != nil {
		t.Fatal(err)
	}
	ns, dir := itest.Namespace(t), t.TempDir()
	f := newFeed(t, ns, 9006)
	c := serveChild(t, ns, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	reader := &websocket.Dialer{HandshakeTimeout: 20 * time.Second}
	staller := &websocket.Dialer{HandshakeTimeout: 20 * time.Second, NetDialContext: (&net.Dialer{
		Control: func(_, _ string, rc syscall.RawConn) error {
			var err error
			rc.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
			return err
		}}).DialContext}
	windows := (secs + 9) / 10
	type rclient struct {
		conn    *websocket.Conn
		deltas  atomic.Int64
		windows []atomic.Int64
		err     atomic.Pointer[error]
	}
	var start atomic.Int64 // unix nanos of the stream's start; 0 before
	hist := bench.NewLatencyHist()
	readers := make([]*rclient, 0, total-stalled)
	var stallers []*websocket.Conn
	var wg sync.WaitGroup
	url := "ws://" + c.addr + "/ws/picture"
	for i := 0; i < total; i++ {
		if i%10 == 9 {
			conn, _, err := staller.DialContext(ctx, url, nil)
			if err != nil {
				t.Fatalf("non-reader %d: %v", i, err)
			}
			stallers = append(stallers, conn)
			continue
		}
		conn, _, err := reader.DialContext(ctx, url, nil)
		if err != nil {
			t.Fatalf("reader %d: %v", i, err)
		}
		rc := &rclient{conn: conn, windows: make([]atomic.Int64, windows)}
		readers = append(readers, rc)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, b, err := rc.conn.ReadMessage()
				if err != nil {
					rc.err.Store(&err)
					return
				}
				now := time.Now()
				if len(b) > 20 && string(b[:17]) == `{"type":"delta","` {
					rc.deltas.Add(1)
					bench.ScanUpdatedAt(b, now, hist)
					if s := start.Load(); s > 0 {
						if w := int(now.Sub(time.Unix(0, s)) / (10 * time.Second)); w < windows {
							rc.windows[w].Add(1)
						}
					}
				}
			}
		}()
	}
	defer func() {
		for _, s := range stallers {
			s.Close()
		}
	}()
	connected := time.Now()
	t.Logf("%d clients connected (%d never read); cop_ws_clients=%v", total, stalled, c.metric("cop_ws_clients"))

	// A steady stream of about 1,000 events a second for secs seconds (200 per write, 100 ms
	// apart; a write itself takes about 100 ms).
	msgs := f.valid(t, secs*1000)
	peak := 0
	start.Store(time.Now().UnixNano())
	sent := make(chan error, 1)
	go func() { sent <- f.send(ctx, t, msgs, 200, 100*time.Millisecond) }()
	var goneAt time.Duration
	for done := false; !done; {
		select {
		case err := <-sent:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		case <-time.After(500 * time.Millisecond):
		}
		peak = max(peak, c.rssKB())
		if goneAt == 0 && c.metric("cop_ws_clients") == float64(total-stalled) {
			goneAt = time.Since(connected)
		}
	}
	streamed := time.Since(time.Unix(0, start.Load()))
	// The non-readers must all be gone within pongWait (60 s) of connecting, whatever the rates.
	itest.Eventually(t, time.Until(connected.Add(75*time.Second)), 500*time.Millisecond, func() (bool, string) {
		peak = max(peak, c.rssKB())
		n := c.metric("cop_ws_clients")
		if goneAt == 0 && n == float64(total-stalled) {
			goneAt = time.Since(connected)
		}
		return n == float64(total-stalled), "cop_ws_clients=" + ftoa(n)
	})
	dropped := c.metric("cop_ws_dropped_total")
	time.Sleep(time.Second) // the last deltas
	for _, rc := range readers {
		rc.conn.Close()
	}
	wg.Wait()

	var minDeltas int64 = 1 << 62
	starved := 0
	for i, rc := range readers {
		if p := rc.err.Load(); p != nil && !isLocalClose(*p) {
			t.Errorf("reader %d lost its connection: %v", i, *p)
		}
		minDeltas = min(minDeltas, rc.deltas.Load())
		for w := 0; w < windows && (w+1)*10 <= int(streamed.Seconds()); w++ {
			if rc.windows[w].Load() == 0 {
				starved++
				break
			}
		}
	}
	if starved > 0 {
		t.Errorf("%d of %d readers received no delta in some 10 s window of the stream", starved, len(readers))
	}
	lat := hist.Summary()
	if bound := time.Duration(envInt("COP_FAULT_WS_P99_MS", 5000)) * time.Millisecond; lat.P99 > bound {
		t.Errorf("p99 receive latency %s; want < %s (COP_FAULT_WS_P99_MS)", lat.P99, bound)
	}
	if peak > rssMax {
		t.Errorf("peak RSS %d MB; bound %d MB", peak>>10, rssMax>>10)
	}
	t.Logf("%d events streamed in %s; %d readers, each got >= %d deltas; latency vs updated_at p50 %s p99 %s max %s; "+
		"%d non-readers gone %s after connecting (cop_ws_dropped_total=%v queue-full drops; the others closed on the 5 s write timeout or pong timeout); peak RSS %d MB (bound %d MB)",
		len(msgs), streamed.Round(time.Millisecond), len(readers), minDeltas, lat.P50, lat.P99, lat.Max,
		stalled, goneAt.Round(time.Millisecond), dropped, peak>>10, rssMax>>10)
}

func isLocalClose(err error) bool {
	return err != nil && (websocket.IsCloseError(err, websocket.CloseGoingAway) || errorsIsClosed(err))
}

func errorsIsClosed(err error) bool { return errors.Is(err, net.ErrClosed) }

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
