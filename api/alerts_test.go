package api

import (
	"context"
	"encoding/json"
	"maps"
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
		sit("s-exercise", event.TLPGreen, func(s *picture.Situation) { s.Exercise = "CYDEF-X" }),
		sit("s-anon", event.TLPGreen, func(s *picture.Situation) { s.Contributors = []picture.Contributor{{Name: "feed-a", Anonymise: true}} }),
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
	if _, ok := althea.alerts["situation:s-exercise:entered"]; ok {
		t.Error("an exercise situation raised an alert in the real picture's view")
	}
	if got, want := althea.alerts["situation:s-anon:entered"].Subject.Contributors[0].Name, testAnon.Pseudonym("cmdr-althea", "feed-a"); got != want {
		t.Errorf("alert names the anonymised contributor %q, want its pseudonym %q", got, want)
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
