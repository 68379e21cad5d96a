package scenario_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/cidcc/cop/correlate"
	"github.com/cidcc/cop/ingest/native"
	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/crisis"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/scenario"
)

// picture runs the scenario's feeds through the correlation engine as `cop serve` would
// and returns the live picture at now.
func livePicture(t *testing.T, o scenario.Options, now time.Time) []*picture.Situation {
	t.Helper()
	feeds, err := scenario.Generate("energy-cables", o)
	if err != nil {
		t.Fatal(err)
	}
	var all []event.Event
	for _, f := range feeds {
		doc, _ := json.Marshal(f.Events)
		evs, errs := native.Parse(doc, event.Source{Contributor: f.Contributor, ReceivedAt: now})
		if len(errs) > 0 {
			t.Fatalf("%s: %v", f.Contributor, errs)
		}
		all = append(all, evs...)
	}
	slices.SortStableFunc(all, func(a, b event.Event) int { return a.ObservedAt.Compare(b.ObservedAt) })
	eng := correlate.New(correlate.DefaultConfig())
	eng.Apply(all, now)
	sits := map[string]picture.Situation{}
	for _, d := range eng.Deltas() {
		if d.Removed {
			delete(sits, d.Situation.ID)
		} else {
			sits[d.Situation.ID] = d.Situation
		}
	}
	var out []*picture.Situation
	for _, s := range sits {
		out = append(out, &s)
	}
	return out
}

// TestEnergyCablesCrossesTheDefaultEscalationRules: the drill exercises the crisis chain.
// Run as `cop exercise gen` runs it (ending now), the campaign against energy and cable
// operators in four member states, seen by civil CSIRTs and a military CERT, is proposed
// as a crisis of level 3 or more by the built-in rules, in its exercise only.
func TestEnergyCablesCrossesTheDefaultEscalationRules(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	o := scenario.Options{Seed: 3, Start: now.Add(-scenario.Duration), Exercise: "CYDEF-X"}
	sits := livePicture(t, o, now)
	res := crisis.Evaluate(crisis.Input{Rules: crisis.DefaultRules(), Missions: access.DefaultMissions(), Situations: sits, Now: now})
	if len(res.Updated) == 0 {
		t.Fatalf("no crisis proposed from %d situations", len(sits))
	}
	best := res.Updated[0]
	for _, c := range res.Updated {
		if c.Exercise != "CYDEF-X" {
			t.Errorf("crisis %s left the exercise: %q", c.ID, c.Exercise)
		}
		if c.Level > best.Level {
			best = c
		}
	}
	t.Logf("%d crises; best: level %d by %s (score %.1f)", len(res.Updated), best.Level, best.Explanation.Text, best.Score)
	if best.Level < 3 || !slices.Equal(best.MemberStates, []string{"DE", "EE", "FI", "IT"}) {
		t.Errorf("best crisis level %d, member states %v; want level 3 or more over DE, EE, FI, IT", best.Level, best.MemberStates)
	}
}
