package bench

import (
	"runtime"
	"time"

	"github.com/cidcc/cop/correlate"
	"github.com/cidcc/cop/internal/synth"
)

// EngineResult is one row of `cop bench correlate`.
type EngineResult struct {
	LiveObservables int
	Events          int
	// EventsPerSec and NsPerEvent time what the pipeline pays per batch, Engine.Apply and
	// Engine.Deltas, not the generator; ApplyNsPerEvent is the Apply part.
	EventsPerSec    float64
	NsPerEvent      float64
	ApplyNsPerEvent float64
	// BytesPerObservable is the heap the engine's state grew by while being filled with
	// LiveObservables observables, divided by them.
	BytesPerObservable float64
	AllocsPerEvent     float64
	Counters           correlate.Counters
}

// Fill returns an engine and a generator whose state holds liveObservables observables,
// and the heap bytes the engine grew by while being filled.
func Fill(liveObservables int) (*correlate.Engine, *synth.Stream, uint64) {
	g := synth.NewStream(1, liveObservables)
	g.Reserve(synth.StreamBatch) // size the generator's buffers outside the measurement
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cfg := correlate.DefaultConfig()
	cfg.MaxObservables = max(cfg.MaxObservables, 2*liveObservables) // fill without retiring
	cfg.MaxSituations = max(cfg.MaxSituations, 2*liveObservables)
	e := correlate.New(cfg)
	for !g.Prefilled() {
		e.Apply(g.Prefill(synth.StreamBatch), g.Time())
		e.Deltas()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	var grown uint64
	if after.HeapAlloc > before.HeapAlloc {
		grown = after.HeapAlloc - before.HeapAlloc
	}
	return e, g, grown
}

// Engine fills an engine with liveObservables observables, then times events steady-state
// events through Apply in batches of synth.StreamBatch.
func Engine(liveObservables, events int) EngineResult {
	e, g, grown := Fill(liveObservables)
	// Warm up: let both dedup windows (full once they evict) and the buffers reach
	// their steady size.
	for i := 0; i < 16 || !WindowsFull(e); i++ {
		e.Apply(g.Batch(synth.StreamBatch), g.Time())
		e.Deltas()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var spent, applying time.Duration
	for done := 0; done < events; done += synth.StreamBatch {
		b := g.Batch(min(synth.StreamBatch, events-done))
		now := g.Time()
		start := time.Now()
		e.Apply(b, now)
		applied := time.Now()
		e.Deltas()
		spent += time.Since(start)
		applying += applied.Sub(start)
	}
	runtime.ReadMemStats(&after)
	r := EngineResult{LiveObservables: liveObservables, Events: events, Counters: e.Counters()}
	if events > 0 && spent > 0 {
		r.NsPerEvent = float64(spent.Nanoseconds()) / float64(events)
		r.ApplyNsPerEvent = float64(applying.Nanoseconds()) / float64(events)
		r.EventsPerSec = float64(events) / spent.Seconds()
		r.AllocsPerEvent = float64(after.Mallocs-before.Mallocs) / float64(events)
	}
	if liveObservables > 0 {
		r.BytesPerObservable = float64(grown) / float64(liveObservables)
	}
	return r
}

// WindowsFull reports whether both dedup windows have evicted: they have reached their
// steady size, and a measurement from then on does not time their growth.
func WindowsFull(e *correlate.Engine) bool {
	c := e.Counters()
	return c.EvictedIDs > 0 && c.EvictedFingerprints > 0
}
