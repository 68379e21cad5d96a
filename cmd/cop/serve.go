package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/cidcc/cop/api"
	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/alert"
	"github.com/cidcc/cop/internal/event"
	pictures "github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

type serveConfig struct {
	Kafka, ClickHouse, Listen, Identities string
	Insecure                              bool
	Partitions                            int
	Namespace                             string
	// TLS: with TLSCert and TLSKey, TLS 1.3 only; with TLSClientCA, mutual TLS as well.
	TLSCert, TLSKey, TLSClientCA string
	// Limits bound each caller's cost (pushes, websockets, timeouts); zero fields take
	// api.DefaultLimits, so every serving command, the demo and tests included, is limited
	// unless it turns a limit off (negative).
	api.Limits
	// State is the correlator's state file ("": none, the engine starts empty);
	// SnapshotEvery how often it is written.
	State         string
	SnapshotEvery time.Duration
	// StoreFlushEvery is how often the correlator writes what it gathered to ClickHouse
	// (pipeline.Correlator.FlushEvery) once it holds StoreFlushMinRows rows; with fewer it
	// waits up to StoreFlushWait (FlushMinRows, FlushWait).
	StoreFlushEvery   time.Duration
	StoreFlushWait    time.Duration
	StoreFlushMinRows int
	// Retention bounds cop.audit and cop.deadletter (store.Retention, in months); the
	// correlate stage drops what is older every hour.
	Retention store.Retention
	// Stages is what this process runs (see stageNames); Replica, "i/n", makes its
	// correlate stage replica i of n (correlate/pipeline's Sequencer and Replica) instead
	// of the one correlator.
	Stages  string
	Replica string
	// Backends: TLS and credentials for Kafka and ClickHouse.
	Backends backendAuth
	// PictureMax caps the situations the live picture keeps in memory.
	PictureMax int
	// ViewTop bounds each websocket client's picture to its view's best N (0: no bound).
	ViewTop int
	// MaxObservables caps the correlation engine's state (correlate.Config.MaxObservables
	// and MaxSituations); 0 keeps the engine's default.
	MaxObservables int
	// DedupSize sets the engine's dedup windows (MaxEventIDs, MaxFingerprints); 0 keeps
	// the default.
	DedupSize int
	// Common is the engine's warning list (correlate.Config.Common): observables that
	// never link, as MISP's warning lists name public resolvers, CDNs and clouds. The
	// demo sets its synthetic world's (groundtruth.Hubs).
	Common []event.Observable
	// NoBuiltinWarningLists leaves out COP's own warning lists (internal/warninglist:
	// public resolvers, shorteners, file-sharing hosts), which Common otherwise starts with.
	NoBuiltinWarningLists bool
	// Aliases are the actors' synonyms campaigns link on (nil: the built-in table;
	// --galaxy adds MISP galaxy clusters to it).
	Aliases pictures.Aliases
	// FlushEvery is how often the hub sends each websocket client its coalesced deltas.
	FlushEvery time.Duration
	// Notify is the outbound alert recipients file (internal/notify; "": none).
	Notify string
	// Keys is the file of the deployment's secret keys (internal/keys): created on first
	// start, read by every later one; every process of one deployment must share it.
	Keys string
	// EscalationRules is the crisis escalation rules file ("": crisis.DefaultRules).
	EscalationRules string
	// Alerts also takes the alerts the crisis stage raises, beside the dashboards and the
	// outbound recipients (nil: none more); tests record them.
	Alerts alert.Sink
}

// stageNames are the stages a process can run; serve runs them all, `cop ingest`,
// `cop correlate` and `cop api` one each.
var stageNames = []string{"ingest", "correlate", "api"}

