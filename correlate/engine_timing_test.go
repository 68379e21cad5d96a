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
			var spent time.Duration
			for done := 0; done < b.N; done += BenchBatch {
				batch := g.Batch(min(BenchBatch, b.N-done))
				now := g.Time()
				start := time.Now()
				e.Apply(batch, now)
				spent += time.Since(start)
			}
			b.ReportMetric(float64(b.N)/spent.Seconds(), "events/s")
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
