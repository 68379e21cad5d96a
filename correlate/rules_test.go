package correlate

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/synth"
)

func TestMarkingsAreCarried(t *testing.T) {
	e := New(DefaultConfig())
	a := ev("DE", "1", "ipv4:192.0.2.1")
	a.TLP, a.ReleasableTo, a.Anonymise = event.TLPGreen, []string{"EUFOR", "EUNAVFOR", "NATO"}, true
	a.Countries, a.Sectors, a.Techniques = []string{"EE", "LV"}, []string{"telecom"}, []string{"T1566"}
	b := ev("FR", "2", "ipv4:192.0.2.1")
	b.TLP, b.ReleasableTo = event.TLPAmber, []string{"NATO", "EUFOR"}
	b.Countries, b.Sectors, b.Geo = []string{"BA", "EE"}, []string{"energy"}, &event.Geo{Lat: 43.8, Lon: 18.4}
	c := ev("DE", "3", "ipv4:192.0.2.1")
	c.Severity, c.Title, c.Kind, c.Category = event.SeverityCritical, "worst", event.KindIncident, "availability/ddos"
	s := only(t, apply(e, []event.Event{a, b, c}, t0).Deltas)
	if s.TLP != event.TLPAmber {
		t.Errorf("TLP %s, want AMBER", s.TLP)
	}
	if !slices.Equal(s.ReleasableTo, []string{"EUFOR", "NATO"}) {
		t.Errorf("releasable %v", s.ReleasableTo)
	}
	// DE's named and anonymised reports are two entries (addContributor says why).
	if want := []picture.Contributor{{Name: "DE"}, {Name: "DE", Anonymise: true}, {Name: "FR"}}; !slices.Equal(s.Contributors, want) {
		t.Errorf("contributors %v, want %v", s.Contributors, want)
	}
	if !slices.Equal(s.Countries, []string{"BA", "EE", "LV"}) || !slices.Equal(s.Sectors, []string{"energy", "telecom"}) ||
		!slices.Equal(s.Techniques, []string{"T1566"}) {
		t.Errorf("unions %v %v %v", s.Countries, s.Sectors, s.Techniques)
	}
	if s.Severity != event.SeverityCritical || s.Title != "worst" || s.Kind != event.KindIncident || s.Category != "availability/ddos" {
		t.Errorf("most severe member not used: %+v", s)
	}
	if s.Geo == nil || *s.Geo != (event.Geo{Lat: 43.8, Lon: 18.4}) {
		t.Errorf("geo %v", s.Geo)
	}
	if s.Explanation.Criticality != 1 || s.Version != 1 || !s.UpdatedAt.Equal(t0) {
		t.Errorf("criticality %v version %d updated %v", s.Explanation.Criticality, s.Version, s.UpdatedAt)
	}
	// Disjoint releasability: nobody may receive it.
	d := ev("IT", "4", "ipv4:192.0.2.1")
	d.ReleasableTo = []string{"EUCAP"}
	s = only(t, apply(e, []event.Event{d}, t0).Deltas)
	if !slices.Equal(s.ReleasableTo, []string{picture.NoRelease}) || s.Version != 2 {
		t.Errorf("releasable %v version %d, want [%s] 2", s.ReleasableTo, s.Version, picture.NoRelease)
	}
}

func TestTitleTieGoesToEarliest(t *testing.T) {
	e := New(DefaultConfig())
	a, b := ev("DE", "1", "ipv4:192.0.2.1"), ev("FR", "2", "ipv4:192.0.2.1")
	b.ObservedAt = t0.Add(-time.Hour)
	s := only(t, apply(e, []event.Event{a, b}, t0).Deltas)
	if s.Title != b.Title || !s.FirstSeen.Equal(b.ObservedAt) || !s.LastSeen.Equal(a.ObservedAt) {
		t.Fatalf("title %q first %v last %v", s.Title, s.FirstSeen, s.LastSeen)
	}
}

