package api

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

// historyMatrix is the stored data of TestAccessMatrixHistory: one event and one
// situation per marking rule, told apart by the tag in the event's observable value
// ("<tag>.<ns>.example") and in the situation's id ("S-<NS>-<TAG>").
type historyMatrix struct {
	f        *fixture
	ns, ex   string // the namespace; the test's own exercise
	anonName string // the anonymised contributor's real name
	t0, t1   time.Time
	stored   time.Time // when the events were stored (TAXII's date added)
}

func (m *historyMatrix) value(tag string) string { return tag + "." + m.ns + ".example" }
func (m *historyMatrix) sitID(tag string) string { return strings.ToUpper("S-" + m.ns + "-" + tag) }

// name is the campaign name every item of the matrix states (the by-name paths filter on
// it, in another case than stored).
func (m *historyMatrix) name() string {
	return strings.ToLower("matrix " + m.ns)
}

// historyPath is one read path of the history API: fetch returns the status and the body
// of what viewer (a token, "" for none) receives for the data in exercise ex ("" for the
// real picture), and shows reports whether a body contains the item tagged tag.
type historyPath struct {
	name  string
	roles []access.Role // roles the path serves
	fetch func(t *testing.T, m *historyMatrix, token, ex, tag string) (int, string)
	shows func(m *historyMatrix, body, tag string) bool
}

func (m *historyMatrix) window(ex string) url.Values {
	q := url.Values{"since": {m.t0.Format(time.RFC3339)}, "until": {m.t1.Format(time.RFC3339)}, "limit": {"1000"}}
	if ex != "" {
		q.Set("exercise", ex)
	}
	return q
}

func (m *historyMatrix) get(t *testing.T, token, path string, q url.Values) (int, string) {
	t.Helper()
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp := m.f.do(t, "GET", path, token, nil)
	return resp.StatusCode, readAll(resp)
}

// taxiiObjects pages through a collection's objects added since the data was stored.
func (m *historyMatrix) taxiiObjects(t *testing.T, token, ex string) (int, string) {
	return m.taxiiPages(t, token, ex, "objects/")
}

// taxiiObjectID is the STIX id of the indicator of the event tagged tag (an incident
// with an observable: its indicator's pattern names the value).
func (m *historyMatrix) taxiiObjectID(tag string) string {
	return stixID("indicator", m.ns+"-"+tag+"/indicator")
}

// pathsWithoutNames answer ids only, never a contributor's name or pseudonym.
var pathsWithoutNames = map[string]bool{"taxii_object": true, "taxii_manifest": true}

// taxiiPages pages through resource ("objects/", "manifest/") of a collection.
func (m *historyMatrix) taxiiPages(t *testing.T, token, ex, resource string) (int, string) {
	t.Helper()
	var all strings.Builder
	next := ""
	for range 100 {
		q := url.Values{"added_after": {m.stored.Add(-time.Second).Format(time.RFC3339Nano)}, "limit": {"1000"}}
		if next != "" {
			q.Set("next", next)
		}
		status, body := m.get(t, token, taxiiRoot+"collections/"+collectionID(ex)+"/"+resource, q)
		if status != http.StatusOK {
			return status, body
		}
		all.WriteString(body)
		var page struct {
			More bool   `json:"more"`
			Next string `json:"next"`
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatalf("TAXII envelope: %v: %.200s", err, body)
		}
		if !page.More {
			return status, all.String()
		}
		next = page.Next
	}
	t.Fatal("TAXII objects: more than 100 pages")
	return 0, ""
}

