package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/store"
)

func TestAuditEntrysReachClickHouseOnFlushAndClose(t *testing.T) {
	_, chAddr := itest.Services(t)
	ctx := context.Background()
	st, err := store.Open(ctx, chAddr, itest.Database())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	who := "audit-" + itest.Namespace(t)
	for i := 0; i < 3; i++ {
		if err := st.Audit(ctx, store.AuditEntry{Identity: who, Role: "analyst", Action: "stats", Filter: "exercise=", Rows: uint64(i), Status: 200}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil { // Close flushes
		t.Fatal(err)
	}
	check, err := store.Open(ctx, chAddr, itest.Database())
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	itest.Eventually(t, 10*time.Second, 100*time.Millisecond, func() (bool, string) {
		var n uint64
		if err := check.Conn().QueryRow(ctx, `SELECT count() FROM cop.audit WHERE identity = ?`, who).Scan(&n); err != nil {
			return false, err.Error()
		}
		return n == 3, "audit rows"
	})
}
