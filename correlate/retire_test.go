package correlate

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/synth"
)

const day = 24 * time.Hour

// removed returns the Removed deltas of ds that do not name a survivor: retirements.
func retirements(ds []picture.Delta) []picture.Delta {
	var out []picture.Delta
	for _, d := range ds {
		if d.Removed && d.MergedInto == "" {
			out = append(out, d)
		}
	}
	return out
}

func TestIdleSituationIsRetiredAfterTheHorizon(t *testing.T) {
	e := New(DefaultConfig()) // RetireAfter 30 days
	r := apply(e, []event.Event{ev("DE", "1", "ipv4:192.0.2.1", "domain:a.example")}, t0)
	old := only(t, r.Deltas)
	var version uint64
	for _, d := range e.Tick(t0.Add(29 * day)) {
		version = d.Situation.Version
	}
	if c := e.Counters(); c.Retired != 0 || c.Situations != 1 || c.Observables != 2 {
		t.Fatalf("counters %+v, want nothing retired within the horizon", c)
	}
	later := t0.Add(31 * day)
	ds := e.Tick(later)
	if len(ds) != 1 || len(retirements(ds)) != 1 {
		t.Fatalf("retirement deltas %+v, want one Removed", ds)
	}
	if d := ds[0]; d.Situation.ID != old.ID || d.Situation.Version <= max(version, old.Version) || !d.Situation.UpdatedAt.Equal(later) {
		t.Fatalf("retirement delta %+v, old %s version %d", d, old.ID, max(version, old.Version))
	}
	if c := e.Counters(); c.Retired != 1 || c.CapRetired != 0 || c.Situations != 0 || c.Observables != 0 || c.RetiredObservables != 2 {
		t.Fatalf("counters %+v, want the situation and its observables retired", c)
	}
	if ds := e.Tick(later.Add(time.Hour)); len(ds) != 0 {
		t.Fatalf("retired twice: %+v", ds)
	}
	var buf bytes.Buffer
	if err := e.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	e, err := Restore(&buf, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	a := ev("FR", "2", "ipv4:192.0.2.1", "domain:new.example")
	a.ObservedAt = later
	s := only(t, apply(e, []event.Event{a}, later).Deltas)
	if s.ID == old.ID || s.EventCount != 1 || len(s.Observables) != 2 || len(s.Contributors) != 1 {
		t.Fatalf("observable of a retired situation: %+v, old id %s", s, old.ID)
	}
}

func TestRetiredSituationIDsNeverRepeat(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RetireAfter = time.Hour
	e := New(cfg)
	seen := map[string]bool{}
	now := t0
	for i := range 20 {
		r := apply(e, []event.Event{ev("DE", fmt.Sprint(i), fmt.Sprintf("ipv4:192.0.2.%d", i%3))}, now)
		id := r.Events[0].SituationID
		if seen[id] {
			t.Fatalf("situation id %s minted twice", id)
		}
		seen[id] = true
		now = now.Add(2 * time.Hour)
		if ds := retirements(e.Tick(now)); len(ds) != 1 || ds[0].Situation.ID != id {
			t.Fatalf("tick %d retired %+v, want %s", i, ds, id)
		}
	}
	// Nodes and slots were reused: the state did not grow with the stream.
	if n := len(e.parent); n != 1 {
		t.Fatalf("%d union-find nodes for one live situation at a time", n)
	}
}

func TestBridgedSituationsRetireTogether(t *testing.T) {
	e := New(DefaultConfig())
	apply(e, []event.Event{ev("DE", "1", "ipv4:192.0.2.1"), ev("FR", "2", "domain:b.example")}, t0)
	apply(e, []event.Event{ev("IT", "3", "domain:b.example", "ipv4:192.0.2.1", "url:http://c.example/")}, t0.Add(time.Hour))
	ds := retirements(e.Tick(t0.Add(40 * day)))
	if len(ds) != 1 {
		t.Fatalf("retired %+v, want the one merged situation", ds)
	}
	if c := e.Counters(); c.Situations != 0 || c.Observables != 0 || c.RetiredObservables != 3 {
		t.Fatalf("counters %+v", c)
	}
}

func TestCapRetiresOldestSituationsFirst(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxObservables = 3
	e := New(cfg)
	var ids []string
	for i := range 3 {
		r := apply(e, []event.Event{ev("DE", fmt.Sprint(i), fmt.Sprintf("ipv4:192.0.2.%d", i))}, t0.Add(time.Duration(i)*time.Minute))
		ids = append(ids, r.Events[0].SituationID)
	}
	// Situation 0 gets a new event: situation 1 is now the oldest.
	apply(e, []event.Event{ev("FR", "0b", "ipv4:192.0.2.0")}, t0.Add(3*time.Minute))
	r := apply(e, []event.Event{ev("DE", "3", "ipv4:192.0.2.3")}, t0.Add(4*time.Minute))
	ret := retirements(r.Deltas)
	if len(ret) != 1 || ret[0].Situation.ID != ids[1] {
		t.Fatalf("cap retired %+v, want %s", ret, ids[1])
	}
	if c := e.Counters(); c.Observables != 3 || c.CapRetired != 1 || c.Retired != 1 {
		t.Fatalf("counters %+v", c)
	}
	// A batch over the cap by itself keeps what it touched and retires all the rest.
	r = apply(e, []event.Event{ev("DE", "4", "ipv4:198.51.100.1", "ipv4:198.51.100.2", "ipv4:198.51.100.3", "ipv4:198.51.100.4")}, t0.Add(5*time.Minute))
	if ret := retirements(r.Deltas); len(ret) != 3 || len(r.Deltas) != 4 {
		t.Fatalf("deltas %+v, want the new situation and 3 retired", r.Deltas)
	}
	if c := e.Counters(); c.Observables != 4 || c.Situations != 1 || c.CapRetired != 4 {
		t.Fatalf("counters %+v", c)
	}
}

func TestSituationCapCountsSituationsWithoutObservables(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxSituations = 2
	e := New(cfg)
	for i := range 5 {
		apply(e, []event.Event{ev("DE", fmt.Sprint(i))}, t0.Add(time.Duration(i)*time.Minute))
	}
	if c := e.Counters(); c.Situations != 2 || c.CapRetired != 3 {
		t.Fatalf("counters %+v", c)
	}
}

func TestContentDuplicateOfRetiredSituationStaysDuplicate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxObservables = 1
	e := New(cfg)
	a := ev("DE", "1", "ipv4:192.0.2.1")
	first := apply(e, []event.Event{a}, t0).Events[0].SituationID
	apply(e, []event.Event{ev("DE", "2", "ipv4:192.0.2.2")}, t0.Add(time.Minute)) // retires a's situation
	apply(e, []event.Event{ev("DE", "3", "ipv4:192.0.2.3")}, t0.Add(time.Minute)) // and reuses its node
	b := a
	b.ID = event.Source{Contributor: "DE"}.EventID("1-resent")
	r := apply(e, []event.Event{b}, t0.Add(2*time.Minute))
	if st := r.Events[0]; !st.Duplicate || st.SituationID != first {
		t.Fatalf("re-sent content stored as %+v, want a duplicate in %s", st, first)
	}
	if len(r.Deltas) != 0 {
		t.Fatalf("deltas %+v", r.Deltas)
	}
}

