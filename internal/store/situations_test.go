package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

func situationDelta(ex, id string, version uint64, countries []string, updated time.Time) picture.Delta {
	return picture.Delta{Situation: picture.Situation{ID: id, Version: version, Exercise: ex, Title: "campaign " + id,
		Kind: event.KindIndicator, Severity: event.SeverityHigh, TLP: event.TLPGreen, Countries: countries, EventCount: 1,
		FirstSeen: t0, LastSeen: t0, UpdatedAt: updated}}
}

// The correlator updates the situations at the top of the list all the time: when a
// version read in the first phase of a page is folded away by the second, the page must
// still hold the situation (in its newer version) and say whether more follow. Before,
// the page came back empty with no next: a client following cursors stopped there.
func TestSituationPageSurvivesANewVersionBetweenItsPhases(t *testing.T) {
	st := openStore(t)
	ex := exercise(t)
	ctx := context.Background()
	var deltas []picture.Delta
	for i := range 3 {
		deltas = append(deltas, situationDelta(ex, fmt.Sprint("S-", i), 1, []string{"EE"}, t0.Add(time.Duration(i)*time.Minute)))
	}
	if err := st.Write(ctx, &store.Batch{Deltas: deltas, StoredAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	version := uint64(1)
	defer store.SetAfterKeys(func() {
		// Every situation moves on to a new version, and the old ones are merged away.
		version++
		var next []picture.Delta
		for _, d := range deltas {
			d.Situation.Version = version
			next = append(next, d)
		}
		if err := st.Write(ctx, &store.Batch{Deltas: next, StoredAt: time.Now()}); err != nil {
			t.Error(err)
		}
		if err := st.Exec(ctx, "OPTIMIZE TABLE cop.situations PARTITION ? FINAL", ex); err != nil {
			t.Error(err)
		}
	})()
	c := store.Caller{Name: "analyst-1", MaxTLP: event.TLPAmber, Exercise: ex}
	var got []string
	var after *store.Cursor
	for pages := 0; pages < 5; pages++ {
		n := 0
		next, err := st.EachSituation(ctx, c, store.SituationFilter{Limit: 1, After: after}, func(s *store.StoredSituation) (bool, error) {
			got = append(got, s.ID)
			n++
			return true, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 && next == nil && len(got) < 3 {
			t.Fatalf("page %d empty with no next after %v: the client stops with situations unread", pages, got)
		}
		if next == nil {
			break
		}
		after = next
	}
	if fmt.Sprint(got) != "[S-2 S-1 S-0]" {
		t.Fatalf("pages of 1 gave %v, want [S-2 S-1 S-0]", got)
	}
}

// A commander's list drops every situation outside its mission areas after reading it;
// a page must not cost one round trip per dropped situation (27 s for limit=1 under load,
// against 2.8 s for an analyst).
func TestSparseSituationPageReadsInFewRounds(t *testing.T) {
	st := openStore(t)
	ex := exercise(t)
	ctx := context.Background()
	var deltas []picture.Delta
	deltas = append(deltas, situationDelta(ex, "S-BA", 1, []string{"BA"}, t0))
	for i := range 300 {
		deltas = append(deltas, situationDelta(ex, fmt.Sprint("S-EE-", i), 1, []string{"EE"}, t0.Add(time.Duration(1+i)*time.Second)))
	}
	if err := st.Write(ctx, &store.Batch{Deltas: deltas, StoredAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c := store.Caller{Name: "cmdr", MaxTLP: event.TLPRed, Exercise: ex}
	keep := func(s *store.StoredSituation) (bool, error) {
		for _, c := range s.Countries {
			if c == "BA" {
				return true, nil
			}
		}
		return false, nil
	}
	f := func(name string, filter store.SituationFilter, maxRounds int) {
		t.Helper()
		rounds := 0
		restore := store.SetAfterKeys(func() { rounds++ })
		defer restore()
		var got []string
		next, err := st.EachSituation(ctx, c, filter, func(s *store.StoredSituation) (bool, error) {
			ok, err := keep(s)
			if ok {
				got = append(got, s.ID)
			}
			return ok, err
		})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != "[S-BA]" || next != nil {
			t.Errorf("%s: got %v, next %v; want [S-BA] and no next", name, got, next)
		}
		if rounds > maxRounds {
			t.Errorf("%s: %d rounds for one page of 1 behind 300 dropped situations, want at most %d", name, rounds, maxRounds)
		}
	}
	f("dropped after reading", store.SituationFilter{Limit: 1}, 10)
	f("mission countries in SQL", store.SituationFilter{Limit: 1, Areas: []string{"BA"}}, 1)
}

func TestRedactedKeepsNoQueryText(t *testing.T) {
	ex := &proto.Exception{Code: 62, Name: "DB::Exception", Message: "Syntax error: failed at position 553: 1e-308, 'Float64') AND positionCaseInsensitiveUTF8(title, 'secret-term')"}
	got := store.Redacted(fmt.Errorf("cannot query situations: %w", ex))
	if strings.Contains(got, "secret") || got != "cannot query situations: ClickHouse exception 62 (DB::Exception)" {
		t.Errorf("Redacted = %q", got)
	}
	if got := store.Redacted(errors.New("read: connection reset")); got != "read: connection reset" {
		t.Errorf("Redacted of a network error = %q", got)
	}
}
