package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/deadletter"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/store"
)

// TestAccessMatrixContributions: GET /api/v1/contributions gives a contributor its own
// accepted events and dead letters (with reasons), never another's, whatever it asks;
// an admin names the contributor; every other role, and no token, is refused.
func TestAccessMatrixContributions(t *testing.T) {
	st := openStore(t)
	ns := itest.Namespace(t)
	mine, theirs := "feed-a-"+ns, "feed-b-"+ns
	ids := []access.Identity{
		{Name: mine, Role: access.RoleContributor, MaxTLP: event.TLPClear},
		{Name: theirs, Role: access.RoleContributor, MaxTLP: event.TLPClear},
		{Name: "cmdr-althea", Role: access.RoleCommander, MaxTLP: event.TLPRed, Missions: []string{"EUFOR-ALTHEA"}},
		{Name: "analyst-1", Role: access.RoleAnalyst, MaxTLP: event.TLPRed},
		{Name: "liaison-1", Role: access.RoleLiaison, MaxTLP: event.TLPRed},
		{Name: "admin", Role: access.RoleAdmin, MaxTLP: event.TLPRed},
	}
	f := newFixture(t, st, ids, nil)
	now := time.Now().UTC().Truncate(time.Second)
	b := &store.Batch{StoredAt: now}
	for _, who := range []string{mine, theirs} {
		e := event.Event{ID: "E-" + who, Contributor: who, SourceID: "r-" + who, Kind: event.KindIncident, ObservedAt: now, ReceivedAt: now,
			Severity: event.SeverityHigh, TLP: event.TLPRed, Title: "sent by " + who}
		b.Events, b.Situations, b.Duplicate = append(b.Events, e), append(b.Situations, "S-"+who), append(b.Duplicate, false)
	}
	if err := st.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if err := st.WriteDeadLetters(context.Background(), []deadletter.Letter{
		deadletter.New(mine, "push "+ns+"-1", "native", []byte("{"), now, "event 0: severity: missing: want one of info, low"),
		deadletter.New(theirs, "push "+ns+"-2", "native", []byte("{"), now, "event 0: tlp: unknown value"),
	}); err != nil {
		t.Fatal(err)
	}
	get := func(t *testing.T, who, q string) (int, store.Contributions, string) {
		t.Helper()
		resp := f.do(t, "GET", "/api/v1/contributions"+q, f.tokens[who], nil)
		body := readAll(resp)
		var c store.Contributions
		json.Unmarshal([]byte(body), &c)
		return resp.StatusCode, c, body
	}
	shows := func(c store.Contributions, who string) (events, letters bool) {
		for _, e := range c.Events {
			events = events || e.ID == "E-"+who
		}
		for _, l := range c.DeadLetters {
			letters = letters || l.Source == "push "+ns+"-1" && who == mine || l.Source == "push "+ns+"-2" && who == theirs
		}
		return
	}
	t.Run("contributor sees its own events and dead letters with reasons", func(t *testing.T) {
		status, c, body := get(t, mine, "")
		ev, dl := shows(c, mine)
		if status != http.StatusOK || !ev || !dl || c.Contributor != mine {
			t.Fatalf("%d events=%v letters=%v: %s", status, ev, dl, body)
		}
		if !strings.Contains(body, "severity: missing") {
			t.Errorf("no reason in %s", body)
		}
	})
	t.Run("contributor does not see another's", func(t *testing.T) {
		_, c, body := get(t, mine, "")
		if ev, dl := shows(c, theirs); ev || dl {
			t.Errorf("saw %s's: %s", theirs, body)
		}
	})
	t.Run("contributor naming another is refused", func(t *testing.T) {
		if status, _, body := get(t, mine, "?contributor="+theirs); status != http.StatusForbidden {
			t.Errorf("%d: %s", status, body)
		}
	})
	t.Run("admin names the contributor", func(t *testing.T) {
		status, c, body := get(t, "admin", "?contributor="+theirs)
		if ev, dl := shows(c, theirs); status != http.StatusOK || !ev || !dl {
			t.Errorf("%d: %s", status, body)
		}
		if status, _, _ := get(t, "admin", ""); status != http.StatusBadRequest {
			t.Errorf("admin without a contributor: %d, want 400", status)
		}
	})
	for _, who := range []string{"cmdr-althea", "analyst-1", "liaison-1"} {
		t.Run(who+" is refused", func(t *testing.T) {
			if status, _, body := get(t, who, "?contributor="+mine); status != http.StatusForbidden {
				t.Errorf("%d: %s", status, body)
			}
		})
	}
	t.Run("no token is refused", func(t *testing.T) {
		if resp := f.do(t, "GET", "/api/v1/contributions", "", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%d", resp.StatusCode)
		}
	})
}