func TestExerciseNeverTouchesTheRealPicture(t *testing.T) {
	e := New(DefaultConfig())
	real := ev("DE", "1", "ipv4:192.0.2.1")
	r := apply(e, []event.Event{real}, t0)
	realID := r.Events[0].SituationID
	x := ev("DE", "1", "ipv4:192.0.2.1") // same id and content, but in an exercise
	x.Exercise = "CYDEF-X-2026"
	y := ev("FR", "2", "ipv4:192.0.2.1")
	y.Exercise = "CYDEF-X-2026"
	r = apply(e, []event.Event{x, y}, t0)
	if r.Events[0].Duplicate || r.Events[0].SituationID == realID || r.Events[1].SituationID != r.Events[0].SituationID {
		t.Fatalf("exercise events %+v (real situation %s)", r.Events, realID)
	}
	s := only(t, r.Deltas)
	if s.Exercise != "CYDEF-X-2026" || s.EventCount != 2 || s.Explanation.Corroborations != 2 {
		t.Fatalf("exercise situation %+v", s)
	}
	z := ev("IT", "3", "ipv4:192.0.2.1")
	s = only(t, apply(e, []event.Event{z}, t0).Deltas)
	if s.ID != realID || s.Exercise != "" || s.EventCount != 2 || s.Explanation.Corroborations != 2 {
		t.Fatalf("real situation %+v", s)
	}
}

func TestDecayLowersScoreWithAge(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RetireAfter = -1
	cfg.RecencyFloor = 1 // decay alone
	e := New(cfg)
	// Critical and five contributors: high enough to fall by a point by day 10 and on day 31.
	var batch []event.Event
	for _, c := range []string{"DE", "FR", "IT", "ES", "NL"} {
		a := ev(c, "1", "ipv4:192.0.2.1")
		a.Sectors = []string{"energy"}
		a.Severity = event.SeverityCritical
		batch = append(batch, a)
	}
	s := only(t, apply(e, batch, t0).Deltas)
	want := 100 * 1 * (3.2 / (3.2 + cfg.CorroborationHalf)) * 1.0 // critical × corroboration × energy
	if !near(s.Score, want) || s.Explanation.Decay != 1 {
		t.Fatalf("fresh score %v, want %v", s.Score, want)
	}
	var prev = s.Score
	for _, days := range []int{10, 20, 29} {
		ds := e.Tick(t0.Add(time.Duration(days) * 24 * time.Hour))
		if len(ds) != 1 || ds[0].Situation.Score >= prev {
			t.Fatalf("day %d: deltas %+v, want one lower score than %v", days, ds, prev)
		}
		prev = ds[0].Situation.Score
	}
	if ds := e.Tick(t0.Add(31 * 24 * time.Hour)); len(ds) != 1 || ds[0].Situation.Score != 0 {
		t.Fatalf("after the ipv4 lifetime: %+v", ds)
	}
}

func TestTickReturnsOnlyChangedScores(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RecencyFloor = 1 // decay alone: the sha256's lifetime keeps it at its score
	e := New(cfg)
	old := ev("DE", "1", "ipv4:192.0.2.1")
	old.ObservedAt = t0.Add(-20 * 24 * time.Hour)
	old.Severity = event.SeverityCritical // a score high enough to fall by a point in three days
	old.Sectors = []string{"energy"}
	fresh := ev("FR", "2", "sha256:"+string(bytes.Repeat([]byte("a"), 64)))
	r := apply(e, []event.Event{old, fresh}, t0)
	if len(r.Deltas) != 2 {
		t.Fatalf("deltas %d", len(r.Deltas))
	}
	if ds := e.Tick(t0.Add(time.Minute)); len(ds) != 0 {
		t.Fatalf("a minute later: %d deltas", len(ds))
	}
	ds := e.Tick(t0.Add(3 * 24 * time.Hour))
	if len(ds) != 1 || ds[0].Situation.ID != r.Events[0].SituationID || ds[0].Situation.Version != 2 {
		t.Fatalf("three days later: %+v, want only the ipv4 situation", ds)
	}
	if ds := e.Tick(t0.Add(3 * 24 * time.Hour)); len(ds) != 0 {
		t.Fatalf("same time again: %d deltas", len(ds))
	}
}

