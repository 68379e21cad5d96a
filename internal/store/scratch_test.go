package store_test

import (
	"context"
	"testing"

	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/store"
)

// scratchStore opens a store on a database of its own (prefix and the test's namespace),
// dropped when the test ends, and returns it with the database's name.
func scratchStore(t *testing.T, prefix string) (*store.Store, string) {
	t.Helper()
	_, chAddr := itest.Services(t)
	db := prefix + itest.Namespace(t)
	t.Setenv("COP_CH_DATABASE", db)
	st, err := store.Open(context.Background(), chAddr, itest.Database())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Errorf("cannot drop scratch database %s: %v", db, err)
		}
		st.Close()
	})
	return st, db
}
