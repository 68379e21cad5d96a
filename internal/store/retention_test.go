package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/deadletter"
	"github.com/cidcc/cop/internal/store"
)

// TestDropExpiredKeepsWholeMonthsOfRetention stores audit rows and dead letters over two
// years and drops, as of a December, what is older than 13 and 3 months: the audit keeps
// November of the year before on, the dead letters September on; 0 keeps everything.
func TestDropExpiredKeepsWholeMonthsOfRetention(t *testing.T) {
	ctx := context.Background()
	st, _ := scratchStore(t, "zz_ret_")
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 15, 12, 0, 0, 0, time.UTC)
	b, err := st.Conn().PrepareBatch(ctx, `INSERT INTO cop.audit (at, identity, role, action, filter, rows, status)`)
	if err != nil {
		t.Fatal(err)
	}
	var letters []deadletter.Letter
	for m := range 24 {
		at := now.AddDate(0, -m, 0)
		if err := b.Append(at, "analyst", "analyst", "events", "", uint64(1), uint16(200)); err != nil {
			t.Fatal(err)
		}
		letters = append(letters, deadletter.New("ee-cert", "test", "native", []byte("{}"), at, "test"))
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	if err := st.WriteDeadLetters(ctx, letters); err != nil {
		t.Fatal(err)
	}
	months := func(q string) []string {
		t.Helper()
		rows, err := st.Conn().Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var m uint32
			if err := rows.Scan(&m); err != nil {
				t.Fatal(err)
			}
			out = append(out, time.Date(int(m/100), time.Month(m%100), 1, 0, 0, 0, 0, time.UTC).Format("2006-01"))
		}
		return out
	}
	if d, err := st.DropExpired(ctx, now, store.Retention{}); err != nil || len(d) != 0 {
		t.Fatalf("no retention dropped %v, %v; want nothing", d, err)
	}
	dropped, err := st.DropExpired(ctx, now, store.DefaultRetention)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dropped %v", dropped)
	audit := months("SELECT DISTINCT toYYYYMM(at) AS m FROM cop.audit ORDER BY m")
	dead := months("SELECT DISTINCT toYYYYMM(received_at) AS m FROM cop.deadletter ORDER BY m")
	var wantAudit, wantDead []string
	for m := 13; m >= 0; m-- {
		wantAudit = append(wantAudit, now.AddDate(0, -m, 0).Format("2006-01"))
	}
	for m := 3; m >= 0; m-- {
		wantDead = append(wantDead, now.AddDate(0, -m, 0).Format("2006-01"))
	}
	if !slices.Equal(audit, wantAudit) {
		t.Errorf("audit months left %v; want %v", audit, wantAudit)
	}
	if !slices.Equal(dead, wantDead) {
		t.Errorf("dead-letter months left %v; want %v", dead, wantDead)
	}
	if len(dropped) != (24-14)+(24-4) {
		t.Errorf("dropped %d partitions; want %d", len(dropped), (24-14)+(24-4))
	}
}
