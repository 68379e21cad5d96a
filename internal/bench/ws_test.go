package bench

import (
	"context"
	"testing"
	"time"
)

// TestBenchWSEveryReadingClientGetsItsPicture runs the `cop bench ws` harness small and
// checks only what load cannot change: every client got its snapshot (benchWS fails
// otherwise) and deltas, and the hub dropped no client that kept reading. No timing.
func TestBenchWSEveryReadingClientGetsItsPicture(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 3 s")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := wsBenchConfig{Clients: 200, Rate: 10, Views: 8, Duration: 3 * time.Second, Every: 150 * time.Millisecond}
	r, err := benchWS(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.NoDelta != 0 {
		t.Errorf("%d of %d clients received no delta", r.NoDelta, cfg.Clients)
	}
	if r.Drops != 0 || r.Lost != 0 {
		t.Errorf("%d clients dropped by the hub, %d connections ended early; want none", r.Drops, r.Lost)
	}
	if r.Situations == 0 || r.Messages == 0 {
		t.Errorf("clients received %d messages with %d situations; want some", r.Messages, r.Situations)
	}
}
