package correlate

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/synth"
)

// consumer follows an engine's outputs the way a consumer of cop.picture does and answers
// which events ended up together and with what score.
type consumer struct {
	eventSit map[string]string // event id → situation id when stored
	into     map[string]string // absorbed situation → survivor
	score    map[string]float64
}

func newPicture() *consumer {
	return &consumer{eventSit: map[string]string{}, into: map[string]string{}, score: map[string]float64{}}
}

func (p *consumer) apply(batch []event.Event, r *applied) {
	for i, st := range r.Events {
		if st.SituationID != "" && !st.Duplicate {
			p.eventSit[batch[i].ID] = st.SituationID
		}
	}
	for _, d := range r.Deltas {
		if d.Removed {
			p.into[d.Situation.ID] = d.MergedInto
			delete(p.score, d.Situation.ID)
		} else {
			p.score[d.Situation.ID] = d.Situation.Score
		}
	}
}

func (p *consumer) resolve(id string) string {
	for {
		next, ok := p.into[id]
		if !ok {
			return id
		}
		id = next
	}
}

// canonical lists each situation as its sorted member ids and score, sorted: it does not
// depend on situation ids, which depend on arrival order.
func (p *consumer) canonical() []string {
	groups := map[string][]string{}
	for ev, sit := range p.eventSit {
		r := p.resolve(sit)
		groups[r] = append(groups[r], ev)
	}
	var out []string
	for sit, evs := range groups {
		slices.Sort(evs)
		out = append(out, fmt.Sprintf("%s score=%.6f", strings.Join(evs, ","), p.score[sit]))
	}
	slices.Sort(out)
	return out
}

// propertyEvents returns n distinct events over a small observable universe, so that
// they link in interesting ways, plus a few redeliveries.
func propertyEvents(rng *rand.Rand, n int) []event.Event {
	var evs []event.Event
	for i := range n {
		var obs []string
		for range 1 + rng.IntN(3) {
			obs = append(obs, fmt.Sprintf("ipv4:198.51.100.%d", rng.IntN(3*n)))
		}
		e := ev(synth.StreamContributors[rng.IntN(4)], fmt.Sprint("p", i), obs...)
		e.Severity = event.Severity(1 + rng.IntN(5))
		e.Confidence = uint8(rng.IntN(101))
		e.ObservedAt = t0.Add(-time.Duration(rng.IntN(1000)) * time.Hour)
		e.Sectors = [][]string{nil, {"energy"}, {"health"}}[rng.IntN(3)]
		evs = append(evs, e)
		if rng.IntN(5) == 0 {
			evs = append(evs, e) // redelivery
		}
	}
	return evs
}

func runOrder(t *testing.T, evs []event.Event, rng *rand.Rand) []string {
	t.Helper()
	cfg := DefaultConfig()
	cfg.HubThreshold = 1 << 30 // hubs depend on arrival order by design
	e := New(cfg)
	p := newPicture()
	for len(evs) > 0 {
		k := 1 + rng.IntN(len(evs))
		p.apply(evs[:k], apply(e, evs[:k], t0))
		evs = evs[k:]
	}
	return p.canonical()
}

func TestAnyOrderAndBatchingYieldsTheSamePicture(t *testing.T) {
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 1))
		evs := propertyEvents(rng, 5+rng.IntN(40))
		want := runOrder(t, slices.Clone(evs), rng)
		for range 5 {
			shuffled := slices.Clone(evs)
			rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			got := runOrder(t, shuffled, rng)
			if !equalPictures(got, want) {
				t.Fatalf("seed %d: order changed the picture:\n%s\nwant\n%s", seed, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	}
}

// equalPictures compares canonical pictures, allowing float rounding in the scores (the
// noisy-OR product is computed in arrival order).
func equalPictures(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		ma, sa, _ := strings.Cut(a[i], " score=")
		mb, sb, _ := strings.Cut(b[i], " score=")
		var fa, fb float64
		fmt.Sscan(sa, &fa)
		fmt.Sscan(sb, &fb)
		if ma != mb || math.Abs(fa-fb) > 1e-5 {
			return false
		}
	}
	return true
}

func TestFeedingABatchTwiceChangesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	evs := propertyEvents(rng, 50)
	e := New(DefaultConfig())
	apply(e, evs, t0)
	before := e.Counters()
	var snap1, snap2 bytes.Buffer
	if err := e.Snapshot(&snap1); err != nil {
		t.Fatal(err)
	}
	r := apply(e, evs, t0)
	if len(r.Deltas) != 0 || len(r.Events) != len(evs) {
		t.Fatalf("second feed: %d deltas, %d stored", len(r.Deltas), len(r.Events))
	}
	for i, st := range r.Events {
		if st != (Stored{Duplicate: true}) {
			t.Fatalf("event %d stored as %+v", i, st)
		}
	}
	after := e.Counters()
	if after.Events != before.Events+uint64(len(evs)) || after.Duplicates != before.Duplicates+uint64(len(evs)) {
		t.Fatalf("counters %+v then %+v", before, after)
	}
	after.Events, after.Duplicates, after.Batches = before.Events, before.Duplicates, before.Batches
	if after != before {
		t.Fatalf("state counters changed: %+v then %+v", before, after)
	}
	if err := e.Snapshot(&snap2); err != nil {
		t.Fatal(err)
	}
	// The snapshots differ only in the counters, epoch and dedup times; check that the
	// situations are unchanged by their rendering.
	a, _ := Restore(&snap1, DefaultConfig())
	b, _ := Restore(&snap2, DefaultConfig())
	ta, tb := resultJSON(t, &applied{Deltas: a.Tick(t0.Add(400 * 24 * time.Hour))}), resultJSON(t, &applied{Deltas: b.Tick(t0.Add(400 * 24 * time.Hour))})
	if ta != tb {
		t.Fatal("situations differ after feeding a batch twice")
	}
}

func FuzzEngine(f *testing.F) {
	f.Add([]byte("hello, correlation engine"))
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 255, 254, 253, 128})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := DefaultConfig()
		cfg.HubThreshold = 3
		cfg.MaxEventIDs, cfg.MaxFingerprints = 16, 16
		cfg.MaxObservables, cfg.MaxSituations = 5, 4
		cfg.RetireAfter = 7 * 24 * time.Hour
		cfg.Common = []event.Observable{{Type: event.ObsIPv4, Value: "10.0.0.1"}}
		e := New(cfg)
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		now := t0
		for len(data) > 0 {
			batch := make([]event.Event, int(next()%8))
			for i := range batch {
				b := next()
				x := event.Event{
					ID: fmt.Sprint("f", next()%32), Contributor: fmt.Sprint("c", b%5),
					Kind: event.Kind(next() % 6), Severity: event.Severity(next() % 7),
					Confidence: next(), TLP: event.TLP(next() % 7),
					ObservedAt: t0.Add(time.Duration(int8(next())) * time.Hour), Title: fmt.Sprint("t", b%3),
				}
				if b&8 != 0 {
					x.Exercise = "EX"
				}
				if b&16 != 0 {
					x.ReleasableTo = []string{fmt.Sprint("R", next()%3)}
				}
				if b&32 != 0 {
					x.Anonymise = true
				}
				if b&64 != 0 {
					x.Geo = &event.Geo{Lat: float64(int8(next())), Lon: 1}
				}
				x.Sectors = []string{event.Sectors[int(b)%len(event.Sectors)]}
				for range next() % 4 {
					x.Observables = append(x.Observables, event.Observable{Type: event.ObservableType(next() % 13), Value: fmt.Sprint("10.0.0.", next()%6)})
				}
				batch[i] = x
			}
			now = now.Add(time.Duration(next()) * time.Minute)
			r := apply(e, batch, now)
			checkResult(t, e, batch, r.Events, r.Deltas)
			if next()%4 == 0 {
				ds := e.Tick(now.Add(time.Duration(next()) * 24 * time.Hour))
				checkResult(t, e, nil, nil, ds)
			}
		}
		var buf bytes.Buffer
		if err := e.Snapshot(&buf); err != nil {
			t.Fatal(err)
		}
		r, err := Restore(&buf, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if r.Counters() != e.Counters() {
			t.Fatal("counters differ after restore")
		}
	})
}

func checkResult(t *testing.T, e *Engine, batch []event.Event, stored []Stored, deltas []picture.Delta) {
	t.Helper()
	if len(stored) != len(batch) {
		t.Fatalf("%d stored for %d events", len(stored), len(batch))
	}
	for i, st := range stored {
		if st.SituationID == "" && !st.Duplicate {
			t.Fatalf("event %d stored without a situation", i)
		}
	}
	seen := map[string]bool{}
	for _, d := range deltas {
		s := d.Situation
		if seen[s.ID] {
			t.Fatalf("situation %s twice in one output", s.ID)
		}
		seen[s.ID] = true
		if d.Removed {
			if d.MergedInto == s.ID || s.Version == 0 {
				t.Fatalf("removed delta %+v", d)
			}
			continue
		}
		if s.Score < 0 || s.Score > 100 || math.IsNaN(s.Score) || s.Confidence < 0 || s.Confidence > 100 {
			t.Fatalf("score %v confidence %v", s.Score, s.Confidence)
		}
		if s.EventCount < 1 || len(s.EventIDs) > picture.MaxSituationEvents || len(s.Observables) > picture.MaxSituationObservables || len(s.Contributors) < 1 {
			t.Fatalf("situation %+v", s)
		}
		if !slices.IsSorted(s.Countries) || !slices.IsSorted(s.Sectors) || !slices.IsSorted(s.ReleasableTo) {
			t.Fatalf("unsorted lists in %+v", s)
		}
	}
	c := e.Counters()
	if c.Duplicates < c.ContentDuplicates || c.Events < c.Duplicates {
		t.Fatalf("counters %+v", c)
	}
}
