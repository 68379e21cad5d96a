package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

// TestSituationByIDReadsOneSmallGranule upgrades a database of migration 8 holding 20,000
// situations (one in three versions) to migration 10: every situation is still there once,
// GET /situations/{id}'s read returns the same latest version, and it reads at most a few
// hundred rows of cop.situations where it read a whole granule of 8,192 (each ~1 KB of
// payload) before. Running the migration's statements again, as after an interruption
// past the swap, changes nothing. Checked to fail before migration 10 existed (8,192+ rows).
func TestSituationByIDReadsOneSmallGranule(t *testing.T) {
	ctx := context.Background()
	st, db := scratchStore(t, "zz_gran_")
	saved := store.Migrations
	var v10 store.Migration
	var before []store.Migration
	for _, m := range saved {
		if m.Version == 10 {
			v10 = m
		} else if m.Version < 10 {
			before = append(before, m)
		}
	}
	if v10.Version == 0 {
		t.Fatal("no migration 10")
	}
	store.Migrations = before
	_, err := st.Migrate(ctx)
	store.Migrations = saved
	if err != nil {
		t.Fatal(err)
	}
	ex := strings.ToUpper("GRAN-" + db)
	now := time.Now().UTC().Truncate(time.Second)
	const n = 20_000
	sit := func(i int, v uint64) picture.Situation {
		s := picture.Situation{ID: fmt.Sprintf("s%06d", i), Version: v, Exercise: ex, Title: fmt.Sprintf("situation %d", i),
			Kind: event.KindIndicator, Severity: event.SeverityHigh, TLP: event.TLPGreen, EventCount: int(v),
			FirstSeen: now, LastSeen: now, UpdatedAt: now.Add(time.Duration(v) * time.Second), Countries: []string{"EE"}}
		for k := range 20 {
			s.EventIDs = append(s.EventIDs, fmt.Sprintf("%032x", i*20+k))
		}
		return s
	}
	b := &store.Batch{}
	for i := range n {
		b.Deltas = append(b.Deltas, picture.Delta{Situation: sit(i, 1)})
	}
	if err := st.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	// The one read: versions 2 and 3 in parts of their own.
	const id = 12_345
	for v := uint64(2); v <= 3; v++ {
		if err := st.Write(ctx, &store.Batch{Deltas: []picture.Delta{{Situation: sit(id, v)}}}); err != nil {
			t.Fatal(err)
		}
	}
	c := store.Caller{Name: "analyst", MaxTLP: event.TLPAmber, Exercise: ex}
	// read returns the situation GET /situations/{id} reads, as JSON, and the rows of
	// cop.situations the server read for it.
	read := func() (string, uint64) {
		t.Helper()
		var rows uint64
		pctx := clickhouse.Context(ctx, clickhouse.WithProgress(func(p *clickhouse.Progress) { rows += p.Rows }))
		var got []*store.StoredSituation
		if _, err := st.EachSituation(pctx, c, store.SituationFilter{ID: sit(id, 3).ID, Limit: 1}, func(s *store.StoredSituation) (bool, error) {
			got = append(got, s)
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Version != 3 {
			t.Fatalf("read %d situations (%+v); want version 3 of %s", len(got), got, sit(id, 3).ID)
		}
		j, _ := json.Marshal(got[0])
		return string(j), rows
	}
	old, oldRows := read()
	t.Logf("before migration 10: %d rows read for one situation", oldRows)
	store.Migrations = append(before[:len(before):len(before)], v10)
	applied, err := st.Migrate(ctx)
	store.Migrations = saved
	if err != nil || len(applied) != 1 {
		t.Fatalf("migrate to 10: applied %v, %v; want migration 10", applied, err)
	}
	check := func(when string) {
		t.Helper()
		var ids, versions uint64
		if err := st.Conn().QueryRow(ctx, `SELECT uniqExact(id), uniqExact(id, version) FROM cop.situations WHERE exercise = ?`, ex).Scan(&ids, &versions); err != nil {
			t.Fatal(err)
		}
		if ids != n || versions != n+2 {
			t.Errorf("%s: %d situations in %d versions; want %d in %d", when, ids, versions, n, n+2)
		}
		var left uint64
		if err := st.Conn().QueryRow(ctx, `SELECT count() FROM system.tables WHERE database = ? AND name IN ('situations_fine', 'situations_coarse')`, db).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Errorf("%s: %d transitional tables left; want none", when, left)
		}
		got, rows := read()
		t.Logf("%s: %d rows read for one situation", when, rows)
		if got != old {
			t.Errorf("%s: read\n%s\nwant (as before the migration)\n%s", when, got, old)
		}
		// Each part holding the id gives at most one granule or two (the id at a boundary).
		if rows > 4*256 {
			t.Errorf("%s: %d rows of cop.situations read for one situation; want at most %d", when, rows, 4*256)
		}
	}
	check("after migration 10")
	run := func(stmts []string) {
		t.Helper()
		for _, q := range stmts {
			if err := st.Conn().Exec(ctx, q); err != nil && !store.AlreadyDone(q, err) {
				t.Fatalf("migration 10 run again: %v\n%.120s", err, q)
			}
		}
	}
	run(v10.SQL)
	check("after migration 10 ran again")
	run(v10.SQL[:2])
	run(v10.SQL)
	check("after migration 10 stopped past the swap and ran again")
}
