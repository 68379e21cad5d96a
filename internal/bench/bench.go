// Package bench owns the harnesses behind `cop bench`: the correlation engine's table, the
// analyst queries on ClickHouse, the websocket fan-out, the end-to-end run on the real
// services, the soak, and the picture's quality against ground truth (internal/groundtruth). Each measures COP from outside and prints a table; none is
// product code, and nothing in COP imports this package but cmd/cop.
//
// What needs COP running (e2e, soak) gets it from the Host cmd/cop passes in, so this
// package never wires the stages itself.
package bench

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/store"
)

// ServeOptions is what a benchmark asks of the COP it runs: every stage, in one process,
// on loopback, unauthenticated, without push limits or a state file.
type ServeOptions struct {
	Kafka, ClickHouse, Database, Namespace string
	Partitions                             int
	// MaxObservables and DedupSize: cop serve's --max-observables and --dedup-size (0: default).
	MaxObservables, DedupSize int
}

// Host is what cmd/cop lends the benchmarks.
type Host struct {
	// Serve runs COP until ctx is done; started receives its HTTP address.
	Serve func(ctx context.Context, o ServeOptions, started chan<- string) error
	// Feed starts the demo's synthetic member-state feeds at rate messages/s, until ctx
	// is done; sent reports how many messages it has written so far.
	Feed func(ctx context.Context, bc bus.Config, rate int) (sent func() int64)
	// Viewers are the demo's identities that look at the picture, whose views the quality
	// benchmark measures.
	Viewers []access.Identity
}

// Names are the benchmarks Run knows.
var Names = []string{"correlate", "query", "ws", "soak", "e2e", "quality"}

// Run runs the benchmark args[0] with the flags that follow.
func Run(ctx context.Context, args []string, h Host) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: cop bench %s [flags]; cop bench <name> -h for its flags", strings.Join(Names, "|"))
	}
	switch args[0] {
	case "correlate":
		return runCorrelate(ctx, args[1:])
	case "query":
		return runQuery(ctx, args[1:])
	case "ws":
		return runWS(ctx, args[1:])
	case "soak":
		return runSoak(ctx, args[1:], h)
	case "e2e":
		return runE2E(ctx, args[1:], h)
	case "quality":
		return runQuality(args[1:], h)
	}
	return fmt.Errorf("cop bench: unknown benchmark %q: want one of %s", args[0], strings.Join(Names, ", "))
}

func runCorrelate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench correlate", flag.ContinueOnError)
	events := fs.Int("events", 2_000_000, "events applied per measurement")
	live := fs.String("live", "100000,1000000,10000000", "live observables in state, comma-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *events < 1 {
		return fmt.Errorf("--events: %d is not a positive count", *events)
	}
	fmt.Printf("%-18s %14s %10s %18s %14s\n", "live observables", "events/s", "ns/event", "bytes/observable", "allocs/event")
	for s := range strings.SplitSeq(*live, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(s), &n); err != nil || n <= 0 {
			return fmt.Errorf("--live: %q is not a positive count", s)
		}
		if ctx.Err() != nil {
			return nil
		}
		r := Engine(n, *events)
		fmt.Printf("%-18d %14.0f %10.1f %18.1f %14.4f\n", n, r.EventsPerSec, r.NsPerEvent, r.BytesPerObservable, r.AllocsPerEvent)
	}
	return nil
}

// database is the ClickHouse database the benchmarks use: COP_CH_DATABASE, else COP's.
func database() string { return cmp.Or(os.Getenv("COP_CH_DATABASE"), store.Database) }

// services returns the real services' addresses from the environment `make test` and
// scripts/services set, or says how to get them.
func services() (kafka, clickhouse string, err error) {
	kafka, clickhouse = os.Getenv("COP_KAFKA"), os.Getenv("COP_CLICKHOUSE")
	if kafka == "" || clickhouse == "" {
		return "", "", errors.New(`needs the real services: scripts/services start && eval "$(scripts/services env)"`)
	}
	return kafka, clickhouse, nil
}
