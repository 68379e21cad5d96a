// Package inject owns the traffic COP writes into contributors' feed topics itself, as a
// contributor producing to Kafka would: exercise re-injection of stored events (Replay,
// `cop replay`), the writer of exercise feeds (Pusher, `cop exercise gen --push`), and the
// demo's synthetic member-state feeds (Demo). Ingest then treats it exactly as real
// feeds; this package never writes cop.events or the store.
package inject

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cidcc/cop/ingest/native"
	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/store"
)

// ReplayConfig is what Replay re-injects (`cop replay`), and how fast.
type ReplayConfig struct {
	From, To time.Time
	// Speed is observed time per wall time (60: an hour of feeds in a minute); 0 is as
	// fast as Kafka takes it.
	Speed float64
	// Exercise is the picture the traffic goes to; Source the one it is read from ("":
	// the real picture).
	Exercise, Source string
	// KeepTimes keeps the original observed_at; by default the window is moved onto the
	// replay's own clock, so the exercise picture sees it happen now, at Speed.
	KeepTimes bool
	// Chunk is how much observed time one ClickHouse read covers (default: 30 s of
	// replay, at least a minute): no query stays open while the replay waits.
	Chunk time.Duration
}

// Replay re-injects the events c selects into their contributors' feed topics as traffic
// of exercise c.Exercise, paced by c.Speed, and returns how many it sent. Each keeps its
// contributor and markings; its report id is derived from its stored id and the exercise,
// so replaying the same window again changes nothing.
func Replay(ctx context.Context, st *store.Store, bc bus.Config, c ReplayConfig, progress io.Writer) (int, error) {
	if c.Exercise == "" {
		return 0, errors.New("no --exercise: replayed traffic must go to an exercise, never to the real picture")
	}
	if c.Exercise == c.Source {
		return 0, errors.New("--exercise names the exercise being replayed: it would feed itself")
	}
	if !c.From.Before(c.To) {
		return 0, errors.New("--from must be before --to")
	}
	if c.Chunk <= 0 {
		c.Chunk = time.Minute
		if c.Speed > 0 {
			c.Chunk = max(c.Chunk, time.Duration(c.Speed*float64(30*time.Second)))
		}
	}
	p := NewPusher(bc, c.Exercise)
	defer p.Close()
	start := time.Now().UTC()
	// wall returns when the event observed at obs is due, and the time it is re-observed at.
	wall := func(obs time.Time) (due, at time.Time) {
		if c.Speed == 0 {
			due = start
		} else {
			due = start.Add(time.Duration(float64(obs.Sub(c.From)) / c.Speed))
		}
		switch {
		case c.KeepTimes:
			return due, obs
		case c.Speed == 0:
			return due, obs.Add(start.Sub(c.To))
		}
		return due, due
	}
	sent, last := 0, time.Now()
	var page []store.StoredEvent
	for cur := c.From; cur.Before(c.To); {
		next := cur.Add(c.Chunk)
		if next.After(c.To) {
			next = c.To
		}
		page = page[:0]
		if err := st.EachObserved(ctx, c.Source, cur, next, func(e *store.StoredEvent) error {
			page = append(page, *e)
			return nil
		}); err != nil {
			return sent, err
		}
		for i := range page {
			e := &page[i]
			due, at := wall(e.ObservedAt)
			if d := time.Until(due); d > 0 {
				// Everything queued is due now: send it before waiting for the next.
				if err := p.Flush(ctx); err != nil {
					return sent, err
				}
				select {
				case <-ctx.Done():
					return sent, ctx.Err()
				case <-time.After(d):
				}
			}
			in := replayInput(&e.Event, c.Exercise, at)
			if err := p.Add(ctx, e.Contributor, &in); err != nil {
				return sent, err
			}
			sent++
			if len(p.msgs) >= 5000 {
				if err := p.Flush(ctx); err != nil {
					return sent, err
				}
			}
			if progress != nil && time.Since(last) >= 5*time.Second {
				last = time.Now()
				fmt.Fprintf(progress, "replay: %d events sent, at observed time %s\n", sent, e.ObservedAt.Format(time.RFC3339))
			}
		}
		cur = next
	}
	return sent, p.Flush(ctx)
}

// replayInput is e as its contributor would send it again, as traffic of exercise,
// observed at at. Its report id is derived from e's id and the exercise.
func replayInput(e *event.Event, exercise string, at time.Time) native.Input {
	conf := int(e.Confidence)
	in := native.Input{
		ID: "replay-" + exercise + "-" + e.ID, Kind: e.Kind, ObservedAt: at, Observables: e.Observables,
		Category: e.Category, Techniques: e.Techniques, Sectors: e.Sectors, Countries: e.Countries, Geo: e.Geo,
		Severity: e.Severity, Confidence: &conf, TLP: e.TLP, ReleasableTo: e.ReleasableTo, Anonymise: e.Anonymise,
		Exercise: exercise, Title: e.Title, Summary: e.Summary,
	}
	if !e.ValidUntil.IsZero() {
		in.ValidUntil = at.Add(e.ValidUntil.Sub(e.ObservedAt))
	}
	return in
}
