package inject

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/cidcc/cop/ingest/native"
	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/groundtruth"
	"github.com/cidcc/cop/internal/synth"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
)

// Demo writes synthetic member-state feeds into Kafka: mostly new reports, some
// redeliveries of earlier messages (as a flaky producer would) and a few malformed ones.
// The reports are internal/groundtruth's labelled scenario (groundtruth.Stream), streamed
// for as long as the demo runs, so what a new user sees is what `cop bench quality`
// measures; each goes to its contributor's feed topic in COP's native JSON.
type Demo struct {
	Bus  bus.Config
	Rate int // messages per second
	Log  zerolog.Logger
	// What run has written so far; printStatus and the soak read them while it runs.
	Sent, Redelivered, Malformed atomic.Int64
}

func (d *Demo) Run(ctx context.Context) {
	w := bus.NewWriter(d.Bus, "")
	defer w.Close()
	seed := uint64(time.Now().UnixNano())
	// A new seed per run: source ids carry it, so a restarted demo sends new reports.
	truth := groundtruth.NewStream(groundtruth.Options{Seed: seed})
	gen := synth.New(seed) // its malformed messages
	rng := rand.New(rand.NewPCG(1, 2))
	var recent []kafka.Message
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	per := max(1, d.Rate/10)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		msgs := make([]kafka.Message, 0, per)
		for range per {
			switch r := rng.IntN(1000); {
			case r < 50 && len(recent) > 0:
				msgs = append(msgs, recent[rng.IntN(len(recent))])
				d.Redelivered.Add(1)
			case r < 55:
				ct := synth.Contributors[rng.IntN(len(synth.Contributors))]
				msgs = append(msgs, kafka.Message{Topic: d.Bus.FeedTopic(ct.Name), Value: gen.Malformed(rng.IntN(100))})
				d.Malformed.Add(1)
			default:
				ev, _ := truth.Next(time.Now().UTC())
				v, _ := json.Marshal(nativeInput(&ev))
				m := kafka.Message{Topic: d.Bus.FeedTopic(ev.Contributor), Value: v}
				msgs = append(msgs, m)
				if len(recent) < 1000 {
					recent = append(recent, m)
				} else {
					recent[rng.IntN(len(recent))] = m
				}
				d.Sent.Add(1)
			}
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil && ctx.Err() == nil {
			d.Log.Warn().Err(err).Msg("cannot write synthetic feed; retrying next tick")
		}
	}
}

// nativeInput is ev as its contributor would send it in COP's native JSON.
func nativeInput(ev *event.Event) native.Input {
	conf := int(ev.Confidence)
	return native.Input{ID: ev.SourceID, Kind: ev.Kind, ObservedAt: ev.ObservedAt.UTC().Truncate(time.Second),
		Observables: ev.Observables, Category: ev.Category, Techniques: ev.Techniques, Names: ev.Names,
		Sectors: ev.Sectors, Countries: ev.Countries, Geo: ev.Geo, Severity: ev.Severity, Confidence: &conf,
		TLP: ev.TLP, ReleasableTo: ev.ReleasableTo, Anonymise: ev.Anonymise, Title: ev.Title, Summary: ev.Summary}
}
