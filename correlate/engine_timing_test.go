package correlate_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cidcc/cop/correlate"
	"github.com/cidcc/cop/internal/bench"
	"github.com/cidcc/cop/internal/synth"
)

// filled caches prefilled engines across the benchmark's b.N rounds, which keep feeding
// the same steady state.
var filled = map[int]struct {
	e     *correlate.Engine
	g     *synth.Stream
	bytes uint64
}{}

// BenchmarkEngine times what the pipeline pays per batch: Engine.Apply and then
// Engine.Deltas for that batch, in batches of synth.StreamBatch pre-generated steady-state events
// (Zipf observable popularity, 20% duplicates). events/s counts both; apply-events/s
// counts Apply alone; cpu-events/s divides by the process's CPU time over the same spans
// instead of wall time, which on a shared machine includes waiting for a core.
// bytes/observable is the heap the state grew by while being filled with the live
// observables. state-bytes/observable is Engine.StateBytes at the end of the run over
// the same observables: it adds the dedup windows filled to their configured size and
// the situations the stream kept creating (an event whose observables are all hubs
// starts one), so it grows with the events fed until Config.RetireAfter retires them.
func BenchmarkEngine(b *testing.B) {
	for _, live := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			f, ok := filled[live]
			if !ok {
				f.e, f.g, f.bytes = bench.Fill(live)
				warmUp(f.e, f.g)
				filled[live] = f
			}
			e, g := f.e, f.g
			b.ReportAllocs()
			b.ResetTimer()
			var spent, applying, cpu time.Duration
			for done := 0; done < b.N; done += synth.StreamBatch {
				b.StopTimer()
				batch := g.Batch(min(synth.StreamBatch, b.N-done))
				now := g.Time()
				b.StartTimer()
				cpu0 := processCPU()
				start := time.Now()
				e.Apply(batch, now)
				applied := time.Now()
				e.Deltas()
				spent += time.Since(start)
				cpu += processCPU() - cpu0
				applying += applied.Sub(start)
			}
			b.ReportMetric(float64(b.N)/spent.Seconds(), "events/s")
			if cpu > 0 {
				b.ReportMetric(float64(b.N)/cpu.Seconds(), "cpu-events/s")
			}
			b.ReportMetric(float64(b.N)/applying.Seconds(), "apply-events/s")
			b.ReportMetric(float64(f.bytes)/float64(live), "bytes/observable")
			b.ReportMetric(float64(e.StateBytes())/float64(live), "state-bytes/observable")
		})
	}
}

// warmUp feeds steady-state batches until both dedup windows are full, so that the
// benchmark does not time their growth.
func warmUp(e *correlate.Engine, g *synth.Stream) {
	for !bench.WindowsFull(e) {
		e.Apply(g.Batch(synth.StreamBatch), g.Time())
		e.Deltas()
	}
}

func BenchmarkStream(b *testing.B) {
	g := synth.NewStream(1, 1_000_000)
	for !g.Prefilled() {
		g.Prefill(synth.StreamBatch)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += synth.StreamBatch {
		g.Batch(min(synth.StreamBatch, b.N-done))
	}
}

// BenchmarkEngineAtCap streams events that each bring new observables into an engine
// capped at 100,000 observables, so that every batch retires old situations: it reports
// the throughput with retirement and the state's size, which must stay flat: peak/at-cap
// is the largest state seen while timing over the state when the cap was first reached
// (state-bytes/observable divides that by the cap).
func BenchmarkEngineAtCap(b *testing.B) {
	const limit = 100_000
	cfg := correlate.DefaultConfig()
	cfg.MaxObservables = limit
	cfg.MaxEventIDs, cfg.MaxFingerprints = limit, limit // the same scale as the cap
	e := correlate.New(cfg)
	g := synth.NewStream(3, 1<<40) // never prefilled: every event introduces observables
	g.Reserve(synth.StreamBatch)
	feed := func(n int) time.Duration {
		batch := g.Prefill(n)
		now := g.Time()
		start := time.Now()
		e.Apply(batch, now)
		e.Deltas()
		return time.Since(start)
	}
	for e.Counters().CapRetired == 0 || e.Counters().EvictedIDs == 0 {
		feed(synth.StreamBatch)
	}
	atCap := e.StateBytes()
	b.ReportAllocs()
	b.ResetTimer()
	var spent time.Duration
	peak := atCap
	for done := 0; done < b.N; done += synth.StreamBatch {
		spent += feed(min(synth.StreamBatch, b.N-done))
		peak = max(peak, e.StateBytes())
	}
	b.ReportMetric(float64(b.N)/spent.Seconds(), "events/s")
	b.ReportMetric(float64(atCap)/limit, "state-bytes/observable")
	b.ReportMetric(float64(peak)/float64(atCap), "peak/at-cap")
}
