package correlate

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// ev builds a valid event from contributor c with source id src and observables given as
// "type:value" strings.
func ev(c, src string, obs ...string) event.Event {
	e := event.Event{
		Contributor: c, SourceID: src, Kind: event.KindIndicator,
		ObservedAt: t0, ReceivedAt: t0, Severity: event.SeverityHigh, Confidence: 80,
		TLP: event.TLPGreen, Title: "title " + src, ID: event.Source{Contributor: c}.EventID(src),
	}
	for _, o := range obs {
		for i := 0; i < len(o); i++ {
			if o[i] == ':' {
				typ, err := event.ParseObservableType(o[:i])
				if err != nil {
					panic(err)
				}
				e.Observables = append(e.Observables, event.Observable{Type: typ, Value: o[i+1:]})
				break
			}
		}
	}
	if err := e.Validate(); err != nil {
		panic(err)
	}
	return e
}

// applied is what one Apply produced with its deltas materialised, as the pipeline sees it.
type applied struct {
	Events []Stored
	Deltas []picture.Delta
}

// apply runs e.Apply and e.Deltas; the result is valid until the next call on e.
func apply(e *Engine, batch []event.Event, now time.Time) *applied {
	r := e.Apply(batch, now)
	ds := e.Deltas()
	if len(ds) != r.Situations {
		panic(fmt.Sprintf("Result.Situations %d, Deltas returned %d", r.Situations, len(ds)))
	}
	return &applied{Events: r.Events, Deltas: ds}
}

