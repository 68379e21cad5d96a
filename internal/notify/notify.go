// Package notify owns COP's outbound alerts: webhooks and syslog lines in CEF to the
// national SOCs and liaison officers of a recipients file (`cop serve --notify FILE`).
// Each recipient has a clearance like an identity's (TLP ceiling, the names that count
// for releasability, missions, exercises) and filters (kinds, score, countries); it is
// sent only the alerts that concern it and that it may see, decided through
// internal/access exactly as for a viewer, its subject anonymised for it.
//
// Delivery never holds up the picture: Raise only queues, each recipient has a bounded
// queue and one sender goroutine, and what does not fit is dropped and counted
// (cop_notify_dropped_total). A failed delivery is retried with exponential backoff,
// bounded in attempts and in time, then dead-lettered (cop.deadletter, through the
// function it is given) with the reason in words. docs/alerts.md describes the webhook
// signature, the CEF mapping and the retries. It owns no route and no storage.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/alert"
	"github.com/cidcc/cop/internal/deadletter"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/metrics"
	"github.com/cidcc/cop/internal/store"
)

// Config is the recipients file.
type Config struct {
	Recipients []Recipient `json:"recipients"`
}

// Recipient is one outbound destination and its clearance.
type Recipient struct {
	// Name identifies it (letters, digits, '.', '_', '-') in metrics, logs and the audit,
	// and counts as naming it in a releasability list, as an identity's name does.
	Name string `json:"name"`
	// TLPMax is its ceiling; RED reaches it only when a releasability list names it.
	TLPMax event.TLP `json:"tlp_max"`
	// Missions are the missions it serves: they count for releasability, and an alert
	// concerns it only if its subject is in one of their areas. None: every area.
	Missions []string `json:"missions,omitempty"`
	// Exercises it may be told of ("" — the real picture — always).
	Exercises []string `json:"exercises,omitempty"`
	// Kinds of alert it wants (situation, campaign, crisis); none: every kind.
	Kinds []alert.Kind `json:"kinds,omitempty"`
	// MinScore: alerts whose subject scores less are not sent.
	MinScore float64 `json:"min_score,omitempty"`
	// Countries, if set: only alerts whose subject touches one of them (ISO 3166 alpha-2).
	Countries []string `json:"countries,omitempty"`
	// Exactly one of Webhook and Syslog.
	Webhook *Webhook `json:"webhook,omitempty"`
	Syslog  *Syslog  `json:"syslog,omitempty"`
}

// Webhook is an HTTP(S) endpoint that is POSTed each alert as JSON, signed with Secret.
type Webhook struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

// Syslog is a syslog receiver sent RFC 5424 lines carrying CEF.
type Syslog struct {
	Address string `json:"address"`          // host:port
	Network string `json:"network"`          // "tcp" or "udp"
	Format  string `json:"format,omitempty"` // "CEF" (the only one, the default)
}

// Options tune delivery; zero fields take the defaults.
type Options struct {
	// Queue is how many alerts wait per recipient (default 256); beyond, they are dropped.
	Queue int
	// Attempts bounds the deliveries of one alert (default 5), MaxElapsed the time from
	// its first attempt to its last (default 2 minutes); then it is dead-lettered.
	Attempts   int
	MaxElapsed time.Duration
	// Backoff is the wait after the first failure (default 500 ms), doubled after each
	// one up to MaxBackoff (default 30 s), ±20% jitter unless NoJitter.
	Backoff, MaxBackoff time.Duration
	NoJitter            bool
	// Timeout bounds one attempt (default 10 s).
	Timeout time.Duration
	// Version is COP's version in CEF headers and the webhook's User-Agent.
	Version string
}

