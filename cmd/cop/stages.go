package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cidcc/cop/api"
	"github.com/cidcc/cop/correlate"
	"github.com/cidcc/cop/correlate/pipeline"
	"github.com/cidcc/cop/ingest"
	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/alert"
	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/crisis"
	"github.com/cidcc/cop/internal/keys"
	"github.com/cidcc/cop/internal/metrics"
	pictures "github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
	"github.com/cidcc/cop/internal/warninglist"
	"github.com/cidcc/cop/ui"
)

// backends are what the stages of one serve share: the key ring, the store (for the api
// and correlate stages), Kafka's configuration and the metrics.
type backends struct {
	ring *keys.Ring
	st   *store.Store
	bc   bus.Config
	reg  *metrics.Registry
}

// group runs the goroutines of one serve: each is owned, joined by wait, and the first to
// fail stops them all.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc
	log    zerolog.Logger
	wg     sync.WaitGroup
}

func newGroup(ctx context.Context, log zerolog.Logger) *group {
	g := &group{log: log}
	g.ctx, g.cancel = context.WithCancel(ctx)
	return g
}

// run runs f until the group's context ends; an error ends the group.
func (g *group) run(name string, f func(context.Context) error) {
	g.wg.Go(func() {
		if err := f(g.ctx); err != nil && g.ctx.Err() == nil {
			g.log.Error().Err(err).Str("stage", name).Msg("stage stopped")
			g.cancel()
		}
	})
}

// wait ends the group and waits for every goroutine.
func (g *group) wait() {
	g.cancel()
	g.wg.Wait()
}

// serve runs the stages c asks for until ctx is done. When started is not nil it receives
// the HTTP address once the server listens.
func serve(ctx context.Context, c serveConfig, log zerolog.Logger, started chan<- string) error {
	stages, index, count, err := c.stages()
	if err != nil {
		return err
	}
	if !c.NoBuiltinWarningLists {
		c.Common = append(warninglist.BuiltinValues(), c.Common...)
	}
	var tlsConfig *tls.Config
	var auth api.Authenticator
	if stages["api"] {
		if tlsConfig, err = serveTLS(c); err != nil {
			return err
		}
		var stopAuth func()
		if auth, stopAuth, err = serveAuth(c, log); err != nil {
			return err
		}
		defer stopAuth()
	}
	b, closeBackends, err := openBackends(ctx, c, stages["api"] || stages["correlate"], log)
	if err != nil {
		return err
	}
	defer closeBackends()

	g := newGroup(ctx, log)
	defer g.wait()
	if stages["ingest"] {
		g.run("ingest", (&ingest.Consumer{Bus: b.bc, Keys: b.ring, Log: log.With().Str("component", "ingest").Logger(), Metrics: b.reg}).Run)
	}
	if stages["correlate"] {
		runCorrelate(g, c, b, index, count, log)
	}
	addr := ""
	if stages["api"] {
		if addr, err = runAPI(g, c, b, auth, tlsConfig, log); err != nil {
			return err
		}
	}
	log.Info().Str("listen", addr).Str("stages", c.Stages).Str("replica", c.Replica).Bool("tls", tlsConfig != nil).
		Bool("mtls", c.TLSClientCA != "").Str("kafka", c.Kafka).Str("clickhouse", c.ClickHouse).Msg("COP serving")
	if started != nil && addr != "" {
		started <- addr
	}
	<-g.ctx.Done()
	log.Info().Msg("shutting down: draining in-flight batches")
	return nil
}

