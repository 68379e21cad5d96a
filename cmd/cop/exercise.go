package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/ingest"
	"github.com/cidcc/cop/ingest/native"
	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/scenario"
)

func runExercise(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "gen" {
		return errors.New("usage: cop exercise gen --scenario NAME [--seed N] [--exercise NAME] [--start T] --out PATH|--push")
	}
	fs := flag.NewFlagSet("exercise gen", flag.ContinueOnError)
	name := fs.String("scenario", "energy-cables", "scenario: "+strings.Join(scenario.Names, ", "))
	seed := fs.Uint64("seed", 1, "varies infrastructure, timing and report ids; the same seed gives the same feeds")
	exercise := fs.String("exercise", "CYDEF-X", "exercise tag on every event")
	start := fs.String("start", "", "RFC 3339 time the campaign starts (default: its duration before now, so it ends now)")
	out := fs.String("out", "", "write the feeds: a directory (one <contributor>.json each, for `cop push` with that contributor's token) or a .json file (every event in one document)")
	push := fs.Bool("push", false, "write the feeds straight into the contributors' Kafka feed topics (COP_KAFKA), as exercise traffic")
	kafkaAddr := fs.String("kafka", env("COP_KAFKA", "127.0.0.1:19092"), "Kafka brokers (with --push)")
	namespace := fs.String("namespace", env("COP_NAMESPACE", "cop"), "prefix of COP's topics (with --push)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if (*out == "") == !*push {
		return errors.New("give exactly one of --out PATH or --push")
	}
	at := time.Now().UTC().Add(-scenario.Duration).Truncate(time.Hour)
	if *start != "" {
		t, err := time.Parse(time.RFC3339, *start)
		if err != nil {
			return fmt.Errorf("--start: want an RFC 3339 time such as 2026-11-02T06:00:00Z: %w", err)
		}
		at = t
	}
	feeds, err := scenario.Generate(*name, scenario.Options{Seed: *seed, Start: at, Exercise: strings.ToUpper(*exercise)})
	if err != nil {
		return err
	}
	if *push {
		p := newFeedPusher(bus.Config{Brokers: bus.Brokers(*kafkaAddr), Namespace: *namespace}, strings.ToUpper(*exercise))
		defer p.Close()
		n := 0
		for _, f := range feeds {
			if err := p.Push(ctx, f.Contributor, f.Events); err != nil {
				return err
			}
			n += len(f.Events)
		}
		fmt.Fprintf(os.Stderr, "pushed %d events of scenario %s into %d feed topics as exercise %s\n", n, *name, len(feeds), strings.ToUpper(*exercise))
		return nil
	}
	return writeFeeds(*out, feeds)
}

// writeFeeds writes feeds to path: one native document per contributor in a directory,
// or all events in one document when path ends in .json.
func writeFeeds(path string, feeds []scenario.Feed) error {
	if strings.HasSuffix(path, ".json") {
		var all []native.Input
		for _, f := range feeds {
			all = append(all, f.Events...)
		}
		if err := writeJSON(path, all); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %d events to %s; push them with one token: cop push %s\n", len(all), path, path)
		return nil
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", path, err)
	}
	for _, f := range feeds {
		file := filepath.Join(path, f.Contributor+".json")
		if err := writeJSON(file, f.Events); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%s: %d events; push with %s's token: COP_TOKEN=... cop push %s\n", file, len(f.Events), f.Contributor, file)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}

// feedPusher writes native events into contributors' feed topics, marked as traffic of
// one exercise (the cop-exercise header as well as each event's exercise field), as a
// contributor producing to Kafka would. Ingest does the rest, exactly as for real feeds.
type feedPusher struct {
	bc       bus.Config
	w        *kafka.Writer
	exercise string
	ensured  map[string]bool
	msgs     []kafka.Message
}

func newFeedPusher(bc bus.Config, exercise string) *feedPusher {
	return &feedPusher{bc: bc, w: bus.NewWriter(bc, ""), exercise: exercise, ensured: map[string]bool{}}
}

// Push writes evs (one message each) to contributor's feed topic and returns once every
// message is acknowledged by all replicas.
func (p *feedPusher) Push(ctx context.Context, contributor string, evs []native.Input) error {
	for i := range evs {
		if err := p.Add(ctx, contributor, &evs[i]); err != nil {
			return err
		}
	}
	return p.Flush(ctx)
}

// Add queues e for contributor's feed topic, creating the topic first if needed.
func (p *feedPusher) Add(ctx context.Context, contributor string, e *native.Input) error {
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
func (p *feedPusher) Flush(ctx context.Context) error {
	for i := 0; i < len(p.msgs); i += 1000 {
		if err := p.w.WriteMessages(ctx, p.msgs[i:min(i+1000, len(p.msgs))]...); err != nil {
			return fmt.Errorf("cannot write exercise traffic to the feed topics: %w", err)
		}
	}
	p.msgs = p.msgs[:0]
	return nil
}

// Close flushes and closes the writer.
func (p *feedPusher) Close() error { return p.w.Close() }
