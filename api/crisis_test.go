package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/alert"
	"github.com/cidcc/cop/internal/crisis"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

// crisisIdentities are the matrix's viewers plus a liaison officer and another mission's
// commander.
var crisisIdentities = append(slices.Clone(matrixIdentities),
	access.Identity{Name: "liaison-1", Role: access.RoleLiaison, MaxTLP: event.TLPAmber},
	access.Identity{Name: "cmdr-atalanta", Role: access.RoleCommander, MaxTLP: event.TLPAmber, Missions: []string{"EUNAVFOR-ATALANTA"}},
)

// recordingSink keeps every alert raised.
type recordingSink struct {
	mu     sync.Mutex
	alerts []alert.Alert
}

func (r *recordingSink) Raise(a alert.Alert) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alerts = append(r.alerts, a)
}

func (r *recordingSink) all() []alert.Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.alerts)
}

// crisisSituations are pairs of situations linked into campaigns (a shared /24), each
// crossing a default rule (score 50, energy, two member states); one pair per rule of the
// matrix.
func crisisSituations() []picture.Situation {
	pair := func(name string, tlp event.TLP, mod func(*picture.Situation)) []picture.Situation {
		var out []picture.Situation
		for i, c := range []string{"HR", "SI"} {
			s := sit(name+"-"+string(rune('1'+i)), event.TLPGreen, func(s *picture.Situation) {
				s.Countries, s.Sectors = []string{"BA", c}, []string{"energy"}
				s.Observables = []event.Observable{{Type: event.ObsIPv4, Value: "203.0." + string(rune('0'+len(name)%10)) + "." + string(rune('1'+i))}}
			})
			if i == 1 {
				s.TLP = tlp
			}
			if mod != nil {
				mod(&s)
			}
			out = append(out, s)
		}
		return out
	}
	subnet := func(n string) func(*picture.Situation) { // a /24 of the pair's own
		return func(s *picture.Situation) { s.Observables[0].Value = "198.51." + n + "." + s.ID[len(s.ID)-1:] }
	}
	var out []picture.Situation
	out = append(out, pair("c-amber", event.TLPAmber, func(s *picture.Situation) {
		subnet("1")(s)
		s.Contributors = []picture.Contributor{{Name: "milcert-hr", Anonymise: true}, {Name: "feed-a"}}
	})...)
	out = append(out, pair("c-green", event.TLPGreen, subnet("2"))...)
	out = append(out, pair("c-ua", event.TLPGreen, func(s *picture.Situation) {
		subnet("3")(s)
		s.Countries = []string{"UA", "PL", "RO"}
	})...)
	out = append(out, pair("c-rel", event.TLPGreen, func(s *picture.Situation) {
		subnet("4")(s)
		s.ReleasableTo = []string{"CERT-EU"}
	})...)
	out = append(out, pair("c-ex", event.TLPGreen, func(s *picture.Situation) {
		subnet("5")(s)
		s.Exercise = "CYDEF-X"
	})...)
	return out
}

// newCrisisFixture is a fixture whose board has evaluated crisisSituations once.
func newCrisisFixture(t *testing.T, st *store.Store) (*fixture, *recordingSink) {
	t.Helper()
	f := newFixture(t, st, crisisIdentities, nil)
	sink := &recordingSink{}
	f.s.Crises, f.s.Alerts = NewCrisisBoard(nil, f.s.Missions), sink
	f.s.Crises.Load(nil)
	f.pic.Apply(deltas(crisisSituations()...))
	f.s.crisisCycle(context.Background(), zerolog.Nop())
	return f, sink
}

func (f *fixture) crises(t *testing.T, viewer string, q url.Values) (int, CrisisList) {
	t.Helper()
	resp := f.do(t, "GET", "/api/v1/crises?"+q.Encode(), f.tokens[viewer], nil)
	var l CrisisList
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, l
}

