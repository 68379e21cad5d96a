package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/cidcc/cop/api"
	"github.com/cidcc/cop/correlate"
	"github.com/cidcc/cop/correlate/pipeline"
	"github.com/cidcc/cop/ingest"
	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/metrics"
	"github.com/cidcc/cop/internal/store"
	"github.com/cidcc/cop/ui"
)

type serveConfig struct {
	Kafka, ClickHouse, Listen, Identities string
	Insecure                              bool
	Partitions                            int
	Namespace                             string
	// TLS: with TLSCert and TLSKey, TLS 1.3 only; with TLSClientCA, mutual TLS as well.
	TLSCert, TLSKey, TLSClientCA string
	// PushRate and PushBurst limit pushes per contributor (requests/s; 0: no limit).
	PushRate  float64
	PushBurst int
	// State is the correlator's state file ("": none, the engine starts empty);
	// SnapshotEvery how often it is written.
	State         string
	SnapshotEvery time.Duration
	// PictureMax caps the situations the live picture keeps in memory.
	PictureMax int
}

func serveFlags(c *serveConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.Kafka, "kafka", env("COP_KAFKA", "127.0.0.1:19092"), "Kafka brokers, comma-separated")
	fs.StringVar(&c.ClickHouse, "clickhouse", env("COP_CLICKHOUSE", "127.0.0.1:19000"), "ClickHouse native address")
	fs.StringVar(&c.Listen, "listen", env("COP_LISTEN", "127.0.0.1:8080"), "HTTP listen address")
	fs.StringVar(&c.Identities, "identities", env("COP_IDENTITIES", ""), "identities file (JSON; see `cop token create`)")
	fs.BoolVar(&c.Insecure, "insecure-dev", false, "serve without authentication (every caller is an admin); development only")
	fs.IntVar(&c.Partitions, "partitions", 4, "partitions for topics COP creates")
	fs.StringVar(&c.Namespace, "namespace", env("COP_NAMESPACE", "cop"), "prefix of every Kafka topic and consumer group")
	fs.StringVar(&c.TLSCert, "tls-cert", env("COP_TLS_CERT", ""), "TLS certificate (PEM); with --tls-key, serve TLS 1.3 only, post-quantum key exchange preferred")
	fs.StringVar(&c.TLSKey, "tls-key", env("COP_TLS_KEY", ""), "TLS private key (PEM)")
	fs.StringVar(&c.TLSClientCA, "tls-client-ca", env("COP_TLS_CLIENT_CA", ""), "CA (PEM) for client certificates: a verified certificate's subject CN names its identity")
	fs.Float64Var(&c.PushRate, "push-rate", 20, "pushes per second each contributor may make (0: unlimited); over it, 429 with Retry-After")
	fs.IntVar(&c.PushBurst, "push-burst", 40, "pushes a contributor may make at once before --push-rate applies")
	fs.StringVar(&c.State, "state", env("COP_STATE_FILE", ""), "correlator state file (engine snapshot + committed offsets); default .cop/state/<namespace>-correlate.snap, \"off\" for none")
	fs.DurationVar(&c.SnapshotEvery, "snapshot-every", 30*time.Second, "how often the correlator writes its state file (and on every clean stop)")
	fs.IntVar(&c.PictureMax, "picture-max", 100_000, "situations the live picture keeps in memory; beyond, the least recently changed are dropped")
	return fs
}

func runServe(ctx context.Context, args []string) error {
	var c serveConfig
	if err := serveFlags(&c).Parse(args); err != nil {
		return err
	}
	switch c.State {
	case "":
		c.State = filepath.Join(".cop", "state", c.Namespace+"-correlate.snap")
	case "off":
		c.State = ""
	}
	return serve(ctx, c, newLogger("serve"), nil)
}