// only returns the single non-removed delta of r, failing otherwise.
func only(t *testing.T, ds []picture.Delta) picture.Situation {
	t.Helper()
	var got []picture.Situation
	for _, d := range ds {
		if !d.Removed {
			got = append(got, d.Situation)
		}
	}
	if len(got) != 1 {
		t.Fatalf("got %d live deltas, want 1: %+v", len(got), ds)
	}
	return got[0]
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestDuplicateFromSameContributorAddsNoConfidence(t *testing.T) {
	e := New(DefaultConfig())
	apply(e, []event.Event{ev("DE", "1", "ipv4:192.0.2.1")}, t0)
	a := ev("DE", "2", "ipv4:192.0.2.1")
	a.Title = "other report"
	s := only(t, apply(e, []event.Event{a}, t0).Deltas)
	if want := 100 * 0.8 * 0.8; !near(s.Confidence, want) {
		t.Fatalf("confidence %v, want %v", s.Confidence, want)
	}
	if s.EventCount != 2 || s.Explanation.Corroborations != 1 {
		t.Fatalf("events %d corroborations %d, want 2 and 1", s.EventCount, s.Explanation.Corroborations)
	}
}

func TestTwoContributorsRaiseConfidenceByNoisyOR(t *testing.T) {
	f := func(rel map[string]float64, confA, confB uint8, want float64) {
		t.Helper()
		cfg := DefaultConfig()
		cfg.Reliability = rel
		e := New(cfg)
		a, b := ev("DE", "1", "domain:c2.example"), ev("FR", "1", "domain:c2.example")
		a.Confidence, b.Confidence = confA, confB
		s := only(t, apply(e, []event.Event{a, b}, t0).Deltas)
		if !near(s.Confidence, 100*want) {
			t.Fatalf("confidence %v, want %v", s.Confidence, 100*want)
		}
		if s.Explanation.Corroborations != 2 {
			t.Fatalf("corroborations %d, want 2", s.Explanation.Corroborations)
		}
	}
	f(nil, 80, 80, 1-(1-0.64)*(1-0.64))
	f(map[string]float64{"DE": 1, "FR": 0.5}, 100, 60, 1-(1-1.0)*(1-0.3))
	f(map[string]float64{"DE": 0.5}, 50, 100, 1-(1-0.25)*(1-0.8))
}

func TestRedeliveryIsDroppedAndFlagged(t *testing.T) {
	e := New(DefaultConfig())
	a := ev("DE", "1", "ipv4:192.0.2.1")
	r := apply(e, []event.Event{a}, t0)
	first := r.Events[0].SituationID
	if first == "" || r.Events[0].Duplicate {
		t.Fatalf("first delivery stored as %+v", r.Events[0])
	}
	r = apply(e, []event.Event{a, a}, t0.Add(time.Minute))
	for i, st := range r.Events {
		if st != (Stored{Duplicate: true}) {
			t.Fatalf("redelivery %d stored as %+v, want dropped duplicate", i, st)
		}
	}
	if len(r.Deltas) != 0 {
		t.Fatalf("redelivery produced deltas: %+v", r.Deltas)
	}
	if c := e.Counters(); c.Duplicates != 2 || c.ContentDuplicates != 0 || c.Events != 3 {
		t.Fatalf("counters %+v", c)
	}
}

func TestResentContentUnderNewIDIsDuplicate(t *testing.T) {
	e := New(DefaultConfig())
	a := ev("DE", "1", "ipv4:192.0.2.1")
	b := ev("DE", "1-resent", "ipv4:192.0.2.1")
	b.Title = a.Title
	c := ev("FR", "1-resent", "ipv4:192.0.2.1") // same content, other contributor: not a duplicate
	c.Title = a.Title
	r := apply(e, []event.Event{a, b, c}, t0)
	if r.Events[0].Duplicate || !r.Events[1].Duplicate || r.Events[2].Duplicate {
		t.Fatalf("stored %+v, want only the second a duplicate", r.Events)
	}
	if r.Events[1].SituationID != r.Events[0].SituationID {
		t.Fatalf("content duplicate not stored with the original's situation: %+v", r.Events)
	}
	if s := only(t, r.Deltas); s.EventCount != 2 {
		t.Fatalf("event count %d, want 2", s.EventCount)
	}
	if c := e.Counters(); c.ContentDuplicates != 1 {
		t.Fatalf("counters %+v", c)
	}
}

func TestContentDuplicateOutsideWindowIsNew(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DedupWindow = time.Hour
	e := New(cfg)
	a := ev("DE", "1", "ipv4:192.0.2.1")
	b := ev("DE", "2", "ipv4:192.0.2.1")
	b.Title = a.Title
	apply(e, []event.Event{a}, t0)
	r := apply(e, []event.Event{b}, t0.Add(2*time.Hour))
	if r.Events[0].Duplicate {
		t.Fatal("re-sent content after the window flagged duplicate")
	}
	if c := e.Counters(); c.EvictedIDs != 1 || c.EvictedFingerprints != 1 {
		t.Fatalf("counters %+v, want one id and one fingerprint evicted", c)
	}
}

func TestDedupWindowIsBoundedBySize(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxEventIDs, cfg.MaxFingerprints = 4, 4
	e := New(cfg)
	for i := range 10 {
		apply(e, []event.Event{ev("DE", fmt.Sprint(i), fmt.Sprintf("ipv4:192.0.2.%d", i))}, t0)
	}
	if c := e.Counters(); c.EvictedIDs != 6 || c.EvictedFingerprints != 6 {
		t.Fatalf("counters %+v, want 6 evicted of each", c)
	}
	// The oldest id was forgotten, the newest is remembered.
	r := apply(e, []event.Event{ev("DE", "0", "ipv4:192.0.2.0"), ev("DE", "9", "ipv4:192.0.2.9")}, t0)
	if r.Events[0].Duplicate || !r.Events[1].Duplicate {
		t.Fatalf("stored %+v", r.Events)
	}
}

func TestBridgeEventMergesSituations(t *testing.T) {
	e := New(DefaultConfig())
	r := apply(e, []event.Event{ev("DE", "1", "ipv4:192.0.2.1"), ev("FR", "2", "domain:b.example")}, t0)
	older, younger := r.Events[0].SituationID, r.Events[1].SituationID
	if older == younger {
		t.Fatal("unrelated events share a situation")
	}
	r = apply(e, []event.Event{ev("IT", "3", "domain:b.example", "ipv4:192.0.2.1")}, t0)
	if r.Events[0].SituationID != older {
		t.Fatalf("bridge event in %s, want the older %s", r.Events[0].SituationID, older)
	}
	if len(r.Deltas) != 2 {
		t.Fatalf("%d deltas, want survivor and removed: %+v", len(r.Deltas), r.Deltas)
	}
	s, rm := r.Deltas[0], r.Deltas[1]
	if s.Situation.ID != older || !slices.Equal(s.MergedFrom, []string{younger}) || s.Situation.EventCount != 3 {
		t.Fatalf("survivor delta %+v", s)
	}
	if !rm.Removed || rm.Situation.ID != younger || rm.MergedInto != older {
		t.Fatalf("removed delta %+v", rm)
	}
	if c := e.Counters(); c.Merges != 1 || c.Situations != 1 {
		t.Fatalf("counters %+v", c)
	}
}

func TestMergeWithinOneBatchReportsOnlyPublishedSituations(t *testing.T) {
	e := New(DefaultConfig())
	r := apply(e, []event.Event{
		ev("DE", "1", "ipv4:192.0.2.1"), ev("FR", "2", "domain:b.example"),
		ev("IT", "3", "domain:b.example", "ipv4:192.0.2.1"),
	}, t0)
	s := only(t, r.Deltas)
	if len(r.Deltas) != 1 || s.EventCount != 3 {
		t.Fatalf("deltas %+v", r.Deltas)
	}
	for _, st := range r.Events {
		if st.SituationID != s.ID {
			t.Fatalf("event stored in %s, want the survivor %s", st.SituationID, s.ID)
		}
	}
}

func TestHubObservablesDoNotLink(t *testing.T) {
	cfg := DefaultConfig()
	cfg.HubThreshold = 2
	cfg.Common = []event.Observable{{Type: event.ObsIPv4, Value: "8.8.8.8"}}
	e := New(cfg)
	// On the common list: never links.
	r := apply(e, []event.Event{ev("DE", "1", "ipv4:8.8.8.8", "domain:a.example"), ev("FR", "2", "ipv4:8.8.8.8", "domain:b.example")}, t0)
	if r.Events[0].SituationID == r.Events[1].SituationID {
		t.Fatal("common observable linked two events")
	}
	// Over K: the resolver glues at most K situations, then stops.
	ids := map[string]bool{}
	for i := range 6 {
		r := apply(e, []event.Event{ev("DE", fmt.Sprint("h", i), "ipv4:203.0.113.53", fmt.Sprintf("domain:x%d.example", i))}, t0)
		ids[r.Events[0].SituationID] = true
	}
	if len(ids) < 3 {
		t.Fatalf("hub glued %d events into %d situations", 6, len(ids))
	}
	if c := e.Counters(); c.HubObservables != 2 {
		t.Fatalf("hub observables %d, want 2", c.HubObservables)
	}
}

func TestEventIDsComeBackAsGiven(t *testing.T) {
	f := func(id string) {
		t.Helper()
		e := New(DefaultConfig())
		a := ev("DE", "1", "ipv4:192.0.2.1")
		a.ID = id
		s := only(t, apply(e, []event.Event{a}, t0).Deltas)
		if len(s.EventIDs) != 1 || s.EventIDs[0] != id {
			t.Fatalf("event ids %q, want [%q]", s.EventIDs, id)
		}
	}
	f(event.Source{Contributor: "DE"}.EventID("1"))
	f("0123456789abcdef0123456789abcdef")
	f("0123456789ABCDEF0123456789abcdef") // not lowercase hex: kept as given
	f("0123456789abcdef0123456789abcdeg")
	f("short")
	f("exactly-sixteen!")
	f("a-rather-long-event-identifier-from-some-feed-that-is-over-32")
}

func TestLongestDefaultLifetimeIsThePictures(t *testing.T) {
	c := DefaultConfig()
	longest := c.DefaultLifetime
	for _, l := range c.Lifetime {
		longest = max(longest, l)
	}
	if longest != picture.LongestLifetime {
		t.Errorf("the engine keeps a quiet situation up to %s, the picture drops it after %s", longest, picture.LongestLifetime)
	}
}

// Two crews exploiting one CVE are two situations (event.ObservableType.Identifies); each
// names the CVE, as a name of kind "vulnerability", for the campaigns above them.
func TestCVEsLinkNoSituationsButNameThem(t *testing.T) {
	e := New(DefaultConfig())
	r := apply(e, []event.Event{
		ev("DE", "1", "cve:CVE-2023-46805", "ipv4:100.75.4.7"),
		ev("FR", "2", "cve:CVE-2023-46805", "ipv4:100.80.2.14"),
	}, t0)
	if r.Events[0].SituationID == r.Events[1].SituationID {
		t.Fatal("a CVE linked two events")
	}
	if len(r.Deltas) != 2 {
		t.Fatalf("%d deltas, want 2", len(r.Deltas))
	}
	for _, d := range r.Deltas {
		if want := []event.Name{{Kind: "vulnerability", Name: "CVE-2023-46805"}}; !reflect.DeepEqual(d.Situation.Names, want) {
			t.Errorf("situation %s names %+v, want %+v", d.Situation.ID, d.Situation.Names, want)
		}
	}
}
