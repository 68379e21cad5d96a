package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/crisis"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/store"
)

func TestCrisesReloadTheLatestVersionOfOpenAndRecentlyClosed(t *testing.T) {
	_, chAddr := itest.Services(t)
	ctx := context.Background()
	st, err := store.Open(ctx, chAddr, itest.Database())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ns := itest.Namespace(t)
	now := time.Now().UTC().Truncate(time.Second)
	open := crisis.Crisis{ID: "crisis-open-" + ns, Version: 1, Status: crisis.Monitoring, Level: 2, TLP: event.TLPAmber,
		Exercise: "CYDEF-X", Missions: []string{"EUFOR-ALTHEA"}, UpdatedAt: now}
	later := open
	later.Version, later.Status, later.Level = 2, crisis.Escalated, 3
	old := crisis.Crisis{ID: "crisis-old-" + ns, Version: 3, Status: crisis.Closed, Level: 1, TLP: event.TLPGreen, UpdatedAt: now.Add(-48 * time.Hour)}
	recent := crisis.Crisis{ID: "crisis-recent-" + ns, Version: 3, Status: crisis.Closed, Level: 2, TLP: event.TLPGreen, UpdatedAt: now}
	if err := st.SaveCrises(ctx, ns, []crisis.Crisis{later, old, recent}); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveCrises(ctx, ns, []crisis.Crisis{open}); err != nil { // an older version stored after
		t.Fatal(err)
	}
	if err := st.SaveCrises(ctx, "other-"+ns, []crisis.Crisis{{ID: "crisis-elsewhere-" + ns, Version: 1, Status: crisis.Monitoring, Level: 1, TLP: event.TLPGreen, UpdatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	got, err := st.LoadCrises(ctx, ns, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]crisis.Crisis{}
	for _, c := range got {
		byID[c.ID] = c
	}
	if c, ok := byID[open.ID]; !ok || c.Version != 2 || c.Status != crisis.Escalated || c.Exercise != "CYDEF-X" || c.TLP != event.TLPAmber {
		t.Errorf("open crisis reloaded as %+v (ok %v), want version 2", c, ok)
	}
	if _, ok := byID[recent.ID]; !ok {
		t.Error("recently closed crisis not reloaded")
	}
	if _, ok := byID[old.ID]; ok {
		t.Error("crisis closed two days ago reloaded")
	}
	if len(got) != 2 {
		t.Errorf("reloaded %d crises, want 2 (another namespace's are not this deployment's)", len(got))
	}
}