func subjects(l CrisisList) []string {
	var out []string
	for _, c := range l.Crises {
		out = append(out, c.Subject.ID)
	}
	slices.Sort(out)
	return out
}

func TestAccessMatrixCrises(t *testing.T) {
	f, _ := newCrisisFixture(t, nil)
	const (
		amber = "campaign-c-amber-1"
		green = "campaign-c-green-1"
		ua    = "campaign-c-ua-1"
		rel   = "campaign-c-rel-1"
		ex    = "campaign-c-ex-1"
	)
	cells := []struct {
		rule, viewer string
		q            url.Values
		want         []string // subjects seen; nil with status
		status       int
	}{
		{"contributor/deny", "feed-a", nil, nil, http.StatusForbidden},
		{"no_token/deny", "", nil, nil, http.StatusUnauthorized},
		{"green_capped_commander_vs_amber/deny", "cmdr-green", nil, []string{green}, 200},
		{"commander_own_mission/allow", "cmdr-althea", nil, []string{amber, green}, 200},
		{"other_missions_commander/deny", "cmdr-atalanta", nil, nil, 200},
		{"commander_exercise_picture/allow", "cmdr-althea", url.Values{"exercise": {"cydef-x"}}, []string{ex}, 200},
		{"exercise_not_allowed/deny", "cmdr-green", url.Values{"exercise": {"CYDEF-X"}}, nil, http.StatusForbidden},
		{"liaison_all_missions/allow", "liaison-1", nil, []string{amber, green, ua}, 200},
		{"liaison_other_exercise/deny", "liaison-1", url.Values{"exercise": {"CYDEF-X"}}, nil, http.StatusForbidden},
		{"analyst_all_missions/allow", "analyst-1", nil, []string{amber, green, ua}, 200},
		{"admin_everything_releasable_to_it/allow", "admin", nil, []string{amber, green, ua}, 200},
		{"bad_status/deny", "analyst-1", url.Values{"status": {"maybe"}}, nil, http.StatusBadRequest},
	}
	_ = rel // releasable to CERT-EU only: no viewer of the matrix is named, so no cell shows it
	for _, c := range cells {
		t.Run("list/"+c.rule, func(t *testing.T) {
			status, l := f.crises(t, c.viewer, c.q)
			if status != c.status {
				t.Fatalf("status %d, want %d", status, c.status)
			}
			if got := subjects(l); status == 200 && !slices.Equal(got, c.want) {
				t.Errorf("%s sees %v, want %v", c.viewer, got, c.want)
			}
		})
	}
	id := crisis.ID("", crisis.Subject{Kind: crisis.SubjectCampaign, ID: amber})
	for _, c := range []struct {
		rule, viewer, q string
		status          int
	}{
		{"own_mission/allow", "cmdr-althea", "", 200},
		{"green_capped_vs_amber/deny", "cmdr-green", "", 404},
		{"other_mission/deny", "cmdr-atalanta", "", 404},
		{"contributor/deny", "feed-a", "", 403},
		{"wrong_exercise/deny", "cmdr-althea", "?exercise=CYDEF-X", 404},
		{"unknown/deny", "liaison-1", "x", 404},
	} {
		t.Run("get/"+c.rule, func(t *testing.T) {
			path := "/api/v1/crises/" + id + c.q
			if c.q == "x" {
				path = "/api/v1/crises/crisis-nothing"
			}
			if resp := f.do(t, "GET", path, f.tokens[c.viewer], nil); resp.StatusCode != c.status {
				t.Errorf("status %d, want %d", resp.StatusCode, c.status)
			}
		})
	}
	t.Run("anonymised_contributor/pseudonym", func(t *testing.T) {
		for _, viewer := range []string{"cmdr-althea", "liaison-1", "admin"} {
			_, l := f.crises(t, viewer, nil)
			raw, _ := json.Marshal(l)
			named := strings.Contains(string(raw), "milcert-hr")
			if named != (viewer == "admin") {
				t.Errorf("%s: anonymised contributor named: %v", viewer, named)
			}
			if viewer == "cmdr-althea" && !strings.Contains(string(raw), testAnon.Pseudonym("cmdr-althea", "milcert-hr")) {
				t.Errorf("%s: pseudonym missing", viewer)
			}
			for _, c := range l.Crises {
				for _, ct := range c.Contributors {
					if ct.Military && viewer != "admin" {
						t.Errorf("%s: the side of %s is shown (only the pseudonymised contributor is military)", viewer, ct.Name)
					}
				}
				if c.Subject.ID == "campaign-c-amber-1" && (c.Military != 1 || c.Civil != 1) {
					t.Errorf("%s: counts %d civil %d military, want 1 and 1", viewer, c.Civil, c.Military)
				}
			}
		}
	})
}

