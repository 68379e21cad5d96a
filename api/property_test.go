package api

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

// The property tests restate the marking rules independently of internal/access and check
// that no viewer is ever sent what they forbid.

var (
	propNames     = []string{"feed-a", "feed-b", "cert-eu", "analyst-x", "cmdr-x"}
	propMissions  = []string{"EUFOR-ALTHEA", "EUAM-UKRAINE", "EUNAVFOR-ATALANTA"}
	propCountries = []string{"BA", "UA", "SO", "LY", "EE"}
	propExercises = []string{"", "CYDEF-X", "PHALANX"}
)

// mayReceive is the reference rule: same exercise; TLP within the ceiling; a non-empty
// releasability list names the viewer or one of its missions; RED only when named; in a
// mission view, inside the mission's countries.
func mayReceive(id access.Identity, v access.View, s picture.Situation, missions access.Missions) bool {
	if s.Exercise != v.Exercise || s.TLP < event.TLPClear || s.TLP > id.MaxTLP {
		return false
	}
	named := false
	for _, r := range s.ReleasableTo {
		if strings.EqualFold(r, id.Name) || slices.ContainsFunc(id.Missions, func(m string) bool { return strings.EqualFold(m, r) }) {
			named = true
		}
	}
	if len(s.ReleasableTo) > 0 && !named || s.TLP == event.TLPRed && !named {
		return false
	}
	if v.Mission != "" {
		m := missions[v.Mission]
		return slices.ContainsFunc(s.Countries, func(c string) bool { return slices.Contains(m.Countries, c) })
	}
	return true
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func some(rng *rand.Rand, xs []string, upper bool) []string {
	var out []string
	for _, x := range xs {
		if rng.IntN(4) == 0 {
			if upper {
				x = strings.ToUpper(x)
			}
			out = append(out, x)
		}
	}
	return out
}

func randomSituation(rng *rand.Rand, i int) picture.Situation {
	return sit(fmt.Sprintf("p-%04d", i), event.TLP(1+rng.IntN(5)), func(s *picture.Situation) {
		if rng.IntN(2) == 0 {
			s.ReleasableTo = some(rng, append(slices.Clone(propNames), propMissions...), true)
		}
		s.Exercise = pick(rng, propExercises)
		s.Countries = []string{pick(rng, propCountries)}
		s.Contributors = []picture.Contributor{{Name: pick(rng, propNames[:3]), Anonymise: rng.IntN(2) == 0}}
	})
}

type propViewer struct {
	id   access.Identity
	view access.View
}

func randomViewer(rng *rand.Rand, i int) propViewer {
	id := access.Identity{Name: fmt.Sprintf("%s-%d", pick(rng, propNames), i), MaxTLP: event.TLP(1 + rng.IntN(5)),
		Exercises: some(rng, propExercises[1:], false)}
	if rng.IntN(3) == 0 {
		id.Name = pick(rng, propNames) // some viewers share a name with releasability lists
	}
	v := access.View{Exercise: pick(rng, append(slices.Clone(id.Exercises), ""))}
	switch rng.IntN(3) {
	case 0:
		id.Role = access.RoleAnalyst
		if rng.IntN(2) == 0 {
			v.Mission = pick(rng, propMissions)
		}
	case 1:
		id.Role = access.RoleAdmin
	default:
		id.Role = access.RoleCommander
		id.Missions = []string{pick(rng, propMissions)}
		v.Mission = id.Missions[0]
	}
	return propViewer{id: id, view: v}
}

func TestPropertyWebsocketNeverSendsForbiddenSituations(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("seed %d", seed)
	for round := 0; round < 5; round++ {
		var viewers []propViewer
		names := map[string]bool{}
		for i := 0; len(viewers) < 12; i++ {
			v := randomViewer(rng, i)
			if names[v.id.Name] {
				continue
			}
			names[v.id.Name] = true
			viewers = append(viewers, v)
		}
		ids := make([]access.Identity, len(viewers))
		for i, v := range viewers {
			ids[i] = v.id
		}
		f := newFixture(t, nil, ids, nil)
		missions := access.DefaultMissions()
		var all []picture.Situation
		for i := 0; i < 60; i++ {
			all = append(all, randomSituation(rng, round*1000+i))
		}
		f.pic.Apply(deltas(all[:30]...)) // half before connecting (snapshot), half after (deltas)
		clients := make([]*wsClient, len(viewers))
		for i, v := range viewers {
			q := url.Values{"exercise": {v.view.Exercise}, "mission": {v.view.Mission}}
			clients[i] = f.follow(t, v.id.Name, q)
			clients[i].snapshot(t)
		}
		f.pic.Apply(deltas(all[30:]...))
		// One sentinel per exercise, visible to every view of it, closes the round.
		var sentinels []picture.Situation
		for _, ex := range propExercises {
			sentinels = append(sentinels, sit("zz-"+ex, event.TLPClear, func(s *picture.Situation) {
				s.Exercise = ex
				s.Countries = []string{"BA", "UA", "SO"}
			}))
		}
		f.pic.Apply(deltas(sentinels...))
		byID := map[string]picture.Situation{}
		for _, s := range all {
			byID[s.ID] = s
		}
		for i, v := range viewers {
			c := clients[i]
			c.readUntil(t, "zz-"+v.view.Exercise)
			for id, got := range c.seen {
				s, ok := byID[id]
				if !ok {
					continue // a sentinel
				}
				if !mayReceive(v.id, v.view, s, missions) {
					t.Fatalf("seed %d: %s (%s, TLP ≤ %s, missions %v) in view %+v was sent %s (TLP %s, releasable %v, exercise %q, countries %v)",
						seed, v.id.Name, v.id.Role, v.id.MaxTLP, v.id.Missions, v.view, id, s.TLP, s.ReleasableTo, s.Exercise, s.Countries)
				}
				for j, ctb := range got.Contributors {
					orig := s.Contributors[j]
					if orig.Anonymise && v.id.Role != access.RoleAdmin && orig.Name != v.id.Name && ctb.Name == orig.Name {
						t.Fatalf("seed %d: %s was sent anonymised contributor %s by name", seed, v.id.Name, orig.Name)
					}
				}
			}
			for _, s := range all {
				if _, got := c.seen[s.ID]; mayReceive(v.id, v.view, s, missions) && !got {
					t.Fatalf("seed %d: %s in view %+v never got %s (TLP %s, releasable %v, exercise %q)", seed, v.id.Name, v.view, s.ID, s.TLP, s.ReleasableTo, s.Exercise)
				}
			}
		}
	}
}

// TestPropertyRESTNeverShowsForbiddenEvents: random events and random analysts; each
// viewer's /api/v1/events lists exactly the events its rules allow, never naming an
// anonymised contributor to others, and /api/v1/stats counts exactly those.
func TestPropertyRESTNeverShowsForbiddenEvents(t *testing.T) {
	st := openStore(t)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 2))
	t.Logf("seed %d", seed)
	t0, t1 := window(rng)
	ns := itest.Namespace(t)
	var events []event.Event
	for i := 0; i < 300; i++ {
		s := randomSituation(rng, i) // the same random markings, as events
		events = append(events, statsEvent(fmt.Sprintf("%s-%d", ns, i), t0.Add(time.Duration(i)*time.Second), s.TLP, func(e *event.Event) {
			e.ReleasableTo, e.Exercise, e.Countries = s.ReleasableTo, s.Exercise, s.Countries
			e.Contributor, e.Anonymise = s.Contributors[0].Name, s.Contributors[0].Anonymise
		}))
	}
	writeEvents(t, st, events)
	var viewers []propViewer
	names := map[string]bool{}
	for i := 0; len(viewers) < 25; i++ {
		v := randomViewer(rng, i)
		if v.id.Role == access.RoleCommander || names[v.id.Name] {
			continue // stats are for analysts and admins
		}
		names[v.id.Name] = true
		v.view.Mission = ""
		viewers = append(viewers, v)
	}
	ids := make([]access.Identity, len(viewers))
	for i, v := range viewers {
		ids[i] = v.id
	}
	f := newFixture(t, st, ids, nil)
	for _, v := range viewers {
		want := map[string]uint64{}
		var total uint64
		for _, e := range events {
			s := picture.Situation{TLP: e.TLP, ReleasableTo: e.ReleasableTo, Exercise: e.Exercise}
			if mayReceive(v.id, v.view, s, nil) {
				total++
				want[e.Countries[0]]++
			}
		}
		q := url.Values{"since": {t0.Format(time.RFC3339)}, "until": {t1.Format(time.RFC3339)}, "exercise": {v.view.Exercise}}
		checkEventList(t, f, v, q, events, seed)
		status, got, body := f.stats(t, f.tokens[v.id.Name], q)
		if status != 200 {
			t.Fatalf("%s: status %d: %s", v.id.Name, status, body)
		}
		if got.Events != total {
			t.Errorf("seed %d: %s (%s, TLP ≤ %s, exercise %q) counts %d events, may see %d", seed, v.id.Name, v.id.Role, v.id.MaxTLP, v.view.Exercise, got.Events, total)
		}
		for c, n := range got.ByCountry {
			if n != want[c] {
				t.Errorf("seed %d: %s counts %d events in %s, may see %d", seed, v.id.Name, n, c, want[c])
			}
		}
	}
}

