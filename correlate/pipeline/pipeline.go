// Package pipeline wires the correlation engine to the outside: it consumes cop.events in
// a consumer group, applies each batch to the engine, stores events and situations in
// ClickHouse, publishes situation deltas on cop.picture, and only then commits the offsets.
// It also sinks cop.deadletter into ClickHouse. It holds no business rules: those are the
// engine's.
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/correlate"
	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/deadletter"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/metrics"
	"github.com/cidcc/cop/internal/store"
)

// Correlator is one correlation stage instance.
type Correlator struct {
	Bus     bus.Config
	Store   *store.Store
	Engine  *correlate.Engine
	Log     zerolog.Logger
	Metrics *metrics.Registry
	Group   string // default "cop-correlate"
	// MaxBatch and Linger bound a batch: up to MaxBatch events, or what arrived within
	// Linger after the first (defaults 5000 and 50 ms).
	MaxBatch int
	Linger   time.Duration
	// TickEvery is how often decay is re-scored (default 10 s).
	TickEvery time.Duration
}

// Run consumes until ctx is done. A ClickHouse or Kafka failure is retried with backoff
// while the batch is held: the offsets stay uncommitted, so Kafka lag grows instead of
// memory (backpressure), and nothing is lost.
func (c *Correlator) Run(ctx context.Context) error {
	if c.Group == "" {
		c.Group = c.Bus.Group("correlate")
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 5000
	}
	if c.Linger == 0 {
		c.Linger = 50 * time.Millisecond
	}
	if c.TickEvery == 0 {
		c.TickEvery = 10 * time.Second
	}
	if c.Metrics == nil {
		c.Metrics = &metrics.Registry{}
	}
	if c.Engine == nil {
		c.Engine = correlate.New(correlate.DefaultConfig())
	}
	r := bus.NewGroupReader(c.Bus, c.Group, c.Bus.Events())
	defer r.Close()
	picture := bus.NewWriter(c.Bus, c.Bus.Picture())
	defer picture.Close()

	var (
		events    = c.Metrics.Counter(`cop_correlate_events_total`, "Events applied to the engine.")
		dups      = c.Metrics.Counter(`cop_duplicates_total`, "Events recognised as duplicates (redelivery or re-sent content).")
		bad       = c.Metrics.Counter(`cop_correlate_undecodable_total`, "cop.events messages that could not be decoded.")
		batches   = c.Metrics.Counter(`cop_correlate_batches_total`, "Batches stored and committed.")
		retries   = c.Metrics.Counter(`cop_store_retries_total`, "Retries of a ClickHouse or Kafka write.")
		batchSecs = c.Metrics.Gauge(`cop_correlate_batch_seconds`, "Duration of the last batch from fetch to commit.")
		buf       []kafka.Message
		batch     []event.Event
		sb        store.Batch
		nextTick  = time.Now().Add(c.TickEvery)
	)
	for {
		fctx, cancel := context.WithTimeout(ctx, c.TickEvery)
		msgs, err := bus.FetchBatch(fctx, r, buf, c.MaxBatch, c.Linger)
		cancel()
		buf = msgs
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && len(msgs) == 0 && !errors.Is(err, context.DeadlineExceeded) {
			c.Log.Warn().Err(err).Msg("cannot fetch from cop.events; retrying")
			sleep(ctx, time.Second)
			continue
		}
		start := time.Now()
		batch = batch[:0]
		for i := range msgs {
			var e event.Event
			if err := json.Unmarshal(msgs[i].Value, &e); err != nil || e.ID == "" {
				bad.Inc()
				c.Log.Error().Err(err).Str("topic", msgs[i].Topic).Int("partition", msgs[i].Partition).
					Int64("offset", msgs[i].Offset).Msg("cannot decode event; skipped")
				continue
			}
			batch = append(batch, e)
		}
		sb.Reset()
		if len(batch) > 0 {
			res := c.Engine.Apply(batch, time.Now().UTC())
			sb.Events = batch
			for _, st := range res.Events {
				sb.Situations = append(sb.Situations, st.SituationID)
				sb.Duplicate = append(sb.Duplicate, st.Duplicate)
				if st.Duplicate {
					dups.Inc()
				}
			}
			sb.Deltas = append(sb.Deltas, c.Engine.Deltas()...)
			events.Add(uint64(len(batch)))
		}
		if now := time.Now(); now.After(nextTick) {
			sb.Deltas = append(sb.Deltas, c.Engine.Tick(now.UTC())...)
			nextTick = now.Add(c.TickEvery)
		}
		if len(sb.Events) > 0 || len(sb.Deltas) > 0 {
			if err := retry(ctx, c.Log, retries, "store batch", func() error { return c.Store.Write(ctx, &sb) }); err != nil {
				return err
			}
			if err := retry(ctx, c.Log, retries, "publish picture", func() error { return publish(ctx, picture, sb.Deltas) }); err != nil {
				return err
			}
		}
		if len(msgs) > 0 {
			if err := retry(ctx, c.Log, retries, "commit cop.events offsets", func() error { return r.CommitMessages(ctx, msgs...) }); err != nil {
				return err
			}
			batches.Inc()
			batchSecs.Set(time.Since(start).Seconds())
		}
	}
}

