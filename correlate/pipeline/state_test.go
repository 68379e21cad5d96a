package pipeline

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/cidcc/cop/correlate"
	"github.com/cidcc/cop/internal/event"
)

// A correlator restarted twice must keep minting the ids of the engine it restored: the
// state file records the engine's own instance, not the fresh one each process makes up
// (a state file written after a restore with the new process's instance gave every
// situation a new id on the next restore, and the old ones stayed in the picture).
func TestStateFileKeepsTheEngineInstanceAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.snap")
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ev := func(id, ip string) event.Event {
		return event.Event{ID: id, Contributor: "fr-comcyber", SourceID: id, Kind: event.KindIndicator, ObservedAt: now,
			ReceivedAt: now, Severity: event.SeverityHigh, Confidence: 80, TLP: event.TLPGreen, Title: id,
			Observables: []event.Observable{{Type: event.ObsIPv4, Value: ip}}}
	}
	cfg := correlate.DefaultConfig()
	cfg.Instance = "first-process"
	e := correlate.New(cfg)
	first := e.Apply([]event.Event{ev("a", "198.51.100.1")}, now).Events[0].SituationID
	e.Deltas()
	for i, process := range []string{"second-process", "third-process"} {
		if _, err := writeState(path, e, "cop.events", map[int]int64{0: int64(i + 1)}); err != nil {
			t.Fatal(err)
		}
		cfg.Instance = process // what a new process would pass
		var hdr stateHeader
		var err error
		if e, hdr, err = readState(path, cfg); err != nil {
			t.Fatal(err)
		}
		if hdr.Instance != "first-process" || e.Instance() != "first-process" {
			t.Fatalf("restart %d: state file instance %q, engine %q; want first-process", i+1, hdr.Instance, e.Instance())
		}
		got := e.Apply([]event.Event{ev(process, "198.51.100.1")}, now.Add(time.Minute)).Events[0].SituationID
		e.Deltas()
		if got != first {
			t.Fatalf("restart %d: an event on the same observable went to %s, want %s", i+1, got, first)
		}
	}
}
