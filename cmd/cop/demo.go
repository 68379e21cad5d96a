package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/cidcc/cop/ingest/inject"
	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/groundtruth"
	"github.com/cidcc/cop/internal/scenario"
	"github.com/cidcc/cop/internal/store"
	"github.com/cidcc/cop/internal/synth"
)

type demoConfig struct {
	serveConfig
	Rate int
	// Dir holds the demo's state: kfake data, tokens, the correlator's state file.
	Dir string
	// NewTokens mints new tokens instead of keeping those of the last run.
	NewTokens bool
}

func demoFlags(c *demoConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.StringVar(&c.Kafka, "kafka", os.Getenv("COP_KAFKA"), "Kafka brokers; empty starts the embedded Kafka-protocol broker")
	fs.StringVar(&c.ClickHouse, "clickhouse", os.Getenv("COP_CLICKHOUSE"), "ClickHouse native address; empty starts it with scripts/services")
	fs.StringVar(&c.Backends.CHDatabase, "clickhouse-database", env("COP_CH_DATABASE", store.Database), "ClickHouse database of the demo's tables")
	fs.StringVar(&c.Listen, "listen", env("COP_LISTEN", "127.0.0.1:8080"), "HTTP listen address")
	fs.IntVar(&c.Rate, "rate", 200, "synthetic events per second")
	fs.StringVar(&c.Dir, "state", ".cop", "state directory")
	fs.BoolVar(&c.NewTokens, "new-tokens", false, "mint new tokens for the demo's identities (by default a restarted demo keeps those of .cop/demo/tokens.txt, so yesterday's links still work)")
	limitFlags(fs, &c.Limits)
	return fs
}

