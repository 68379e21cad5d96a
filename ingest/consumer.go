package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/deadletter"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/keys"
	"github.com/cidcc/cop/internal/metrics"
)

// Kafka message headers a contributor may set on its feed topic.
const (
	HeaderFormat   = "cop-format"   // native, stix, misp or a media type; sniffed when absent
	HeaderExercise = "cop-exercise" // exercise name; absent for real traffic
)

// Consumer reads every cop.feed.<contributor> topic in one consumer group, turns each
// message into events on cop.events and dead letters on cop.deadletter, and commits the
// feed offsets only after both are acknowledged by all replicas.
type Consumer struct {
	Bus     bus.Config
	Group   string // default "cop-ingest"
	Log     zerolog.Logger
	Metrics *metrics.Registry
	// Keys mints event ids (internal/keys).
	Keys *keys.Ring
	// Rescan is how often new feed topics are looked for (default 10 s).
	Rescan time.Duration
}

// Run consumes until ctx is done. Transient Kafka errors are retried; only ctx ends it.
func (c *Consumer) Run(ctx context.Context) error {
	if c.Group == "" {
		c.Group = c.Bus.Group("ingest")
	}
	if c.Rescan == 0 {
		c.Rescan = 10 * time.Second
	}
	if c.Metrics == nil {
		c.Metrics = &metrics.Registry{}
	}
	out := bus.NewWriter(c.Bus, "")
	defer out.Close()
	for ctx.Err() == nil {
		topics, err := bus.ListTopics(ctx, c.Bus, c.Bus.FeedPrefix())
		if err != nil || len(topics) == 0 {
			if err != nil {
				c.Log.Warn().Err(err).Msg("cannot list feed topics; retrying")
			}
			bus.Pause(ctx, time.Second)
			continue
		}
		c.Log.Info().Strs("topics", topics).Msg("consuming feed topics")
		if err := c.consume(ctx, topics, out); err != nil && ctx.Err() == nil {
			c.Log.Warn().Err(err).Msg("feed consumer restarting")
			bus.Pause(ctx, time.Second)
		}
	}
	return nil
}

var errTopicsChanged = errors.New("feed topics changed")

func (c *Consumer) consume(ctx context.Context, topics []string, out *kafka.Writer) error {
	r := bus.NewGroupReader(c.Bus, c.Group, topics...)
	defer r.Close()
	in := c.Metrics.Counter(`cop_ingest_messages_total`, "Feed messages read.")
	accepted := c.Metrics.Counter(`cop_ingest_events_total`, "Events accepted by ingest.")
	letters := c.Metrics.Counter(metricDeadLetters, helpDeadLetters)
	rejected := c.Metrics.Counter(metricRejected, helpRejected)
	// Two batches are in hand at most: one being written and committed while the next is
	// fetched and parsed. Its offsets are committed only after that write, and the next
	// batch's write starts only after that commit, so commits stay in order.
	var (
		bufs     [2][]kafka.Message
		outs     [2][]kafka.Message
		cur      int
		inflight chan error
		next     = time.Now().Add(c.Rescan)
	)
	wait := func() error {
		if inflight == nil {
			return nil
		}
		err := <-inflight
		inflight = nil
		return err
	}
	defer wait()
	for {
		if time.Now().After(next) {
			now, err := bus.ListTopics(ctx, c.Bus, c.Bus.FeedPrefix())
			if err == nil && !slices.Equal(now, topics) {
				return errors.Join(errTopicsChanged, wait())
			}
			next = time.Now().Add(c.Rescan)
		}
		fctx, cancel := context.WithTimeout(ctx, c.Rescan)
		msgs, err := bus.FetchBatch(fctx, r, bufs[cur], 5000, 20*time.Millisecond)
		cancel()
		bufs[cur] = msgs
		if err != nil && len(msgs) == 0 {
			if ctx.Err() != nil {
				return errors.Join(ctx.Err(), wait())
			}
			if errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			return errors.Join(fmt.Errorf("cannot fetch feed messages: %w", err), wait())
		}
		outMsgs, n, err := c.convert(msgs, outs[cur][:0])
		outs[cur] = outMsgs
		if err != nil {
			return errors.Join(err, wait())
		}
		in.Add(uint64(len(msgs)))
		accepted.Add(n.accepted)
		letters.Add(n.letters)
		rejected.Add(n.rejected)
		if err := wait(); err != nil {
			return err
		}
		inflight = make(chan error, 1)
		go func(msgs, outMsgs []kafka.Message) {
			if err := writeAll(ctx, out, outMsgs); err != nil {
				inflight <- err
				return
			}
			if err := r.CommitMessages(ctx, msgs...); err != nil {
				inflight <- fmt.Errorf("cannot commit feed offsets: %w", err)
				return
			}
			inflight <- nil
		}(msgs, outMsgs)
		cur = 1 - cur
	}
}

// converted counts what convert made of a batch.
type converted struct {
	accepted, letters, rejected uint64 // events, dead letters, rejected elements
}

