package inject

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/cidcc/cop/ingest/native"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/groundtruth"
	"github.com/cidcc/cop/internal/synth"
)

// The demo's feeds are the ground-truth scenario: every report its stream gives, sent as
// native JSON on its contributor's topic, parses back into the event the benchmark
// measures (ids, observables, names, markings, position), from a demo contributor.
func TestDemoFeedsAreTheGroundTruthScenario(t *testing.T) {
	s := groundtruth.NewStream(groundtruth.Options{Seed: 5})
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	known := map[string]bool{}
	for _, c := range synth.Contributors {
		known[c.Name] = true
	}
	names, strict := 0, 0
	for i := range 5000 {
		ev, _ := s.Next(at.Add(time.Duration(i) * 5 * time.Millisecond))
		if !known[ev.Contributor] {
			t.Fatalf("contributor %q is not one of the demo's", ev.Contributor)
		}
		doc, err := json.Marshal(nativeInput(&ev))
		if err != nil {
			t.Fatal(err)
		}
		got, errs := native.Parse(doc, event.Source{Contributor: ev.Contributor, ReceivedAt: ev.ReceivedAt})
		if len(errs) > 0 || len(got) != 1 {
			t.Fatalf("report %s: %v", ev.SourceID, errs)
		}
		g := got[0]
		if g.ID != ev.ID || g.Title != ev.Title || g.TLP != ev.TLP || g.Severity != ev.Severity || g.Category != ev.Category ||
			!reflect.DeepEqual(g.Observables, ev.Observables) || !reflect.DeepEqual(g.Names, ev.Names) ||
			!reflect.DeepEqual(g.ReleasableTo, ev.ReleasableTo) || !reflect.DeepEqual(g.Countries, ev.Countries) ||
			!reflect.DeepEqual(g.Geo, ev.Geo) || !reflect.DeepEqual(g.Techniques, ev.Techniques) {
			t.Fatalf("report %s does not parse back:\n got %+v\nwant %+v", ev.SourceID, g, ev)
		}
		if len(ev.Names) > 0 {
			names++
		}
		if ev.TLP == event.TLPAmberStrict {
			strict++
		}
	}
	if names == 0 || strict == 0 {
		t.Errorf("%d reports with names, %d AMBER+STRICT: the demo's mix needs both", names, strict)
	}
}