var historyPaths = []historyPath{
	{"events", []access.Role{access.RoleAnalyst, access.RoleAdmin},
		func(t *testing.T, m *historyMatrix, tok, ex, _ string) (int, string) {
			return m.get(t, tok, "/api/v1/events", m.window(ex))
		}, (*historyMatrix).showsValue},
	{"situations", []access.Role{access.RoleCommander, access.RoleAnalyst, access.RoleAdmin},
		func(t *testing.T, m *historyMatrix, tok, ex, _ string) (int, string) {
			return m.get(t, tok, "/api/v1/situations", m.window(ex))
		}, (*historyMatrix).showsSituation},
	{"situation", []access.Role{access.RoleCommander, access.RoleAnalyst, access.RoleAdmin},
		func(t *testing.T, m *historyMatrix, tok, ex, tag string) (int, string) {
			q := url.Values{}
			if ex != "" {
				q.Set("exercise", ex)
			}
			status, body := m.get(t, tok, "/api/v1/situations/"+m.sitID(tag), q)
			if status == http.StatusNotFound {
				status, body = http.StatusOK, "" // hidden and absent answer alike
			}
			return status, body
		}, (*historyMatrix).showsSituation},
	{"events_by_name", []access.Role{access.RoleAnalyst, access.RoleAdmin},
		func(t *testing.T, m *historyMatrix, tok, ex, _ string) (int, string) {
			q := m.window(ex)
			q.Set("name", strings.ToUpper(m.name()))
			return m.get(t, tok, "/api/v1/events", q)
		}, (*historyMatrix).showsValue},
	{"situations_by_name", []access.Role{access.RoleCommander, access.RoleAnalyst, access.RoleAdmin},
		func(t *testing.T, m *historyMatrix, tok, ex, _ string) (int, string) {
			q := m.window(ex)
			q.Set("name", strings.ToUpper(m.name()))
			return m.get(t, tok, "/api/v1/situations", q)
		}, (*historyMatrix).showsSituation},
	{"observables", []access.Role{access.RoleAnalyst, access.RoleAdmin},
		func(t *testing.T, m *historyMatrix, tok, ex, tag string) (int, string) {
			q := url.Values{}
			if ex != "" {
				q.Set("exercise", ex)
			}
			return m.get(t, tok, "/api/v1/observables/"+m.value(tag), q)
		}, func(m *historyMatrix, body, tag string) bool { return strings.Contains(body, `"event_id"`) }},
	{"export_stix", []access.Role{access.RoleAnalyst, access.RoleAdmin},
		func(t *testing.T, m *historyMatrix, tok, ex, _ string) (int, string) {
			q := m.window(ex)
			q.Set("format", "stix")
			return m.get(t, tok, "/api/v1/events", q)
		}, (*historyMatrix).showsValue},
	{"export_csv", []access.Role{access.RoleAnalyst, access.RoleAdmin},
		func(t *testing.T, m *historyMatrix, tok, ex, _ string) (int, string) {
			q := m.window(ex)
			q.Set("format", "csv")
			return m.get(t, tok, "/api/v1/events", q)
		}, (*historyMatrix).showsValue},
	{"taxii", []access.Role{access.RoleAnalyst, access.RoleAdmin},
		func(t *testing.T, m *historyMatrix, tok, ex, _ string) (int, string) {
			status, body := m.taxiiObjects(t, tok, ex)
			if status == http.StatusNotFound {
				status = http.StatusForbidden // a collection the caller may not read is not listed
			}
			return status, body
		}, (*historyMatrix).showsValue},
	{"taxii_manifest", []access.Role{access.RoleAnalyst, access.RoleAdmin},
		func(t *testing.T, m *historyMatrix, tok, ex, _ string) (int, string) {
			status, body := m.taxiiPages(t, tok, ex, "manifest/")
			if status == http.StatusNotFound {
				status = http.StatusForbidden
			}
			return status, body
		}, func(m *historyMatrix, body, tag string) bool { return strings.Contains(body, m.taxiiObjectID(tag)) }},
	{"taxii_object", []access.Role{access.RoleAnalyst, access.RoleAdmin},
		func(t *testing.T, m *historyMatrix, tok, ex, tag string) (int, string) {
			status, body := m.get(t, tok, taxiiRoot+"collections/"+collectionID(ex)+"/objects/"+m.taxiiObjectID(tag)+"/", nil)
			switch {
			case status == http.StatusNotFound && strings.Contains(body, "no such collection"):
				status = http.StatusForbidden
			case status == http.StatusNotFound:
				status, body = http.StatusOK, "" // hidden and absent answer alike
			}
			return status, body
		}, (*historyMatrix).showsValue},
}

func (m *historyMatrix) showsValue(body, tag string) bool {
	return strings.Contains(body, m.value(tag))
}
func (m *historyMatrix) showsSituation(body, tag string) bool {
	return strings.Contains(body, `"`+m.sitID(tag)+`"`)
}