// convert turns feed messages into cop.events and cop.deadletter messages, appended to
// dst in the order of msgs. Parsing is spread over the cores: one contiguous share of
// msgs each.
func (c *Consumer) convert(msgs []kafka.Message, dst []kafka.Message) (_ []kafka.Message, n converted, err error) {
	now := time.Now().UTC()
	shares := min(runtime.GOMAXPROCS(0), max(1, len(msgs)/200))
	parts := make([][]kafka.Message, shares)
	counts := make([]converted, shares)
	errs := make([]error, shares)
	var wg sync.WaitGroup
	for k := range shares {
		lo, hi := k*len(msgs)/shares, (k+1)*len(msgs)/shares
		wg.Go(func() {
			var out []kafka.Message
			for i := lo; i < hi; i++ {
				m := &msgs[i]
				res := c.accept(m, now)
				for j := range res.Events {
					e := &res.Events[j]
					v, err := e.AppendJSON(nil)
					if err != nil {
						errs[k] = fmt.Errorf("BUG: cannot encode event %s: %w", e.ID, err)
						return
					}
					out = append(out, kafka.Message{Topic: c.Bus.Events(), Key: EventKey(e), Value: v})
				}
				if l := res.Letter; l != nil {
					v, _ := json.Marshal(l)
					out = append(out, kafka.Message{Topic: c.Bus.DeadLetter(), Key: []byte(l.Contributor), Value: v})
					c.Log.Warn().Str("contributor", l.Contributor).Str("topic", m.Topic).Int("partition", m.Partition).
						Int64("offset", m.Offset).Int("rejected", l.Rejected).Str("reason", logSafe(l.Reason)).Msg("dead letter")
					counts[k].letters++
					counts[k].rejected += uint64(l.Rejected)
				}
				counts[k].accepted += uint64(len(res.Events))
			}
			parts[k] = out
		})
	}
	wg.Wait()
	for k := range shares {
		if errs[k] != nil {
			return dst, converted{}, errs[k]
		}
		dst = append(dst, parts[k]...)
		n.accepted += counts[k].accepted
		n.letters += counts[k].letters
		n.rejected += counts[k].rejected
	}
	return dst, n, nil
}

func (c *Consumer) accept(m *kafka.Message, now time.Time) Result {
	contributor, _ := c.Bus.Contributor(m.Topic)
	source := "kafka:" + m.Topic + "/" + strconv.Itoa(m.Partition) + "@" + strconv.FormatInt(m.Offset, 10)
	var format Format
	var exercise string
	for _, h := range m.Headers {
		switch h.Key {
		case HeaderFormat:
			f, err := ParseFormat(string(h.Value))
			if err != nil {
				l := deadletter.New(contributor, source, event.Clip(string(h.Value)), m.Value, now, "header "+HeaderFormat+": "+err.Error())
				return Result{Letter: &l}
			}
			format = f
		case HeaderExercise:
			exercise = string(h.Value)
		}
	}
	return Accept(format, m.Value, event.Source{Contributor: contributor, ReceivedAt: now, IDKey: c.Keys.IDs()}, source, exercise)
}

// EventKey is the cop.events key of e: its primary observable, so one correlator owns
// each observable; events without observables are keyed by id.
func EventKey(e *event.Event) []byte {
	if o, ok := e.Primary(); ok {
		return []byte(e.Exercise + "|" + o.String())
	}
	return []byte(e.ID)
}

// writeAll writes msgs, retrying until they are acknowledged or ctx ends: a feed offset is
// never committed before what it produced is durable.
func writeAll(ctx context.Context, w *kafka.Writer, msgs []kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	for attempt := 0; ; attempt++ {
		err := w.WriteMessages(ctx, msgs...)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || attempt >= 20 {
			return fmt.Errorf("cannot write %d messages: %w", len(msgs), err)
		}
		bus.Pause(ctx, time.Duration(attempt+1)*200*time.Millisecond)
	}
}

// logSafe returns a dead-letter reason fit for the log: every quoted value ("…" or '…')
// is elided and the rest truncated. Reasons quote payload values (an id, a category, a
// title), and the payload may be TLP:AMBER+ or of unknown marking; the full reason stays
// in cop.deadletter, behind access control, for the contributor to read.
func logSafe(reason string) string {
	var b strings.Builder
	b.Grow(len(reason))
	for i := 0; i < len(reason); i++ {
		c := reason[i]
		if c != '"' && c != '\'' {
			b.WriteByte(c)
			continue
		}
		// Skip to the matching close quote, honouring backslash escapes (%q output).
		j := i + 1
		for j < len(reason) && reason[j] != c {
			if reason[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(reason) { // unbalanced: drop the rest, it may be a value
			b.WriteString(string(c) + "…")
			break
		}
		b.WriteString(string(c) + "…" + string(c))
		i = j
	}
	return event.Truncate(b.String(), 300)
}