func TestHubOutlivesItsRetiredSituation(t *testing.T) {
	cfg := DefaultConfig()
	cfg.HubThreshold = 1
	cfg.RetireAfter = 10 * day
	e := New(cfg)
	for i := range 3 { // the resolver glues one situation, then becomes a hub
		a := ev("DE", fmt.Sprint(i), "ipv4:203.0.113.53", fmt.Sprintf("domain:x%d.example", i))
		apply(e, []event.Event{a}, t0)
	}
	if c := e.Counters(); c.HubObservables != 1 {
		t.Fatalf("counters %+v", c)
	}
	// Its first situation goes idle and retires, but the hub is still being reported.
	now := t0.Add(8 * day)
	a := ev("FR", "y", "ipv4:203.0.113.53", "domain:y.example")
	a.ObservedAt = now
	apply(e, []event.Event{a}, now)
	now = t0.Add(11 * day)
	e.Tick(now)
	if c := e.Counters(); c.HubObservables != 1 || c.Retired == 0 {
		t.Fatalf("counters %+v, want the hub kept", c)
	}
	sits := map[string]bool{}
	for i := range 3 {
		b := ev("IT", fmt.Sprint("z", i), "ipv4:203.0.113.53", fmt.Sprintf("domain:z%d.example", i))
		b.ObservedAt = now
		sits[apply(e, []event.Event{b}, now).Events[0].SituationID] = true
	}
	if len(sits) != 3 {
		t.Fatalf("the orphaned hub linked %d events into %d situations", 3, len(sits))
	}
	// Once it goes unreported for the horizon, it is forgotten too.
	e.Tick(now.Add(11 * day))
	if c := e.Counters(); c.HubObservables != 0 || c.Observables != 0 || c.Situations != 0 {
		t.Fatalf("counters %+v, want everything retired", c)
	}
}

