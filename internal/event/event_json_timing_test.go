package event_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cidcc/cop/ingest/native"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/synth"
)

// synthEvents returns n validated events as ingest puts them on cop.events.
func synthEvents(tb testing.TB, seed uint64, n int) []event.Event {
	tb.Helper()
	gen := synth.New(seed)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var evs []event.Event
	for len(evs) < n {
		c, in := gen.Next(now)
		doc, err := json.Marshal(in)
		if err != nil {
			tb.Fatal(err)
		}
		got, errs := native.Parse(doc, event.Source{Contributor: c.Name, ReceivedAt: now})
		if len(errs) != 0 {
			tb.Fatalf("synthetic report rejected: %v", errs)
		}
		evs = append(evs, got...)
	}
	return evs[:n]
}

// BenchmarkEventJSON encodes and decodes synthetic events one at a time, as ingest and the
// correlators do for every cop.events message: through encoding/json (json.Marshal,
// json.Unmarshal) and, where the codec has them, through its own entry points.
func BenchmarkEventJSON(b *testing.B) {
	evs := synthEvents(b, 1, 1000)
	msgs := make([][]byte, len(evs))
	size := 0
	for i := range evs {
		msgs[i], _ = json.Marshal(&evs[i])
		size += len(msgs[i])
	}
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
		b.SetBytes(int64(size / len(msgs)))
	}
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := json.Marshal(&evs[i]); err != nil {
				b.Fatal(err)
			}
			i = (i + 1) % len(evs)
		}
		report(b)
	})
	b.Run("unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			var e event.Event
			if err := json.Unmarshal(msgs[i], &e); err != nil {
				b.Fatal(err)
			}
			i = (i + 1) % len(msgs)
		}
		report(b)
	})
	benchCodec(b, evs, msgs, report)
}

// benchCodec measures the codec's own entry points, without encoding/json around them
// (json.Unmarshal scans the whole document, then hands it to UnmarshalJSON).
func benchCodec(b *testing.B, evs []event.Event, msgs [][]byte, report func(*testing.B)) {
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		i := 0
		for b.Loop() {
			var err error
			if buf, err = evs[i].AppendJSON(buf[:0]); err != nil {
				b.Fatal(err)
			}
			i = (i + 1) % len(evs)
		}
		report(b)
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			var e event.Event
			if err := e.UnmarshalJSON(msgs[i]); err != nil {
				b.Fatal(err)
			}
			i = (i + 1) % len(msgs)
		}
		report(b)
	})
}
