package pipeline

// What the stages write besides the store: situation deltas on cop.picture, dead letters
// on cop.deadletter and from it into ClickHouse, and the retry every write goes through.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/deadletter"
	"github.com/cidcc/cop/internal/metrics"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
)

func writeLetters(ctx context.Context, w *kafka.Writer, letters []deadletter.Letter) error {
	msgs := make([]kafka.Message, len(letters))
	for i, l := range letters {
		v, err := json.Marshal(l)
		if err != nil {
			return fmt.Errorf("BUG: cannot encode dead letter: %w", err)
		}
		msgs[i] = kafka.Message{Value: v}
	}
	return w.WriteMessages(ctx, msgs...)
}

// encodeDeltas encodes each of b's deltas once: the picture topic's messages, and the
// situations' JSON the store keeps as their payload (b.SituationJSON).
func encodeDeltas(b *store.Batch) ([]kafka.Message, error) {
	msgs := make([]kafka.Message, len(b.Deltas))
	b.SituationJSON = b.SituationJSON[:0]
	for i := range b.Deltas {
		v, sit, err := picture.EncodeDelta(&b.Deltas[i])
		if err != nil {
			return nil, fmt.Errorf("BUG: cannot encode delta: %w", err)
		}
		msgs[i] = kafka.Message{Key: []byte(b.Deltas[i].Situation.ID), Value: v}
		b.SituationJSON = append(b.SituationJSON, sit)
	}
	return msgs, nil
}

// publish writes b's deltas to the picture topic, encoding them once (encodeDeltas) however
// many times retry calls the returned function.
func publish(w *kafka.Writer, b *store.Batch) (func(ctx context.Context) error, error) {
	msgs, err := encodeDeltas(b)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		if len(msgs) == 0 {
			return nil
		}
		return w.WriteMessages(ctx, msgs...)
	}, nil
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
				bus.Pause(ctx, time.Second)
			}
			continue
		}
		letters = letters[:0]
		for _, m := range msgs {
			var l deadletter.Letter
			if err := json.Unmarshal(m.Value, &l); err != nil {
				// Keep even an undecodable letter: nothing silently vanishes.
				l = deadletter.New("", fmt.Sprintf("kafka:%s/%d@%d", m.Topic, m.Partition, m.Offset), "",
					m.Value, m.Time, "undecodable dead letter: "+err.Error())
			}
			// Whoever wrote it (an older COP, another producer), what is stored is within
			// the caps.
			letters = append(letters, l.Capped())
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
		bus.Pause(ctx, backoff)
		backoff = min(backoff*2, 5*time.Second)
	}
}