func TestSnapshotRestoreResumesExactlyUnderTheCap(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxObservables = 500
	cfg.RetireAfter = time.Hour
	g := synth.NewStream(9, 3000)
	a := New(cfg)
	for !g.Prefilled() {
		apply(a, g.Prefill(100), g.Time())
	}
	a.Tick(g.Time().Add(2 * time.Hour))
	for range 10 {
		apply(a, g.Batch(100), g.Time())
	}
	var buf bytes.Buffer
	if err := a.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	b, err := Restore(&buf, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		batch := g.Batch(100)
		now := g.Time()
		ra, rb := resultJSON(t, apply(a, batch, now)), resultJSON(t, apply(b, batch, now))
		if ra != rb {
			t.Fatalf("batch %d differs after restore:\n%.2000s\n%.2000s", i, ra, rb)
		}
		if i%10 == 9 {
			later := now.Add(time.Duration(i) * 3 * time.Minute) // the last retires everything
			ta := resultJSON(t, &applied{Deltas: append([]picture.Delta{}, a.Tick(later)...)})
			tb := resultJSON(t, &applied{Deltas: append([]picture.Delta{}, b.Tick(later)...)})
			if ta != tb {
				t.Fatalf("tick differs after restore:\n%.3000s\n%.3000s", ta, tb)
			}
		}
	}
	if a.Counters() != b.Counters() || a.Counters().CapRetired == 0 {
		t.Fatalf("counters %+v and %+v, want equal and the cap used", a.Counters(), b.Counters())
	}
}

// TestStateStaysBoundedUnderTheCap streams 40 times more distinct observables than the
// cap and checks that the state stops growing once the cap is reached.
func TestStateStaysBoundedUnderTheCap(t *testing.T) {
	const limit = 20_000
	cfg := DefaultConfig()
	cfg.MaxObservables = limit
	cfg.MaxEventIDs, cfg.MaxFingerprints = limit, limit
	e := New(cfg)
	var atCap, peak int
	batch := make([]event.Event, 1000)
	for n := 0; n < 40*limit; {
		now := t0.Add(time.Duration(n) * time.Millisecond)
		for i := range batch {
			a := &batch[i]
			*a = event.Event{ID: fmt.Sprint("b", n), Contributor: "DE", Severity: event.SeverityHigh,
				Confidence: 80, ObservedAt: now, Title: "bounded", Observables: a.Observables[:0]}
			for range 2 {
				a.Observables = append(a.Observables, event.Observable{Type: event.ObsDomain, Value: fmt.Sprintf("d%d.example", n)})
				n++
			}
		}
		apply(e, batch, now)
		if e.Counters().CapRetired > 0 && atCap == 0 {
			atCap = e.StateBytes()
		}
		peak = max(peak, e.StateBytes())
	}
	c := e.Counters()
	if c.Observables > limit || c.RetiredObservables < 39*limit {
		t.Fatalf("counters %+v", c)
	}
	// After the cap is reached only the arena grows, until it is compacted.
	if peak > 2*atCap {
		t.Fatalf("state grew from %d bytes at the cap to %d", atCap, peak)
	}
	t.Logf("state %d bytes at the cap, peak %d, %.0f bytes per live observable", atCap, peak, float64(peak)/limit)
}
