package api

import (
	"context"
	"time"

	"github.com/cidcc/cop/internal/alert"
)

// WatchAlerts raises to sink, every `every` until ctx ends, the alerts the picture's
// changes after sequence from (p.Seq(): from now on) raise in no particular view: a situation that appeared or rose to
// alert.DefaultScore or more, or crossed alert.CriticalScore (Crossing). It is what feeds
// the outbound recipients (internal/notify), which decide who each alert concerns; the
// hub finds the alerts of each dashboard's view itself. Changes older than the history
// holds (a flood) are skipped, not replayed.
func (p *Picture) WatchAlerts(ctx context.Context, sink alert.Sink, every time.Duration, from uint64) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changes, to, ok := p.Since(from)
		from = to
		if !ok {
			continue
		}
		now := time.Now()
		for i := range changes {
			ch := &changes[i]
			if ch.Cur == nil || ch.Cur.Score < alert.DefaultScore || now.Sub(ch.Cur.UpdatedAt) > alertFresh {
				continue
			}
			prev := -1.0
			if ch.Prev != nil && ch.Prev.Exercise == ch.Cur.Exercise {
				prev = ch.Prev.Score
			}
			if a, ok := Crossing(ch.Cur, prev, alert.DefaultScore, now); ok {
				sink.Raise(a)
			}
		}
	}
}
