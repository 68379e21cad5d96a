package pipeline

// The Correlator's input: batches of cop.events fetched and decoded ahead of the one
// being applied; what does not decode becomes a dead letter.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/deadletter"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/metrics"
	"github.com/segmentio/kafka-go"
)

// fetched is a batch of cop.events messages and what they decode to.
type fetched struct {
	msgs    []kafka.Message
	events  []event.Event
	letters []deadletter.Letter
}

// prefetch fetches and decodes batches and hands them to out, one at a time, until ctx
// ends. What it fetched but could not hand over is not committed: it is redelivered.
func (c *Correlator) prefetch(ctx context.Context, r *kafka.Reader, out chan<- *fetched, bad *metrics.Counter) {
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, c.TickEvery)
		msgs, err := bus.FetchBatch(fctx, r, nil, c.MaxBatch, c.Linger)
		cancel()
		if len(msgs) == 0 {
			if ctx.Err() == nil && err != nil && !errors.Is(err, context.DeadlineExceeded) {
				c.Log.Warn().Err(err).Msg("cannot fetch from cop.events; retrying")
				bus.Pause(ctx, time.Second)
			}
			continue
		}
		f := c.decode(msgs, bad)
		select {
		case out <- f:
		case <-ctx.Done():
			return
		}
	}
}

// decode decodes msgs on every core, keeping their order. A message that is not an event
// becomes a dead letter: ingest never produces one, but nothing vanishes.
func (c *Correlator) decode(msgs []kafka.Message, bad *metrics.Counter) *fetched {
	evs := make([]event.Event, len(msgs))
	errs := make([]error, len(msgs))
	shares := min(runtime.GOMAXPROCS(0), max(1, len(msgs)/500))
	var wg sync.WaitGroup
	for k := range shares {
		lo, hi := k*len(msgs)/shares, (k+1)*len(msgs)/shares
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				errs[i] = decodeEvent(msgs[i].Value, &evs[i])
			}
		})
	}
	wg.Wait()
	f := &fetched{msgs: msgs, events: evs[:0]}
	for i := range msgs {
		if errs[i] == nil {
			f.events = append(f.events, evs[i])
			continue
		}
		bad.Inc()
		c.Log.Error().Str("topic", msgs[i].Topic).Int("partition", msgs[i].Partition).
			Int64("offset", msgs[i].Offset).Msg("cannot decode event; sent to the dead letter")
		f.letters = append(f.letters, undecodable(&msgs[i], errs[i]))
	}
	return f
}

var errNoID = errors.New("event without id")

// decodeEvent decodes a cop.events message into e.
func decodeEvent(v []byte, e *event.Event) error {
	if err := e.UnmarshalJSON(v); err != nil {
		return err
	}
	if e.ID == "" {
		return errNoID
	}
	return nil
}

// undecodable is the dead letter of a cop.events message decodeEvent refused.
func undecodable(m *kafka.Message, err error) deadletter.Letter {
	return deadletter.New("", fmt.Sprintf("kafka:%s/%d@%d", m.Topic, m.Partition, m.Offset),
		"event", m.Value, time.Now().UTC(), "undecodable cop.events message: "+err.Error())
}
