package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

// notesMatrix is the stored data of TestAccessMatrixNotes: the history matrix's
// situations, and notes on them told apart by a marker in their text ("<MARK>-<ns>").
type notesMatrix struct {
	*historyMatrix
}

func (m *notesMatrix) mark(marker string) string { return marker + "-" + m.ns }

// post sends a note as viewer and returns the status and body.
func (m *notesMatrix) post(t *testing.T, viewer string, body map[string]any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp := m.f.do(t, "POST", "/api/v1/notes", m.f.tokens[viewer], strings.NewReader(string(b)))
	return resp.StatusCode, readAll(resp)
}

// note posts a note that must be accepted and returns its id.
func (m *notesMatrix) note(t *testing.T, viewer, kind, subject, ex, tlp, marker string, rel ...string) string {
	t.Helper()
	body := map[string]any{"subject_kind": kind, "subject_id": subject, "text": "assessment " + m.mark(marker),
		"confidence": 60, "action": "monitor", "agreement": "supports"}
	if ex != "" {
		body["exercise"] = ex
	}
	if tlp != "" {
		body["tlp"] = tlp
	}
	if rel != nil {
		body["releasable_to"] = rel
	}
	status, resp := m.post(t, viewer, body)
	if status != http.StatusCreated {
		t.Fatalf("note %s by %s: status %d: %s", marker, viewer, status, resp)
	}
	var n store.Note
	if err := json.Unmarshal([]byte(resp), &n); err != nil {
		t.Fatal(err)
	}
	return n.ID
}

func (m *notesMatrix) list(t *testing.T, viewer, kind, subject, ex string) (int, string) {
	t.Helper()
	q := url.Values{"subject_kind": {kind}, "subject_id": {subject}}
	if ex != "" {
		q.Set("exercise", ex)
	}
	return m.get(t, m.f.tokens[viewer], "/api/v1/notes", q)
}

var notesIdentities = func(ex string) []access.Identity {
	return []access.Identity{
		{Name: "feed-a", Role: access.RoleContributor, MaxTLP: event.TLPRed},
		{Name: "cmdr-althea", Role: access.RoleCommander, MaxTLP: event.TLPRed, Missions: []string{"EUFOR-ALTHEA"}, Exercises: []string{ex}},
		{Name: "cmdr-green", Role: access.RoleCommander, MaxTLP: event.TLPGreen, Missions: []string{"EUFOR-ALTHEA"}},
		{Name: "cmdr-atalanta", Role: access.RoleCommander, MaxTLP: event.TLPRed, Missions: []string{"EUNAVFOR-ATALANTA"}},
		{Name: "analyst-1", Role: access.RoleAnalyst, MaxTLP: event.TLPAmberStrict, Exercises: []string{ex}},
		{Name: "analyst-red", Role: access.RoleAnalyst, MaxTLP: event.TLPRed},
		{Name: "liaison-1", Role: access.RoleLiaison, MaxTLP: event.TLPAmber},
		{Name: "admin", Role: access.RoleAdmin, MaxTLP: event.TLPRed},
	}
}

// writeSituation stores one version of situation s (with no new events).
func writeSituation(t *testing.T, st *store.Store, s picture.Situation) {
	t.Helper()
	if err := st.Write(context.Background(), &store.Batch{Deltas: []picture.Delta{{Situation: s}}}); err != nil {
		t.Fatal(err)
	}
}