func publish(ctx context.Context, w *kafka.Writer, deltas []correlate.Delta) error {
	if len(deltas) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(deltas))
	for i := range deltas {
		v, err := json.Marshal(&deltas[i])
		if err != nil {
			return fmt.Errorf("BUG: cannot encode delta: %w", err)
		}
		msgs[i] = kafka.Message{Key: []byte(deltas[i].Situation.ID), Value: v}
	}
	return w.WriteMessages(ctx, msgs...)
}

// DeadLetterSink stores cop.deadletter in ClickHouse.
type DeadLetterSink struct {
	Bus   bus.Config
	Store *store.Store
	Log   zerolog.Logger
}

// Run consumes until ctx is done.
func (d *DeadLetterSink) Run(ctx context.Context) error {
	r := bus.NewGroupReader(d.Bus, d.Bus.Group("deadletter"), d.Bus.DeadLetter())
	defer r.Close()
	var buf []kafka.Message
	var letters []deadletter.Letter
	for {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		msgs, err := bus.FetchBatch(fctx, r, buf, 5000, 50*time.Millisecond)
		cancel()
		buf = msgs
		if ctx.Err() != nil {
			return nil
		}
		if len(msgs) == 0 {
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				d.Log.Warn().Err(err).Msg("cannot fetch from cop.deadletter; retrying")
				sleep(ctx, time.Second)
			}
			continue
		}
		letters = letters[:0]
		for _, m := range msgs {
			var l deadletter.Letter
			if err := json.Unmarshal(m.Value, &l); err != nil {
				// Keep even an undecodable letter: nothing silently vanishes.
				l = deadletter.New("", fmt.Sprintf("kafka:%s/%d@%d", m.Topic, m.Partition, m.Offset), "",
					"undecodable dead letter: "+err.Error(), m.Value, 0, m.Time)
			}
			letters = append(letters, l)
		}
		if err := retry(ctx, d.Log, nil, "store dead letters", func() error { return d.Store.WriteDeadLetters(ctx, letters) }); err != nil {
			return err
		}
		if err := retry(ctx, d.Log, nil, "commit cop.deadletter offsets", func() error { return r.CommitMessages(ctx, msgs...) }); err != nil {
			return err
		}
	}
}

// retry runs f until it succeeds or ctx ends, backing off up to 5 s between attempts.
func retry(ctx context.Context, log zerolog.Logger, retries *metrics.Counter, what string, f func() error) error {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if retries != nil {
			retries.Inc()
		}
		if attempt == 1 || attempt%10 == 0 {
			log.Warn().Err(err).Int("attempt", attempt).Msgf("cannot %s; retrying", what)
		}
		sleep(ctx, backoff)
		backoff = min(backoff*2, 5*time.Second)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
