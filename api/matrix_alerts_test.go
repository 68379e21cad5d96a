package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/cidcc/cop/internal/alert"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

// TestAccessMatrixAlerts raises each rule's situation through the hub's alert.Sink: a
// viewer gets it exactly when it would see the situation on its websocket.
func TestAccessMatrixAlerts(t *testing.T) {
	for _, c := range wsCells {
		t.Run("raise/"+c.rule, func(t *testing.T) {
			f := newFixture(t, nil, alertIdentities, nil)
			var subject picture.Situation
			for _, s := range matrixSituations() {
				if s.ID == c.situation {
					subject = s
				}
			}
			ex := ""
			if c.view.Get("exercise") != "" {
				ex = "CYDEF-X"
			}
			cl := f.followAlerts(t, c.viewer, c.view)
			f.s.Hub.Raise(alert.Alert{ID: "crisis:" + c.situation, Kind: alert.KindCrisis, Level: 2, Reason: "test", Subject: subject})
			f.s.Hub.Raise(alert.Alert{ID: sentinelAlert, Kind: alert.KindSituation, Subject: alertSentinel(ex)})
			cl.readUntil(t, sentinelAlert)
			if _, got := cl.alerts["crisis:"+c.situation]; got != c.allow {
				t.Errorf("%s got the alert on %s: %v, want %v", c.viewer, c.situation, got, c.allow)
			}
		})
	}
	t.Run("raise/anonymised_contributor/pseudonym", func(t *testing.T) {
		f := newFixture(t, nil, alertIdentities, nil)
		cl := f.followAlerts(t, "cmdr-althea", nil)
		f.s.Hub.Raise(alert.Alert{ID: "crisis:anon", Kind: alert.KindCrisis, Subject: matrixSituations()[6]})
		cl.readUntil(t, "crisis:anon")
		if got, want := cl.alerts["crisis:anon"].Subject.Contributors[0].Name, testAnon.Pseudonym("cmdr-althea", "feed-a"); got != want {
			t.Errorf("contributor shown as %q, want %q", got, want)
		}
		var list struct{ Alerts []AlertView }
		f.getJSON(t, "cmdr-althea", "/api/v1/alerts", &list)
		if len(list.Alerts) != 1 || list.Alerts[0].Subject.Contributors[0].Name == "feed-a" {
			t.Errorf("GET /api/v1/alerts: %+v, want the alert with the pseudonym", list.Alerts)
		}
	})
	t.Run("ws/alerts_param/deny", func(t *testing.T) {
		f := newFixture(t, nil, alertIdentities, nil)
		for _, q := range []url.Values{{"alerts": {"yes"}}, {"alerts": {"1"}, "alert_score": {"101"}}, {"alert_score": {"x"}}} {
			_, resp, _ := f.dial(f.tokens["cmdr-althea"], q, nil)
			if resp == nil || resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%v: %v, want 400", q, resp)
			}
		}
	})
}

