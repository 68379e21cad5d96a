package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/store"
)

// `cop migrate --cluster` run by several processes at once on a fresh cluster (the
// rehearsal form, Plain, on the services' one-shard cluster): every one succeeds, each
// migration is applied and recorded once, and the schema is whole. Without the lock each
// process read an empty schema_migrations and applied what it found missing: on the code
// before the lock, 3 of the 4 failed (a table dropped or missing under another's swap) and
// the 9 migrations had 22 records.
func TestClusterMigrationsRunAtOnceTakeTurns(t *testing.T) {
	_, chAddr := itest.Services(t)
	st, db := scratchStore(t, "zz_clock_")
	ctx := context.Background()
	var clusters uint64
	if err := st.Conn().QueryRow(ctx, "SELECT count() FROM system.clusters WHERE cluster = ?", rehearsalCluster).Scan(&clusters); err != nil {
		t.Fatal(err)
	}
	if clusters == 0 {
		t.Skipf("the server declares no cluster %q (scripts/services adds it on its next start)", rehearsalCluster)
	}
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
	spec := store.ClusterSpec{Name: rehearsalCluster, Database: db, Major: st.Major(), Plain: true}
	var wg sync.WaitGroup
	errs := make([]error, n)
	applied := make([][]string, n)
	for i, s := range stores {
		wg.Go(func() { applied[i], errs[i] = s.MigrateCluster(ctx, spec) })
	}
	wg.Wait()
	total := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("cluster migration %d of %d run at once: %v", i+1, n, err)
		}
		total += len(applied[i])
	}
	if total != len(store.Migrations) {
		t.Errorf("%d migrations applied by the %d processes together; want %d (each once)", total, n, len(store.Migrations))
	}
	var records, versions uint64
	if err := st.Conn().QueryRow(ctx, "SELECT count(), uniqExact(version) FROM "+db+".schema_migrations").Scan(&records, &versions); err != nil {
		t.Fatal(err)
	}
	if records != versions || versions != uint64(len(store.Migrations)) {
		t.Errorf("%d records of %d migrations in schema_migrations; want %d, once each", records, versions, len(store.Migrations))
	}
	var tables uint64
	if err := st.Conn().QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name IN ('events_local', 'observables_local', 'situations_local', 'notes_local', 'crises_local', 'events', 'situations')", db).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 7 {
		t.Errorf("%d of 7 of COP's main tables after the cluster migrations ran at once", tables)
	}
}
