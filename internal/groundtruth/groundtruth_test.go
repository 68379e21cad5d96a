package groundtruth

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cidcc/cop/internal/event"
)

func generate(t testing.TB, n int, seed uint64) ([]event.Event, Truth) {
	t.Helper()
	evs, truth, err := Generate(Options{Events: n, Seed: seed, IDKey: []byte("test")})
	if err != nil {
		t.Fatal(err)
	}
	return evs, truth
}

func TestGenerateIsDeterministicPerSeed(t *testing.T) {
	a, ta := generate(t, 5000, 7)
	b, tb := generate(t, 5000, 7)
	if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(ta, tb) {
		t.Fatal("two runs of seed 7 differ")
	}
	c, _ := generate(t, 5000, 8)
	if reflect.DeepEqual(a, c) {
		t.Fatal("seeds 7 and 8 gave the same events")
	}
}

func TestGenerateRejectsNoEvents(t *testing.T) {
	if _, _, err := Generate(Options{}); err == nil || !strings.Contains(err.Error(), "events") {
		t.Fatalf("err = %v, want one naming events", err)
	}
}

func TestEventsAreValidAndInArrivalOrder(t *testing.T) {
	evs, truth := generate(t, 20000, 1)
	if len(evs) != 20000 {
		t.Fatalf("%d events, want 20000", len(evs))
	}
	for i := range evs {
		ev := evs[i]
		ev.Observables = slices.Clone(ev.Observables)
		if err := ev.Validate(); err != nil {
			t.Fatalf("event %d does not validate: %v", i, err)
		}
		if !reflect.DeepEqual(ev.Observables, evs[i].Observables) {
			t.Fatalf("event %d: observables not normalised: %v, normalised %v", i, evs[i].Observables, ev.Observables)
		}
		if i > 0 && ev.ReceivedAt.Before(evs[i-1].ReceivedAt) {
			t.Fatalf("event %d arrives before event %d", i, i-1)
		}
		if _, ok := truth.Labels[ev.ID]; !ok {
			t.Fatalf("event %d (%s) has no label", i, ev.ID)
		}
		if want := (event.Source{Contributor: ev.Contributor, IDKey: []byte("test")}).EventID(ev.SourceID); ev.ID != want {
			t.Fatalf("event %d: id %s, want the one minted from its source id, %s", i, ev.ID, want)
		}
	}
}

func TestTruthIsNeverInTheEvents(t *testing.T) {
	evs, truth := generate(t, 20000, 1)
	for i := range evs {
		b, err := json.Marshal(&evs[i])
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ToLower(string(b))
		for _, c := range truth.Campaigns {
			if strings.Contains(s, strings.ToLower(c.ID)) {
				t.Fatalf("event %d names campaign id %s: %s", i, c.ID, b)
			}
		}
	}
}

func TestSomeReportsNameTheirCampaign(t *testing.T) {
	evs, truth := generate(t, 20000, 1)
	named, campaign := 0, 0
	for _, ev := range evs {
		l := truth.Labels[ev.ID]
		if l.Noise {
			continue
		}
		c, _ := truth.Campaign(l.Campaign)
		campaign++
		if strings.Contains(ev.Title, c.Name) || strings.Contains(ev.Title, c.Actor) {
			named++
		}
	}
	if share := float64(named) / float64(campaign); share < 0.2 || share > 0.45 {
		t.Fatalf("%d of %d campaign reports name it (%.2f), want about %d‰", named, campaign, share, namedPerMille)
	}
}

func TestHubsAreSharedByAtLeastThreeCampaignsAndTheNoise(t *testing.T) {
	evs, truth := generate(t, 20000, 1)
	users := map[event.Observable]map[string]bool{}
	for _, h := range truth.Hubs {
		users[h] = map[string]bool{}
	}
	for _, ev := range evs {
		l := truth.Labels[ev.ID]
		for _, o := range ev.Observables {
			if u, ok := users[o]; ok {
				u[l.Campaign] = true // "" is the noise
			}
		}
	}
	for h, u := range users {
		if !u[""] {
			t.Errorf("hub %v never appears in the noise", h)
		}
		delete(u, "")
		if len(u) < 3 {
			t.Errorf("hub %v appears in %d campaigns, want at least 3", h, len(u))
		}
	}
}

