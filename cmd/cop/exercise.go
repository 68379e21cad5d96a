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

	"github.com/cidcc/cop/ingest/inject"
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
	push := fs.Bool("push", false, "write the feeds straight into the contributors' Kafka feed topics (--kafka), as exercise traffic")
	kafkaAddr := fs.String("kafka", demoDefault("COP_KAFKA", "127.0.0.1:19092"), "Kafka brokers (with --push; default COP_KAFKA, else a running demo's embedded broker from "+demoEnvPath+")")
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
		p := inject.NewPusher(bus.Config{Brokers: bus.Brokers(*kafkaAddr), Namespace: *namespace}, strings.ToUpper(*exercise))
		defer p.Close()
		n := 0
		for _, f := range feeds {
			if err := p.Push(ctx, f.Contributor, f.Events); err != nil {
				return err
			}
			n += len(f.Events)
		}
		fmt.Fprintf(os.Stderr, "pushed %d events of scenario %s into %d feed topics (%s.feed.*) on %s as exercise %s\n",
			n, *name, len(feeds), *namespace, *kafkaAddr, strings.ToUpper(*exercise))
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
