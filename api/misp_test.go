package api

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/ingest/misp"
	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/store"
)

// mispMatrix is the stored data of TestAccessMatrixMISPFeed: one event per marking rule,
// its observable "<tag>.<ns>.example", its id a hash of the tag (COP's ids are 32 hex
// digits, which the feed writes as the MISP uuid).
type mispMatrix struct {
	f        *fixture
	ns, ex   string
	anonName string
	ids      map[string]string // tag → event id
	uuids    map[string]string // tag → MISP uuid
}

func (m *mispMatrix) value(tag string) string { return tag + "." + m.ns + ".example" }
func (m *mispMatrix) uuid(tag string) string  { return m.uuids[tag] }

func mispMatrixData(t *testing.T, st *store.Store) *mispMatrix {
	ns := itest.Namespace(t)
	m := &mispMatrix{ns: ns, ex: strings.ToUpper("MM-" + ns), anonName: "anon-" + ns, ids: map[string]string{}, uuids: map[string]string{}}
	type rule struct {
		tag string
		tlp event.TLP
		mod func(*event.Event)
	}
	rules := []rule{
		{"green", event.TLPGreen, func(e *event.Event) {
			e.Techniques, e.Category, e.Sectors = []string{"T1486"}, "malicious-code/infected-system", []string{"energy"}
		}},
		{"amber-strict", event.TLPAmberStrict, nil},
		{"red-named-a1", event.TLPRed, func(e *event.Event) { e.ReleasableTo = []string{"ANALYST-1"} }},
		{"red-named", event.TLPRed, func(e *event.Event) { e.ReleasableTo = []string{"ANALYST-RED"} }},
		{"red-unnamed", event.TLPRed, nil},
		{"rel-other", event.TLPGreen, func(e *event.Event) { e.ReleasableTo = []string{"CERT-EU"} }},
		{"rel-self", event.TLPGreen, func(e *event.Event) { e.ReleasableTo = []string{"ANALYST-1", "EUFOR-ALTHEA"} }},
		{"anon", event.TLPGreen, func(e *event.Event) { e.Anonymise, e.Contributor = true, m.anonName }},
		{"exercise", event.TLPGreen, func(e *event.Event) { e.Exercise = m.ex }},
	}
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	batches := map[string]*store.Batch{}
	for i, r := range rules {
		h := sha256.Sum256([]byte(ns + "/" + r.tag))
		id := hex.EncodeToString(h[:16])
		m.ids[r.tag] = id
		e := statsEvent(id, at.Add(time.Duration(i)*time.Second), r.tlp, r.mod)
		e.Kind, e.Title = event.KindIndicator, "misp matrix "+r.tag
		m.uuids[r.tag], _ = mispUUID(id, e.ObservedAt)
		e.Observables = []event.Observable{{Type: event.ObsDomain, Value: m.value(r.tag)}, {Type: event.ObsIPv4, Value: "192.0.2.7"}}
		b := batches[e.Exercise]
		if b == nil {
			b = &store.Batch{StoredAt: time.Now().UTC()}
			batches[e.Exercise] = b
		}
		b.Events = append(b.Events, e)
		b.Situations = append(b.Situations, "S-MISP-"+strings.ToUpper(ns))
		b.Duplicate = append(b.Duplicate, false)
	}
	for _, b := range batches {
		if err := st.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// mispPath is one file of the feed: fetch returns what viewer gets for tag in exercise ex,
// shows whether the body holds the tagged event.
type mispPath struct {
	name  string
	fetch func(t *testing.T, m *mispMatrix, token, ex, tag string) (int, string)
	shows func(m *mispMatrix, body, tag string) bool
	named bool // the file names contributors (Orgc)
}

func (m *mispMatrix) get(t *testing.T, token, path, ex string) (int, string) {
	t.Helper()
	if ex != "" {
		path += "?" + url.Values{"exercise": {ex}}.Encode()
	}
	resp := m.f.do(t, "GET", path, token, nil)
	return resp.StatusCode, readAll(resp)
}

var mispPaths = []mispPath{
	{"manifest", func(t *testing.T, m *mispMatrix, tok, ex, _ string) (int, string) {
		return m.get(t, tok, "/api/v1/misp/manifest.json", ex)
	}, func(m *mispMatrix, body, tag string) bool { return strings.Contains(body, `"`+m.uuid(tag)+`"`) }, true},
	{"event", func(t *testing.T, m *mispMatrix, tok, ex, tag string) (int, string) {
		status, body := m.get(t, tok, "/api/v1/misp/"+m.uuid(tag)+".json", ex)
		if status == http.StatusNotFound && strings.Contains(body, "no such event") {
			status, body = http.StatusOK, "" // hidden and absent answer alike
		}
		return status, body
	}, func(m *mispMatrix, body, tag string) bool { return strings.Contains(body, m.value(tag)) }, true},
	{"hashes", func(t *testing.T, m *mispMatrix, tok, ex, _ string) (int, string) {
		return m.get(t, tok, "/api/v1/misp/hashes.csv", ex)
	}, func(m *mispMatrix, body, tag string) bool {
		h := md5.Sum([]byte(m.value(tag)))
		return strings.Contains(body, hex.EncodeToString(h[:])+","+m.uuid(tag)+"\n")
	}, false},
}

// TestAccessMatrixMISPFeed proves each rule on every file of the MISP feed against the real
// ClickHouse: no token, a bad token, a contributor or a commander is refused; an event is
// listed, served and hashed exactly when the viewer may see it; an anonymised contributor
// appears only as the viewer's pseudonym of it; every request is audited.
func TestAccessMatrixMISPFeed(t *testing.T) {
	st := openStore(t)
	m := mispMatrixData(t, st)
	ids := []access.Identity{
		{Name: "feed-a", Role: access.RoleContributor, MaxTLP: event.TLPRed},
		{Name: "cmdr-althea", Role: access.RoleCommander, MaxTLP: event.TLPRed, Missions: []string{"EUFOR-ALTHEA"}, Exercises: []string{m.ex}},
		{Name: "analyst-1", Role: access.RoleAnalyst, MaxTLP: event.TLPAmberStrict, Exercises: []string{m.ex}},
		{Name: "analyst-red", Role: access.RoleAnalyst, MaxTLP: event.TLPRed},
		{Name: "admin-m", Role: access.RoleAdmin, MaxTLP: event.TLPRed},
	}
	m.f = newFixture(t, st, ids, nil)
	for _, p := range mispPaths {
		for _, c := range []struct {
			rule, viewer, token string
			want                int
		}{
			{"no_token/deny", "", "", http.StatusUnauthorized},
			{"bad_token/deny", "", "cop_" + strings.Repeat("f", 64), http.StatusUnauthorized},
			{"wrong_role_contributor/deny", "feed-a", "", http.StatusForbidden},
			{"wrong_role_commander/deny", "cmdr-althea", "", http.StatusForbidden},
		} {
			t.Run(p.name+"/"+c.rule, func(t *testing.T) {
				tok := c.token
				if c.viewer != "" {
					tok = m.f.tokens[c.viewer]
				}
				status, body := p.fetch(t, m, tok, "", "green")
				if status != c.want {
					t.Errorf("status %d, want %d: %.200s", status, c.want, body)
				}
				if strings.Contains(body, m.value("green")) || strings.Contains(body, m.uuid("green")) {
					t.Errorf("a refusal carries data: %.200s", body)
				}
			})
		}
		t.Run(p.name+"/exercise_not_allowed/deny", func(t *testing.T) {
			if status, body := p.fetch(t, m, m.f.tokens["analyst-red"], m.ex, "exercise"); status != http.StatusForbidden {
				t.Errorf("status %d, want 403: %.200s", status, body)
			}
		})
		cells := []struct {
			rule, viewer, ex, tag string
			shown                 bool
		}{
			{"control/allow", "analyst-1", "", "green", true},
			{"tlp_at_ceiling/allow", "analyst-1", "", "amber-strict", true},
			{"tlp_above_ceiling/deny", "analyst-1", "", "red-named-a1", false},
			{"red_named/allow", "analyst-red", "", "red-named", true},
			{"red_unnamed/deny", "analyst-red", "", "red-unnamed", false},
			{"red_named_to_other/deny", "analyst-red", "", "red-named-a1", false},
			{"not_releasable/deny", "analyst-1", "", "rel-other", false},
			{"releasable_to_self/allow", "analyst-1", "", "rel-self", true},
			{"anonymised_contributor/pseudonym", "analyst-1", "", "anon", true},
			{"anonymised_contributor_admin/named", "admin-m", "", "anon", true},
			{"exercise_in_real_picture/deny", "analyst-1", "", "exercise", false},
			{"exercise_in_exercise_picture/allow", "analyst-1", m.ex, "exercise", true},
			{"real_in_exercise_picture/deny", "analyst-1", m.ex, "green", false},
		}
		for _, c := range cells {
			t.Run(p.name+"/"+c.rule, func(t *testing.T) {
				status, body := p.fetch(t, m, m.f.tokens[c.viewer], c.ex, c.tag)
				if status != http.StatusOK {
					t.Fatalf("status %d: %.300s", status, body)
				}
				if got := p.shows(m, body, c.tag); got != c.shown {
					t.Errorf("%s sees %s: %v, want %v: %.300s", c.viewer, c.tag, got, c.shown, body)
				}
				if c.viewer != "admin-m" && strings.Contains(body, m.anonName) {
					t.Errorf("the anonymised contributor is named: %.300s", body)
				}
				if c.tag == "anon" && p.named {
					want := testAnon.Pseudonym(c.viewer, m.anonName)
					if c.viewer == "admin-m" {
						want = m.anonName
					}
					if !strings.Contains(body, `"name":"`+want+`"`) {
						t.Errorf("the anonymised contributor is not shown as %s: %.300s", want, body)
					}
				}
			})
		}
	}
	t.Run("malformed_event_file/not_found", func(t *testing.T) {
		otherDay := m.uuid("green")[:28] + "00000001" // the right id, the wrong day
		for _, f := range []string{"nothing.json", m.ids["green"] + ".json", m.uuid("green"), m.uuid("green") + ".xml", otherDay + ".json"} {
			if status, body := m.get(t, m.f.tokens["analyst-1"], "/api/v1/misp/"+f, ""); status != http.StatusNotFound {
				t.Errorf("%s: status %d, want 404: %.200s", f, status, body)
			}
		}
	})
	t.Run("audit_rows_written", func(t *testing.T) {
		if err := st.FlushAudit(context.Background()); err != nil {
			t.Fatal(err)
		}
		rows, err := st.Conn().Query(context.Background(), `SELECT DISTINCT action FROM cop.audit WHERE identity = 'analyst-1' AND action LIKE 'misp.%' ORDER BY action`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var actions []string
		for rows.Next() {
			var a string
			rows.Scan(&a)
			actions = append(actions, a)
		}
		if !slices.Equal(actions, []string{"misp.event", "misp.hashes", "misp.manifest"}) {
			t.Errorf("audit actions: %v", actions)
		}
	})
}

// TestMISPFeedEventReadsBack checks that an event of COP's MISP feed, read by COP's own MISP
// parser, gives back its observables, TLP, technique, category and sector.
func TestMISPFeedEventReadsBack(t *testing.T) {
	st := openStore(t)
	m := mispMatrixData(t, st)
	m.f = newFixture(t, st, []access.Identity{{Name: "analyst-1", Role: access.RoleAnalyst, MaxTLP: event.TLPAmberStrict}}, nil)
	status, body := m.get(t, m.f.tokens["analyst-1"], "/api/v1/misp/"+m.uuid("green")+".json", "")
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	var doc struct {
		Event struct {
			UUID string
			Tag  []mispTag
		}
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || doc.Event.UUID != m.uuid("green") {
		t.Fatalf("%v: %.300s", err, body)
	}
	evs, errs := misp.Parse([]byte(body), event.Source{Contributor: "partner", ReceivedAt: time.Now()})
	if len(errs) > 0 || len(evs) != 1 {
		t.Fatalf("parsed %d events, errors %v", len(evs), errs)
	}
	e := evs[0]
	var obs []string
	for _, o := range e.Observables {
		obs = append(obs, o.String())
	}
	slices.Sort(obs)
	if want := []string{"domain:" + m.value("green"), "ipv4:192.0.2.7"}; !slices.Equal(obs, want) {
		t.Errorf("observables %v, want %v", obs, want)
	}
	if e.TLP != event.TLPGreen || e.Kind != event.KindIndicator || e.Severity != event.SeverityHigh ||
		!slices.Equal(e.Techniques, []string{"T1486"}) || e.Category != "malicious-code/infected-system" || !slices.Equal(e.Sectors, []string{"energy"}) {
		t.Errorf("read back: tlp %v kind %v severity %v techniques %v category %q sectors %v", e.TLP, e.Kind, e.Severity, e.Techniques, e.Category, e.Sectors)
	}
}
