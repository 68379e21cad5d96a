package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/cidcc/cop/api"
	"github.com/cidcc/cop/ingest/inject"
	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/bench"
	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/store"
	"github.com/rs/zerolog"
)

func runMigrate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	addr := fs.String("clickhouse", env("COP_CLICKHOUSE", "127.0.0.1:19000"), "ClickHouse native address")
	cluster := fs.String("cluster", "", "lay the schema over this ClickHouse cluster: Replicated*MergeTree locals + Distributed tables, ON CLUSTER")
	print := fs.Bool("print", false, "print the SQL instead of applying it (with --cluster: deploy/clickhouse/schema.sql)")
	database := fs.String("database", env("COP_CH_DATABASE", store.Database), "database (COP_CH_DATABASE)")
	major := fs.Int("major", 0, "with --print: target server major version (0: a current release, every migration)")
	plain := fs.Bool("plain", false, "with --cluster: no ON CLUSTER and no Replicated engines, for one server without ClickHouse Keeper (a rehearsal)")
	var auth backendAuth
	auth.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	spec := store.ClusterSpec{Name: *cluster, Database: *database, Major: *major, Plain: *plain}
	if *print {
		if *cluster == "" {
			return errors.New("--print needs --cluster NAME")
		}
		sql, err := store.ClusterSQL(spec)
		if err != nil {
			return err
		}
		_, err = os.Stdout.WriteString(sql)
		return err
	}
	o, err := auth.clickhouse()
	if err != nil {
		return err
	}
	o.Database = *database
	st, err := openStore(ctx, *addr, o, newLogger("migrate"))
	if err != nil {
		return err
	}
	defer st.Close()
	var applied []string
	if *cluster != "" {
		applied, err = st.MigrateCluster(ctx, spec)
	} else {
		applied, err = st.Migrate(ctx)
	}
	if err != nil {
		return err
	}
	fmt.Printf("ClickHouse %s: %d migration(s) applied %v\n", st.Version, len(applied), applied)
	return nil
}

// runBench runs `cop bench NAME`; the harnesses live in internal/bench, which gets COP
// itself (serve and the demo's feeds) from here.
func runBench(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "parse" {
		return runBenchParse(ctx, args[1:]) // the parsers alone, beside Python's: scripts/parse-speed
	}
	return bench.Run(ctx, args, bench.Host{
		Serve: func(ctx context.Context, o bench.ServeOptions, started chan<- string) error {
			c := serveConfig{Kafka: o.Kafka, ClickHouse: o.ClickHouse, Listen: "127.0.0.1:0", Insecure: true, Backends: backendAuth{CHDatabase: o.Database},
				Partitions: o.Partitions, Namespace: o.Namespace, MaxObservables: o.MaxObservables, DedupSize: o.DedupSize,
				Limits: api.Limits{PushRate: -1, PushBytesRate: -1, PushConcurrent: -1}}
			return serve(ctx, c, newLogger("serve").Level(zerolog.ErrorLevel), started)
		},
		Feed: func(ctx context.Context, bc bus.Config, rate int) func() int64 {
			d := &inject.Demo{Bus: bc, Rate: rate, Log: newLogger("feed")}
			go d.Run(ctx)
			return func() int64 { return d.Sent.Load() + d.Redelivered.Load() + d.Malformed.Load() }
		},
		Viewers: demoViewers(),
	})
}

func runToken(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: cop token create --role R --name N [--missions A,B] [--tlp-max AMBER] [--exercises X]")
	}
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	role := fs.String("role", "", "contributor, commander, analyst, liaison or admin")
	name := fs.String("name", "", "identity name (for a contributor: its feed name)")
	missions := fs.String("missions", "", "missions a commander serves, comma-separated")
	exercises := fs.String("exercises", "", "exercises this identity may view, comma-separated")
	tlpMax := fs.String("tlp-max", "GREEN", "highest TLP this identity may see")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	tlp, err := event.ParseTLP(*tlpMax)
	if err != nil {
		return fmt.Errorf("--tlp-max: %w", err)
	}
	id := access.Identity{Name: *name, Role: access.Role(*role), MaxTLP: tlp,
		Missions: splitList(strings.ToUpper(*missions)), Exercises: splitList(strings.ToUpper(*exercises))}
	tok, hash := access.NewToken()
	if _, err := access.NewTokens([]access.Entry{{Identity: id, TokenSHA256: hash}}); err != nil {
		return err
	}
	line, _ := json.Marshal(access.Entry{Identity: id, TokenSHA256: hash})
	fmt.Fprintf(os.Stderr, "Token (shown once; give it to %s over a secure channel):\n", *name)
	fmt.Println(tok)
	fmt.Fprintln(os.Stderr, "Add this entry to the \"identities\" list of the identities file:")
	fmt.Fprintln(os.Stderr, string(line))
	return nil
}