func TestScoreExplanationMultipliesUp(t *testing.T) {
	e := New(DefaultConfig())
	a := ev("DE", "1", "domain:c2.example")
	a.ObservedAt = t0.Add(-45 * 24 * time.Hour)
	a.Sectors = []string{"health"}
	s := only(t, apply(e, []event.Event{a}, t0).Deltas)
	x := s.Explanation
	want := 100 * x.Severity * x.Corroboration * x.Criticality * x.Decay * x.Recency
	if !near(s.Score, want) || x.Score() != s.Score || x.Decay <= 0 || x.Decay >= 1 || x.Recency <= 0 || x.Recency >= 1 || x.AgeHours != 45*24 {
		t.Fatalf("score %v explanation %+v", s.Score, x)
	}
	if x.Text == "" || !bytes.Contains([]byte(x.Text), []byte("health")) {
		t.Fatalf("text %q", x.Text)
	}
}

// resultJSON captures a Result before the engine reuses its buffers.
func resultJSON(t testing.TB, r *applied) string {
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSnapshotRestoreResumesExactly(t *testing.T) {
	cfg := DefaultConfig()
	cfg.HubThreshold = 8
	g := synth.NewStream(7, 3000)
	a := New(cfg)
	for !g.Prefilled() {
		apply(a, g.Prefill(100), g.Time())
	}
	for range 20 {
		apply(a, g.Batch(100), g.Time())
	}
	a.Tick(g.Time())
	var buf bytes.Buffer
	if err := a.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	snap := buf.Bytes()
	b, err := Restore(bytes.NewReader(snap), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if a.Counters() != b.Counters() {
		t.Fatalf("counters %+v != %+v", a.Counters(), b.Counters())
	}
	for i := range 30 {
		batch := g.Batch(100)
		now := g.Time()
		ra, rb := resultJSON(t, apply(a, batch, now)), resultJSON(t, apply(b, batch, now))
		if ra != rb {
			t.Fatalf("batch %d differs after restore:\n%.2000s\n%.2000s", i, ra, rb)
		}
		if i%10 == 9 {
			now = now.Add(40 * 24 * time.Hour)
			ta, _ := json.Marshal(a.Tick(now))
			tb, _ := json.Marshal(b.Tick(now))
			if !bytes.Equal(ta, tb) {
				t.Fatalf("tick differs after restore")
			}
		}
	}
	if a.Counters() != b.Counters() {
		t.Fatalf("counters %+v != %+v", a.Counters(), b.Counters())
	}
	// Damage is detected.
	bad := slices.Clone(snap)
	bad[len(bad)/2] ^= 1
	if _, err := Restore(bytes.NewReader(bad), cfg); !errors.Is(err, ErrSnapshotFormat) {
		t.Fatalf("damaged snapshot: %v", err)
	}
	if _, err := Restore(bytes.NewReader(snap[:len(snap)/3]), cfg); !errors.Is(err, ErrSnapshotFormat) {
		t.Fatalf("truncated snapshot: %v", err)
	}
	if _, err := Restore(bytes.NewReader([]byte("not a snapshot at all")), cfg); !errors.Is(err, ErrSnapshotFormat) {
		t.Fatalf("garbage: %v", err)
	}
}

func TestStatedNamesAreCarriedAndMerged(t *testing.T) {
	e := New(DefaultConfig())
	a := ev("DE", "1", "ipv4:192.0.2.1")
	a.Names = []event.Name{{Kind: "campaign", Name: "gridlock"}}
	b := ev("FR", "2", "ipv4:192.0.2.2")
	b.Names = []event.Name{{Kind: "threat-actor", Name: "volt marten"}, {Kind: "campaign", Name: "gridlock"}}
	apply(e, []event.Event{a, b}, t0)
	c := ev("PL", "3", "ipv4:192.0.2.1", "ipv4:192.0.2.2") // bridges the two
	s := only(t, apply(e, []event.Event{c}, t0.Add(time.Minute)).Deltas)
	want := []event.Name{{Kind: "campaign", Name: "gridlock"}, {Kind: "threat-actor", Name: "volt marten"}}
	if !slices.Equal(s.Names, want) {
		t.Errorf("names %v, want %v (each once, sorted, kept through the merge)", s.Names, want)
	}
}
