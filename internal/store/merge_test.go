package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/store"
)

// TestDailyAggregatesLiveMergesLeaveHistoryAlone stores 20 days of history (3000 events a
// day, each day stored on its day), lets ClickHouse merge it (OPTIMIZE FINAL), then stores
// ten live inserts of 200 events today, and measures, for each daily aggregate, the bytes a
// merge of the partitions the live inserts landed in rewrites, per byte the live inserts
// wrote. Partitioned by observed month (migration 2), those partitions hold the month's
// history, so every merge of them rewrites it (the cost grew with the month); by stored
// day (migration 4) they hold today's inserts only. The first is measured on a database
// migrated up to migration 3, and must show it (so the measure can fail); the second must
// rewrite at most 2 bytes per byte inserted. Both keep every event once, and so does the
// upgrade of the first database to migration 4.
func TestDailyAggregatesLiveMergesLeaveHistoryAlone(t *testing.T) {
	itest.Services(t) // skip early without the services
	const bound = 2.0
	for _, c := range []struct {
		name    string
		upTo    uint32
		tables  []string
		atMost  float64
		atLeast float64
	}{
		{"by observed month (migration 2)", 3, []string{"events_daily", "contributors_daily"}, 0, 5 * bound},
		{"by stored day (migration 4)", 0, []string{"events_daily_stored", "contributors_daily_stored"}, bound, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			st, db := scratchStore(t, "zz_merge_")
			var err error
			saved := store.Migrations
			if c.upTo > 0 {
				var some []store.Migration
				for _, m := range saved {
					if m.Version <= c.upTo {
						some = append(some, m)
					}
				}
				store.Migrations = some
			}
			_, err = st.Migrate(ctx)
			store.Migrations = saved
			if err != nil {
				t.Fatal(err)
			}
			if c.upTo > 0 && c.upTo < 6 {
				st.WriteBeforeMigration6(true)
			}
			ex := strings.ToUpper("MERGE-" + db)
			now := time.Now().UTC()
			month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
			n := 0
			write := func(count int, observed, stored time.Time) {
				t.Helper()
				b := &store.Batch{StoredAt: stored}
				for range count {
					b.Events = append(b.Events, event.Event{ID: fmt.Sprintf("m%07d", n), Contributor: []string{"ee-cert", "fr-comcyber", "it-csirt"}[n%3],
						Kind: event.KindIndicator, ObservedAt: observed, ReceivedAt: observed, Severity: event.Severity(1 + n%4),
						TLP: event.TLPGreen, Sectors: []string{[]string{"energy", "health", "telecom"}[n%3]}, Countries: []string{"EE"}, Exercise: ex})
					b.Situations, b.Duplicate = append(b.Situations, "s"), append(b.Duplicate, false)
					n++
				}
				if err := st.Write(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			for d := range 20 {
				day := month.AddDate(0, 0, d).Add(12 * time.Hour)
				write(3000, day, day)
			}
			for _, table := range c.tables {
				if err := st.Conn().Exec(ctx, "OPTIMIZE TABLE cop."+table+" FINAL"); err != nil {
					t.Fatal(err)
				}
			}
			before, err := st.Parts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for range 10 {
				write(200, month.AddDate(0, 0, 20).Add(12*time.Hour), now)
			}
			for _, table := range c.tables {
				mark := before[table].Inserted
				var rewritten, inserted uint64
				if err := st.Conn().QueryRow(ctx, `SELECT sumIf(bytes_on_disk, active AND partition_id IN (
						SELECT partition_id FROM system.parts WHERE database = ? AND table = ? AND max_block_number > ?)),
					sumIf(bytes_on_disk, level = 0 AND min_block_number > ?)
					FROM system.parts WHERE database = ? AND table = ?`, db, table, int64(mark), int64(mark), db, table).Scan(&rewritten, &inserted); err != nil {
					t.Fatal(err)
				}
				var distinct uint64
				if err := st.Conn().QueryRow(ctx, "SELECT uniqExactMerge(ids) FROM cop."+table+" WHERE exercise = ?", ex).Scan(&distinct); err != nil {
					t.Fatal(err)
				}
				ratio := float64(rewritten) / float64(max(inserted, 1))
				t.Logf("%s: a merge of the live partitions rewrites %d bytes for %d bytes inserted live (%.1f per byte); %d events of %d",
					table, rewritten, inserted, ratio, distinct, n)
				if distinct != uint64(n) {
					t.Errorf("%s holds %d distinct events; want %d", table, distinct, n)
				}
				if c.atMost > 0 && ratio > c.atMost {
					t.Errorf("%s: %.1f bytes rewritten per byte inserted; want at most %.0f", table, ratio, c.atMost)
				}
				if c.atLeast > 0 && ratio < c.atLeast {
					t.Errorf("%s: %.1f bytes rewritten per byte inserted; the measure should see the month's history (at least %.0f)", table, ratio, c.atLeast)
				}
			}
			if c.upTo == 0 {
				return
			}
			// Upgraded: the aggregates by stored day are filled from the rows, the old
			// ones are gone.
			if _, err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			for _, table := range []string{"events_daily_stored", "contributors_daily_stored"} {
				var distinct uint64
				if err := st.Conn().QueryRow(ctx, "SELECT uniqExactMerge(ids) FROM cop."+table+" WHERE exercise = ?", ex).Scan(&distinct); err != nil {
					t.Fatal(err)
				}
				if distinct != uint64(n) {
					t.Errorf("after the upgrade, %s holds %d distinct events; want %d", table, distinct, n)
				}
			}
			var left uint64
			if err := st.Conn().QueryRow(ctx, `SELECT count() FROM system.tables WHERE database = ? AND name IN
				('events_daily', 'contributors_daily', 'events_daily_mv', 'contributors_daily_mv')`, db).Scan(&left); err != nil {
				t.Fatal(err)
			}
			if left != 0 {
				t.Errorf("after the upgrade, %d of the old aggregate tables and views are left; want none", left)
			}
		})
	}
}