// infra is the infrastructure (addresses, domains, URLs, samples) the events of one
// campaign wave use, hubs and CVEs left out.
func infra(evs []event.Event, truth Truth) map[string]map[int]map[event.Observable]bool {
	hub := map[event.Observable]bool{}
	for _, h := range truth.Hubs {
		hub[h] = true
	}
	out := map[string]map[int]map[event.Observable]bool{}
	for _, ev := range evs {
		l := truth.Labels[ev.ID]
		if l.Noise {
			continue
		}
		if out[l.Campaign] == nil {
			out[l.Campaign] = map[int]map[event.Observable]bool{}
		}
		if out[l.Campaign][l.Wave] == nil {
			out[l.Campaign][l.Wave] = map[event.Observable]bool{}
		}
		for _, o := range ev.Observables {
			if !hub[o] && o.Type != event.ObsCVE && !(o.Type == event.ObsURL && isShortened(o.Value, truth.Hubs)) {
				out[l.Campaign][l.Wave][o] = true
			}
		}
	}
	return out
}

func isShortened(url string, hubs []event.Observable) bool {
	for _, h := range hubs {
		if h.Type == event.ObsDomain && strings.HasPrefix(url, "https://"+h.Value+"/") {
			return true
		}
	}
	return false
}

func TestWavesRotateInfrastructureToNearbyNetworks(t *testing.T) {
	evs, truth := generate(t, 30000, 1)
	waves := infra(evs, truth)
	for _, c := range truth.Campaigns {
		ws := waves[c.ID]
		if len(ws) < 3 {
			t.Fatalf("%s has %d waves in 30,000 events, want at least 3", c.ID, len(ws))
		}
		for w := 1; w < len(ws); w++ {
			prev, cur := ws[w-1], ws[w]
			for o := range cur {
				if prev[o] {
					t.Errorf("%s wave %d reuses %v of wave %d", c.ID, w, o, w-1)
				}
			}
			// The wave's addresses are in the /24 next to the previous wave's.
			if p, q := net24(prev), net24(cur); p == "" || q == "" || p == q || !adjacent(p, q) {
				t.Errorf("%s waves %d and %d use /24s %q and %q, want adjacent ones", c.ID, w-1, w, p, q)
			}
		}
	}
}

// net24 is the /24 (first three octets) of the wave's IPv4 addresses, "" if they are in
// several.
func net24(wave map[event.Observable]bool) string {
	var nets []string
	for o := range wave {
		if o.Type == event.ObsIPv4 {
			nets = append(nets, o.Value[:strings.LastIndexByte(o.Value, '.')])
		}
	}
	slices.Sort(nets)
	if nets = slices.Compact(nets); len(nets) != 1 {
		return ""
	}
	return nets[0]
}

func adjacent(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	var na, nb int
	for i := range 3 {
		na, nb = na*256+atoi(pa[i]), nb*256+atoi(pb[i])
	}
	return nb == na+1
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestReportsAreResentAndForwarded(t *testing.T) {
	evs, truth := generate(t, 20000, 1)
	type content struct{ title, observed, observables string }
	seen := map[content][]event.Event{}
	for _, ev := range evs {
		k := content{ev.Title, ev.ObservedAt.String(), fmt.Sprint(ev.Observables)}
		seen[k] = append(seen[k], ev)
	}
	resent, forwarded := 0, 0
	for _, group := range seen {
		for _, ev := range group[1:] {
			if truth.Labels[ev.ID] != truth.Labels[group[0].ID] {
				t.Fatalf("a re-sent report changed its label: %v, original %v", truth.Labels[ev.ID], truth.Labels[group[0].ID])
			}
			if ev.Contributor == group[0].Contributor {
				resent++
			} else {
				forwarded++
			}
		}
	}
	// About 40‰ each of 20,000.
	if resent < 500 || forwarded < 500 {
		t.Fatalf("%d re-sent and %d forwarded reports, want about 800 each", resent, forwarded)
	}
}