// checkEventList compares the events v is listed in the window q with those its rules
// allow, and checks that no anonymised contributor is named to anyone but itself.
func checkEventList(t *testing.T, f *fixture, v propViewer, q url.Values, events []event.Event, seed uint64) {
	t.Helper()
	q = maps.Clone(q)
	q.Set("limit", "1000")
	resp := f.do(t, "GET", "/api/v1/events?"+q.Encode(), f.tokens[v.id.Name], nil)
	body := readAll(resp)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: events status %d: %s", v.id.Name, resp.StatusCode, body)
	}
	var page struct{ Events []store.StoredEvent }
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatal(err)
	}
	got := map[string]store.StoredEvent{}
	for _, e := range page.Events {
		got[e.ID] = e
	}
	for _, e := range events {
		s := picture.Situation{TLP: e.TLP, ReleasableTo: e.ReleasableTo, Exercise: e.Exercise}
		listed, ok := got[e.ID]
		if may := mayReceive(v.id, v.view, s, nil); may != ok {
			t.Errorf("seed %d: %s (%s, TLP ≤ %s, exercise %q) listed %s (TLP %s, releasable %v, exercise %q): %v, may see: %v",
				seed, v.id.Name, v.id.Role, v.id.MaxTLP, v.view.Exercise, e.ID, e.TLP, e.ReleasableTo, e.Exercise, ok, may)
		}
		if ok && e.Anonymise && v.id.Role != access.RoleAdmin && v.id.Name != e.Contributor && listed.Contributor == e.Contributor {
			t.Errorf("seed %d: %s is shown the anonymised contributor %s of %s", seed, v.id.Name, e.Contributor, e.ID)
		}
	}
	if len(got) > len(events) {
		t.Errorf("seed %d: %s listed %d events, only %d were written", seed, v.id.Name, len(got), len(events))
	}
}
