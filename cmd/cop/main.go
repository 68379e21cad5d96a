// Command cop is COP's single binary: every stage, the demo, the contributor CLI and the
// benchmarks. `cop help` lists the subcommands; `cop help <cmd>` documents flags and the
// environment variables that set the same things.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
	flags   func() *flag.FlagSet // for help; nil if none
}

// commandEnv is the environment a command reads, for help, where it is not serve's.
var commandEnv = map[string]string{"pull": pullEnv, "push": clientEnv, "query": clientEnv, "validate": "\nReads no environment."}

const clientEnv = `
Environment (each sets the flag of the same meaning; flags win):
  COP_URL    COP's base URL (--url)
  COP_TOKEN  your bearer token (--token)`

var commands map[string]command

func init() {
	commands = map[string]command{
		"serve":     {"run every stage (ingest, correlate, api) in one process", runServe, func() *flag.FlagSet { return serveFlags(&serveConfig{}) }},
		"ingest":    {"run the ingest stage only: feed topics to cop.events (serve's flags)", func(ctx context.Context, a []string) error { return runStages(ctx, "ingest", "ingest", a) }, func() *flag.FlagSet { return serveFlags(&serveConfig{}) }},
		"correlate": {"run the correlate stage only; --replica i/n for one of several (serve's flags)", func(ctx context.Context, a []string) error { return runStages(ctx, "correlate", "correlate", a) }, func() *flag.FlagSet { return serveFlags(&serveConfig{}) }},
		"api":       {"run the API, gateway and dashboard only (serve's flags)", func(ctx context.Context, a []string) error { return runStages(ctx, "api", "api", a) }, func() *flag.FlagSet { return serveFlags(&serveConfig{}) }},
		"demo":      {"start the services, synthetic member-state feeds and the dashboard", runDemo, func() *flag.FlagSet { return demoFlags(&demoConfig{}) }},
		"migrate":   {"create or upgrade the ClickHouse schema: cop migrate [--cluster NAME [--print]]", runMigrate, nil},
		"bench":     {"print the performance tables: bench correlate|query|ws|soak|e2e|quality", runBench, nil},
		"push":      {"send feed files to COP over HTTP: cop push [--format F] FILE...|-", runPush, func() *flag.FlagSet { return pushFlags(&pushConfig{}) }},
		"pull":      {"pull a partner's TAXII 2.1 collection or MISP feed into COP: cop pull taxii|misp URL [flags]", runPull, func() *flag.FlagSet { return pullFlags(&pullConfig{}) }},
		"validate":  {"check feed files offline and print their canonical events: cop validate [--format F] FILE...|-", runValidate, func() *flag.FlagSet { return validateFlags(&validateConfig{}) }},
		"replay":    {"re-inject stored feeds as exercise traffic: cop replay --from T1 --to T2 --speed 60x --exercise NAME", runReplay, nil},
		"seed":      {"write an hour of the demo's mix to cop.events for a running serve: cop seed [--events N] [--namespace NS]", runSeed, nil},
		"exercise":  {"write a scripted exercise campaign: cop exercise gen --scenario energy-cables --seed N --out PATH|--push", runExercise, nil},
		"query":     {"query the history API: events or situations as a table, CSV or JSON", runQuery, func() *flag.FlagSet { return queryFlags(&queryConfig{}) }},
		"token":     {"create an identity token: cop token create --role R --name N", runToken, nil},
		"keys":      {"renew the secret keys of pseudonyms (and event ids): cop keys rotate [--keys FILE] [--ids]", runKeys, nil},
		"version":   {"print the version", func(context.Context, []string) error { fmt.Println("cop", version); return nil }, nil},
	}
}

const version = "0.1.0"

func main() {
	if len(os.Args) < 2 || os.Args[1] == "help" || os.Args[1] == "-h" || os.Args[1] == "--help" {
		if !help(os.Args[min(2, len(os.Args)):]) {
			os.Exit(2)
		}
		return
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "cop: unknown command %q\n\n", os.Args[1])
		help(nil)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.run(ctx, os.Args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // -h or --help: the flag set printed the usage
		}
		fmt.Fprintf(os.Stderr, "cop %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// help prints the commands, or one command's flags; it reports false for an unknown one.
func help(args []string) bool {
	if len(args) > 0 {
		c, ok := commands[args[0]]
		if !ok {
			fmt.Fprintf(os.Stderr, "cop help: unknown command %q\n\n", args[0])
			help(nil)
			return false
		}
		{
			fmt.Printf("cop %s: %s\n\n", args[0], c.summary)
			if c.flags != nil {
				fs := c.flags()
				fs.SetOutput(os.Stdout)
				fs.PrintDefaults()
			}
			fmt.Println(c.envHelp(args[0]))
			return true
		}
	}
	fmt.Println("cop — a common operational cyber picture\n\nUsage: cop <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Printf("  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Println("\n`cop help <command>` for its flags.")
	return true
}

// envHelp lists the environment variables command name reads.
func (c command) envHelp(name string) string {
	switch {
	case commandEnv[name] != "":
		return commandEnv[name]
	case c.flags == nil:
		return ""
	}
	return envHelp
}

const envHelp = `
Environment (each sets the flag of the same meaning; flags win):
  COP_KAFKA        Kafka brokers, comma-separated (--kafka)
  COP_CLICKHOUSE   ClickHouse native address host:port (--clickhouse)
  COP_LISTEN       HTTP listen address (--listen)
  COP_IDENTITIES   identities file (--identities)
  COP_PUSH_RATE …  each limit flag (--push-rate, --ws-per-identity, --idle-timeout, …) has
                   the variable its description names
  COP_LOG_LEVEL    debug, info, warn, error (default info)`

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func newLogger(command string) zerolog.Logger { return newLoggerTo(os.Stderr, command) }

// newLoggerTo is newLogger writing to w.
func newLoggerTo(w io.Writer, command string) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(env("COP_LOG_LEVEL", "info"))
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	// The command, not "component": the stages a command runs add their own component.
	return zerolog.New(w).Level(lvl).With().Timestamp().Str("command", command).Logger()
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
