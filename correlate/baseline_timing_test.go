package correlate

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/synth"
)

// baseline is the same work as Engine written the obvious way: maps keyed by strings, a
// struct per observable and per situation, pointers everywhere. It exists so that
// BenchmarkEngineBaseline can report how much the engine's layout buys.
type baseline struct {
	ids   map[string]time.Time
	fps   map[string]time.Time
	obs   map[string]*baseObs
	sits  map[string]*baseSit
	next  int
	cfg   Config
	dirty map[*baseSit]bool
}

type baseObs struct {
	contributors map[string]float64
	first, last  time.Time
	sit          *baseSit
	links        int
	hub          bool
}

type baseSit struct {
	id                             string
	parent                         *baseSit
	events                         []string
	count                          int
	contributors                   map[string]float64
	countries, sectors, techniques map[string]bool
	sev                            event.Severity
	first, last                    time.Time
	title                          string
}

func newBaseline(cfg Config) *baseline {
	return &baseline{ids: map[string]time.Time{}, fps: map[string]time.Time{}, obs: map[string]*baseObs{},
		sits: map[string]*baseSit{}, cfg: cfg.withDefaults(), dirty: map[*baseSit]bool{}}
}

func (s *baseSit) root() *baseSit {
	if s.parent == nil {
		return s
	}
	s.parent = s.parent.root()
	return s.parent
}

func (b *baseline) apply(batch []event.Event, now time.Time) ([]Stored, []picture.Situation) {
	stored := make([]Stored, 0, len(batch))
	clear(b.dirty)
	for _, ev := range batch {
		if _, ok := b.ids[ev.Exercise+"|"+ev.ID]; ok {
			stored = append(stored, Stored{Duplicate: true})
			continue
		}
		b.ids[ev.Exercise+"|"+ev.ID] = now
		var obs []string
		for _, o := range ev.Observables {
			obs = append(obs, o.String())
		}
		fp := strings.Join([]string{ev.Exercise, ev.Contributor, ev.Title, ev.Summary, ev.Category, ev.Kind.String(),
			ev.Severity.String(), fmt.Sprint(ev.Confidence), ev.ObservedAt.String(), strings.Join(obs, ","),
			strings.Join(ev.Sectors, ","), strings.Join(ev.Countries, ",")}, "|")
		if _, ok := b.fps[fp]; ok {
			stored = append(stored, Stored{Duplicate: true})
			continue
		}
		b.fps[fp] = now
		var roots []*baseSit
		for _, o := range obs {
			key := ev.Exercise + "|" + o
			ob := b.obs[key]
			if ob == nil {
				ob = &baseObs{contributors: map[string]float64{}, first: ev.ObservedAt}
				b.obs[key] = ob
			}
			ob.contributors[ev.Contributor] = math.Max(ob.contributors[ev.Contributor], float64(ev.Confidence)/100)
			ob.last = ev.ObservedAt
			if ob.sit != nil && !ob.hub {
				ob.links++
				if ob.links > b.cfg.HubThreshold {
					ob.hub = true
					continue
				}
				if r := ob.sit.root(); !slices.Contains(roots, r) {
					roots = append(roots, r)
				}
			}
		}
		var s *baseSit
		if len(roots) == 0 {
			b.next++
			s = &baseSit{id: fmt.Sprintf("s-%x", b.next), contributors: map[string]float64{}, countries: map[string]bool{},
				sectors: map[string]bool{}, techniques: map[string]bool{}, first: ev.ObservedAt}
			b.sits[s.id] = s
		} else {
			s = roots[0]
			for _, r := range roots[1:] {
				r.parent = s
				s.events = append(s.events, r.events...)
				s.events = s.events[max(0, len(s.events)-picture.MaxSituationEvents):]
				s.count += r.count
				for k, v := range r.contributors {
					s.contributors[k] = math.Max(s.contributors[k], v)
				}
				for k := range r.countries {
					s.countries[k] = true
				}
				delete(b.sits, r.id)
			}
		}
		for _, o := range obs {
			if ob := b.obs[ev.Exercise+"|"+o]; ob.sit == nil {
				ob.sit = s
			}
		}
		s.events = append(s.events, ev.ID)
		if len(s.events) > picture.MaxSituationEvents {
			s.events = s.events[len(s.events)-picture.MaxSituationEvents:]
		}
		s.count++
		s.contributors[ev.Contributor] = math.Max(s.contributors[ev.Contributor], float64(ev.Confidence)/100)
		for _, c := range ev.Countries {
			s.countries[c] = true
		}
		for _, c := range ev.Sectors {
			s.sectors[c] = true
		}
		for _, c := range ev.Techniques {
			s.techniques[c] = true
		}
		if ev.Severity > s.sev {
			s.sev, s.title = ev.Severity, ev.Title
		}
		s.last = ev.ObservedAt
		b.dirty[s] = true
		stored = append(stored, Stored{SituationID: s.id})
	}
	var out []picture.Situation
	for s := range b.dirty {
		if s.parent != nil {
			continue
		}
		p := 1.0
		var cs []picture.Contributor
		for c, conf := range s.contributors {
			p *= 1 - conf*b.cfg.DefaultReliability
			cs = append(cs, picture.Contributor{Name: c})
		}
		sit := picture.Situation{ID: s.id, Title: s.title, Severity: s.sev, Confidence: 100 * (1 - p), Contributors: cs, EventCount: s.count}
		for c := range s.countries {
			sit.Countries = append(sit.Countries, c)
		}
		slices.Sort(sit.Countries)
		sit.EventIDs = s.events[max(0, len(s.events)-picture.MaxSituationEvents):]
		sit.Score = 100 * b.cfg.SeverityWeight[s.sev] * (1 - p)
		sit.Explanation.Text = fmt.Sprintf("%s severity × confidence %.2f = %.1f", s.sev, 1-p, sit.Score)
		out = append(out, sit)
	}
	return stored, out
}

func BenchmarkEngineBaseline(b *testing.B) {
	for _, live := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			g := synth.NewStream(1, live)
			e := newBaseline(DefaultConfig())
			for !g.Prefilled() {
				e.apply(g.Prefill(synth.StreamBatch), g.Time())
			}
			b.ReportAllocs()
			b.ResetTimer()
			var spent time.Duration
			for done := 0; done < b.N; done += synth.StreamBatch {
				b.StopTimer()
				batch := g.Batch(min(synth.StreamBatch, b.N-done))
				now := g.Time()
				b.StartTimer()
				start := time.Now()
				e.apply(batch, now)
				spent += time.Since(start)
			}
			b.ReportMetric(float64(b.N)/spent.Seconds(), "events/s")
		})
	}
}