// openBackends opens what the stages share; withStore opens (and migrates) the store too.
func openBackends(ctx context.Context, c serveConfig, withStore bool, log zerolog.Logger) (*backends, func(), error) {
	b := &backends{reg: &metrics.Registry{}}
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	var err error
	if c.Keys == "" {
		c.Keys = defaultKeysFile
	}
	if b.ring, err = keys.Open(c.Keys); err != nil {
		return nil, nil, err
	}
	closers = append(closers, reloadOnHangup(log, "keys", b.ring.Reload))
	kafkaTLS, err := c.Backends.kafkaTLS()
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("kafka TLS: %w", err)
	}
	chOpts, err := c.Backends.clickhouse()
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("ClickHouse TLS: %w", err)
	}
	if withStore {
		if b.st, err = openStore(ctx, c.ClickHouse, chOpts, log); err != nil {
			closeAll()
			return nil, nil, err
		}
		closers = append(closers, func() { b.st.Close() })
		if applied, err := b.st.Migrate(ctx); err != nil {
			closeAll()
			return nil, nil, err
		} else if len(applied) > 0 {
			log.Info().Strs("migrations", applied).Str("clickhouse", b.st.Version).Msg("schema migrated")
		}
	}
	b.bc = bus.Config{Brokers: bus.Brokers(c.Kafka), Partitions: c.Partitions, Namespace: c.Namespace, TLS: kafkaTLS}
	kafkaLog := log.With().Str("component", "kafka").Logger()
	b.bc.ErrorLog = func(format string, args ...any) { kafkaLog.Warn().Msgf(format, args...) }
	if err := retryStart(ctx, log, "create Kafka topics", func() error {
		return bus.EnsureTopics(ctx, b.bc, b.bc.Events(), b.bc.Picture(), b.bc.DeadLetter())
	}); err != nil {
		closeAll()
		return nil, nil, err
	}
	return b, closeAll, nil
}

// runCorrelate starts the correlate stage: the one Correlator, or replica index of count
// (with a Sequencer), and the dead-letter sink.
func runCorrelate(g *group, c serveConfig, b *backends, index, count int, log zerolog.Logger) {
	clog := log.With().Str("component", "correlate").Logger()
	ecfg := correlate.DefaultConfig()
	ecfg.Common = c.Common
	if c.MaxObservables > 0 {
		ecfg.MaxObservables, ecfg.MaxSituations = c.MaxObservables, c.MaxObservables
	}
	if c.DedupSize > 0 {
		ecfg.MaxEventIDs, ecfg.MaxFingerprints = c.DedupSize, c.DedupSize
	}
	if count > 0 {
		g.run("sequence", (&pipeline.Sequencer{Bus: b.bc, Log: clog, Metrics: b.reg, Count: count}).Run)
		g.run("correlate", (&pipeline.Replica{Bus: b.bc, Store: b.st, Log: clog, Metrics: b.reg, Index: index,
			StatePath: c.State, SnapshotEvery: c.SnapshotEvery, EngineConfig: &ecfg, FlushEvery: c.StoreFlushEvery,
			FlushWait: c.StoreFlushWait, FlushMinRows: c.StoreFlushMinRows}).Run)
	} else {
		g.run("correlate", (&pipeline.Correlator{Bus: b.bc, Store: b.st, EngineConfig: &ecfg,
			Log: clog, Metrics: b.reg, StatePath: c.State, SnapshotEvery: c.SnapshotEvery, FlushEvery: c.StoreFlushEvery,
			FlushWait: c.StoreFlushWait, FlushMinRows: c.StoreFlushMinRows}).Run)
	}
	g.run("deadletter", (&pipeline.DeadLetterSink{Bus: b.bc, Store: b.st, Log: log.With().Str("component", "deadletter").Logger()}).Run)
	g.run("retention", func(ctx context.Context) error {
		dropExpired(ctx, b.st, c.Retention, log.With().Str("component", "retention").Logger())
		return nil
	})
}