func (o *Options) setDefaults() {
	if o.Queue <= 0 {
		o.Queue = 256
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.MaxElapsed <= 0 {
		o.MaxElapsed = 2 * time.Minute
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Version == "" {
		o.Version = "0"
	}
}

// Notifier delivers alerts to the recipients of a Config. It implements alert.Sink.
type Notifier struct {
	// Missions are the mission areas recipients' missions name.
	Missions access.Missions
	// Anon names anonymised contributors to each recipient by its pseudonym.
	Anon access.Anonymiser
	// DeadLetter receives what could not be delivered; nil drops it (logged).
	DeadLetter func(deadletter.Letter)
	// Audit records each delivery and dead letter; nil records none.
	Audit func(store.AuditEntry)
	Log   zerolog.Logger

	opts       Options
	recipients []*recipient
	dropOnce   sync.Once
	dropLog    zerolog.Logger // sampled: see drops
}

// recipient is a Recipient being served.
type recipient struct {
	Recipient
	id      access.Identity
	queue   chan alert.Alert
	deliver transport

	sent, dropped, retried, dead *metrics.Counter
}

// transport sends one message; a permanent error is not retried.
type transport interface {
	kind() string
	encode(r *recipient, a alert.Alert) ([]byte, error)
	send(ctx context.Context, msg []byte, a *alert.Alert, attempt int) error
	close()
}

// permanent marks an error a retry cannot fix (a 4xx answer, a redirect).
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// Load reads and checks the recipients file at path.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("cannot read recipients file: %w", err)
	}
	var c Config
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("cannot parse recipients file %s: %w", path, err)
	}
	if err := c.Check(); err != nil {
		return Config{}, fmt.Errorf("recipients file %s: %w", path, err)
	}
	return c, nil
}

var validName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Check reports the first field of c that is missing or wrong, and what was expected.
func (c Config) Check() error {
	seen := map[string]bool{}
	for i, r := range c.Recipients {
		at := fmt.Sprintf("recipients[%d]", i)
		switch {
		case !validName.MatchString(r.Name):
			return fmt.Errorf("%s.name: want 1 to 64 letters, digits, '.', '_' or '-'", at)
		case seen[strings.ToUpper(r.Name)]:
			return fmt.Errorf("%s.name: %q is named twice", at, r.Name)
		case r.TLPMax == 0:
			return fmt.Errorf("%s.tlp_max: want CLEAR, GREEN, AMBER, AMBER+STRICT or RED", at)
		case (r.Webhook == nil) == (r.Syslog == nil):
			return fmt.Errorf("%s: want exactly one of webhook and syslog", at)
		case r.MinScore < 0 || r.MinScore > 100:
			return fmt.Errorf("%s.min_score: want 0 to 100", at)
		}
		seen[strings.ToUpper(r.Name)] = true
		for _, k := range r.Kinds {
			if !slices.Contains([]alert.Kind{alert.KindSituation, alert.KindCampaign, alert.KindCrisis}, k) {
				return fmt.Errorf("%s.kinds: %q, want situation, campaign or crisis", at, k)
			}
		}
		for _, m := range r.Missions {
			if _, ok := access.DefaultMissions()[strings.ToUpper(m)]; !ok {
				return fmt.Errorf("%s.missions: unknown mission %q", at, m)
			}
		}
		if w := r.Webhook; w != nil {
			u, err := url.Parse(w.URL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return fmt.Errorf("%s.webhook.url: want an http:// or https:// URL", at)
			}
			if len(w.Secret) < 16 {
				return fmt.Errorf("%s.webhook.secret: want at least 16 characters", at)
			}
		}
		if s := r.Syslog; s != nil {
			if s.Network != "tcp" && s.Network != "udp" {
				return fmt.Errorf("%s.syslog.network: want tcp or udp", at)
			}
			if _, _, err := net.SplitHostPort(s.Address); err != nil {
				return fmt.Errorf("%s.syslog.address: want host:port", at)
			}
			if s.Format != "" && !strings.EqualFold(s.Format, "CEF") {
				return fmt.Errorf("%s.syslog.format: want CEF", at)
			}
		}
	}
	return nil
}

