package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cidcc/cop/ingest/inject"
	"github.com/cidcc/cop/internal/bus"
)

func runReplay(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	from := fs.String("from", "", "start of the window of stored events, RFC 3339 (inclusive, on observed_at)")
	to := fs.String("to", "", "end of the window, RFC 3339 (exclusive)")
	speed := fs.String("speed", "60x", "observed time per wall time: 60x replays an hour in a minute; max: no pacing")
	exercise := fs.String("exercise", "", "exercise the replayed traffic belongs to (required)")
	source := fs.String("source-exercise", "", "replay an exercise's stored traffic instead of the real picture's")
	keep := fs.Bool("keep-times", false, "keep the original observed times instead of moving the window to now")
	chAddr := fs.String("clickhouse", env("COP_CLICKHOUSE", "127.0.0.1:19000"), "ClickHouse native address")
	kafkaAddr := fs.String("kafka", env("COP_KAFKA", "127.0.0.1:19092"), "Kafka brokers")
	namespace := fs.String("namespace", env("COP_NAMESPACE", "cop"), "prefix of COP's topics")
	var auth backendAuth
	auth.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	c := inject.ReplayConfig{Exercise: strings.ToUpper(*exercise), Source: strings.ToUpper(*source), KeepTimes: *keep}
	var err error
	if c.From, err = time.Parse(time.RFC3339, *from); err != nil {
		return fmt.Errorf("--from: want an RFC 3339 time: %w", err)
	}
	if c.To, err = time.Parse(time.RFC3339, *to); err != nil {
		return fmt.Errorf("--to: want an RFC 3339 time: %w", err)
	}
	if c.Speed, err = parseSpeed(*speed); err != nil {
		return err
	}
	o, err := auth.clickhouse()
	if err != nil {
		return err
	}
	kafkaTLS, err := auth.kafkaTLS()
	if err != nil {
		return err
	}
	st, err := openStore(ctx, *chAddr, o, newLogger("replay"))
	if err != nil {
		return err
	}
	defer st.Close()
	bc := bus.Config{Brokers: bus.Brokers(*kafkaAddr), Namespace: *namespace, TLS: kafkaTLS}
	n, err := inject.Replay(ctx, st, bc, c, os.Stderr)
	fmt.Fprintf(os.Stderr, "replayed %d events of %s..%s into exercise %s\n", n, c.From.Format(time.RFC3339), c.To.Format(time.RFC3339), c.Exercise)
	return err
}

// parseSpeed reads "60x", "60" or "max".
func parseSpeed(s string) (float64, error) {
	if s == "max" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "x"), 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("--speed %q: want a positive factor such as 60x, or max", s)
	}
	return v, nil
}
