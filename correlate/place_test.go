package correlate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/synth"
)

// Issue 19: a situation titled "(PL)" sat at 49.84, 31.11, in Ukraine: its title came from
// its most severe member, its position from its earliest. Now both come from the same
// member when it has a position, in one batch, across batches and through a merge.
func TestPositionIsThatOfTheTitledMember(t *testing.T) {
	ua := ev("pl-csirt-mon", "ua", "ipv4:198.51.100.7")
	ua.Severity, ua.Title, ua.Countries = event.SeverityMedium, "Wiper (UA)", []string{"UA"}
	ua.ObservedAt, ua.Geo = t0.Add(-time.Hour), &event.Geo{Lat: 49.84, Lon: 31.11}
	pl := ev("cert-eu", "pl", "ipv4:198.51.100.7", "ipv4:198.51.100.8")
	pl.Severity, pl.Title, pl.Countries = event.SeverityCritical, "Wiper (PL)", []string{"PL"}
	pl.Geo = &event.Geo{Lat: 52.2, Lon: 21.0}
	bare := ev("ee-cert", "bare", "ipv4:198.51.100.8") // the most severe has no position
	bare.Severity, bare.Title = event.SeverityCritical, "Wiper"
	bare.ObservedAt = t0.Add(-2 * time.Hour)
	for name, batches := range map[string][][]event.Event{
		"one batch":     {{ua, pl}},
		"two batches":   {{ua}, {pl}},
		"reversed":      {{pl}, {ua}},
		"merge":         {{ua}, {bare}, {pl}},
		"merge, in one": {{bare, ua, pl}},
	} {
		e := New(DefaultConfig())
		var last map[string]string
		for _, b := range batches {
			r := apply(e, b, t0)
			last = map[string]string{}
			for _, d := range r.Deltas {
				if !d.Removed && d.Situation.Geo != nil {
					last[d.Situation.ID] = fmt.Sprintf("%s at %.2f,%.2f", d.Situation.Title, d.Situation.Geo.Lat, d.Situation.Geo.Lon)
				}
			}
		}
		want := "Wiper (PL) at 52.20,21.00"
		if strings.HasPrefix(name, "merge") {
			want = "Wiper at 52.20,21.00" // titled after the earlier critical report, placed at the critical one with a position
		}
		found := false
		for _, got := range last {
			found = found || got == want
		}
		if !found {
			t.Errorf("%s: %v, want %q", name, last, want)
		}
	}
}

// Property (extends TestAnyOrderAndBatchingYieldsTheSamePicture): with positions and
// severities mixed, every situation's title and position are the same whatever the order
// and batching of its events.
func TestPositionDoesNotDependOnOrder(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var evs []event.Event
		for i := range 5 + rng.IntN(40) {
			var obs []string
			for range 1 + rng.IntN(3) {
				obs = append(obs, fmt.Sprintf("ipv4:198.51.100.%d", rng.IntN(60)))
			}
			e := ev(synth.StreamContributors[rng.IntN(4)], fmt.Sprint("g", i), obs...)
			e.Severity = event.Severity(1 + rng.IntN(5))
			e.ObservedAt = t0.Add(-time.Duration(rng.IntN(4)) * time.Hour)
			if rng.IntN(3) > 0 {
				e.Geo = &event.Geo{Lat: float64(rng.IntN(90)), Lon: float64(rng.IntN(180))}
			}
			evs = append(evs, e)
		}
		want := placesOf(t, slices.Clone(evs), rng)
		for range 5 {
			shuffled := slices.Clone(evs)
			rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			if got := placesOf(t, shuffled, rng); !slices.Equal(got, want) {
				t.Fatalf("seed %d: order changed titles or positions:\n%s\nwant\n%s", seed, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	}
}

// placesOf applies evs in random batches and lists each live situation as its sorted
// members, title and position.
func placesOf(t *testing.T, evs []event.Event, rng *rand.Rand) []string {
	t.Helper()
	cfg := DefaultConfig()
	cfg.HubThreshold = 1 << 30
	e := New(cfg)
	p := newPicture()
	where := map[string]string{}
	for len(evs) > 0 {
		k := 1 + rng.IntN(len(evs))
		r := apply(e, evs[:k], t0)
		p.apply(evs[:k], r)
		for _, d := range r.Deltas {
			if d.Removed {
				delete(where, d.Situation.ID)
				continue
			}
			w := d.Situation.Title
			if g := d.Situation.Geo; g != nil {
				w += fmt.Sprintf(" at %v,%v", g.Lat, g.Lon)
			}
			where[d.Situation.ID] = w
		}
		evs = evs[k:]
	}
	groups := map[string][]string{}
	for ev, sit := range p.eventSit {
		groups[p.resolve(sit)] = append(groups[p.resolve(sit)], ev)
	}
	var out []string
	for sit, members := range groups {
		slices.Sort(members)
		out = append(out, strings.Join(members, ",")+" "+where[sit])
	}
	slices.Sort(out)
	return out
}