// New returns a notifier for c's recipients; Run starts delivering. Set the exported
// fields before Run.
func New(c Config, o Options, reg *metrics.Registry) (*Notifier, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	o.setDefaults()
	if reg == nil {
		reg = &metrics.Registry{}
	}
	n := &Notifier{opts: o, Log: zerolog.Nop()}
	for _, rc := range c.Recipients {
		r := &recipient{Recipient: rc, queue: make(chan alert.Alert, o.Queue),
			id: access.Identity{Name: rc.Name, Role: access.RoleLiaison, MaxTLP: rc.TLPMax, Missions: upper(rc.Missions), Exercises: upper(rc.Exercises)}}
		if rc.Webhook != nil {
			r.deliver = newWebhook(*rc.Webhook, o)
		} else {
			r.deliver = newSyslog(*rc.Syslog, o)
		}
		l := fmt.Sprintf(`{recipient=%q}`, rc.Name)
		r.sent = reg.Counter("cop_notify_sent_total"+l, "Alerts delivered to outbound recipients.")
		r.dropped = reg.Counter("cop_notify_dropped_total"+l, "Alerts not queued to an outbound recipient: its queue was full.")
		r.retried = reg.Counter("cop_notify_retries_total"+l, "Failed deliveries to outbound recipients that were retried.")
		r.dead = reg.Counter("cop_notify_deadlettered_total"+l, "Alerts dead-lettered after their deliveries failed.")
		n.recipients = append(n.recipients, r)
	}
	return n, nil
}

func upper(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strings.ToUpper(x)
	}
	return out
}

// Raise queues a for every recipient it concerns and that may see it; a full queue
// drops it for that recipient (counted, and logged at most a few times a second).
func (n *Notifier) Raise(a alert.Alert) {
	if a.ID == "" {
		n.Log.Error().Str("kind", string(a.Kind)).Msg("BUG: alert raised without an id; dropped")
		return
	}
	if a.At.IsZero() {
		a.At = time.Now().UTC()
	}
	for _, r := range n.recipients {
		if !r.concerned(&a, n.Missions) {
			continue
		}
		select {
		case r.queue <- a:
		default:
			r.dropped.Inc()
			n.drops().Warn().Str("recipient", r.Name).Str("alert", a.ID).Uint64("dropped", r.dropped.Load()).
				Msg("outbound alert queue full: alert dropped")
		}
	}
}

// concerned reports whether a is for r: its kind and score, an exercise r may be told
// of, and its subject visible to r's clearance in one of r's missions' areas (any area
// when r has none) and in one of its countries when it lists some.
func (r *recipient) concerned(a *alert.Alert, missions access.Missions) bool {
	s := &a.Subject
	if len(r.Kinds) > 0 && !slices.Contains(r.Kinds, a.Kind) || s.Score < r.MinScore || !r.id.AllowedExercise(s.Exercise) {
		return false
	}
	if len(r.Countries) > 0 && !slices.ContainsFunc(s.Countries, func(c string) bool {
		return slices.ContainsFunc(r.Countries, func(x string) bool { return strings.EqualFold(x, c) })
	}) {
		return false
	}
	if len(r.id.Missions) == 0 {
		return r.id.SituationVisible(s, access.View{Exercise: s.Exercise}, missions)
	}
	for _, m := range r.id.Missions {
		if r.id.SituationVisible(s, access.View{Mission: m, Exercise: s.Exercise}, missions) {
			return true
		}
	}
	return false
}

// drops is the sampled logger of dropped alerts (5 a second, then 1 in 100).
func (n *Notifier) drops() *zerolog.Logger {
	n.dropOnce.Do(func() {
		n.dropLog = n.Log.Sample(&zerolog.BurstSampler{Burst: 5, Period: time.Second, NextSampler: &zerolog.BasicSampler{N: 100}})
	})
	return &n.dropLog
}

// Run delivers queued alerts until ctx ends; then it stops every sender (an attempt in
// flight is cut, alerts still queued are counted as dropped) and returns.
func (n *Notifier) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, r := range n.recipients {
		wg.Go(func() { n.serve(ctx, r) })
	}
	wg.Wait()
	return nil
}

// Start is Run on a goroutine of its own: call the returned stop to end it and wait.
func (n *Notifier) Start() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.Run(ctx) }()
	return func() { cancel(); <-done }
}

func (n *Notifier) serve(ctx context.Context, r *recipient) {
	defer r.deliver.close()
	for {
		select {
		case <-ctx.Done():
			r.dropped.Add(uint64(len(r.queue)))
			return
		case a := <-r.queue:
			n.deliver(ctx, r, a)
		}
	}
}

