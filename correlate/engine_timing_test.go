package correlate

import (
	"fmt"
	"testing"
	"time"
)

// filled caches prefilled engines across the benchmark's b.N rounds, which keep feeding
// the same steady state.
var filled = map[int]struct {
	e     *Engine
	g     *Gen
	bytes uint64
}{}

// BenchmarkEngine times what the pipeline pays per batch: Engine.Apply and then
// Engine.Deltas for that batch, in batches of BenchBatch pre-generated steady-state events
// (Zipf observable popularity, 20% duplicates). events/s counts both; apply-events/s
// counts Apply alone.
func BenchmarkEngine(b *testing.B) {
	for _, live := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			f, ok := filled[live]
			if !ok {
				f.e, f.g, f.bytes = Fill(live)
				filled[live] = f
			}
			e, g := f.e, f.g
			b.ReportAllocs()
			b.ResetTimer()
			var spent, applying time.Duration
			for done := 0; done < b.N; done += BenchBatch {
				b.StopTimer()
				batch := g.Batch(min(BenchBatch, b.N-done))
				now := g.Time()
				b.StartTimer()
				start := time.Now()
				e.Apply(batch, now)
				applied := time.Now()
				e.Deltas()
				spent += time.Since(start)
				applying += applied.Sub(start)
			}
			b.ReportMetric(float64(b.N)/spent.Seconds(), "events/s")
			b.ReportMetric(float64(b.N)/applying.Seconds(), "apply-events/s")
			b.ReportMetric(float64(f.bytes)/float64(live), "bytes/observable")
		})
	}
}

func BenchmarkGen(b *testing.B) {
	g := NewGen(1, 1_000_000)
	for !g.Prefilled() {
		g.Prefill(BenchBatch)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += BenchBatch {
		g.Batch(min(BenchBatch, b.N-done))
	}
}
