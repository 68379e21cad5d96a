package store_test

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/store"
)

// TestTrendFromDailyAggregatesEqualsRows: random events over ten days (a batch of them
// stored twice, as after a crash), random markings and viewers; every trend the daily
// aggregates answer (alone or with the partial days at the ends from the rows) equals
// the same trend counted from the rows only.
func TestTrendFromDailyAggregatesEqualsRows(t *testing.T) {
	st := openStore(t)
	_, ch := itest.Services(t)
	rows, err := store.OpenWith(context.Background(), ch, store.Options{TrendFromRows: true, Database: itest.Database()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rows.Close() })
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	ex := exercise(t)
	day0 := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	pick := func(from []string) []string {
		var out []string
		for _, s := range from {
			if rng.IntN(3) == 0 {
				out = append(out, s)
			}
		}
		return out
	}
	contributors := []string{"fr-comcyber", "de-cert-bw", "cert-ee"}
	var evs []event.Event
	for i := range 600 {
		evs = append(evs, mk(ex, contributors[rng.IntN(3)], i, func(e *event.Event) {
			e.ObservedAt = day0.Add(time.Duration(rng.IntN(10*24*60)) * time.Minute)
			e.Sectors = pick([]string{"energy", "health", "telecom"})
			e.Countries = pick([]string{"EE", "LV", "BA"})
			e.Severity = event.Severity(1 + rng.IntN(5))
			e.TLP = event.TLP(1 + rng.IntN(5))
			e.ReleasableTo = pick([]string{"ANALYST-1", "CERT-EU"})
			e.Anonymise = rng.IntN(4) == 0
		}))
	}
	fixture(t, st, evs[:400], false)
	fixture(t, st, evs[400:], true) // stored twice

	callers := []store.Caller{
		{Name: "analyst-1", MaxTLP: event.TLPAmber, Exercise: ex},
		{Name: "analyst-2", MaxTLP: event.TLPRed, Exercise: ex},
		{Name: "root", MaxTLP: event.TLPRed, Exercise: ex, SeeAnonymised: true},
	}
	at := func(day, minute int) time.Time { return day0.Add(time.Duration(day*24*60+minute) * time.Minute) }
	filters := []store.EventFilter{
		{},
		{Since: at(2, 0), Until: at(8, 0)},      // whole days only
		{Since: at(1, 300), Until: at(7, 1000)}, // partial days at both ends
		{Since: at(3, 1)},                       // a partial first day, open end
		{Until: at(5, 720)},                     // open start, a partial last day
		{Since: at(4, 100), Until: at(4, 900)},  // within one day: rows only
		{Contributors: []string{"cert-ee", "fr-comcyber"}}, // anonymised ones only by admins
		{Countries: []string{"EE"}, Severities: []event.Severity{event.SeverityHigh, event.SeverityCritical}},
		{Sectors: []string{"energy", "health"}, TLPs: []event.TLP{event.TLPGreen}, Since: at(1, 0)},
	}
	dims := [][]string{{"day"}, {"week", "sector"}, {"month", "country"}, {"severity"}, {"contributor"}, {"sector", "country"}, {"day", "contributor"}}
	compared := 0
	for _, c := range callers {
		for fi, f := range filters {
			for _, d := range dims {
				want, err := rows.Trend(context.Background(), c, f, d)
				if err != nil {
					t.Fatal(err)
				}
				got, err := st.Trend(context.Background(), c, f, d)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("seed %d: %s, filter %d, by %v:\n aggregates %v\n rows       %v", seed, c.Name, fi, d, got, want)
				}
				compared += len(want)
			}
		}
	}
	if compared < 1000 {
		t.Fatalf("only %d groups compared: the fixture is too sparse to show anything", compared)
	}
	// The aggregates hold the redelivered batch's events once.
	var n uint64
	if err := st.Conn().QueryRow(context.Background(), `SELECT uniqExactMerge(ids) FROM cop.events_daily_stored WHERE exercise = ?`, ex).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != uint64(len(evs)) {
		t.Errorf("cop.events_daily_stored holds %d distinct events of the exercise, want %d", n, len(evs))
	}
}
