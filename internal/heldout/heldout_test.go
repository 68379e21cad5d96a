package heldout

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/cidcc/cop/internal/geo"
)

func load(t *testing.T, name ...string) []byte {
	t.Helper()
	file := "winter-2026.scn"
	if len(name) > 0 {
		file = name[0]
	}
	b, err := os.ReadFile("../../testdata/heldout/" + file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The held-out scenario expands deterministically, labels every event, keeps the truth
// out of the events, and places every report inside its country's box.
func TestWinterScenarioExpands(t *testing.T) {
	checkExpands(t, load(t), 9)
}

func TestSpringScenarioExpands(t *testing.T) {
	checkExpands(t, load(t, "spring-2027.scn"), 10)
}

func checkExpands(t *testing.T, b []byte, campaigns int) {
	t.Helper()
	evs, truth, err := Load(strings.NewReader(string(b)), []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	again, truth2, _ := Load(strings.NewReader(string(b)), []byte("k"))
	if !reflect.DeepEqual(evs, again) || !reflect.DeepEqual(truth, truth2) {
		t.Fatal("the same file gave different events")
	}
	if len(truth.Campaigns) != campaigns || len(evs) < 20_000 {
		t.Fatalf("%d campaigns, %d events", len(truth.Campaigns), len(evs))
	}
	for i, ev := range evs {
		if _, ok := truth.Labels[ev.ID]; !ok {
			t.Fatalf("event %s has no label", ev.SourceID)
		}
		if i > 0 && ev.ReceivedAt.Before(evs[i-1].ReceivedAt) {
			t.Fatal("events are not in arrival order")
		}
		if ev.Geo != nil {
			if c, ok := geo.Lookup(ev.Countries[0]); !ok || !c.Box.Contains(ev.Geo.Lat, ev.Geo.Lon) {
				t.Fatalf("%q at %v outside %s", ev.Title, ev.Geo, ev.Countries[0])
			}
		}
		j, _ := json.Marshal(ev)
		for _, c := range truth.Campaigns {
			if strings.Contains(string(j), `"`+c.ID+`"`) {
				t.Fatalf("event %s carries the truth's campaign id %s", ev.SourceID, c.ID)
			}
		}
	}
}

func TestLoadSaysWhichLineIsWrong(t *testing.T) {
	for in, want := range map[string]string{
		"seed x\n":                          "line 1 (seed)",
		"campaign A rank 1 severity dire\n": "line 1 (campaign)",
		"title t\n":                         "outside a campaign",
		"campaign A rank 1 severity low\nwave 0 1 3 ip:999.1.1.1\n": "line 2 (wave)",
		"frobnicate\n": "unknown directive",
		"campaign A rank 1 severity low\nwave 0 1 3 pool=ip:2001:db8::/64*3\n": "is not an IPv4 prefix",
		"campaign A rank 1 severity low\nwave 0 1 3 pool=ip:192.0.2.0/30*9\n":  "does not hold 9 distinct values",
		"campaign A rank 1 severity low\nwave 0 1 3 shape=wobbly\n":            "want decay or bursts:N",
		"scan 0 1 5 ip:100.100.0.0/16 x y\n":                                   "want ip:PREFIX*N",
	} {
		_, _, err := Load(strings.NewReader(in), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to say %q", in, err, want)
		}
	}
}