// serve runs every stage until ctx is done. When started is not nil it receives the HTTP
// address once the server listens.
func serve(ctx context.Context, c serveConfig, log zerolog.Logger, started chan<- string) error {
	var tlsConfig *tls.Config
	if c.TLSCert != "" || c.TLSKey != "" || c.TLSClientCA != "" {
		if c.TLSClientCA != "" && c.Identities == "" {
			return errors.New("--tls-client-ca needs --identities: a client certificate's CN must name an identity there")
		}
		var err error
		if tlsConfig, err = api.TLSConfig(c.TLSCert, c.TLSKey, c.TLSClientCA); err != nil {
			return err
		}
	}
	var auth api.Authenticator
	switch {
	case c.Identities != "":
		tokens, err := access.LoadTokens(c.Identities)
		if err != nil {
			return err
		}
		auth = tokens
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for range hup {
				if err := tokens.Reload(c.Identities); err != nil {
					log.Error().Err(err).Msg("identities not reloaded")
				} else {
					log.Info().Msg("identities reloaded")
				}
			}
		}()
	case !c.Insecure:
		return errors.New("no identities file (--identities or COP_IDENTITIES): refusing to serve without authentication; use --insecure-dev for development only")
	default:
		log.Warn().Msg("--insecure-dev: every caller is an admin; never use this outside development")
	}

	st, err := openStore(ctx, c.ClickHouse, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if applied, err := st.Migrate(ctx); err != nil {
		return err
	} else if len(applied) > 0 {
		log.Info().Strs("migrations", applied).Str("clickhouse", st.Version).Msg("schema migrated")
	}
	bc := bus.Config{Brokers: bus.Brokers(c.Kafka), Partitions: c.Partitions, Namespace: c.Namespace}
	kafkaLog := log.With().Str("component", "kafka").Logger()
	bc.ErrorLog = func(format string, args ...any) { kafkaLog.Warn().Msgf(format, args...) }
	if err := retryStart(ctx, log, "create Kafka topics", func() error {
		return bus.EnsureTopics(ctx, bc, bc.Events(), bc.Picture(), bc.DeadLetter())
	}); err != nil {
		return err
	}

	reg := &metrics.Registry{}
	picture := api.NewPicture(api.PictureConfig{MaxSituations: c.PictureMax, Metrics: reg})
	missions := access.DefaultMissions()
	hub := api.NewHub(picture, missions, log.With().Str("component", "hub").Logger(), reg, 150*time.Millisecond)
	gw := &ingest.Gateway{Bus: bc, Writer: bus.NewWriter(bc, ""), Log: log.With().Str("component", "gateway").Logger(), Metrics: reg}
	defer gw.Writer.Close()
	srv := &api.Server{
		Auth: auth, Insecure: c.Insecure, Store: st, Picture: picture, Hub: hub, Missions: missions,
		Metrics: reg, Log: log.With().Str("component", "api").Logger(), UI: ui.Files(),
		Ready: func(ctx context.Context) error {
			if err := st.Ping(ctx); err != nil {
				return fmt.Errorf("ClickHouse: %w", err)
			}
			if _, err := bus.Partitions(ctx, bc, bc.Events()); err != nil {
				return fmt.Errorf("kafka: %w", err)
			}
			return nil
		},
		Push:      func(w http.ResponseWriter, r *http.Request, id access.Identity) { gw.Push(w, r, id.Name) },
		PushLimit: api.NewRateLimiter(c.PushRate, c.PushBurst),
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				log.Error().Err(err).Str("stage", name).Msg("stage stopped")
				cancel()
			}
		}()
	}
	run("ingest", (&ingest.Consumer{Bus: bc, Log: log.With().Str("component", "ingest").Logger(), Metrics: reg}).Run)
	// Situation ids are minted from the engine instance, so it must never repeat: not
	// across namespaces sharing one ClickHouse, not across restarts that start from an
	// empty engine (cop.picture still holds the old situations). A restored engine takes
	// the instance recorded in its state file instead.
	ecfg := correlate.DefaultConfig()
	ecfg.Instance = fmt.Sprintf("%s-%d-%d", c.Namespace, os.Getpid(), time.Now().UnixNano())
	run("correlate", (&pipeline.Correlator{Bus: bc, Store: st, Engine: correlate.New(ecfg), EngineConfig: &ecfg,
		Log: log.With().Str("component", "correlate").Logger(), Metrics: reg,
		StatePath: c.State, SnapshotEvery: c.SnapshotEvery}).Run)
	run("deadletter", (&pipeline.DeadLetterSink{Bus: bc, Store: st, Log: log.With().Str("component", "deadletter").Logger()}).Run)
	run("picture", func(ctx context.Context) error {
		return picture.Follow(ctx, bc, log.With().Str("component", "picture").Logger())
	})
	stopHub := make(chan struct{})
	go hub.Run(stopHub)

	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", c.Listen, err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("HTTP server stopped")
			cancel()
		}
	}()
	log.Info().Str("listen", ln.Addr().String()).Bool("tls", tlsConfig != nil).Bool("mtls", c.TLSClientCA != "").Str("kafka", c.Kafka).Str("clickhouse", c.ClickHouse).Msg("COP serving")
	if started != nil {
		started <- ln.Addr().String()
	}
	<-ctx.Done()
	log.Info().Msg("shutting down: draining in-flight batches")
	close(stopHub)
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	hs.Shutdown(sctx)
	wg.Wait()
	return nil
}

func openStore(ctx context.Context, addr string, log zerolog.Logger) (*store.Store, error) {
	var st *store.Store
	err := retryStart(ctx, log, "connect to ClickHouse", func() error {
		var err error
		st, err = store.Open(ctx, addr)
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
