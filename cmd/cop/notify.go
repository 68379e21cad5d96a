package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/deadletter"
	"github.com/cidcc/cop/internal/notify"
	"github.com/cidcc/cop/internal/store"
)

// openNotify loads the outbound recipients of --notify (nil without it): their alerts
// are audited, and those that cannot be delivered go to cop.deadletter.
func openNotify(c serveConfig, b *backends, missions access.Missions, anon access.Anonymiser, audit func(store.AuditEntry), log zerolog.Logger) (*notify.Notifier, error) {
	if c.Notify == "" {
		return nil, nil
	}
	cfg, err := notify.Load(c.Notify)
	if err != nil {
		return nil, err
	}
	n, err := notify.New(cfg, notify.Options{Version: version}, b.reg)
	if err != nil {
		return nil, err
	}
	nlog := log.With().Str("component", "notify").Logger()
	n.Missions, n.Anon, n.Audit, n.Log = missions, anon, audit, nlog
	n.DeadLetter = func(l deadletter.Letter) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.st.WriteDeadLetters(ctx, []deadletter.Letter{l}); err != nil {
			nlog.Error().Str("error", store.Redacted(err)).Str("source", l.Source).Msg("cannot store dead letter of an outbound alert")
		}
	}
	nlog.Info().Int("recipients", len(cfg.Recipients)).Msg("outbound alert recipients loaded")
	return n, nil
}
