package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/store"
)

// TestEventsPartitionedByStoredMonth upgrades a database of migration 4 holding events
// observed over 24 months to migration 5: every event and observable is still there once
// (rows and daily aggregates), the old tables are gone, and a batch of a report feed
// observed over 24 months is then one part in cop.events and one in cop.observables (it
// was 24 each: one per observed month). Running the migration's statements again, as
// after an interruption past the swap, changes nothing.
func TestEventsPartitionedByStoredMonth(t *testing.T) {
	ctx := context.Background()
	st, db := scratchStore(t, "zz_part_")
	var err error
	saved := store.Migrations
	var v5 store.Migration
	var before []store.Migration
	for _, m := range saved {
		if m.Version == 5 {
			v5 = m
			break
		}
		before = append(before, m)
	}
	store.Migrations = before
	_, err = st.Migrate(ctx)
	store.Migrations = saved
	if err != nil {
		t.Fatal(err)
	}
	ex := strings.ToUpper("PART-" + db)
	now := time.Now().UTC().Truncate(time.Second)
	n := 0
	feed := func() *store.Batch { // a report feed: one event per month over two years
		b := &store.Batch{StoredAt: now}
		for m := range 24 {
			at := now.AddDate(0, -m-1, 0)
			b.Events = append(b.Events, event.Event{ID: fmt.Sprintf("p%05d", n), Contributor: "ee-cert", Kind: event.KindReport,
				ObservedAt: at, ReceivedAt: at, Severity: event.SeverityMedium, TLP: event.TLPGreen, Exercise: ex,
				Sectors: []string{"energy"}, Observables: []event.Observable{{Type: event.ObsIPv4, Value: fmt.Sprintf("203.0.113.%d", n%250)}}})
			b.Situations, b.Duplicate = append(b.Situations, "s"), append(b.Duplicate, false)
			n++
		}
		return b
	}
	partsOf := func(table string) uint64 {
		t.Helper()
		p, err := st.Parts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return p[table].Inserted
	}
	wrote := func() (events, observables uint64) {
		t.Helper()
		e0, o0 := partsOf("events"), partsOf("observables")
		if err := st.Write(ctx, feed()); err != nil {
			t.Fatal(err)
		}
		return partsOf("events") - e0, partsOf("observables") - o0
	}
	e, o := wrote()
	t.Logf("before migration 5, a feed observed over 24 months wrote %d parts into cop.events, %d into cop.observables", e, o)
	if e != 24 || o != 24 {
		t.Fatalf("by observed month: %d and %d parts; want 24 and 24 (one per month)", e, o)
	}
	// Up to migration 5 only: later migrations (7, crises) are not this test's.
	store.Migrations = append(before[:len(before):len(before)], v5)
	applied, err := st.Migrate(ctx)
	store.Migrations = saved
	if err != nil || len(applied) != 1 {
		t.Fatalf("migrate to 5: applied %v, %v; want migration 5", applied, err)
	}
	check := func(when string) {
		t.Helper()
		var events, obs, daily uint64
		if err := st.Conn().QueryRow(ctx, `SELECT uniqExact(id) FROM cop.events WHERE exercise = ?`, ex).Scan(&events); err != nil {
			t.Fatal(err)
		}
		if err := st.Conn().QueryRow(ctx, `SELECT uniqExact(event_id) FROM cop.observables WHERE exercise = ?`, ex).Scan(&obs); err != nil {
			t.Fatal(err)
		}
		if err := st.Conn().QueryRow(ctx, `SELECT uniqExactMerge(ids) FROM cop.events_daily_stored WHERE exercise = ?`, ex).Scan(&daily); err != nil {
			t.Fatal(err)
		}
		if events != uint64(n) || obs != uint64(n) || daily != uint64(n) {
			t.Errorf("%s: %d events, %d with observables, %d in the daily aggregates; want %d each", when, events, obs, daily, n)
		}
		var left uint64
		if err := st.Conn().QueryRow(ctx, `SELECT count() FROM system.tables WHERE database = ? AND (name LIKE '%_observed_month' OR name LIKE '%_stored_month')`, db).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Errorf("%s: %d transitional tables left; want none", when, left)
		}
	}
	check("after the upgrade")
	e, o = wrote()
	t.Logf("after migration 5, the same feed wrote %d part into cop.events, %d into cop.observables", e, o)
	if e != 1 || o != 1 {
		t.Errorf("by stored month: %d and %d parts; want 1 and 1", e, o)
	}
	check("after a feed")
	// Interrupted before it was recorded: run again, once after it ran to the end,
	// once after it stopped just past the swap of cop.events.
	run := func(stmts []string) {
		t.Helper()
		for _, q := range stmts {
			if err := st.Conn().Exec(ctx, q); err != nil && !store.AlreadyDone(q, err) {
				t.Fatalf("migration 5 run again: %v\n%.120s", err, q)
			}
		}
	}
	run(v5.SQL)
	check("after migration 5 ran again")
	run(v5.SQL[:3])
	run(v5.SQL)
	check("after migration 5 stopped past the swap and ran again")
}