func serveFlags(c *serveConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.Kafka, "kafka", env("COP_KAFKA", "127.0.0.1:19092"), "Kafka brokers, comma-separated")
	fs.StringVar(&c.ClickHouse, "clickhouse", env("COP_CLICKHOUSE", "127.0.0.1:19000"), "ClickHouse native address")
	fs.StringVar(&c.Listen, "listen", env("COP_LISTEN", "127.0.0.1:8080"), "HTTP listen address")
	fs.StringVar(&c.Identities, "identities", env("COP_IDENTITIES", ""), "identities file (JSON; see `cop token create`)")
	fs.StringVar(&c.Notify, "notify", env("COP_NOTIFY", ""), "outbound alert recipients file (JSON: webhooks and syslog/CEF for national SOCs and liaison officers; docs/alerts.md)")
	fs.BoolVar(&c.Insecure, "insecure-dev", false, "serve without authentication (every caller is an admin); development only")
	fs.IntVar(&c.Partitions, "partitions", 4, "partitions for topics COP creates")
	fs.StringVar(&c.Namespace, "namespace", env("COP_NAMESPACE", "cop"), "prefix of every Kafka topic and consumer group")
	fs.StringVar(&c.TLSCert, "tls-cert", env("COP_TLS_CERT", ""), "TLS certificate (PEM); with --tls-key, serve TLS 1.3 only, post-quantum key exchange preferred")
	fs.StringVar(&c.TLSKey, "tls-key", env("COP_TLS_KEY", ""), "TLS private key (PEM)")
	fs.StringVar(&c.TLSClientCA, "tls-client-ca", env("COP_TLS_CLIENT_CA", ""), "CA (PEM) for client certificates: a verified certificate's subject CN names its identity")
	limitFlags(fs, &c.Limits)
	fs.StringVar(&c.State, "state", env("COP_STATE_FILE", ""), "correlator state file (engine snapshot + committed offsets); default .cop/state/<namespace>-correlate.snap, \"off\" for none")
	fs.DurationVar(&c.SnapshotEvery, "snapshot-every", 30*time.Second, "how often the correlator writes its state file (and on every clean stop)")
	fs.DurationVar(&c.StoreFlushEvery, "store-flush-every", time.Second, "how often the correlator writes events and situations to ClickHouse and then commits their offsets, once it holds --store-flush-min-rows rows (or sooner, at 50000 rows); each write is one insert per table, and small inserts cost ClickHouse merges; the live picture is not delayed")
	fs.DurationVar(&c.StoreFlushWait, "store-flush-wait", 10*time.Second, "how long the correlator lets fewer than --store-flush-min-rows rows wait before it writes them (a low rate's inserts are larger and cost ClickHouse fewer merges; the API sees events up to this much later)")
	fs.IntVar(&c.StoreFlushMinRows, "store-flush-min-rows", 5000, "event and situation rows a write every --store-flush-every needs; with fewer it waits up to --store-flush-wait")
	fs.IntVar(&c.Retention.Audit, "retain-audit", store.DefaultRetention.Audit, "months of cop.audit kept (whole months: the rows go a month at a time, by partition); 0 keeps it for ever")
	fs.IntVar(&c.Retention.DeadLetter, "retain-deadletter", store.DefaultRetention.DeadLetter, "months of cop.deadletter kept (whole months, by partition); 0 keeps it for ever")
	fs.StringVar(&c.Stages, "stages", strings.Join(stageNames, ","), "stages this process runs: any of "+strings.Join(stageNames, ","))
	c.Backends.flags(fs)
	fs.StringVar(&c.Replica, "replica", env("COP_REPLICA", ""), "with several correlators: this one's index and their count, e.g. 0/3 (every one also sequences cop.events)")
	fs.IntVar(&c.MaxObservables, "max-observables", 0, "cap of the correlation engine's observables and situations (0: the engine's default, 8M, about 2 GB); over it the longest-quiet situations are retired")
	fs.IntVar(&c.DedupSize, "dedup-size", 0, "event ids and content fingerprints the engine remembers for duplicate detection, each (0: the default, 2M; the oldest go first when full)")
	fs.DurationVar(&c.FlushEvery, "flush-every", 250*time.Millisecond, "how often each websocket client gets its coalesced deltas (100ms to 250ms: shorter costs more CPU per client)")
	fs.StringVar(&c.Keys, "keys", env("COP_KEYS_FILE", ""), "file of the secret keys event ids and pseudonyms are keyed with; created on first start; every process of a deployment must share it (default .cop/state/keys.json; `cop keys rotate` renews them)")
	fs.Func("warninglist", "a MISP warning list (JSON, as github.com/MISP/misp-warninglists publishes them) whose exact values never link situations nor campaigns: public resolvers, CDNs, sinkholes; repeat for several", func(path string) error {
		obs, summary, err := loadWarningList(path)
		if err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, summary)
		c.Common = append(c.Common, obs...)
		return nil
	})
	fs.BoolVar(&c.NoBuiltinWarningLists, "no-builtin-warninglists", false, "do not apply COP's built-in warning lists (public DNS resolvers, URL shorteners, file-sharing and cloud-storage hosts; internal/warninglist/builtin)")
	fs.Func("galaxy", "a MISP galaxy cluster of threat actors or intrusion sets (JSON, as github.com/MISP/misp-galaxy publishes clusters/threat-actor.json): its synonyms name one actor, so campaigns link reports naming it differently; added to the built-in table; repeat for several", func(path string) error {
		if c.Aliases == nil {
			c.Aliases = pictures.DefaultAliases()
		}
		summary, err := loadGalaxy(c.Aliases, path)
		if err == nil {
			fmt.Fprintln(os.Stderr, summary)
		}
		return err
	})
	fs.StringVar(&c.EscalationRules, "escalation-rules", env("COP_ESCALATION_RULES", ""), "crisis escalation rules (JSON, docs/crisis.md); default: the built-in rules")
	fs.IntVar(&c.ViewTop, "view-top", api.DefaultViewTop, "situations each websocket client is sent of its view, best first, with counts of the rest (it asks for more as it scrolls); 0 sends the whole view")
	fs.IntVar(&c.PictureMax, "picture-max", 100_000, "situations the live picture keeps in memory; beyond, the least recently changed are dropped")
	return fs
}

