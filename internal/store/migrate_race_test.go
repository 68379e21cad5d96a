package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/store"
)

// Stages of a fresh deployment start at once and each migrates an empty database: every
// one must succeed, and the schema must be whole once they have.
func TestMigrationsRunAtOnceOnAFreshDatabase(t *testing.T) {
	_, chAddr := itest.Services(t)
	st, db := scratchStore(t, "zz_race_")
	ctx := context.Background()
	const n = 4
	stores := make([]*store.Store, n)
	for i := range stores {
		s, err := store.Open(ctx, chAddr, db)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, s := range stores {
		wg.Go(func() { _, errs[i] = s.Migrate(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migration %d of %d run at once: %v", i+1, n, err)
		}
	}
	var tables uint64
	if err := st.Conn().QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name IN ('events', 'observables', 'situations', 'notes', 'crises')", db).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 5 {
		t.Errorf("%d of COP's 5 main tables after the migrations ran at once", tables)
	}
}
