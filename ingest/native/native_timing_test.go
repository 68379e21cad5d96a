package native_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cidcc/cop/ingest/native"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/synth"
)

// BenchmarkParseNative parses documents of 1,000 synthetic events, as a contributor's batch.
func BenchmarkParseNative(b *testing.B) {
	gen := synth.New(1)
	now := time.Now().UTC()
	var ins []native.Input
	for range 1000 {
		_, in := gen.Next(now)
		ins = append(ins, in)
	}
	doc, _ := json.Marshal(ins)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		evs, errs := native.Parse(doc, event.Source{Contributor: "x", ReceivedAt: now})
		if len(errs) != 0 || len(evs) != 1000 {
			b.Fatalf("%d events, %v", len(evs), errs)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
}
