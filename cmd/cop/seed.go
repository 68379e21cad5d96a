package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/ingest"
	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/groundtruth"
)

// runSeed is `cop seed`: an hour of the demo's mix (the labelled generator of cop bench
// quality, internal/groundtruth), observed over the hour before now, written as canonical
// events straight to a namespace's cop.events, as the ingest stage would. A running cop
// serve of that namespace correlates, stores and shows it within seconds: the picture a
// commander has after an hour of make demo, for the browser tests and for measuring.
func runSeed(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	n := fs.Int("events", 100_000, "events to write (an hour of the demo's mix is about 100,000)")
	seed := fs.Uint64("seed", 1, "scenario seed")
	span := fs.Duration("span", time.Hour, "the simulated time the events are spread over, ending now")
	kafkaAddr := fs.String("kafka", env("COP_KAFKA", "127.0.0.1:19092"), "Kafka brokers")
	namespace := fs.String("namespace", env("COP_NAMESPACE", "cop"), "prefix of COP's topics")
	var auth backendAuth
	auth.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *span <= 0 {
		return fmt.Errorf("--events and --span: want at least 1 and a positive duration, got %d and %s", *n, *span)
	}
	kafkaTLS, err := auth.kafkaTLS()
	if err != nil {
		return err
	}
	events, _, err := groundtruth.Generate(groundtruth.Options{Events: *n, Seed: *seed, Start: time.Now().UTC().Add(-*span), Span: *span,
		IDKey: fmt.Appendf(nil, "cop seed %d", *seed)})
	if err != nil {
		return err
	}
	bc := bus.Config{Brokers: bus.Brokers(*kafkaAddr), Namespace: *namespace, TLS: kafkaTLS}
	w := bus.NewWriter(bc, "")
	defer w.Close()
	msgs := make([]kafka.Message, 0, 5000)
	flush := func() error {
		if len(msgs) == 0 {
			return nil
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("cannot write events to %s: %w", bc.Events(), err)
		}
		msgs = msgs[:0]
		return nil
	}
	t0 := time.Now()
	for i := range events {
		e := &events[i]
		v, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("BUG: cannot encode event %s: %w", e.ID, err)
		}
		msgs = append(msgs, kafka.Message{Topic: bc.Events(), Key: ingest.EventKey(e), Value: v})
		if len(msgs) == cap(msgs) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "seeded %d events (seed %d, over the last %s) into %s in %s\n", len(events), *seed, *span, bc.Events(), time.Since(t0).Round(time.Millisecond))
	return nil
}
