package inject

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cidcc/cop/ingest"
	"github.com/cidcc/cop/ingest/native"
	"github.com/cidcc/cop/internal/bus"
	"github.com/segmentio/kafka-go"
)

// Pusher writes native events into contributors' feed topics, marked as traffic of
// one exercise (the cop-exercise header as well as each event's exercise field), as a
// contributor producing to Kafka would. Ingest does the rest, exactly as for real feeds.
type Pusher struct {
	bc       bus.Config
	w        *kafka.Writer
	exercise string
	ensured  map[string]bool
	msgs     []kafka.Message
}

// NewPusher returns a Pusher of exercise traffic.
func NewPusher(bc bus.Config, exercise string) *Pusher {
	return &Pusher{bc: bc, w: bus.NewWriter(bc, ""), exercise: exercise, ensured: map[string]bool{}}
}

// Push writes evs (one message each) to contributor's feed topic and returns once every
// message is acknowledged by all replicas.
func (p *Pusher) Push(ctx context.Context, contributor string, evs []native.Input) error {
	for i := range evs {
		if err := p.Add(ctx, contributor, &evs[i]); err != nil {
			return err
		}
	}
	return p.Flush(ctx)
}

// Add queues e for contributor's feed topic, creating the topic first if needed.
func (p *Pusher) Add(ctx context.Context, contributor string, e *native.Input) error {
	topic := p.bc.FeedTopic(contributor)
	if !p.ensured[topic] {
		if err := bus.EnsureTopics(ctx, p.bc, topic); err != nil {
			return err
		}
		p.ensured[topic] = true
	}
	e.Exercise = p.exercise
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("cannot encode event %s: %w", e.ID, err)
	}
	p.msgs = append(p.msgs, kafka.Message{Topic: topic, Key: []byte(e.ID), Value: v,
		Headers: []kafka.Header{{Key: ingest.HeaderFormat, Value: []byte(ingest.FormatNative)}, {Key: ingest.HeaderExercise, Value: []byte(p.exercise)}}})
	return nil
}

// Flush writes what Add queued and returns once all replicas acknowledged it.
func (p *Pusher) Flush(ctx context.Context) error {
	for i := 0; i < len(p.msgs); i += 1000 {
		if err := p.w.WriteMessages(ctx, p.msgs[i:min(i+1000, len(p.msgs))]...); err != nil {
			return fmt.Errorf("cannot write exercise traffic to the feed topics: %w", err)
		}
	}
	p.msgs = p.msgs[:0]
	return nil
}

// Close flushes and closes the writer.
func (p *Pusher) Close() error { return p.w.Close() }
