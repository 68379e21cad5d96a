package api

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/alert"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

// alertIdentities are matrixIdentities and a commander of another mission.
var alertIdentities = append(slices.Clone(matrixIdentities),
	access.Identity{Name: "cmdr-atalanta", Role: access.RoleCommander, MaxTLP: event.TLPRed, Missions: []string{"EUNAVFOR-ATALANTA"}})

// alertSentinel is a situation every viewer of the tests may see (EUFOR Althea's and
// EUNAVFOR Atalanta's areas, CLEAR) and whose id sorts last: its alert comes last.
func alertSentinel(exercise string) picture.Situation {
	return sit("zz-sentinel", event.TLPClear, func(s *picture.Situation) { s.Countries = []string{"BA", "SO"}; s.Exercise = exercise })
}

const sentinelAlert = "situation:zz-sentinel:entered"

// alertClient reads a websocket that asked for alerts.
type alertClient struct {
	cl     *wsClient
	alerts map[string]alert.Alert
}

func (f *fixture) followAlerts(t *testing.T, name string, q url.Values) *alertClient {
	t.Helper()
	q = maps.Clone(q)
	if q == nil {
		q = url.Values{}
	}
	q.Set("alerts", "1")
	c := &alertClient{cl: f.follow(t, name, q), alerts: map[string]alert.Alert{}}
	c.cl.snapshot(t)
	return c
}

// readUntil reads messages until alert want arrives, or fails after 10 s.
func (c *alertClient) readUntil(t *testing.T, want string) {
	t.Helper()
	c.cl.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := c.cl.conn.ReadMessage()
		if err != nil {
			t.Fatalf("websocket read while waiting for alert %s: %v", want, err)
		}
		if strings.HasPrefix(string(b), `{"type":"alert"`) {
			var m AlertMessage
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if _, dup := c.alerts[m.Alert.ID]; dup {
				t.Errorf("alert %s sent twice on one connection", m.Alert.ID)
			}
			c.alerts[m.Alert.ID] = m.Alert
			if m.Alert.ID == want {
				return
			}
			continue
		}
		var m Message
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for _, s := range m.Situations {
			c.cl.seen[s.ID] = s
		}
	}
}

func TestAlertWhenASituationEntersTheViewAtItsThreshold(t *testing.T) {
	f := newFixture(t, nil, alertIdentities, nil)
	althea := f.followAlerts(t, "cmdr-althea", nil)
	low := f.followAlerts(t, "cmdr-althea", url.Values{"alert_score": {"10"}})
	atalanta := f.followAlerts(t, "cmdr-atalanta", nil)
	quiet := f.follow(t, "cmdr-althea", nil) // did not ask for alerts
	quiet.snapshot(t)

	f.pic.Apply(deltas(
		sit("s-weak", event.TLPGreen, func(s *picture.Situation) { s.Score = 20 }),
		sit("s-strong", event.TLPGreen, func(s *picture.Situation) { s.Score = 45 }),
		sit("s-old", event.TLPGreen, func(s *picture.Situation) { s.UpdatedAt = s.UpdatedAt.Add(-time.Hour) }),
	))
	f.pic.Apply(deltas(alertSentinel("")))
	althea.readUntil(t, sentinelAlert)
	low.readUntil(t, sentinelAlert)
	atalanta.readUntil(t, sentinelAlert)
	if _, ok := althea.alerts["situation:s-strong:entered"]; !ok {
		t.Errorf("a situation entering at 45 raised no alert at the default threshold: %v", alertIDs(althea.alerts))
	}
	if _, ok := althea.alerts["situation:s-weak:entered"]; ok {
		t.Error("a situation entering at 20 raised an alert at the default threshold of 40")
	}
	if _, ok := low.alerts["situation:s-weak:entered"]; !ok {
		t.Errorf("alert_score=10: no alert for a situation at 20: %v", alertIDs(low.alerts))
	}
	if _, ok := althea.alerts["situation:s-old:entered"]; ok {
		t.Error("a situation last changed an hour ago (a reloading picture) raised an alert")
	}
	if got := alertIDs(atalanta.alerts); !slices.Equal(got, []string{sentinelAlert}) {
		t.Errorf("EUNAVFOR Atalanta's commander got alerts of EUFOR Althea's area: %v", got)
	}
	f.pic.Apply(deltas(sit("zz-sentinel2", event.TLPClear, nil)))
	quiet.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for done := false; !done; {
		var m Message
		if err := quiet.conn.ReadJSON(&m); err != nil {
			t.Fatal(err)
		}
		if m.Type == "alert" {
			t.Fatal("a dashboard that did not ask for alerts was sent one")
		}
		done = slices.ContainsFunc(m.Situations, func(s picture.Situation) bool { return s.ID == "zz-sentinel2" })
	}

	// The same situation rising above the critical score raises a second alert, once;
	// staying above raises none.
	f.pic.Apply(deltas(withVersion(sit("s-strong", event.TLPGreen, nil), 2, func(s *picture.Situation) { s.Score = 65 })))
	f.pic.Apply(deltas(withVersion(sit("s-strong", event.TLPGreen, nil), 3, func(s *picture.Situation) { s.Score = 70 })))
	f.pic.Apply(deltas(withVersion(alertSentinel(""), 2, func(s *picture.Situation) { s.Score = 65; s.ID = "zz-sentinel3" })))
	althea.readUntil(t, "situation:zz-sentinel3:entered")
	if _, ok := althea.alerts["situation:s-strong:critical"]; !ok {
		t.Errorf("no alert when s-strong rose from 45 to 65: %v", alertIDs(althea.alerts))
	}
}