// deliver sends a to r, retrying with backoff, and dead-letters it when every attempt
// failed or one failed for good.
func (n *Notifier) deliver(ctx context.Context, r *recipient, a alert.Alert) {
	a.Subject = n.Anon.Redact(&r.id, a.Subject)
	msg, err := r.deliver.encode(r, a)
	if err != nil {
		r.dropped.Inc()
		n.Log.Error().Err(err).Str("recipient", r.Name).Str("alert", a.ID).Msg("BUG: cannot encode alert; dropped")
		return
	}
	start := time.Now()
	wait := n.opts.Backoff
	attempts := 0
	for {
		attempts++
		actx, cancel := context.WithTimeout(ctx, n.opts.Timeout)
		err = r.deliver.send(actx, msg, &a, attempts)
		cancel()
		if err == nil {
			r.sent.Inc()
			n.audit(r, "alert.notify", a.ID, 200)
			return
		}
		if ctx.Err() != nil {
			return // stopping: not the receiver's fault
		}
		var perm permanent
		if errors.As(err, &perm) || attempts >= n.opts.Attempts || time.Since(start)+wait > n.opts.MaxElapsed {
			break
		}
		r.retried.Inc()
		n.Log.Warn().Str("recipient", r.Name).Str("alert", a.ID).Int("attempt", attempts).Dur("retry_in", wait).
			Str("error", err.Error()).Msg("outbound alert not delivered; retrying")
		d := wait
		if !n.opts.NoJitter {
			d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
		wait = min(2*wait, n.opts.MaxBackoff)
	}
	reason := fmt.Sprintf("%s %s: alert %s not delivered after %d attempt(s) over %s; last error: %v",
		r.deliver.kind(), r.Name, a.ID, attempts, time.Since(start).Round(time.Millisecond), err)
	r.dead.Inc()
	n.Log.Error().Str("recipient", r.Name).Str("alert", a.ID).Int("attempts", attempts).Str("error", err.Error()).
		Msg("outbound alert dead-lettered")
	n.audit(r, "alert.notify.deadletter", a.ID, 502)
	if n.DeadLetter != nil {
		n.DeadLetter(deadletter.New("", "notify:"+r.deliver.kind()+":"+r.Name+"/"+a.ID, "alert-"+r.deliver.kind(), msg, time.Now().UTC(), reason))
	}
}

func (n *Notifier) audit(r *recipient, action, alertID string, status int) {
	if n.Audit != nil {
		n.Audit(store.AuditEntry{At: time.Now().UTC(), Identity: r.Name, Role: "notify-" + r.deliver.kind(), Action: action,
			Filter: "alert:" + alertID, Rows: 1, Status: uint16(status)})
	}
}

// Status is one recipient as GET /api/v1/notify/recipients shows it (no secret).
type Status struct {
	Name         string       `json:"name"`
	Transport    string       `json:"transport"` // "webhook" or "syslog"
	Target       string       `json:"target"`    // the URL's scheme and host, or the syslog address
	TLPMax       event.TLP    `json:"tlp_max"`
	Missions     []string     `json:"missions,omitempty"`
	Kinds        []alert.Kind `json:"kinds,omitempty"`
	MinScore     float64      `json:"min_score,omitempty"`
	Queued       int          `json:"queued"`
	Sent         uint64       `json:"sent"`
	Dropped      uint64       `json:"dropped"`
	Retried      uint64       `json:"retried"`
	DeadLettered uint64       `json:"dead_lettered"`
}

// Status returns every recipient's state.
func (n *Notifier) Status() []Status {
	out := make([]Status, 0, len(n.recipients))
	for _, r := range n.recipients {
		st := Status{Name: r.Name, Transport: r.deliver.kind(), TLPMax: r.TLPMax, Missions: r.Missions, Kinds: r.Kinds,
			MinScore: r.MinScore, Queued: len(r.queue), Sent: r.sent.Load(), Dropped: r.dropped.Load(),
			Retried: r.retried.Load(), DeadLettered: r.dead.Load()}
		if r.Webhook != nil {
			if u, err := url.Parse(r.Webhook.URL); err == nil {
				st.Target = u.Scheme + "://" + u.Host
			}
		} else {
			st.Target = r.Syslog.Network + "://" + r.Syslog.Address
		}
		out = append(out, st)
	}
	return out
}