func runDemo(ctx context.Context, args []string) error {
	var c demoConfig
	if err := parseFlags(demoFlags(&c), args); err != nil {
		return err
	}
	// COP_NAMESPACE as serve reads it: a demo beside another on the same Kafka keeps its own topics.
	c.Partitions, c.Namespace = 4, env("COP_NAMESPACE", "cop")
	if err := os.MkdirAll(filepath.Join(c.Dir, "demo"), 0o700); err != nil {
		return fmt.Errorf("cannot create state directory: %w", err)
	}
	// Logs go to a file: hundreds of dead-letter warnings (the demo sends malformed
	// messages on purpose) would bury the status lines; the console gets a summary.
	logPath := filepath.Join(c.Dir, "demo", "cop.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("cannot open the demo's log file: %w", err)
	}
	defer logFile.Close()
	console := newDemoConsole(logFile, os.Stderr, logPath)
	log := newLoggerTo(console, "demo")
	fmt.Fprintf(os.Stderr, "  COP demo starting; logs (JSON) go to %s\n", logPath)
	if c.ClickHouse == "" {
		if err := startClickHouse(ctx); err != nil {
			return err
		}
		c.ClickHouse = "127.0.0.1:19000"
	}
	if c.Kafka == "" {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(filepath.Join(c.Dir, "kfake")),
			kfake.DefaultNumPartitions(4), kfake.AllowAutoTopicCreation(),
			// As scripts/services configures Apache Kafka: COP's writers batch up to 16 MiB.
			kfake.BrokerConfigs(map[string]string{"message.max.bytes": "16777216"}))
		if err != nil {
			return fmt.Errorf("cannot start the embedded Kafka-protocol broker: %w", err)
		}
		defer cluster.Close()
		c.Kafka = strings.Join(cluster.ListenAddrs(), ",")
		// The embedded broker keeps its data in Dir, so the correlator keeps its state there
		// too: a restarted demo resumes the picture instead of starting an empty engine.
		c.State = filepath.Join(c.Dir, "state", "kfake-"+c.Namespace+"-correlate.snap")
		log.Info().Str("kafka", c.Kafka).Msg("embedded Kafka-protocol broker (franz-go kfake) started; " +
			"for real Apache Kafka run `scripts/services start kafka` and set COP_KAFKA=127.0.0.1:19092")
	}
	c.Keys = filepath.Join(c.Dir, "state", "keys.json")
	// The feeds' public resolvers, CDN and cloud addresses and shorteners, as a deployment
	// names them with MISP's warning lists: without them they glue every campaign into one
	// situation in the first seconds (docs/quality.md).
	c.Common = append(c.Common, groundtruth.Hubs()...)
	tokens, err := demoIdentities(&c)
	if err != nil {
		return err
	}

	started := make(chan string, 1)
	serveErr := make(chan error, 1)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { serveErr <- serve(sctx, c.serveConfig, newLoggerTo(console, "serve"), started) }()
	var addr string
	select {
	case addr = <-started:
	case err := <-serveErr:
		return err
	case <-ctx.Done():
		return nil
	}
	fmt.Fprintf(os.Stderr, "\n  COP demo is running.\n\n  Dashboard (admin view):      http://%s/#token=%s\n", addr, tokens["admin"])
	fmt.Fprintf(os.Stderr, "  Commander EUFOR Althea:      http://%s/#token=%s\n", addr, tokens["cdr-althea"])
	fmt.Fprintf(os.Stderr, "  Crisis board (liaison):      http://%s/crisis.html#token=%s\n", addr, tokens["liaison"])
	fmt.Fprintf(os.Stderr, "  Stats:  curl -H 'Authorization: Bearer %s' http://%s/api/v1/stats\n", tokens["analyst"], addr)
	fmt.Fprintf(os.Stderr, "  Exercise CYDEF-X (analyst):  http://%s/#token=%s&exercise=CYDEF-X\n", addr, tokens["analyst"])
	envPath := filepath.Join(c.Dir, "demo", "env")
	if err := writeDemoEnv(envPath, addr, &c); err != nil {
		return err
	}
	defer os.Remove(envPath)
	fmt.Fprintf(os.Stderr, "  Tokens: %s   Logs: %s\n", filepath.Join(c.Dir, "demo", "tokens.txt"), logPath)
	fmt.Fprintf(os.Stderr, "  Addresses: %s (`. %s` sets COP_URL, COP_KAFKA, ...)   Stop: Ctrl-C\n\n", envPath, envPath)

	gen := &inject.Demo{Bus: bus.Config{Brokers: bus.Brokers(c.Kafka), Namespace: c.Namespace}, Rate: c.Rate, Log: log}
	go gen.Run(sctx)
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	const summaryEvery = 10 * time.Second
	summary := time.NewTicker(summaryEvery)
	defer summary.Stop()
	for {
		select {
		case err := <-serveErr:
			return err
		case <-ctx.Done():
			cancel()
			<-serveErr
			fmt.Fprintln(os.Stderr, "COP demo stopped. ClickHouse keeps running for the next run; stop it with `scripts/services stop`.")
			return nil
		case <-t.C:
			printStatus(ctx, addr, tokens["admin"], gen)
		case <-summary.C:
			if line := console.Summary(summaryEvery); line != "" {
				fmt.Fprintln(os.Stderr, line)
			}
		}
	}
}

// startClickHouse runs scripts/services, which installs and starts the real server.
func startClickHouse(ctx context.Context) error {
	script := "scripts/services"
	if _, err := os.Stat(script); err != nil {
		return fmt.Errorf("cannot find %s: run `cop demo` from the repository root, or set COP_CLICKHOUSE", script)
	}
	cmd := exec.CommandContext(ctx, "bash", script, "start", "clickhouse")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cannot start ClickHouse with %s: %w", script, err)
	}
	return nil
}