// TestAccessMatrixNotes proves each rule on GET and POST /api/v1/notes against the real
// ClickHouse: a note is listed exactly when the viewer may see both the note (its own
// TLP, releasability, exercise) and its subject (as GET /api/v1/situations/{id} decides),
// and a note never names its subject's anonymised contributor.
func TestAccessMatrixNotes(t *testing.T) {
	st := openStore(t)
	m := &notesMatrix{historyMatrixData(t, st)}
	m.f = newFixture(t, st, notesIdentities(m.ex), nil)
	rose := picture.Situation{ID: m.sitID("rose"), Version: 1, Title: "matrix rose", Kind: event.KindIncident, Severity: event.SeverityHigh,
		TLP: event.TLPGreen, Countries: []string{"BA"}, Contributors: []picture.Contributor{{Name: "feed-a"}}, EventCount: 1,
		FirstSeen: m.t0, LastSeen: m.t0, UpdatedAt: m.stored}
	writeSituation(t, st, rose)

	m.note(t, "analyst-1", "situation", m.sitID("green"), "", "AMBER", "N-AMBER")
	m.note(t, "analyst-1", "situation", m.sitID("green"), "", "", "N-GREEN") // the subject's marking by default
	m.note(t, "analyst-1", "situation", m.sitID("green"), "", "GREEN", "N-REL", "eufor-althea", "ANALYST-1")
	m.note(t, "liaison-1", "situation", m.sitID("green"), "", "GREEN", "N-LIAISON")
	m.note(t, "analyst-1", "situation", m.sitID("ua"), "", "GREEN", "N-UA")
	m.note(t, "analyst-1", "situation", m.sitID("exercise"), m.ex, "GREEN", "N-EX")
	m.note(t, "analyst-1", "situation", m.sitID("anon"), "", "GREEN", "N-ANON")
	m.note(t, "analyst-red", "situation", m.sitID("red-named"), "", "RED", "N-RED")
	m.note(t, "analyst-1", "situation", m.sitID("rel-self"), "", "", "N-RELSELF")
	m.note(t, "analyst-1", "situation", rose.ID, "", "GREEN", "N-ROSE")
	// The subject's marking rises after the note was written: the note follows its subject.
	rose.Version, rose.TLP = 2, event.TLPAmber
	writeSituation(t, st, rose)

	cells := []struct {
		rule, viewer, ex, subject, marker string
		status                            int
		shown                             bool
	}{
		{"tlp_at_ceiling/allow", "cmdr-althea", "", "green", "N-AMBER", 200, true},
		{"green_cap_amber_note/deny", "cmdr-green", "", "green", "N-AMBER", 200, false},
		{"green_cap_green_note/allow", "cmdr-green", "", "green", "N-GREEN", 200, true},
		{"note_releasable_to_mission/allow", "cmdr-althea", "", "green", "N-REL", 200, true},
		{"note_releasable_to_author/allow", "analyst-1", "", "green", "N-REL", 200, true},
		{"note_not_releasable_analyst/deny", "analyst-red", "", "green", "N-REL", 200, false},
		{"note_not_releasable_liaison/deny", "liaison-1", "", "green", "N-REL", 200, false},
		{"liaison_reads/allow", "liaison-1", "", "green", "N-AMBER", 200, true},
		{"liaison_note_read_by_commander/allow", "cmdr-althea", "", "green", "N-LIAISON", 200, true},
		{"subject_releasable_to_mission/allow", "cmdr-green", "", "rel-self", "N-RELSELF", 200, true},
		{"subject_not_releasable/deny", "analyst-red", "", "rel-self", "N-RELSELF", 404, false},
		{"other_mission_area_commander/deny", "cmdr-althea", "", "ua", "N-UA", 404, false},
		{"other_mission_commander/deny", "cmdr-atalanta", "", "green", "N-GREEN", 404, false},
		{"other_mission_area_analyst/allow", "analyst-1", "", "ua", "N-UA", 200, true},
		{"exercise_in_real_picture/deny", "analyst-1", "", "exercise", "N-EX", 404, false},
		{"exercise_in_exercise_picture/allow", "analyst-1", m.ex, "exercise", "N-EX", 200, true},
		{"exercise_commander/allow", "cmdr-althea", m.ex, "exercise", "N-EX", 200, true},
		{"real_in_exercise_picture/deny", "analyst-1", m.ex, "green", "N-GREEN", 404, false},
		{"exercise_not_allowed/deny", "analyst-red", m.ex, "exercise", "N-EX", 403, false},
		{"red_named/allow", "cmdr-althea", "", "red-named", "N-RED", 200, true},
		{"red_subject_above_ceiling/deny", "analyst-1", "", "red-named", "N-RED", 404, false},
		{"subject_marking_rose/deny", "cmdr-green", "", "rose", "N-ROSE", 404, false},
		{"subject_marking_rose_cleared/allow", "cmdr-althea", "", "rose", "N-ROSE", 200, true},
		{"anonymised_contributor/allow", "cmdr-althea", "", "anon", "N-ANON", 200, true},
		{"anonymised_contributor_analyst/allow", "analyst-1", "", "anon", "N-ANON", 200, true},
	}
	for _, c := range cells {
		t.Run("list/"+c.rule, func(t *testing.T) {
			sid := m.sitID(c.subject)
			status, body := m.list(t, c.viewer, "situation", sid, c.ex)
			if status != c.status {
				t.Fatalf("status %d, want %d: %.300s", status, c.status, body)
			}
			if got := strings.Contains(body, m.mark(c.marker)); got != c.shown {
				t.Errorf("%s sees %s: %v, want %v: %.300s", c.viewer, c.marker, got, c.shown, body)
			}
			if strings.Contains(body, m.anonName) {
				t.Errorf("the anonymised contributor is named: %.300s", body)
			}
		})
	}
	for _, c := range []struct {
		rule, viewer, method string
		status               int
	}{
		{"contributor_list/deny", "feed-a", "GET", 403},
		{"contributor_create/deny", "feed-a", "POST", 403},
		{"commander_create/deny", "cmdr-althea", "POST", 403},
		{"no_token_list/deny", "", "GET", 401},
		{"no_token_create/deny", "", "POST", 401},
	} {
		t.Run("role/"+c.rule, func(t *testing.T) {
			path := "/api/v1/notes?subject_kind=situation&subject_id=" + m.sitID("green")
			body := `{"subject_kind":"situation","subject_id":"` + m.sitID("green") + `","text":"x","confidence":1}`
			if c.method == "GET" {
				body = ""
			}
			resp := m.f.do(t, c.method, path, m.f.tokens[c.viewer], strings.NewReader(body))
			if got := readAll(resp); resp.StatusCode != c.status || strings.Contains(got, m.ns) {
				t.Errorf("status %d, want %d: %.200s", resp.StatusCode, c.status, got)
			}
		})
	}
	for _, c := range []struct {
		rule, viewer, ex, marker string
		shown                    bool
	}{
		{"tlp_at_ceiling/allow", "analyst-1", "", "N-AMBER", true},
		{"note_releasable_to_author/allow", "analyst-1", "", "N-REL", true},
		{"note_not_releasable/deny", "analyst-red", "", "N-REL", false},
		{"subject_releasable_to_author/allow", "analyst-1", "", "N-RELSELF", true},
		{"subject_not_releasable/deny", "analyst-red", "", "N-RELSELF", false},
		{"red_named/allow", "analyst-red", "", "N-RED", true},
		{"red_subject_above_ceiling/deny", "analyst-1", "", "N-RED", false},
		{"exercise_in_real_picture/deny", "analyst-1", "", "N-EX", false},
		{"exercise_in_exercise_picture/allow", "analyst-1", m.ex, "N-EX", true},
		{"real_in_exercise_picture/deny", "analyst-1", m.ex, "N-GREEN", false},
		{"anonymised_contributor/allow", "analyst-1", "", "N-ANON", true},
		{"subject_without_events_in_bundle/deny", "analyst-1", "", "N-ROSE", false},
	} {
		t.Run("export_stix/"+c.rule, func(t *testing.T) {
			q := m.window(c.ex)
			q.Set("format", "stix")
			status, body := m.get(t, m.f.tokens[c.viewer], "/api/v1/events", q)
			if status != http.StatusOK {
				t.Fatalf("status %d: %.300s", status, body)
			}
			var b struct{ Objects []map[string]any }
			if err := json.Unmarshal([]byte(body), &b); err != nil {
				t.Fatalf("bundle: %v", err)
			}
			ids := map[string]bool{}
			for _, o := range b.Objects {
				ids[o["id"].(string)] = true
			}
			var note, opinion map[string]any
			for _, o := range b.Objects {
				content, _ := o["content"].(string)
				explanation, _ := o["explanation"].(string)
				switch {
				case o["type"] == "note" && strings.Contains(content, m.mark(c.marker)):
					note = o
				case o["type"] == "opinion" && strings.Contains(explanation, m.mark(c.marker)):
					opinion = o
				}
			}
			if got := note != nil; got != c.shown {
				t.Fatalf("%s's export has note %s: %v, want %v", c.viewer, c.marker, got, c.shown)
			}
			if opinion != nil != c.shown {
				t.Errorf("%s's export has opinion %s: %v, want %v", c.viewer, c.marker, opinion != nil, c.shown)
			}
			if strings.Contains(body, m.anonName) {
				t.Errorf("the anonymised contributor is named in the export")
			}
			if note == nil {
				return
			}
			for _, ref := range note["object_refs"].([]any) {
				if !ids[ref.(string)] {
					t.Errorf("note refers to %s, not in the bundle", ref)
				}
			}
			if opinion["opinion"] != "agree" {
				t.Errorf("agreement supports exported as opinion %v, want agree", opinion["opinion"])
			}
			if fmt.Sprint(note["authors"]) != "[analyst-1]" && fmt.Sprint(note["authors"]) != "[analyst-red]" {
				t.Errorf("authors %v", note["authors"])
			}
			if marks := fmt.Sprint(note["object_marking_refs"]); !strings.Contains(marks, "marking-definition--") {
				t.Errorf("note marked %s", marks)
			}
		})
	}
	t.Run("create/hidden_subject_is_absent", func(t *testing.T) {
		for _, c := range []struct{ viewer, subject, ex string }{
			{"analyst-1", "red-named", ""},    // above its ceiling
			{"analyst-red", "rel-other", ""},  // not releasable to it
			{"analyst-1", "exercise", ""},     // another exercise's
			{"analyst-1", "nonexistent", ""},  // absent: the same answer
			{"liaison-1", "amber-strict", ""}, // above a liaison's AMBER
		} {
			body := map[string]any{"subject_kind": "situation", "subject_id": m.sitID(c.subject), "text": "probe", "confidence": 5}
			if status, resp := m.post(t, c.viewer, body); status != http.StatusNotFound {
				t.Errorf("%s on %s: status %d, want 404: %.200s", c.viewer, c.subject, status, resp)
			}
		}
	})
	t.Run("create/marking_rules", func(t *testing.T) {
		f := func(subject, tlp string, rel []string, want string) {
			t.Helper()
			body := map[string]any{"subject_kind": "situation", "subject_id": m.sitID(subject), "text": "marking", "confidence": 5, "tlp": tlp}
			if rel != nil {
				body["releasable_to"] = rel
			}
			status, resp := m.post(t, "analyst-1", body)
			if status != http.StatusBadRequest || !strings.Contains(resp, want) {
				t.Errorf("%s %s %v: status %d, want 400 with %q: %s", subject, tlp, rel, status, want, resp)
			}
		}
		f("amber-strict", "GREEN", nil, "tlp: want at least AMBER+STRICT")
		f("green", "RED", []string{"ANALYST-1"}, "tlp: want at most AMBER+STRICT")
		f("rel-self", "GREEN", []string{"CERT-EU"}, "releasable_to: want recipients its situation is releasable to")
		f("green", "GREEN", []string{"EUFOR-ALTHEA"}, "releasable_to: want a list naming this identity")
		f("green", "MAUVE", nil, "tlp: want one of CLEAR")
	})
	t.Run("create/red_needs_recipients", func(t *testing.T) {
		body := map[string]any{"subject_kind": "situation", "subject_id": m.sitID("green"), "text": "red", "confidence": 5, "tlp": "RED"}
		if status, resp := m.post(t, "analyst-red", body); status != 400 || !strings.Contains(resp, "releasable_to: want the named recipients") {
			t.Errorf("status %d: %s", status, resp)
		}
	})
	t.Run("create/supersedes", func(t *testing.T) {
		old := m.note(t, "analyst-1", "situation", m.sitID("green"), "", "GREEN", "N-OLD")
		body := map[string]any{"subject_kind": "situation", "subject_id": m.sitID("green"), "text": "correction " + m.mark("N-NEW"),
			"confidence": 80, "supersedes": old}
		if status, resp := m.post(t, "liaison-1", body); status != 400 || !strings.Contains(resp, "supersedes: want the id of a note of this identity") {
			t.Errorf("another author's correction: status %d: %s", status, resp)
		}
		if status, resp := m.post(t, "analyst-1", body); status != http.StatusCreated {
			t.Fatalf("status %d: %s", status, resp)
		}
		_, list := m.list(t, "cmdr-green", "situation", m.sitID("green"), "")
		var got struct{ Notes []noteView }
		json.Unmarshal([]byte(list), &got)
		found := false
		for _, n := range got.Notes {
			if n.ID == old {
				found = n.SupersededBy != ""
			}
		}
		if !found {
			t.Errorf("the old note is not marked superseded: %s", list)
		}
	})
	t.Run("audit_rows_written", func(t *testing.T) {
		if err := st.FlushAudit(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"notes.create/201": false, "notes.create/400": false, "notes.create/404": false,
			"notes.list/200": false, "notes.list/404": false, "notes.list/403": false, "auth.forbidden/403": false}
		rows, err := st.Conn().Query(context.Background(), `SELECT DISTINCT action, status FROM cop.audit
			WHERE position(filter, '/api/v1/notes') = 1 AND at >= ?`, m.stored.Add(-time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var a string
			var s uint16
			rows.Scan(&a, &s)
			want[fmt.Sprintf("%s/%d", a, s)] = true
		}
		for k, ok := range want {
			if !ok {
				t.Errorf("no audit row %s", k)
			}
		}
	})
}

// TestNotesRefuseWhatTheyCannotStoreNamingTheField: every malformed note is refused with
// a 400 that names the field and what was expected, and nothing is stored.
func TestNotesRefuseWhatTheyCannotStoreNamingTheField(t *testing.T) {
	st := openStore(t)
	m := &notesMatrix{historyMatrixData(t, st)}
	m.f = newFixture(t, st, notesIdentities(m.ex), nil)
	base := func() map[string]any {
		return map[string]any{"subject_kind": "situation", "subject_id": m.sitID("green"), "text": "bad " + m.ns, "confidence": 50}
	}
	f := func(mod func(map[string]any), want string) {
		t.Helper()
		b := base()
		mod(b)
		status, resp := m.post(t, "analyst-1", b)
		if status != http.StatusBadRequest || !strings.Contains(resp, want) {
			t.Errorf("status %d, want 400 with %q: %s", status, want, resp)
		}
	}
	f(func(b map[string]any) { delete(b, "confidence") }, "confidence: want an integer from 0 to 100")
	f(func(b map[string]any) { b["confidence"] = 101 }, "confidence: want an integer from 0 to 100")
	f(func(b map[string]any) { b["confidence"] = "high" }, "confidence")
	f(func(b map[string]any) { b["text"] = "" }, "text: want text of 1 to 4000 characters")
	f(func(b map[string]any) { b["text"] = strings.Repeat("é", 4001) }, "text: want text of 1 to 4000 characters (got 4001)")
	f(func(b map[string]any) { b["text"] = "bell\a" }, "without control characters")
	f(func(b map[string]any) { b["action"] = "nuke" }, "action: want one of none, monitor, investigate, mitigate, escalate, share")
	f(func(b map[string]any) { b["action_text"] = strings.Repeat("x", 501) }, "action_text: want text of 0 to 500 characters")
	f(func(b map[string]any) { b["agreement"] = "yes" }, "agreement: want one of confirms, supports, neutral, doubts, refutes")
	f(func(b map[string]any) { delete(b, "subject_kind") }, "subject_kind: want situation, campaign or crisis (missing)")
	f(func(b map[string]any) { b["subject_kind"] = "event" }, "subject_kind: want situation, campaign or crisis")
	f(func(b map[string]any) { b["subject_id"] = "a b" }, "subject_id: want the id of a situation")
	f(func(b map[string]any) { b["colour"] = "red" }, `colour\": not a field of this format`)
	f(func(b map[string]any) { b["releasable_to"] = []string{"no spaces"} }, "releasable_to: want identity or mission names")
	f(func(b map[string]any) { b["supersedes"] = "x" }, "supersedes: want the id of a note")
	f(func(b map[string]any) { b["supersedes"] = newNoteID() }, "supersedes: want the id of a note of this identity")
	resp := m.f.do(t, "POST", "/api/v1/notes", m.f.tokens["analyst-1"], strings.NewReader("{"))
	if body := readAll(resp); resp.StatusCode != 400 || !strings.Contains(body, "body: ") {
		t.Errorf("truncated JSON: status %d: %s", resp.StatusCode, body)
	}
	if status, body := m.list(t, "analyst-1", "situation", m.sitID("green"), ""); status != 200 || strings.Contains(body, "bad "+m.ns) {
		t.Errorf("a refused note was stored: %d %s", status, body)
	}
	for _, q := range []string{"", "subject_kind=situation", "subject_kind=x&subject_id=y", "subject_kind=situation&subject_id=%20"} {
		resp := m.f.do(t, "GET", "/api/v1/notes?"+q, m.f.tokens["analyst-1"], nil)
		if body := readAll(resp); resp.StatusCode != 400 || !strings.Contains(body, "subject_") {
			t.Errorf("GET ?%s: status %d: %s", q, resp.StatusCode, body)
		}
	}
}

// TestAccessMatrixNotesOnCampaignsAndCrises: a campaign's notes follow GET
// /api/v1/campaigns (the campaign of the viewer's view of the live picture), a crisis's
// the default crisis rule (analysts, liaison officers and admins).
func TestAccessMatrixNotesOnCampaignsAndCrises(t *testing.T) {
	st := openStore(t)
	m := &notesMatrix{historyMatrixData(t, st)}
	m.f = newFixture(t, st, notesIdentities(m.ex), nil)
	var sits []picture.Situation
	for i, id := range []string{"c-a-" + m.ns, "c-b-" + m.ns} {
		sits = append(sits, sit(id, event.TLPGreen, func(s *picture.Situation) {
			s.Observables = []event.Observable{{Type: event.ObsIPv4, Value: fmt.Sprintf("203.0.113.%d", i+1)}}
			s.FirstSeen = s.FirstSeen.Add(time.Duration(i) * time.Second)
		}))
	}
	m.f.pic.Apply(deltas(sits...))
	resp := m.f.do(t, "GET", "/api/v1/campaigns", m.f.tokens["analyst-1"], nil)
	var cs struct{ Campaigns []picture.Campaign }
	json.Unmarshal([]byte(readAll(resp)), &cs)
	cid := ""
	for _, c := range cs.Campaigns {
		if len(c.Situations) == 2 && strings.Contains(strings.Join(c.Situations, ","), m.ns) {
			cid = c.ID
		}
	}
	if cid == "" {
		t.Fatalf("no campaign of the two situations: %+v", cs)
	}
	m.note(t, "analyst-1", "campaign", cid, "", "AMBER", "C-AMBER")
	m.note(t, "analyst-1", "campaign", cid, "", "GREEN", "C-GREEN")
	m.note(t, "analyst-1", "crisis", "CRISIS-"+m.ns, "", "AMBER", "K-AMBER")
	for _, c := range []struct {
		rule, viewer, kind, marker string
		status                     int
		shown                      bool
	}{
		{"campaign_commander/allow", "cmdr-althea", "campaign", "C-AMBER", 200, true},
		{"campaign_green_cap/deny", "cmdr-green", "campaign", "C-AMBER", 200, false},
		{"campaign_green_cap_green/allow", "cmdr-green", "campaign", "C-GREEN", 200, true},
		{"campaign_other_mission/deny", "cmdr-atalanta", "campaign", "C-GREEN", 404, false},
		{"campaign_liaison/allow", "liaison-1", "campaign", "C-AMBER", 200, true},
		{"crisis_liaison/allow", "liaison-1", "crisis", "K-AMBER", 200, true},
		{"crisis_commander_default/deny", "cmdr-althea", "crisis", "K-AMBER", 404, false},
		{"crisis_above_ceiling/deny", "cmdr-green", "crisis", "K-AMBER", 404, false},
	} {
		t.Run(c.rule, func(t *testing.T) {
			subject := cid
			if c.kind == "crisis" {
				subject = "CRISIS-" + m.ns
			}
			status, body := m.list(t, c.viewer, c.kind, subject, "")
			if status != c.status {
				t.Fatalf("status %d, want %d: %.300s", status, c.status, body)
			}
			if got := strings.Contains(body, m.mark(c.marker)); got != c.shown {
				t.Errorf("%s sees %s: %v, want %v: %.300s", c.viewer, c.marker, got, c.shown, body)
			}
		})
	}
	t.Run("campaign_marking_is_its_situations", func(t *testing.T) {
		amber := sits[1]
		amber.Version, amber.TLP = 2, event.TLPAmber
		m.f.pic.Apply(deltas(amber))
		body := map[string]any{"subject_kind": "campaign", "subject_id": cid, "text": "low", "confidence": 5, "tlp": "GREEN"}
		if status, resp := m.post(t, "analyst-1", body); status != 400 || !strings.Contains(resp, "tlp: want at least AMBER, the marking of its campaign") {
			t.Errorf("status %d: %s", status, resp)
		}
	})
}