func TestCampaignMembersRaiseTheCampaignsAlertOnce(t *testing.T) {
	f := newFixture(t, nil, alertIdentities, nil)
	c := f.followAlerts(t, "cmdr-althea", nil)
	named := func(s *picture.Situation) { s.Names = []event.Name{{Kind: "campaign", Name: "Blue Lynx"}} }
	f.pic.Apply(deltas(sit("s-c1", event.TLPGreen, named)))
	f.pic.Apply(deltas(sit("s-c2", event.TLPGreen, named)))
	f.pic.Apply(deltas(alertSentinel("")))
	c.readUntil(t, sentinelAlert)
	a, ok := c.alerts["campaign:blue lynx:entered"]
	if !ok || a.Kind != alert.KindCampaign {
		t.Fatalf("campaign alert: %v", alertIDs(c.alerts))
	}
	if len(c.alerts) != 2 {
		t.Errorf("alerts %v, want the campaign's once and the sentinel's", alertIDs(c.alerts))
	}
}

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

func alertIDs(m map[string]alert.Alert) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestWatchAlertsRaisesWhatEntersThePictureAboveTheDefaultScore: what feeds the outbound
// recipients, in no view (they filter).
func TestWatchAlertsRaisesWhatEntersThePictureAboveTheDefaultScore(t *testing.T) {
	pic := NewPicture(PictureConfig{})
	pic.Apply(deltas(sit("s-before", event.TLPGreen, nil))) // in the picture before the watch: no alert
	var mu sync.Mutex
	var got []string
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	from := pic.Seq()
	go func() {
		defer close(done)
		pic.WatchAlerts(ctx, alert.SinkFunc(func(a alert.Alert) { mu.Lock(); got = append(got, a.ID); mu.Unlock() }), 5*time.Millisecond, from)
	}()
	defer func() { cancel(); <-done }()
	pic.Apply(deltas(
		sit("s-weak", event.TLPGreen, func(s *picture.Situation) { s.Score = 39 }),
		sit("s-strong", event.TLPAmber, func(s *picture.Situation) { s.Countries = []string{"FR"} }),
	))
	pic.Apply(deltas(withVersion(sit("s-weak", event.TLPGreen, nil), 2, func(s *picture.Situation) { s.Score = 61 })))
	pic.Apply(deltas(withVersion(sit("s-before", event.TLPGreen, nil), 2, func(s *picture.Situation) { s.Score = 51 })))
	pic.Apply(deltas(sit("zz-last", event.TLPGreen, nil)))
	itest.Eventually(t, 5*time.Second, 5*time.Millisecond, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(got, "situation:zz-last:entered"), "no alert for zz-last"
	})
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(got)
	// s-weak entered at 39 (none), then rose to 61: it entered (above 40) and crossed 60 at
	// once, which is its entering alert; s-before moved from 50 to 51: nothing.
	want := []string{"situation:s-strong:entered", "situation:s-weak:entered", "situation:zz-last:entered"}
	if !slices.Equal(got, want) {
		t.Errorf("alerts %v, want %v", got, want)
	}
}

func TestAlertsRaisedWhileAwayReachTheDashboard(t *testing.T) {
	f := newFixture(t, nil, alertIdentities, nil)
	f.pic.Apply(deltas(sit("s-there", event.TLPGreen, nil))) // a picture at a sequence to resume from
	q := url.Values{"resume": {"1"}, "alerts": {"1"}}
	conn := f.follow(t, "cmdr-althea", q).conn
	sendView(t, conn, viewRequest{})
	snap := readMessage(t, conn)
	conn.Close()

	// Away: a situation enters its view, and the crisis code raises a crisis in its area.
	f.pic.Apply(deltas(sit("s-away", event.TLPGreen, nil)))
	crisis := alert.Alert{ID: "crisis:ba-grid", Kind: alert.KindCrisis, Level: 3, Reason: "escalated", Subject: sit("c-ba", event.TLPGreen, nil)}
	f.s.Hub.Raise(crisis)

	// A resume is sent what entered meanwhile.
	conn = f.follow(t, "cmdr-althea", q).conn
	sendView(t, conn, viewRequest{Epoch: snap.Epoch, Seq: snap.Seq})
	c := &alertClient{cl: &wsClient{conn: conn, seen: map[string]picture.Situation{}}, alerts: map[string]alert.Alert{}}
	c.readUntil(t, "situation:s-away:entered")

	// The list has the crisis, which concerns it; another mission's commander's has not,
	// and may not acknowledge it.
	var l struct{ Alerts []AlertView }
	f.getJSON(t, "cmdr-althea", "/api/v1/alerts", &l)
	if !slices.ContainsFunc(l.Alerts, func(a AlertView) bool { return a.ID == crisis.ID }) {
		t.Errorf("GET /api/v1/alerts lacks the crisis raised while away: %+v", l.Alerts)
	}
	l.Alerts = nil
	f.getJSON(t, "cmdr-atalanta", "/api/v1/alerts", &l)
	if len(l.Alerts) != 0 {
		t.Errorf("EUNAVFOR Atalanta's commander is listed %+v", l.Alerts)
	}
	if r := f.do(t, "POST", "/api/v1/alerts/crisis:ba-grid/ack", f.tokens["cmdr-atalanta"], nil); r.StatusCode != 404 {
		t.Errorf("ack by another mission's commander: %d", r.StatusCode)
	}
	if r := f.do(t, "POST", "/api/v1/alerts/crisis:ba-grid/ack", f.tokens["cmdr-althea"], nil); r.StatusCode != 200 {
		t.Errorf("ack by the commander concerned: %d", r.StatusCode)
	}
}