// runAPI starts the api stage: the live picture and its hub, the push gateway and the
// HTTP server, and returns the address it listens on.
func runAPI(g *group, c serveConfig, b *backends, auth api.Authenticator, tlsConfig *tls.Config, log zerolog.Logger) (string, error) {
	picture := api.NewPicture(api.PictureConfig{MaxSituations: c.PictureMax, Metrics: b.reg})
	missions := access.DefaultMissions()
	rules := crisis.DefaultRules()
	if c.EscalationRules != "" {
		var err error
		if rules, err = crisis.LoadRules(c.EscalationRules); err != nil {
			return "", err
		}
	}
	anon := access.Anonymiser{Keys: b.ring}
	hub := api.NewHub(picture, missions, log.With().Str("component", "hub").Logger(), b.reg, cmp.Or(c.FlushEvery, 250*time.Millisecond))
	hub.Anon = anon
	hub.Campaigns = pictures.CampaignConfig{Common: c.Common, Aliases: c.Aliases}
	hubLimits := c.Limits
	if c.Insecure {
		hubLimits.WSPerIdentity = -1 // every caller is DevIdentity: a per-identity cap would be a global one
	}
	hub.SetLimits(hubLimits)
	audit := func(e store.AuditEntry) {
		if err := b.st.Audit(context.Background(), e); err != nil {
			log.Error().Str("error", store.Redacted(err)).Str("action", e.Action).Msg("cannot write audit row")
		}
	}
	hub.Audit = audit
	notifier, err := openNotify(c, b, missions, anon, audit, log)
	if err != nil {
		return "", err
	}
	// alerts is where the crisis code raises its alerts: every dashboard concerned, and
	// every outbound recipient concerned.
	alerts := alert.Fanout{hub}
	if notifier != nil {
		alerts = append(alerts, notifier)
	}
	if c.Alerts != nil {
		alerts = append(alerts, c.Alerts) // tests record them
	}
	hub.SetViewTop(c.ViewTop, api.DefaultCampaignEvery)
	gw := &ingest.Gateway{Bus: b.bc, Keys: b.ring, Writer: bus.NewWriter(b.bc, ""), Log: log.With().Str("component", "gateway").Logger(), Metrics: b.reg}
	srv := &api.Server{
		Auth: auth, Insecure: c.Insecure, Store: b.st, Picture: picture, Hub: hub, Missions: missions, Anon: anon,
		Metrics: b.reg, Log: log.With().Str("component", "api").Logger(), UI: ui.Files(),
		Ready: func(ctx context.Context) error {
			if err := b.st.Ping(ctx); err != nil {
				return fmt.Errorf("ClickHouse: %w", err)
			}
			if _, err := bus.Partitions(ctx, b.bc, b.bc.Events()); err != nil {
				return fmt.Errorf("kafka: %w", err)
			}
			return nil
		},
		Push:   func(w http.ResponseWriter, r *http.Request, id access.Identity) { gw.Push(w, r, id.Name) },
		Limits: c.Limits,
		Crises: crisisBoard(rules, missions, b.bc.Namespace, hub.Campaigns),
		Alerts: alerts,
		Notify: notifier,
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		gw.Writer.Close()
		return "", fmt.Errorf("cannot listen on %s: %w", c.Listen, err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	g.run("picture", func(ctx context.Context) error {
		return picture.Follow(ctx, b.bc, log.With().Str("component", "picture").Logger())
	})
	g.run("hub", func(ctx context.Context) error { hub.Run(ctx.Done()); return nil })
	g.run("crisis", srv.RunCrises)
	if notifier != nil {
		g.run("notify", notifier.Run)
		g.run("alerts", func(ctx context.Context) error {
			picture.WatchAlerts(ctx, notifier, 250*time.Millisecond, picture.Seq())
			return nil
		})
	}
	g.run("http", func(ctx context.Context) error { return serveHTTP(ctx, srv.HTTPServer(), ln, gw, log) })
	return ln.Addr().String(), nil
}

// serveHTTP serves hs on ln until ctx ends, then shuts it down (in-flight requests get 10
// s) and closes the gateway's writer after the last push.
func serveHTTP(ctx context.Context, hs *http.Server, ln net.Listener, gw *ingest.Gateway, log zerolog.Logger) error {
	defer gw.Writer.Close()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("HTTP server stopped: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn().Err(err).Msg("HTTP server did not shut down cleanly: requests still in flight were cut")
	}
	<-errc
	return nil
}

// crisisBoard is the api stage's crisis board, in the deployment's namespace.
func crisisBoard(rules *crisis.Rules, missions access.Missions, namespace string, links pictures.CampaignConfig) *api.CrisisBoard {
	b := api.NewCrisisBoard(rules, missions)
	b.Namespace, b.Campaigns = namespace, links
	return b
}
