package synth_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cidcc/cop/correlate"
	"github.com/cidcc/cop/ingest/native"
	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/crisis"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/synth"
)

// TestDemoRaisesACrisisWithinMinutes replays the demo's first minutes (its generator at
// its default 200 reports a second, batches every 100 ms as ingest/inject.Demo sends them)
// through the engine and the built-in escalation rules, evaluated every 5 s (cop serve
// does every second): a crisis is proposed within three simulated minutes, and the rules stay
// selective (a handful of crises, not one per situation).
func TestDemoRaisesACrisisWithinMinutes(t *testing.T) {
	const rate, minutes = 200, 3
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	gen := synth.New(1)
	eng := correlate.New(correlate.DefaultConfig())
	live := map[string]picture.Situation{}
	var crises []crisis.Crisis
	first := time.Duration(-1)
	rules, missions := crisis.DefaultRules(), access.DefaultMissions()
	for tick := 0; tick < minutes*60*10; tick++ {
		now := start.Add(time.Duration(tick) * 100 * time.Millisecond)
		var batch []event.Event
		for range rate / 10 {
			c, in := gen.Next(now)
			doc, _ := json.Marshal([]native.Input{in})
			evs, errs := native.Parse(doc, event.Source{Contributor: c.Name, ReceivedAt: now})
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			batch = append(batch, evs...)
		}
		eng.Apply(batch, now)
		for _, d := range eng.Deltas() {
			if d.Removed {
				delete(live, d.Situation.ID)
			} else {
				live[d.Situation.ID] = d.Situation
			}
		}
		if tick%50 != 49 { // every 5 s: cop serve evaluates every second, at a fifth of the cost to this test
			continue
		}
		sits := make([]*picture.Situation, 0, len(live))
		for id := range live {
			s := live[id]
			sits = append(sits, &s)
		}
		res := crisis.Evaluate(crisis.Input{Rules: rules, Missions: missions, Situations: sits, Crises: crises, Now: now})
		for _, u := range res.Updated {
			found := false
			for i := range crises {
				if crises[i].ID == u.ID {
					crises[i], found = u, true
				}
			}
			if !found {
				crises = append(crises, u)
			}
		}
		if first < 0 && len(crises) > 0 {
			first = now.Sub(start)
			t.Logf("first crisis after %s: %s", first, crises[0].Explanation.Text)
		}
	}
	levels := map[int]int{}
	for _, c := range crises {
		levels[c.Level]++
	}
	t.Logf("after %d simulated minutes: %d situations, %d crises by level %v", minutes, len(live), len(crises), levels)
	if first < 0 {
		t.Fatalf("no crisis within %d minutes of the demo", minutes)
	}
	if len(crises) > len(live)/300 { // a crisis per 300 situations at most: the top of the picture
		t.Errorf("%d crises from %d situations: the default rules are not selective", len(crises), len(live))
	}
}
