package scenario

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/cidcc/cop/ingest/native"
	"github.com/cidcc/cop/internal/event"
)

var opts = Options{Seed: 7, Start: time.Date(2026, 11, 2, 6, 0, 0, 0, time.UTC), Exercise: "CYDEF-X-2026"}

// parse runs every feed through the native parser as ingest would, under the contributor
// the feed belongs to.
func parse(t *testing.T, feeds []Feed) []event.Event {
	t.Helper()
	var all []event.Event
	for _, f := range feeds {
		doc, err := json.Marshal(f.Events)
		if err != nil {
			t.Fatal(err)
		}
		evs, errs := native.Parse(doc, event.Source{Contributor: f.Contributor, ReceivedAt: opts.Start.Add(Duration + time.Hour)})
		if len(errs) > 0 {
			t.Fatalf("%s: %v", f.Contributor, errs)
		}
		all = append(all, evs...)
	}
	return all
}

func TestEnergyCablesIsValidExerciseTraffic(t *testing.T) {
	feeds, err := Generate("energy-cables", opts)
	if err != nil {
		t.Fatal(err)
	}
	evs := parse(t, feeds)
	countries := map[string]bool{}
	phases := map[string]bool{}
	for _, e := range evs {
		if e.Exercise != "CYDEF-X-2026" {
			t.Fatalf("event %s has exercise %q", e.SourceID, e.Exercise)
		}
		if e.ObservedAt.Before(opts.Start) || e.ObservedAt.After(opts.Start.Add(Duration)) {
			t.Errorf("event %s observed at %s, outside the scenario", e.SourceID, e.ObservedAt)
		}
		if e.Contributor != "cert-eu" {
			countries[e.Countries[0]] = true
		}
		phases[e.Category] = true
	}
	if len(countries) != 4 || len(phases) != 5 || len(feeds) != 5 {
		t.Errorf("%d states, %d categories, %d contributors; want 4, 5 (recon, phishing, intrusion, C2, wiper), 5", len(countries), len(phases), len(feeds))
	}
}

// TestEnergyCablesLinksIntoOneCampaign: union-find over shared observables, as the
// engine links, puts every event of the campaign in one component.
func TestEnergyCablesLinksIntoOneCampaign(t *testing.T) {
	feeds, err := Generate("energy-cables", opts)
	if err != nil {
		t.Fatal(err)
	}
	evs := parse(t, feeds)
	parent := make([]int, len(evs))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		if parent[i] != i {
			parent[i] = find(parent[i])
		}
		return parent[i]
	}
	first := map[string]int{}
	for i, e := range evs {
		for _, o := range e.Observables {
			if j, ok := first[o.String()]; ok {
				parent[find(i)] = find(j)
			} else {
				first[o.String()] = i
			}
		}
	}
	roots := map[int]bool{}
	for i := range evs {
		roots[find(i)] = true
	}
	if len(roots) != 1 {
		t.Fatalf("%d events in %d linked groups; want one campaign", len(evs), len(roots))
	}
}

func TestScenarioIsDeterministicForASeed(t *testing.T) {
	a, _ := Generate("energy-cables", opts)
	b, _ := Generate("energy-cables", opts)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed and start gave different feeds")
	}
	o := opts
	o.Seed = 8
	c, _ := Generate("energy-cables", o)
	if reflect.DeepEqual(a[0].Events[0].Observables, c[0].Events[0].Observables) || a[0].Events[0].ID == c[0].Events[0].ID {
		t.Fatal("another seed gave the same infrastructure or ids")
	}
}

func TestGenerateRefusesWhatItCannotMake(t *testing.T) {
	if _, err := Generate("moon-landing", opts); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown scenario: %v", err)
	}
	o := opts
	o.Exercise = ""
	if _, err := Generate("energy-cables", o); err == nil {
		t.Error("a scenario without exercise tag was generated")
	}
}
