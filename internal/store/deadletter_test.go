package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/deadletter"
	"github.com/cidcc/cop/internal/store"
)

// TestDeadLetterReasonsMigrationKeepsOldRowsAndResumes upgrades a database holding a dead
// letter of the one-reason schema, with the migration interrupted after its first column
// (18.16 has no ADD COLUMN IF NOT EXISTS): Migrate finishes it, the old row reads as one
// rejected element, and a letter of many reasons is stored as one row with its list.
func TestDeadLetterReasonsMigrationKeepsOldRowsAndResumes(t *testing.T) {
	ctx := context.Background()
	st, _ := scratchStore(t, "zz_dl_")
	var err error
	saved := store.Migrations
	var v3 store.Migration
	var before []store.Migration
	for _, m := range saved {
		if m.Name == "dead letter reasons" {
			v3 = m
			break
		}
		before = append(before, m)
	}
	if v3.Version == 0 {
		t.Fatal("no migration named \"dead letter reasons\"")
	}
	store.Migrations = before
	_, err = st.Migrate(ctx)
	store.Migrations = saved
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().UTC().Truncate(time.Second)
	b, err := st.Conn().PrepareBatch(ctx, `INSERT INTO cop.deadletter (id, contributor, source, format, reason, raw, raw_size, received_at)`)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append("old", "ee-cert", "kafka:x/0@1", "native", "event 0: kind: missing", "{}", uint32(2), old); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	// Interrupted: the first column was added, the step was not recorded.
	if err := st.Conn().Exec(ctx, v3.SQL[0]); err != nil {
		t.Fatal(err)
	}
	// Up to this step: later migrations are not what this test is about.
	store.Migrations = append(before[:len(before):len(before)], v3)
	applied, err := st.Migrate(ctx)
	store.Migrations = saved
	if err != nil || len(applied) != 1 || !strings.Contains(applied[0], "dead letter reasons") {
		t.Fatalf("Migrate after an interrupted step: applied %v, %v; want the dead letter reasons step", applied, err)
	}
	var reasons []string
	var rejected uint32
	if err := st.Conn().QueryRow(ctx, `SELECT reasons, rejected FROM cop.deadletter WHERE id = 'old'`).Scan(&reasons, &rejected); err != nil {
		t.Fatal(err)
	}
	if len(reasons) != 0 || rejected != 1 {
		t.Errorf("old row: reasons %q, rejected %d; want none and 1", reasons, rejected)
	}

	errs := make([]string, 250)
	for i := range errs {
		errs[i] = "event: kind: missing"
	}
	l := deadletter.New("ee-cert", "http:new", "native", []byte("[{}]"), old, errs...)
	if err := st.WriteDeadLetters(ctx, []deadletter.Letter{l}); err != nil {
		t.Fatal(err)
	}
	var rows uint64
	if err := st.Conn().QueryRow(ctx, `SELECT count(), any(rejected) FROM cop.deadletter WHERE source = 'http:new'`).
		Scan(&rows, &rejected); err != nil {
		t.Fatal(err)
	}
	if err := st.Conn().QueryRow(ctx, `SELECT reasons FROM cop.deadletter WHERE source = 'http:new'`).Scan(&reasons); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || len(reasons) != deadletter.MaxReasons || rejected != 250 {
		t.Errorf("letter of 250 reasons: %d rows, %d reasons, rejected %d; want 1 row, %d reasons, 250", rows, len(reasons), rejected, deadletter.MaxReasons)
	}
}
