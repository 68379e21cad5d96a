package store

import (
	"context"
	"testing"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
)

// TestScopeMarkingRunsOnServer checks the releasability SQL parses and binds on the
// server at hand (18.16 and current releases differ in what they accept).
func TestScopeMarkingRunsOnServer(t *testing.T) {
	_, chAddr := itest.Services(t)
	ctx := context.Background()
	st, err := Open(ctx, chAddr, itest.Database())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, sc := range []Scope{{MaxTLP: event.TLPRed}, {MaxTLP: event.TLPRed, Named: []string{"A", "EUFOR-ALTHEA"}}} {
		if _, err := st.Stats(ctx, sc); err != nil {
			t.Errorf("scope %+v: %v", sc, err)
		}
	}
}
