package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/cidcc/cop/ingest"
	"github.com/cidcc/cop/internal/event"
)

// runBenchParse is `cop bench parse [--reps N] [--json] FILE...`: how fast COP's parsers
// read each file, in process (the file read once, parsed N times, the best run kept), so
// scripts/parse-speed can set it beside the Python reference parsers on the same files.
func runBenchParse(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("bench parse", flag.ContinueOnError)
	reps := fs.Int("reps", 5, "parse each file this many times and keep the fastest")
	asJSON := fs.Bool("json", false, "print one JSON object per file instead of a table")
	format := fs.String("format", "", "native, stix or misp (sniffed from each file when empty)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 || *reps < 1 {
		return errors.New("usage: cop bench parse [--reps N] [--json] [--format F] FILE…")
	}
	f, err := ingest.ParseFormat(*format)
	if err != nil {
		return err
	}
	if !*asJSON {
		fmt.Printf("%-34s %6s %9s %8s %12s %10s %14s\n", "file", "format", "bytes", "events", "observables", "best ms", "observables/s")
	}
	for _, name := range fs.Args() {
		doc, err := os.ReadFile(name)
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", name, err)
		}
		src := event.Source{Contributor: "bench", ReceivedAt: time.Now().UTC(), IDKey: []byte("bench id key, 32 bytes, not zero")}
		var best time.Duration
		var evs, obs, rejected int
		var ff ingest.Format
		for i := range *reps {
			start := time.Now()
			var out []event.Event
			var errs []error
			ff, out, errs = ingest.Parse(f, doc, src)
			d := time.Since(start)
			if i == 0 || d < best {
				best = d
			}
			evs, rejected, obs = len(out), len(errs), 0
			for j := range out {
				obs += len(out[j].Observables)
			}
		}
		secs := max(best.Seconds(), 1e-9)
		if *asJSON {
			b, _ := json.Marshal(map[string]any{"file": name, "format": ff, "bytes": len(doc), "events": evs, "rejected": rejected,
				"observables": obs, "seconds": secs, "observables_per_s": float64(obs) / secs})
			fmt.Println(string(b))
			continue
		}
		fmt.Printf("%-34s %6s %9d %8d %12d %10.2f %14.0f\n", name, ff, len(doc), evs, obs, secs*1000, float64(obs)/secs)
	}
	return nil
}