func (f *fixture) getJSON(t *testing.T, name, path string, v any) {
	t.Helper()
	resp := f.do(t, "GET", path, f.tokens[name], nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s as %s: %d", path, name, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestAccessMatrixAlertRoutes: who may list and acknowledge alerts, and that nobody
// acknowledges another's; every answer is audited, a delivery once per identity.
func TestAccessMatrixAlertRoutes(t *testing.T) {
	_, ch := itest.Services(t)
	st, err := store.Open(context.Background(), ch, itest.Database())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	ns := itest.Namespace(t)
	ids := slices.Clone(alertIdentities)
	for i := range ids {
		ids[i].Name += "-" + ns
	}
	name := func(n string) string { return n + "-" + ns }
	f := newFixture(t, st, ids, nil)
	althea := f.followAlerts(t, name("cmdr-althea"), nil)
	althea2 := f.followAlerts(t, name("cmdr-althea"), nil) // a second dashboard of the same identity
	green := f.followAlerts(t, name("cmdr-green"), nil)
	amber := sit("s-amber-"+ns, event.TLPAmber, nil)
	f.pic.Apply(deltas(amber))
	f.pic.Apply(deltas(alertSentinel("")))
	aid := "situation:" + amber.ID + ":entered"
	for _, c := range []*alertClient{althea, althea2, green} {
		c.readUntil(t, sentinelAlert)
	}
	if _, ok := green.alerts[aid]; ok {
		t.Fatal("a commander capped at GREEN got the alert of an AMBER situation")
	}
	list := func(who string) []string {
		var l struct{ Alerts []AlertView }
		f.getJSON(t, who, "/api/v1/alerts", &l)
		var out []string
		for _, a := range l.Alerts {
			out = append(out, a.ID)
		}
		return out
	}
	if got := list(name("cmdr-althea")); !slices.Contains(got, aid) {
		t.Errorf("GET /api/v1/alerts as cmdr-althea: %v, want %s", got, aid)
	}
	if got := list(name("cmdr-green")); slices.Contains(got, aid) {
		t.Errorf("GET /api/v1/alerts as cmdr-green lists the AMBER alert: %v", got)
	}
	// No dashboard of cmdr-atalanta was connected: it is listed what concerns it (the
	// sentinel is in its area too), not the Bosnian one.
	if got := list(name("cmdr-atalanta")); !slices.Equal(got, []string{sentinelAlert}) {
		t.Errorf("GET /api/v1/alerts as cmdr-atalanta (no dashboard): %v, want only %s", got, sentinelAlert)
	}
	ack := "/api/v1/alerts/" + url.PathEscape(aid) + "/ack"
	cells := []struct {
		rule, who, method, path string
		status                  int
	}{
		{"list/no_token/deny", "", "GET", "/api/v1/alerts", 401},
		{"list/contributor/deny", name("feed-a"), "GET", "/api/v1/alerts", 403},
		{"list/analyst/allow", name("analyst-1"), "GET", "/api/v1/alerts", 200},
		{"ack/no_token/deny", "", "POST", ack, 401},
		{"ack/contributor/deny", name("feed-a"), "POST", ack, 403},
		{"ack/another_commanders_alert/deny", name("cmdr-green"), "POST", ack, 404},
		{"ack/other_missions_alert/deny", name("cmdr-atalanta"), "POST", ack, 404},
		{"ack/unknown/deny", name("cmdr-althea"), "POST", "/api/v1/alerts/nope/ack", 404},
		{"ack/ack_get/deny", name("cmdr-althea"), "GET", ack, 405},
		{"ack/own/allow", name("cmdr-althea"), "POST", ack, 200},
		{"ack/own_again/allow", name("cmdr-althea"), "POST", ack, 200},
		{"recipients/commander/deny", name("cmdr-althea"), "GET", "/api/v1/notify/recipients", 403},
		{"recipients/analyst/deny", name("analyst-1"), "GET", "/api/v1/notify/recipients", 403},
		{"recipients/admin/allow", name("admin"), "GET", "/api/v1/notify/recipients", 200},
	}
	for _, c := range cells {
		t.Run(c.rule, func(t *testing.T) {
			tok := ""
			if c.who != "" {
				tok = f.tokens[c.who]
			}
			if resp := f.do(t, c.method, c.path, tok, nil); resp.StatusCode != c.status {
				t.Errorf("%s %s as %q: %d, want %d", c.method, c.path, c.who, resp.StatusCode, c.status)
			}
		})
	}
	if got := list(name("cmdr-althea")); slices.Contains(got, aid) {
		t.Errorf("acknowledged alert still listed: %v", got)
	}
	// Raised again (the situation left and came back): not sent to who acknowledged it,
	// even on a dashboard opened since.
	althea3 := f.followAlerts(t, name("cmdr-althea"), nil)
	f.pic.Apply(deltas(withVersion(amber, 2, func(s *picture.Situation) { s.Score = 10 })))
	f.pic.Apply(deltas(withVersion(amber, 3, nil)))
	f.pic.Apply(deltas(withVersion(alertSentinel(""), 2, func(s *picture.Situation) { s.ID = "zz-sentinel-2" })))
	althea3.readUntil(t, "situation:zz-sentinel-2:entered")
	if _, ok := althea3.alerts[aid]; ok {
		t.Error("an acknowledged alert was raised again to the identity that acknowledged it")
	}

	if err := st.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	count := func(who, action string, status int) uint64 {
		t.Helper()
		var n uint64
		if err := st.Conn().QueryRow(context.Background(), `SELECT count() FROM cop.audit WHERE identity = ? AND action = ? AND status = ?
			AND position(filter, ?) > 0`, who, action, status, amber.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count("cop", "alert.raise", 200); n != 1 {
		t.Errorf("audit rows of the raise: %d, want 1", n)
	}
	if n := count(name("cmdr-althea"), "alert.deliver", 200); n != 1 {
		t.Errorf("audit rows of the delivery to cmdr-althea (two dashboards, raised twice): %d, want 1", n)
	}
	if n := count(name("cmdr-green"), "alert.deliver", 200); n != 0 {
		t.Errorf("audit rows of a delivery to cmdr-green: %d, want 0", n)
	}
	if n := count(name("cmdr-althea"), "alert.ack", 200); n != 2 {
		t.Errorf("audit rows of cmdr-althea's acks: %d, want 2", n)
	}
	if n := count(name("cmdr-green"), "alert.ack", 404); n != 1 {
		t.Errorf("audit rows of cmdr-green's refused ack: %d, want 1", n)
	}
}
