package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/itest"
)

// A migration lock left by a process killed while migrating stops the next start with an
// error that says what to do, after the wait; with nothing to apply, no lock is needed.
func TestMigrationLockLeftBehindIsNamed(t *testing.T) {
	_, chAddr := itest.Services(t)
	ctx := context.Background()
	db := "zz_lock_" + itest.Namespace(t)
	st, err := Open(ctx, chAddr, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	defer st.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db)
	if err := st.conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS cop"); err != nil {
		t.Fatal(err)
	}
	if err := st.conn.Exec(ctx, "CREATE TABLE "+migrationLock+" (since DateTime DEFAULT now()) ENGINE = Memory"); err != nil {
		t.Fatal(err)
	}
	saved := migrationLockWait
	migrationLockWait = 300 * time.Millisecond
	defer func() { migrationLockWait = saved }()
	_, err = st.Migrate(ctx)
	if err == nil || !strings.Contains(err.Error(), db+".migration_lock") || !strings.Contains(err.Error(), "drop that table") {
		t.Fatalf("Migrate under a lock left behind: %v; want the table named and what to do", err)
	}
	if err := st.conn.Exec(ctx, "DROP TABLE "+migrationLock); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// Up to date: a lock left behind no longer matters.
	if err := st.conn.Exec(ctx, "CREATE TABLE "+migrationLock+" (since DateTime DEFAULT now()) ENGINE = Memory"); err != nil {
		t.Fatal(err)
	}
	if applied, err := st.Migrate(ctx); err != nil || len(applied) != 0 {
		t.Fatalf("Migrate of an up-to-date database with a lock left behind: %v, %v; want nothing to do", applied, err)
	}
}
