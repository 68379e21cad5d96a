package store_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

// Stated names and the false-positive count go into cop.events and come back as they
// were; a filter by name matches any kind and leaves other events out.
func TestEventNamesAndFalsePositivesAreStoredAndFilterByName(t *testing.T) {
	st := openStore(t)
	ex := exercise(t)
	evs := []event.Event{
		mk(ex, "cert-ee", 1, func(e *event.Event) {
			e.Names = []event.Name{{Kind: "intrusion-set", Name: "apt 28"}, {Kind: "malware", Name: "x-agent"}}
			e.FalsePositives = 3
		}),
		mk(ex, "cert-ee", 2, func(e *event.Event) { e.Names = []event.Name{{Kind: "tool", Name: "x-agent"}} }),
		mk(ex, "cert-ee", 3, nil),
	}
	fixture(t, st, evs, false)
	c := store.Caller{Name: "analyst-1", MaxTLP: event.TLPAmber, Exercise: ex}
	byID := map[string]event.Event{}
	if _, err := st.EachEvent(context.Background(), c, store.EventFilter{}, func(e *store.StoredEvent) error {
		byID[e.ID] = e.Event
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, want := range evs {
		got := byID[want.ID]
		if !reflect.DeepEqual(got.Names, want.Names) || got.FalsePositives != want.FalsePositives {
			t.Errorf("event %s: names %+v false positives %d; want %+v %d", want.SourceID, got.Names, got.FalsePositives, want.Names, want.FalsePositives)
		}
	}
	f := func(names []string, want ...string) {
		t.Helper()
		got := ids(t, st, c, store.EventFilter{Names: names, Asc: true})
		if !reflect.DeepEqual(got, want) {
			t.Errorf("names %q: %v; want %v", names, got, want)
		}
	}
	f([]string{"x-agent"}, "r-1", "r-2")
	f([]string{"apt 28"}, "r-1")
	f([]string{"apt"}) // exact, not a substring
	f([]string{"nothing", "apt 28"}, "r-1")
}

// A situation's names are stored beside its payload and select it.
func TestSituationFilterByName(t *testing.T) {
	st := openStore(t)
	ex := exercise(t)
	ctx := context.Background()
	a := situationDelta(ex, "S-named", 1, []string{"EE"}, t0)
	a.Situation.Names = []event.Name{{Kind: "campaign", Name: "gridlock"}}
	b := situationDelta(ex, "S-plain", 1, []string{"EE"}, t0)
	if err := st.Write(ctx, &store.Batch{Deltas: []picture.Delta{a, b}}); err != nil {
		t.Fatal(err)
	}
	c := store.Caller{Name: "analyst-1", MaxTLP: event.TLPAmber, Exercise: ex}
	for _, tc := range []struct {
		names []string
		want  []string
	}{{[]string{"gridlock"}, []string{"S-named"}}, {[]string{"grid"}, nil}, {nil, []string{"S-named", "S-plain"}}} {
		var got []string
		if _, err := st.EachSituation(ctx, c, store.SituationFilter{Names: tc.names, Asc: true, Limit: 10}, func(s *store.StoredSituation) (bool, error) {
			got = append(got, s.ID)
			if s.ID == "S-named" && !reflect.DeepEqual(s.Names, a.Situation.Names) {
				t.Errorf("names %+v; want %+v", s.Names, a.Situation.Names)
			}
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) > 1 && got[0] > got[1] {
			got[0], got[1] = got[1], got[0]
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("names %q: %v; want %v", tc.names, got, tc.want)
		}
	}
}

// A database of migration 5 holding events upgrades to migration 6 in place: the old
// rows read without names, and new rows carry them.
func TestMigration6KeepsOlderRows(t *testing.T) {
	ctx := context.Background()
	st, db := scratchStore(t, "zz_names_")
	saved := store.Migrations
	var upTo5 []store.Migration
	for _, m := range saved {
		if m.Version <= 5 {
			upTo5 = append(upTo5, m)
		}
	}
	store.Migrations = upTo5
	_, err := st.Migrate(ctx)
	store.Migrations = saved
	if err != nil {
		t.Fatal(err)
	}
	ex := strings.ToUpper("NAMES-" + db)
	old := mk(ex, "cert-ee", 1, nil)
	st.WriteBeforeMigration6(true)
	fixture(t, st, []event.Event{old}, false)
	st.WriteBeforeMigration6(false)
	// Up to migration 6 only: the later ones are not this test's.
	var upTo6 []store.Migration
	for _, m := range saved {
		if m.Version <= 6 {
			upTo6 = append(upTo6, m)
		}
	}
	store.Migrations = upTo6
	applied, err := st.Migrate(ctx)
	store.Migrations = saved
	if err != nil || len(applied) != 1 {
		t.Fatalf("migrate to 6: applied %v, %v; want migration 6", applied, err)
	}
	fixture(t, st, []event.Event{mk(ex, "cert-ee", 2, func(e *event.Event) { e.Names = []event.Name{{Kind: "campaign", Name: "gridlock"}} })}, false)
	c := store.Caller{Name: "analyst-1", MaxTLP: event.TLPAmber, Exercise: ex}
	if got := ids(t, st, c, store.EventFilter{Asc: true}); !reflect.DeepEqual(got, []string{"r-1", "r-2"}) {
		t.Errorf("after the upgrade: %v; want [r-1 r-2]", got)
	}
	if got := ids(t, st, c, store.EventFilter{Names: []string{"gridlock"}}); !reflect.DeepEqual(got, []string{"r-2"}) {
		t.Errorf("by name after the upgrade: %v; want [r-2]", got)
	}
}