func runServe(ctx context.Context, args []string) error { return runStages(ctx, "serve", "", args) }

// runStages runs serve restricted to stage (all when ""): `cop ingest|correlate|api`.
func runStages(ctx context.Context, name, stage string, args []string) error {
	var c serveConfig
	if err := parseFlags(serveFlags(&c), args); err != nil {
		return err
	}
	if stage != "" {
		c.Stages = stage
	}
	switch c.State {
	case "":
		suffix := ""
		if c.Replica != "" {
			suffix = "-" + strings.ReplaceAll(c.Replica, "/", "-of-")
		}
		c.State = filepath.Join(".cop", "state", c.Namespace+"-correlate"+suffix+".snap")
	case "off":
		c.State = ""
	}
	return serve(ctx, c, newLogger(name), nil)
}

// stages parses --stages ("" is every stage) and --replica.
func (c serveConfig) stages() (set map[string]bool, index, count int, err error) {
	set = map[string]bool{}
	list := c.Stages
	if list == "" {
		list = strings.Join(stageNames, ",")
	}
	for s := range strings.SplitSeq(list, ",") {
		if s = strings.TrimSpace(s); !slices.Contains(stageNames, s) {
			return nil, 0, 0, fmt.Errorf("--stages: unknown stage %q (want any of %s)", s, strings.Join(stageNames, ","))
		}
		set[s] = true
	}
	if c.Replica != "" {
		if _, err := fmt.Sscanf(c.Replica, "%d/%d", &index, &count); err != nil || count < 1 || index < 0 || index >= count {
			return nil, 0, 0, fmt.Errorf("--replica %q: want i/n with 0 <= i < n", c.Replica)
		}
	}
	return set, index, count, nil
}

// defaultKeysFile is where serve keeps the deployment's keys unless --keys says otherwise.
var defaultKeysFile = filepath.Join(".cop", "state", "keys.json")

// reloadOnHangup calls reload on every SIGHUP until the returned stop is called.
func reloadOnHangup(log zerolog.Logger, what string, reload func() error) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range hup {
			if err := reload(); err != nil {
				log.Error().Err(err).Msg(what + " not reloaded")
			} else {
				log.Info().Msg(what + " reloaded")
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(hup)
		<-done
	}
}

// serveTLS returns the TLS configuration the flags ask for, or nil for plain HTTP.
func serveTLS(c serveConfig) (*tls.Config, error) {
	if c.TLSCert == "" && c.TLSKey == "" && c.TLSClientCA == "" {
		return nil, nil
	}
	if c.TLSClientCA != "" && c.Identities == "" {
		return nil, errors.New("--tls-client-ca needs --identities: a client certificate's CN must name an identity there")
	}
	return api.TLSConfig(c.TLSCert, c.TLSKey, c.TLSClientCA)
}

// serveAuth loads the identities (reloaded on SIGHUP until stop), or refuses to serve without them
// unless --insecure-dev.
func serveAuth(c serveConfig, log zerolog.Logger) (auth api.Authenticator, stop func(), err error) {
	switch {
	case c.Identities != "":
		tokens, err := access.LoadTokens(c.Identities)
		if err != nil {
			return nil, nil, err
		}
		stop := reloadOnHangup(log, "identities", func() error { return tokens.Reload(c.Identities) })
		return tokens, stop, nil
	case !c.Insecure:
		return nil, nil, errors.New("no identities file (--identities or COP_IDENTITIES): refusing to serve without authentication; use --insecure-dev for development only")
	default:
		log.Warn().Msg("--insecure-dev: every caller is an admin; never use this outside development")
		return nil, func() {}, nil
	}
}

func openStore(ctx context.Context, addr string, o store.Options, log zerolog.Logger) (*store.Store, error) {
	var st *store.Store
	err := retryStart(ctx, log, "connect to ClickHouse", func() error {
		var err error
		st, err = store.OpenWith(ctx, addr, o)
		return err
	})
	return st, err
}

// retryStart retries f for up to a minute: services started alongside COP may still be
// coming up.
func retryStart(ctx context.Context, log zerolog.Logger, what string, f func() error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("cannot %s: %w", what, err)
		}
		log.Warn().Err(err).Msgf("cannot %s yet; retrying", what)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// dropExpired drops what is past r now and every hour until ctx ends. A failure is
// logged and tried again the next hour: nothing depends on it but disk.
func dropExpired(ctx context.Context, st *store.Store, r store.Retention, log zerolog.Logger) {
	for {
		dropped, err := st.DropExpired(ctx, time.Now(), r)
		if err != nil && ctx.Err() == nil {
			log.Warn().Err(err).Msg("cannot drop expired partitions; trying again in an hour")
		}
		if len(dropped) > 0 {
			log.Info().Strs("dropped", dropped).Int("audit_months", r.Audit).Int("deadletter_months", r.DeadLetter).Msg("expired partitions dropped")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Hour):
		}
	}
}