func (f *fixture) act(t *testing.T, viewer, id string, a crisis.Action) (int, crisis.Crisis) {
	t.Helper()
	b, _ := json.Marshal(a)
	id, q, _ := strings.Cut(id, "?")
	resp := f.do(t, "POST", "/api/v1/crises/"+id+"/actions?"+q, f.tokens[viewer], strings.NewReader(string(b)))
	var c crisis.Crisis
	if resp.StatusCode == 200 {
		json.NewDecoder(resp.Body).Decode(&c)
	} else {
		io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode, c
}

func TestCrisisActionsByRoleWithAlerts(t *testing.T) {
	f, sink := newCrisisFixture(t, nil)
	proposed := sink.all()
	if len(proposed) != 4 { // amber, green, ua, rel; the exercise's too: 5
		if len(proposed) != 5 {
			t.Fatalf("alerts on proposal: %d, want one per crisis (5)", len(proposed))
		}
	}
	var amber alert.Alert
	for _, a := range proposed {
		if a.Kind != alert.KindCrisis || a.Reason == "" || !strings.Contains(a.Reason, "proposed") {
			t.Errorf("proposal alert %+v", a)
		}
		if strings.Contains(a.Subject.ID, "c-amber") {
			amber = a
		}
		if strings.Contains(a.Subject.ID, "c-ex") && a.Subject.Exercise != "CYDEF-X" {
			t.Errorf("exercise crisis's alert left its exercise: %+v", a.Subject)
		}
	}
	if amber.Subject.TLP != event.TLPAmber || !slices.Equal(amber.Subject.Countries, []string{"BA", "HR", "SI"}) ||
		!slices.Equal(amber.Subject.Sectors, []string{"energy"}) {
		t.Errorf("amber crisis's alert subject %+v: want the union of its situations and their most restrictive marking", amber.Subject)
	}
	// Who the alert concerns: ALTHEA's commander at AMBER, not ATALANTA's, not one capped at GREEN.
	ids := map[string]access.Identity{}
	for _, id := range crisisIdentities {
		ids[id.Name] = id
	}
	concerns := func(name string) bool {
		id := ids[name]
		return id.SituationVisible(&amber.Subject, id.DefaultView(access.View{}), f.s.Missions)
	}
	if !concerns("cmdr-althea") || concerns("cmdr-atalanta") || concerns("cmdr-green") {
		t.Errorf("alert subject concerns althea %v atalanta %v green %v", concerns("cmdr-althea"), concerns("cmdr-atalanta"), concerns("cmdr-green"))
	}

	id := crisis.ID("", crisis.Subject{Kind: crisis.SubjectCampaign, ID: "campaign-c-amber-1"})
	f1 := func(name, viewer string, a crisis.Action, status int) crisis.Crisis {
		t.Helper()
		got, c := f.act(t, viewer, id, a)
		if got != status {
			t.Errorf("%s: status %d, want %d", name, got, status)
		}
		return c
	}
	f1("commander reads only", "cmdr-althea", crisis.Action{Action: "escalate"}, 403)
	f1("contributor", "feed-a", crisis.Action{Action: "escalate"}, 403)
	f1("unknown action", "analyst-1", crisis.Action{Action: "nuke"}, 400)
	f1("close without reason", "analyst-1", crisis.Action{Action: "close"}, 400)
	f1("coordinate before escalation", "liaison-1", crisis.Action{Action: "coordinate"}, 409)
	before := len(sink.all())
	c := f1("analyst escalates", "analyst-1", crisis.Action{Action: "escalate", Level: 3, Reason: "grid operators hit"}, 200)
	if c.Status != crisis.Escalated || c.Level != 3 || c.Proposed {
		t.Errorf("after escalation %s level %d proposed %v", c.Status, c.Level, c.Proposed)
	}
	if last := c.Timeline[len(c.Timeline)-1]; last.Actor != "analyst-1" || last.Reason != "grid operators hit" || last.From.Status != crisis.Monitoring {
		t.Errorf("timeline entry %+v", last)
	}
	c = f1("liaison coordinates", "liaison-1", crisis.Action{Action: "coordinate"}, 200)
	if c.Status != crisis.Coordinated {
		t.Errorf("status %s", c.Status)
	}
	if got := sink.all()[before:]; len(got) != 2 || got[0].Level != 3 || !strings.Contains(got[1].Reason, "liaison-1") {
		t.Errorf("alerts on the actions: %+v", got)
	}
	// Another mission's commander may not act, and an actor may not act on a crisis it
	// may not see: the other exercise's.
	exID := crisis.ID("CYDEF-X", crisis.Subject{Kind: crisis.SubjectCampaign, ID: "campaign-c-ex-1"})
	if got, _ := f.act(t, "liaison-1", exID, crisis.Action{Action: "escalate"}); got != 404 {
		t.Errorf("liaison on the exercise's crisis without ?exercise=: %d, want 404", got)
	}
	// Re-evaluating the same picture proposes nothing new and keeps the people's changes.
	n := len(sink.all())
	f.s.crisisCycle(context.Background(), zerolog.Nop())
	if len(sink.all()) != n {
		t.Errorf("re-evaluation raised %d alerts", len(sink.all())-n)
	}
	if c, _ := f.s.Crises.Get(id); c.Status != crisis.Coordinated {
		t.Errorf("re-evaluation changed the status to %s", c.Status)
	}
}

func (f *fixture) dialCrises(t *testing.T, viewer string, q url.Values) *websocket.Conn {
	t.Helper()
	u := "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/ws/crises?" + q.Encode()
	h := http.Header{}
	if viewer != "" {
		h.Set("Authorization", "Bearer "+f.tokens[viewer])
	}
	conn, resp, err := websocket.DefaultDialer.Dial(u, h)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("%s: /ws/crises: %d %v", viewer, status, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func readCrises(t *testing.T, conn *websocket.Conn) CrisisList {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var l CrisisList
	if err := conn.ReadJSON(&l); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestCrisisWebsocketPushesChangesToWhomItConcerns(t *testing.T) {
	f, _ := newCrisisFixture(t, nil)
	althea, atalanta := f.dialCrises(t, "cmdr-althea", nil), f.dialCrises(t, "cmdr-atalanta", nil)
	if l := readCrises(t, althea); l.Type != "crises" || !slices.Equal(subjects(l), []string{"campaign-c-amber-1", "campaign-c-green-1"}) || l.MayAct {
		t.Fatalf("althea's first list %v (may act %v)", subjects(l), l.MayAct)
	}
	if l := readCrises(t, atalanta); len(l.Crises) != 0 {
		t.Fatalf("atalanta sees %v", subjects(l))
	}
	id := crisis.ID("", crisis.Subject{Kind: crisis.SubjectCampaign, ID: "campaign-c-amber-1"})
	if got, _ := f.act(t, "analyst-1", id, crisis.Action{Action: "escalate"}); got != 200 {
		t.Fatalf("escalate: %d", got)
	}
	l := readCrises(t, althea)
	if l.Crises[0].ID != id || l.Crises[0].Status != crisis.Escalated {
		t.Errorf("althea's update %+v", l.Crises[0])
	}
	// ATALANTA's commander gets nothing: the next message it reads, after a change that
	// concerns it, is that change's.
	f.pic.Apply(deltas(func() []picture.Situation {
		var out []picture.Situation
		for _, s := range crisisSituations()[:2] {
			s.ID, s.Countries, s.Version = strings.Replace(s.ID, "c-amber", "c-so", 1), []string{"SO", "DE", "FR"}, 2
			s.Observables[0].Value = "192.0.2." + s.ID[len(s.ID)-1:]
			s.TLP = event.TLPGreen
			out = append(out, s)
		}
		return out
	}()...))
	f.s.crisisCycle(context.Background(), zerolog.Nop())
	if l := readCrises(t, atalanta); !slices.Equal(subjects(l), []string{"campaign-c-so-1"}) {
		t.Errorf("atalanta's next list %v, want only its own area's crisis", subjects(l))
	}
	// Denials at the upgrade.
	for _, c := range []struct {
		viewer string
		q      url.Values
		status int
	}{{"feed-a", nil, 403}, {"", nil, 401}, {"cmdr-green", url.Values{"exercise": {"CYDEF-X"}}, 403}} {
		u := "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/ws/crises?" + c.q.Encode()
		h := http.Header{}
		if c.viewer != "" {
			h.Set("Authorization", "Bearer "+f.tokens[c.viewer])
		}
		_, resp, err := websocket.DefaultDialer.Dial(u, h)
		if err == nil || resp == nil || resp.StatusCode != c.status {
			t.Errorf("%s %v: %v %v, want %d", c.viewer, c.q, resp, err, c.status)
		}
	}
}

// TestCrisesAreStoredReloadedAndAudited runs on the real ClickHouse: the board's crises
// and people's actions are stored, a new board reloads them, and every request, refusals
// included, has its audit row.
func TestCrisesAreStoredReloadedAndAudited(t *testing.T) {
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
	f, _ := newCrisisFixture(t, st)
	f.s.Crises.Namespace = ns
	id := crisis.ID("", crisis.Subject{Kind: crisis.SubjectCampaign, ID: "campaign-c-amber-1"})
	if got, _ := f.act(t, "liaison-1", id+"?n="+ns, crisis.Action{Action: "escalate", Reason: "drill " + ns}); got != 200 {
		t.Fatalf("escalate: %d", got)
	}
	if got, _ := f.act(t, "cmdr-althea", id+"?n="+ns, crisis.Action{Action: "close", Reason: "x"}); got != 403 {
		t.Fatalf("commander's close: %d", got)
	}
	if got, _ := f.act(t, "analyst-1", id+"?n="+ns, crisis.Action{Action: "coordinate", Level: 1}); got != 400 {
		t.Fatalf("coordinate at a lower level: %d", got)
	}
	f.crises(t, "cmdr-green", url.Values{"n": {ns}})
	cs, err := st.LoadCrises(context.Background(), ns, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b := NewCrisisBoard(nil, f.s.Missions)
	b.Load(cs)
	if c, ok := b.Get(id); !ok || c.Status != crisis.Escalated || c.Timeline[len(c.Timeline)-1].Reason != "drill "+ns {
		t.Errorf("reloaded %+v (found %v)", c.State(), ok)
	}
	if err := st.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		who, action string
		status      int
	}{{"liaison-1", "crises.escalate", 200}, {"cmdr-althea", "auth.forbidden", 403}, {"analyst-1", "crises.coordinate", 400},
		{"cmdr-green", "crises.list", 200}} {
		var n uint64
		if err := st.Conn().QueryRow(context.Background(), `SELECT count() FROM cop.audit WHERE identity = ? AND action = ? AND status = ? AND position(filter, ?) > 0`,
			w.who, w.action, w.status, ns).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("audit rows of %s %s %d: %d, want 1", w.who, w.action, w.status, n)
		}
	}
}