// demoIdentities writes the identities file (hashes only) and a tokens file for the
// person running the demo, and points the server at it. The tokens of an earlier run are
// kept (its tokens file), unless c.NewTokens: a dashboard link keeps working across restarts.
func demoIdentities(c *demoConfig) (map[string]string, error) {
	var f access.File
	tokens := map[string]string{}
	if !c.NewTokens {
		tokens = readDemoTokens(filepath.Join(c.Dir, "demo", "tokens.txt"))
	}
	add := func(id access.Identity) {
		tok, ok := tokens[id.Name]
		if !ok {
			tok, _ = access.NewToken()
			tokens[id.Name] = tok
		}
		f.Identities = append(f.Identities, access.Entry{Identity: id, TokenSHA256: access.HashToken(tok)})
	}
	for _, id := range demoViewers() {
		add(id)
	}
	// The crisis liaison officer of the crisis board (EU-CyCLONe): crises across missions.
	add(access.Identity{Name: "liaison", Role: access.RoleLiaison, MaxTLP: event.TLPAmber})
	for _, name := range demoContributors() {
		add(access.Identity{Name: name, Role: access.RoleContributor, MaxTLP: event.TLPClear})
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	path := filepath.Join(c.Dir, "demo", "identities.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("cannot write %s: %w", path, err)
	}
	var lines strings.Builder
	for _, e := range f.Identities {
		fmt.Fprintf(&lines, "%-14s %-12s %s\n", e.Name, e.Role, tokens[e.Name])
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "demo", "tokens.txt"), []byte(lines.String()), 0o600); err != nil {
		return nil, fmt.Errorf("cannot write tokens file: %w", err)
	}
	c.Identities = path
	return tokens, nil
}

// readDemoTokens reads the tokens file demoIdentities wrote ("name role token" lines);
// missing or unreadable, it gives none, and new ones are minted.
func readDemoTokens(path string) map[string]string {
	tokens := map[string]string{}
	b, err := os.ReadFile(path)
	if err != nil {
		return tokens
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) == 3 && strings.HasPrefix(f[2], "cop_") {
			tokens[f[0]] = f[2]
		}
	}
	return tokens
}

// demoContributors are the demo's feeds and those of the exercise scenarios (fi-ncsc
// writes only in energy-cables), so every file `cop exercise gen --out` writes has a
// token to push it with.
func demoContributors() []string {
	var out []string
	for _, ct := range synth.Contributors {
		out = append(out, ct.Name)
	}
	for _, name := range scenario.Names {
		feeds, _ := scenario.Generate(name, scenario.Options{Seed: 1, Start: time.Unix(0, 0), Exercise: "CONTRIBUTORS"})
		for _, f := range feeds {
			if !slices.Contains(out, f.Contributor) {
				out = append(out, f.Contributor)
			}
		}
	}
	return out
}

// demoViewers are the demo's identities that look at the picture (cop bench quality
// measures their views).
func demoViewers() []access.Identity {
	return []access.Identity{
		{Name: "admin", Role: access.RoleAdmin, MaxTLP: event.TLPRed},
		{Name: "analyst", Role: access.RoleAnalyst, MaxTLP: event.TLPAmberStrict, Exercises: []string{"CYDEF-X"}},
		{Name: "cdr-althea", Role: access.RoleCommander, MaxTLP: event.TLPAmber, Missions: []string{"EUFOR-ALTHEA"}},
		{Name: "cdr-atalanta", Role: access.RoleCommander, MaxTLP: event.TLPAmber, Missions: []string{"EUNAVFOR-ATALANTA", "EUNAVFOR-ASPIDES"}},
	}
}

func printStatus(ctx context.Context, addr, token string, d *inject.Demo) {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/api/v1/stats", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(os.Stderr, "status: cannot read /api/v1/stats: %v\n", err)
		return
	}
	defer resp.Body.Close()
	var st struct {
		Events, Duplicates, Situations uint64
		DeadLetters                    uint64 `json:"dead_letters"`
	}
	json.NewDecoder(resp.Body).Decode(&st)
	// A redelivery keeps its id and is stored once; content re-sent under a new id is
	// stored marked as a duplicate: the two counts are different things.
	fmt.Fprintf(os.Stderr, "%s  sent %d new + %d redelivered (stored once) + %d malformed | ClickHouse: %d distinct events (%d re-sent under a new id), %d situations, %d dead letters\n",
		time.Now().Format("15:04:05"), d.Sent.Load(), d.Redelivered.Load(), d.Malformed.Load(), st.Events, st.Duplicates, st.Situations, st.DeadLetters)
}