// historyMatrixData stores the matrix's events and situations.
func historyMatrixData(t *testing.T, st *store.Store) *historyMatrix {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	t0, t1 := window(rng)
	ns := itest.Namespace(t)
	m := &historyMatrix{ns: ns, ex: strings.ToUpper("MX-" + ns), anonName: "anon-" + ns, t0: t0, t1: t1,
		stored: time.Now().UTC()}
	type rule struct {
		tag string
		tlp event.TLP
		mod func(*event.Event)
	}
	rules := []rule{
		{"green", event.TLPGreen, nil},
		{"amber-strict", event.TLPAmberStrict, nil},
		{"red-named-a1", event.TLPRed, func(e *event.Event) { e.ReleasableTo = []string{"ANALYST-1"} }},
		{"red-named", event.TLPRed, func(e *event.Event) { e.ReleasableTo = []string{"ANALYST-RED", "CMDR-ALTHEA"} }},
		{"red-unnamed", event.TLPRed, nil},
		{"rel-other", event.TLPGreen, func(e *event.Event) { e.ReleasableTo = []string{"CERT-EU"} }},
		{"rel-self", event.TLPGreen, func(e *event.Event) { e.ReleasableTo = []string{"ANALYST-1", "EUFOR-ALTHEA"} }},
		{"anon", event.TLPGreen, func(e *event.Event) { e.Anonymise, e.Contributor = true, m.anonName }},
		{"exercise", event.TLPGreen, func(e *event.Event) { e.Exercise = m.ex }},
		{"ua", event.TLPGreen, func(e *event.Event) { e.Countries = []string{"UA"} }},
	}
	batches := map[string]*store.Batch{}
	for i, r := range rules {
		e := statsEvent(ns+"-"+r.tag, t0.Add(time.Duration(i+1)*time.Minute), r.tlp, r.mod)
		e.Observables = []event.Observable{{Type: event.ObsDomain, Value: m.value(r.tag)}}
		e.Names = []event.Name{{Kind: "campaign", Name: m.name()}}
		s := picture.Situation{Names: e.Names, ID: m.sitID(r.tag), Version: 1, Exercise: e.Exercise, Title: "matrix " + r.tag,
			Kind: e.Kind, Severity: e.Severity, Confidence: 50, Score: 50, TLP: e.TLP, ReleasableTo: e.ReleasableTo,
			Contributors: []picture.Contributor{{Name: e.Contributor, Anonymise: e.Anonymise}},
			Countries:    e.Countries, EventCount: 1, EventIDs: []string{e.ID},
			FirstSeen: e.ObservedAt, LastSeen: e.ObservedAt, UpdatedAt: m.stored}
		b := batches[e.Exercise]
		if b == nil {
			b = &store.Batch{StoredAt: m.stored}
			batches[e.Exercise] = b
		}
		b.Events = append(b.Events, e)
		b.Situations = append(b.Situations, s.ID)
		b.Duplicate = append(b.Duplicate, false)
		b.Deltas = append(b.Deltas, picture.Delta{Situation: s})
	}
	for _, b := range batches {
		if err := st.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// TestAccessMatrixHistory proves each rule on every history read path — REST events,
// situations (list and item), observables, STIX and CSV export, TAXII — against the real
// ClickHouse, one subtest per cell: an item is in the answer exactly when the viewer may
// see it, and an anonymised contributor is never named.
func TestAccessMatrixHistory(t *testing.T) {
	st := openStore(t)
	m := historyMatrixData(t, st)
	ids := []access.Identity{
		{Name: "feed-a", Role: access.RoleContributor, MaxTLP: event.TLPRed},
		{Name: "cmdr-althea", Role: access.RoleCommander, MaxTLP: event.TLPRed, Missions: []string{"EUFOR-ALTHEA"}, Exercises: []string{m.ex}},
		{Name: "analyst-1", Role: access.RoleAnalyst, MaxTLP: event.TLPAmberStrict, Exercises: []string{m.ex}},
		{Name: "analyst-red", Role: access.RoleAnalyst, MaxTLP: event.TLPRed},
	}
	m.f = newFixture(t, st, ids, nil)
	role := map[string]access.Role{}
	for _, id := range ids {
		role[id.Name] = id.Role
	}
	for _, p := range historyPaths {
		serves := func(viewer string) bool {
			for _, r := range p.roles {
				if role[viewer] == r {
					return true
				}
			}
			return false
		}
		// Decided before any data is read.
		for _, c := range []struct{ rule, viewer, token string }{
			{"no_token/deny", "", ""},
			{"bad_token/deny", "", "cop_" + strings.Repeat("f", 64)},
			{"wrong_role_contributor/deny", "feed-a", ""},
		} {
			t.Run(p.name+"/"+c.rule, func(t *testing.T) {
				tok, want := c.token, http.StatusUnauthorized
				if c.viewer != "" {
					tok, want = m.f.tokens[c.viewer], http.StatusForbidden
				}
				if status, body := p.fetch(t, m, tok, "", "green"); status != want {
					t.Errorf("status %d, want %d: %.200s", status, want, body)
				}
			})
		}
		t.Run(p.name+"/exercise_not_allowed/deny", func(t *testing.T) {
			if status, body := p.fetch(t, m, m.f.tokens["analyst-red"], m.ex, "exercise"); status != http.StatusForbidden {
				t.Errorf("status %d, want 403: %.200s", status, body)
			}
		})
		// Decided per item: (viewer, exercise, tagged item, shown).
		cells := []struct {
			rule, viewer, ex, tag string
			shown                 bool
		}{
			{"tlp_at_ceiling/allow", "analyst-1", "", "amber-strict", true},
			{"tlp_above_ceiling/deny", "analyst-1", "", "red-named-a1", false},
			{"red_named/allow", "analyst-red", "", "red-named", true},
			{"red_unnamed/deny", "analyst-red", "", "red-unnamed", false},
			{"red_named_to_other/deny", "analyst-red", "", "red-named-a1", false},
			{"not_releasable/deny", "analyst-1", "", "rel-other", false},
			{"releasable_to_self/allow", "analyst-1", "", "rel-self", true},
			{"anonymised_contributor/pseudonym", "analyst-1", "", "anon", true},
			{"exercise_in_real_picture/deny", "analyst-1", "", "exercise", false},
			{"exercise_in_exercise_picture/allow", "analyst-1", m.ex, "exercise", true},
			{"real_in_exercise_picture/deny", "analyst-1", m.ex, "green", false},
			{"other_mission_area_analyst/allow", "analyst-1", "", "ua", true},
		}
		if serves("cmdr-althea") {
			cells = append(cells,
				struct {
					rule, viewer, ex, tag string
					shown                 bool
				}{"own_mission_area_commander/allow", "cmdr-althea", "", "green", true},
				struct {
					rule, viewer, ex, tag string
					shown                 bool
				}{"other_mission_area_commander/deny", "cmdr-althea", "", "ua", false})
		} else {
			t.Run(p.name+"/wrong_role_commander/deny", func(t *testing.T) {
				if status, body := p.fetch(t, m, m.f.tokens["cmdr-althea"], "", "green"); status != http.StatusForbidden {
					t.Errorf("status %d, want 403: %.200s", status, body)
				}
			})
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
				if c.tag == "green" && c.shown && !p.shows(m, body, "green") {
					t.Errorf("control item missing")
				}
				if strings.Contains(body, m.anonName) {
					t.Errorf("the anonymised contributor is named: %.300s", body)
				}
				if c.tag == "anon" && !pathsWithoutNames[p.name] {
					if pseudonym := testAnon.Pseudonym(c.viewer, m.anonName); !strings.Contains(body, pseudonym) {
						t.Errorf("the anonymised contributor is not shown as its pseudonym %s: %.300s", pseudonym, body)
					}
				}
			})
		}
	}
	t.Run("audit_rows_written", func(t *testing.T) {
		if err := st.FlushAudit(context.Background()); err != nil {
			t.Fatal(err)
		}
		var actions []string
		rows, err := st.Conn().Query(context.Background(), `SELECT DISTINCT action FROM cop.audit WHERE identity = 'analyst-1'
			AND position(filter, ?) > 0 ORDER BY action`, m.t0.Format("2006-01-02"))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var a string
			rows.Scan(&a)
			actions = append(actions, a)
		}
		if got := fmt.Sprint(actions); !strings.Contains(got, "events") || !strings.Contains(got, "situations") {
			t.Errorf("audit actions for analyst-1's windowed queries: %v", actions)
		}
	})
}
