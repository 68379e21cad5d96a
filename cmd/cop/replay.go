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
	from := fs.String("from", "", "start of the window of stored events (inclusive, on observed_at): RFC 3339, a date (2026-11-20, UTC) or an age (90m, 24h, 7d)")
	to := fs.String("to", "", "end of the window (exclusive), as --from; default now")
	speed := fs.String("speed", "60x", "observed time per wall time: 60x replays an hour in a minute; max: no pacing")
	exercise := fs.String("exercise", "", "exercise the replayed traffic belongs to (required)")
	source := fs.String("source-exercise", "", "replay an exercise's stored traffic instead of the real picture's")
	keep := fs.Bool("keep-times", false, "keep the original observed times instead of moving the window to now")
	chAddr := fs.String("clickhouse", demoDefault("COP_CLICKHOUSE", "127.0.0.1:19000"), "ClickHouse native address (default COP_CLICKHOUSE, else a running demo's from "+demoEnvPath+")")
	kafkaAddr := fs.String("kafka", demoDefault("COP_KAFKA", "127.0.0.1:19092"), "Kafka brokers (default COP_KAFKA, else a running demo's embedded broker from "+demoEnvPath+")")
	namespace := fs.String("namespace", env("COP_NAMESPACE", "cop"), "prefix of COP's topics")
	var auth backendAuth
	auth.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	dbSet := false
	fs.Visit(func(f *flag.Flag) { dbSet = dbSet || f.Name == "clickhouse-database" })
	if !dbSet {
		auth.CHDatabase = demoDefault("COP_CH_DATABASE", auth.CHDatabase)
	}
	c := inject.ReplayConfig{Exercise: strings.ToUpper(*exercise), Source: strings.ToUpper(*source), KeepTimes: *keep}
	now := time.Now().UTC()
	var ok bool
	if c.From, ok = replayTime(*from, now); !ok || *from == "" {
		return fmt.Errorf("--from %q: want an RFC 3339 time (2026-11-20T08:00:00Z), a date (2026-11-20) or an age (90m, 24h, 7d)", *from)
	}
	if c.To, ok = replayTime(*to, now); !ok {
		return fmt.Errorf("--to %q: want an RFC 3339 time (2026-11-20T09:00:00Z), a date (2026-11-20) or an age (10m, 1h)", *to)
	}
	var err error
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

// replayTime reads a window bound: RFC 3339, a date (midnight UTC), an age before now
// (m, h, d or w), or "" for now.
func replayTime(v string, now time.Time) (time.Time, bool) {
	if v == "" || v == "now" {
		return now, true
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, true
	}
	unit := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[v[len(v)-1]]
	n, err := strconv.ParseUint(v[:len(v)-1], 10, 32)
	if unit == 0 || err != nil {
		return time.Time{}, false
	}
	return now.Add(-time.Duration(n) * unit), true
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
