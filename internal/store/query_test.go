package store_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

// openStore connects to the real ClickHouse and migrates it, or skips.
func openStore(t *testing.T) *store.Store {
	t.Helper()
	_, ch := itest.Services(t)
	st, err := store.Open(context.Background(), ch, itest.Database())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// fixture writes evs (with a situation id each) in one batch, twice when redeliver.
func fixture(t *testing.T, st *store.Store, evs []event.Event, redeliver bool) {
	t.Helper()
	// The events' situation, visible to whoever sees the events (a situation id is shown
	// only when the situation may be seen).
	b := &store.Batch{Events: evs, Deltas: []picture.Delta{{Situation: picture.Situation{ID: "sit-" + evs[0].Exercise,
		Version: 1, Exercise: evs[0].Exercise, Title: "fixture", Kind: event.KindIndicator, Severity: event.SeverityLow, TLP: event.TLPClear, EventCount: len(evs),
		FirstSeen: t0, LastSeen: t0, UpdatedAt: t0}}}}
	for range evs {
		b.Situations = append(b.Situations, "sit-"+evs[0].Exercise)
		b.Duplicate = append(b.Duplicate, false)
	}
	for i := 0; i < 1+btoi(redeliver); i++ {
		if err := st.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// mk builds a valid event of exercise ex; mod adjusts it.
func mk(ex, contributor string, i int, mod func(*event.Event)) event.Event {
	e := event.Event{
		Contributor: contributor, SourceID: fmt.Sprint("r-", i), Kind: event.KindIndicator,
		ObservedAt: t0.Add(time.Duration(i) * time.Minute), ReceivedAt: t0.Add(time.Hour),
		Observables: []event.Observable{{Type: event.ObsIPv4, Value: fmt.Sprintf("192.0.2.%d", 1+i%250)}},
		Category:    "malicious-code/c2-server", Techniques: []string{"T1071"}, Sectors: []string{"energy"},
		Countries: []string{"EE"}, Severity: event.SeverityHigh, Confidence: 70, TLP: event.TLPGreen,
		Exercise: ex, Title: fmt.Sprintf("C2 beacon %d", i),
	}
	if mod != nil {
		mod(&e)
	}
	e.ID = event.Source{Contributor: e.Contributor}.EventID(e.SourceID)
	return e
}

func exercise(t *testing.T) string { return strings.ToUpper("T-" + itest.Namespace(t)) }

func ids(t *testing.T, st *store.Store, c store.Caller, f store.EventFilter) []string {
	t.Helper()
	var out []string
	if _, err := st.EachEvent(context.Background(), c, f, func(e *store.StoredEvent) error {
		out = append(out, e.SourceID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEventFiltersAndMarkingsInSQL(t *testing.T) {
	st := openStore(t)
	ex := exercise(t)
	evs := []event.Event{
		mk(ex, "fr-comcyber", 0, nil),
		mk(ex, "de-cert-bw", 1, func(e *event.Event) { e.Countries = []string{"DE"}; e.Sectors = []string{"health"} }),
		mk(ex, "fr-comcyber", 2, func(e *event.Event) { e.Kind = event.KindIncident; e.Severity = event.SeverityLow }),
		mk(ex, "fr-comcyber", 3, func(e *event.Event) { e.TLP = event.TLPAmber; e.Title = "Wiper on grid SCADA" }),
		mk(ex, "fr-comcyber", 4, func(e *event.Event) { e.TLP = event.TLPRed; e.ReleasableTo = []string{"EUFOR-ALTHEA"} }),
		mk(ex, "fr-comcyber", 5, func(e *event.Event) { e.ReleasableTo = []string{"analyst-2"} }),
		mk(ex, "pl-csirt-mon", 6, func(e *event.Event) { e.Anonymise = true; e.Techniques = []string{"T1486"} }),
		mk(ex, "pl-csirt-mon", 7, nil),
	}
	fixture(t, st, evs, true)
	analyst := store.Caller{Name: "analyst-1", MaxTLP: event.TLPAmber, Exercise: ex}
	f := func(name string, c store.Caller, fl store.EventFilter, want ...string) {
		t.Helper()
		got := ids(t, st, c, fl)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	f("all visible, newest first, each once", analyst, store.EventFilter{}, "r-7", "r-6", "r-3", "r-2", "r-1", "r-0")
	f("ascending", analyst, store.EventFilter{Asc: true, Limit: 2}, "r-0", "r-1")
	f("since/until", analyst, store.EventFilter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, "r-2", "r-1")
	f("contributor", analyst, store.EventFilter{Contributors: []string{"de-cert-bw"}}, "r-1")
	f("country", analyst, store.EventFilter{Countries: []string{"DE"}}, "r-1")
	f("sector", analyst, store.EventFilter{Sectors: []string{"health"}}, "r-1")
	f("kind", analyst, store.EventFilter{Kinds: []event.Kind{event.KindIncident}}, "r-2")
	f("severity", analyst, store.EventFilter{Severities: []event.Severity{event.SeverityLow}}, "r-2")
	f("technique", analyst, store.EventFilter{Techniques: []string{"T1486"}}, "r-6")
	f("tlp", analyst, store.EventFilter{TLPs: []event.TLP{event.TLPAmber}}, "r-3")
	f("q", analyst, store.EventFilter{Q: "scada"}, "r-3")
	f("observable value", analyst, store.EventFilter{ObsValue: "192.0.2.4"}, "r-3")
	f("observable value and type", analyst, store.EventFilter{ObsValue: "192.0.2.4", ObsType: "domain"})
	f("observable type", analyst, store.EventFilter{ObsType: "ipv4", Limit: 1}, "r-7")
	// Denials.
	f("TLP above ceiling", store.Caller{Name: "a", MaxTLP: event.TLPGreen, Exercise: ex}, store.EventFilter{TLPs: []event.TLP{event.TLPAmber}})
	f("RED only when named", store.Caller{Name: "x", MaxTLP: event.TLPRed, Exercise: ex}, store.EventFilter{TLPs: []event.TLP{event.TLPRed}})
	f("RED to a named mission", store.Caller{Name: "x", Missions: []string{"EUFOR-ALTHEA"}, MaxTLP: event.TLPRed, Exercise: ex},
		store.EventFilter{TLPs: []event.TLP{event.TLPRed}}, "r-4")
	f("releasable to someone else", analyst, store.EventFilter{Contributors: []string{"fr-comcyber"}, Since: t0.Add(5 * time.Minute)})
	f("releasable to me", store.Caller{Name: "ANALYST-2", MaxTLP: event.TLPGreen, Exercise: ex},
		store.EventFilter{Since: t0.Add(5 * time.Minute), Until: t0.Add(6 * time.Minute)}, "r-5")
	f("anonymised name hidden", analyst, store.EventFilter{Contributors: []string{"pl-csirt-mon"}}, "r-7")
	f("anonymised name to itself", store.Caller{Name: "pl-csirt-mon", MaxTLP: event.TLPGreen, Exercise: ex},
		store.EventFilter{Contributors: []string{"pl-csirt-mon"}}, "r-7", "r-6")
	f("anonymised name to admin", store.Caller{Name: "root", MaxTLP: event.TLPGreen, Exercise: ex, SeeAnonymised: true},
		store.EventFilter{Contributors: []string{"pl-csirt-mon"}}, "r-7", "r-6")
	f("other exercise", store.Caller{Name: "a", MaxTLP: event.TLPRed, Exercise: ex + "-OTHER"}, store.EventFilter{})
	f("real picture", store.Caller{Name: "a", MaxTLP: event.TLPRed}, store.EventFilter{Q: "C2 beacon", Contributors: []string{"fr-comcyber"}, Since: t0, Until: t0.Add(time.Hour)})
}

func TestPagesNeitherSkipNorRepeatUnderConcurrentInserts(t *testing.T) {
	st := openStore(t)
	ex := exercise(t)
	var evs []event.Event
	for i := range 95 {
		evs = append(evs, mk(ex, "fr-comcyber", i, func(e *event.Event) { e.ObservedAt = t0.Add(time.Duration(i/3) * time.Minute) }))
	}
	fixture(t, st, evs, true)
	c := store.Caller{Name: "a", MaxTLP: event.TLPGreen, Exercise: ex}
	seen := map[string]int{}
	var after *store.Cursor
	for page := 0; ; page++ {
		var got []string
		next, err := st.EachEvent(context.Background(), c, store.EventFilter{Limit: 10, After: after}, func(e *store.StoredEvent) error {
			got = append(got, e.SourceID)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range got {
			seen[id]++
		}
		// Concurrent inserts: before and after the cursor, at the same instant, redelivered.
		fixture(t, st, []event.Event{
			mk(ex, "de-cert-bw", 1000+page, func(e *event.Event) { e.ObservedAt = t0.Add(time.Hour) }),
			mk(ex, "de-cert-bw", 2000+page, func(e *event.Event) { e.ObservedAt = t0.Add(-time.Hour) }),
		}, true)
		if next == nil {
			break
		}
		if len(got) != 10 {
			t.Fatalf("page %d has %d events, want 10 with a next cursor", page, len(got))
		}
		cur, err := store.ParseCursor(next.String())
		if err != nil || cur != *next {
			t.Fatalf("cursor does not round-trip: %v %v", cur, err)
		}
		after = &cur
	}
	for _, e := range evs {
		if seen[e.SourceID] != 1 {
			t.Errorf("%s seen %d times", e.SourceID, seen[e.SourceID])
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s seen %d times", id, n)
		}
	}
}

func TestTrendCountsRedeliveredEventsOnce(t *testing.T) {
	st := openStore(t)
	ex := exercise(t)
	var evs []event.Event
	for i := range 10 {
		evs = append(evs, mk(ex, "fr-comcyber", i, func(e *event.Event) {
			e.ObservedAt = t0.AddDate(0, 0, 7*(i%2))
			e.Sectors = []string{"energy", "transport"}[:1+i%2]
		}))
	}
	fixture(t, st, evs, true)
	fixture(t, st, evs[:4], false)
	c := store.Caller{Name: "a", MaxTLP: event.TLPGreen, Exercise: ex}
	rows, err := st.Trend(context.Background(), c, store.EventFilter{}, []string{"week", "sector"})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(rows)
	want := "[{[2026-03-02 energy] 5 false} {[2026-03-09 energy] 5 false} {[2026-03-09 transport] 5 false}]"
	if got != want {
		t.Fatalf("trend = %s, want %s", got, want)
	}
	for _, g := range store.TrendDims() {
		if _, err := st.Trend(context.Background(), c, store.EventFilter{}, []string{g}); err != nil {
			t.Errorf("group %s: %v", g, err)
		}
	}
	h, err := st.Observable(context.Background(), c, "192.0.2.1", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Sightings) != 1 || h.Sightings[0].Contributor != "fr-comcyber" || len(h.Situations) != 1 || !h.FirstSeen.Equal(t0) {
		t.Fatalf("observable history = %+v", h)
	}
	if err := st.Audit(context.Background(), store.AuditEntry{At: time.Now(), Identity: "test-" + ex, Role: "analyst",
		Action: "test", Filter: "x=1", Rows: 3, Status: 200}); err != nil {
		t.Fatal(err)
	}
}

// TestSituationPagesGiveEachLatestVersionOnce: situations with several versions (one
// stored twice, some removed by their latest version, some above the caller's ceiling),
// read seven at a time following cursors while the caller drops some (the page is then
// refilled): every visible situation once, at its latest version, in updated_at order.
func TestSituationPagesGiveEachLatestVersionOnce(t *testing.T) {
	st := openStore(t)
	ex := exercise(t)
	var deltas []picture.Delta
	want := map[string]uint64{}
	for i := range 30 {
		id := fmt.Sprintf("S-%02d", i)
		versions := 1 + i%3
		for v := 1; v <= versions; v++ {
			s := picture.Situation{ID: id, Version: uint64(v), Exercise: ex, Title: fmt.Sprint("v", v),
				Kind: event.KindIncident, TLP: event.TLPGreen, Severity: event.SeverityHigh, FirstSeen: t0, LastSeen: t0,
				UpdatedAt: t0.Add(time.Duration(i*10+v) * time.Minute)}
			d := picture.Delta{Situation: s}
			if v == versions && i%7 == 0 {
				d.Removed = true
			}
			if v == versions && i%5 == 0 {
				d.Situation.TLP = event.TLPRed
			}
			deltas = append(deltas, d)
			if v == versions && i%7 != 0 && i%5 != 0 && i%4 != 0 {
				want[id] = uint64(v)
			}
		}
	}
	b := &store.Batch{Deltas: deltas, StoredAt: time.Now()}
	for range 2 {
		if err := st.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	c := store.Caller{Name: "analyst-1", MaxTLP: event.TLPAmber, Exercise: ex}
	got, seen := map[string]uint64{}, map[string]bool{}
	var after *store.Cursor
	var prev time.Time
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("more than 10 pages of 7 for 30 situations")
		}
		next, err := st.EachSituation(context.Background(), c, store.SituationFilter{Limit: 7, After: after},
			func(s *store.StoredSituation) (bool, error) {
				if seen[s.ID] {
					t.Errorf("%s read twice", s.ID)
				}
				if !prev.IsZero() && s.UpdatedAt.After(prev) {
					t.Errorf("%s out of updated_at order", s.ID)
				}
				prev, seen[s.ID] = s.UpdatedAt, true
				if n, _ := strconv.Atoi(s.ID[2:]); n%4 == 0 {
					return false, nil // dropped by the caller, as the API drops other missions' areas
				}
				got[s.ID] = s.Version
				return true, nil
			})
		if err != nil {
			t.Fatal(err)
		}
		if next == nil {
			break
		}
		after = next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("situations read (id: version):\n %v\nwant\n %v", got, want)
	}
}
