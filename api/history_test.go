package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cidcc/cop/ingest/stix"
	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

// historyEnv is a COP API on the real ClickHouse with one fixture exercise and a token
// per identity name.
type historyEnv struct {
	t      *testing.T
	url    string
	st     *store.Store
	ex     string
	tokens map[string]string
	evs    []event.Event
	logs   *logBuffer // what the server logged
}

// logBuffer collects a server's log lines; handlers write from many goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var hT0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func hEvent(ex, contributor string, i int, mod func(*event.Event)) event.Event {
	e := event.Event{
		Contributor: contributor, SourceID: fmt.Sprint("r-", i), Kind: event.KindIndicator,
		ObservedAt: hT0.Add(time.Duration(i) * time.Minute), ReceivedAt: hT0.Add(24 * time.Hour),
		Observables: []event.Observable{{Type: event.ObsIPv4, Value: fmt.Sprintf("198.51.100.%d", 1+i%250)}},
		Category:    "malicious-code/c2-server", Techniques: []string{"T1071"}, Sectors: []string{"energy"},
		Countries: []string{"BA"}, Severity: event.SeverityHigh, Confidence: 70, TLP: event.TLPGreen,
		Exercise: ex, Title: fmt.Sprintf("C2 beacon %d", i),
	}
	if mod != nil {
		mod(&e)
	}
	e.ID = event.Source{Contributor: e.Contributor}.EventID(e.SourceID)
	return e
}

func newHistoryEnv(t *testing.T) *historyEnv {
	t.Helper()
	_, ch := itest.Services(t)
	st, err := store.Open(context.Background(), ch, itest.Database())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	ex := strings.ToUpper("T-" + itest.Namespace(t))
	env := &historyEnv{t: t, st: st, ex: ex, tokens: map[string]string{}, logs: &logBuffer{}}
	ids := []access.Identity{
		{Name: "analyst-1", Role: access.RoleAnalyst, MaxTLP: event.TLPAmber, Exercises: []string{ex}},
		{Name: "analyst-green", Role: access.RoleAnalyst, MaxTLP: event.TLPGreen, Exercises: []string{ex}},
		{Name: "analyst-noex", Role: access.RoleAnalyst, MaxTLP: event.TLPAmber},
		{Name: "pl-csirt-mon", Role: access.RoleAnalyst, MaxTLP: event.TLPAmber, Exercises: []string{ex}},
		{Name: "root", Role: access.RoleAdmin, MaxTLP: event.TLPRed},
		{Name: "althea", Role: access.RoleCommander, MaxTLP: event.TLPRed, Missions: []string{"EUFOR-ALTHEA"}, Exercises: []string{ex}},
		{Name: "irini", Role: access.RoleCommander, MaxTLP: event.TLPRed, Missions: []string{"EUNAVFOR-MED-IRINI"}, Exercises: []string{ex}},
		{Name: "pusher", Role: access.RoleContributor, MaxTLP: event.TLPRed},
	}
	var entries []access.Entry
	for _, id := range ids {
		tok, hash := access.NewToken()
		env.tokens[id.Name] = tok
		entries = append(entries, access.Entry{Identity: id, TokenSHA256: hash})
	}
	auth, err := access.NewTokens(entries)
	if err != nil {
		t.Fatal(err)
	}
	env.evs = []event.Event{
		hEvent(ex, "fr-comcyber", 0, nil),
		hEvent(ex, "de-cert-bw", 1, func(e *event.Event) { e.Countries = []string{"DE"}; e.Sectors = []string{"health"} }),
		hEvent(ex, "fr-comcyber", 2, func(e *event.Event) {
			e.Kind = event.KindIncident
			e.Severity = event.SeverityLow
			e.Observables = append(e.Observables, event.Observable{Type: event.ObsDomain, Value: "c2.bad.example"})
			e.Names = []event.Name{{Kind: "campaign", Name: "Grid Wiper"}, {Kind: "malware", Name: "WhisperGate"}}
		}),
		hEvent(ex, "fr-comcyber", 3, func(e *event.Event) {
			e.TLP = event.TLPAmber
			e.Title = "Wiper on grid SCADA"
			e.Kind = event.KindSighting
			e.Observables = append(e.Observables, event.Observable{Type: event.ObsSHA256, Value: strings.Repeat("ab", 32)})
		}),
		hEvent(ex, "fr-comcyber", 4, func(e *event.Event) { e.TLP = event.TLPRed; e.ReleasableTo = []string{"EUFOR-ALTHEA"} }),
		hEvent(ex, "fr-comcyber", 5, func(e *event.Event) { e.ReleasableTo = []string{"analyst-2"} }),
		hEvent(ex, "pl-csirt-mon", 6, func(e *event.Event) { e.Anonymise = true; e.Techniques = []string{"T1486"} }),
		hEvent(ex, "pl-csirt-mon", 7, func(e *event.Event) {
			e.Kind = event.KindReport
			e.Observables = append(e.Observables, event.Observable{Type: event.ObsURL, Value: "http://bad.example/x?a='1'"})
		}),
	}
	sit := func(id string, tlp event.TLP, rel []string, score float64, contributors ...picture.Contributor) picture.Delta {
		return picture.Delta{Situation: picture.Situation{ID: id, Version: 2, Exercise: ex, Title: "Campaign " + id,
			Kind: event.KindIndicator, Severity: event.SeverityHigh, Confidence: 80, Score: score, TLP: tlp, ReleasableTo: rel,
			Contributors: contributors, Countries: []string{"BA"}, Sectors: []string{"energy"}, EventCount: 4,
			FirstSeen: hT0, LastSeen: hT0.Add(7 * time.Minute), UpdatedAt: hT0.Add(time.Hour)}}
	}
	fr, pl := picture.Contributor{Name: "fr-comcyber"}, picture.Contributor{Name: "pl-csirt-mon", Anonymise: true}
	b := &store.Batch{Events: env.evs, Deltas: []picture.Delta{
		sit("S-A", event.TLPGreen, nil, 70, fr, pl),
		sit("S-RED", event.TLPRed, []string{"EUFOR-ALTHEA"}, 90, fr),
		sit("S-ELSEWHERE", event.TLPGreen, nil, 20, fr),
	}, StoredAt: time.Now()}
	old := b.Deltas[0]
	old.Situation.Version, old.Situation.Title = 1, "stale version"
	b.Deltas = append(b.Deltas, old)
	b.Deltas[2].Situation.Countries = []string{"LY"}
	for i := range env.evs {
		b.Situations = append(b.Situations, map[bool]string{true: "S-RED", false: "S-A"}[i == 4])
		b.Duplicate = append(b.Duplicate, false)
	}
	for range 2 { // a redelivered batch
		if err := st.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	srv := &Server{Auth: auth, Store: st, Missions: access.DefaultMissions(), Anon: testAnon, Log: zerolog.New(env.logs)}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	env.url = ts.URL
	return env
}

// get fetches path as who, with the env's exercise added unless the query names one.
func (env *historyEnv) get(who, path string) (int, http.Header, []byte) {
	env.t.Helper()
	u, _ := url.Parse(env.url + path)
	q := u.Query()
	if _, ok := q["exercise"]; !ok {
		q.Set("exercise", env.ex)
	}
	u.RawQuery = q.Encode()
	req, _ := http.NewRequest("GET", u.String(), nil)
	if tok := env.tokens[who]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		env.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}

func (env *historyEnv) events(who, query string) (titles []string, contributors []string) {
	env.t.Helper()
	code, _, body := env.get(who, "/api/v1/events?"+query)
	if code != 200 {
		env.t.Fatalf("events?%s as %s: %d %s", query, who, code, body)
	}
	var out struct{ Events []store.StoredEvent }
	if err := json.Unmarshal(body, &out); err != nil {
		env.t.Fatal(err)
	}
	for _, e := range out.Events {
		titles = append(titles, e.SourceID+"/"+e.ID[:4])
		contributors = append(contributors, e.Contributor)
	}
	return titles, contributors
}

func (env *historyEnv) sources(who, query string) string {
	env.t.Helper()
	code, _, body := env.get(who, "/api/v1/events?"+query)
	if code != 200 {
		env.t.Fatalf("events?%s as %s: %d %s", query, who, code, body)
	}
	var out struct{ Events []store.StoredEvent }
	json.Unmarshal(body, &out)
	var ids []string
	for _, e := range out.Events {
		n := slices.IndexFunc(env.evs, func(x event.Event) bool { return x.ID == e.ID })
		ids = append(ids, fmt.Sprint(n))
	}
	return strings.Join(ids, ",")
}

func TestEventsEveryFilterOverHTTP(t *testing.T) {
	env := newHistoryEnv(t)
	f := func(query, want string) {
		t.Helper()
		if got := env.sources("analyst-1", query); got != want {
			t.Errorf("events?%s = [%s], want [%s]", query, got, want)
		}
	}
	f("", "7,6,3,2,1,0")
	f("sort=observed_at&limit=2", "0,1")
	f("since=2026-03-02T10:01:00Z&until=2026-03-02T10:03:00Z", "2,1")
	f("contributor=de-cert-bw", "1")
	f("country=de", "1")
	f("sector=health", "1")
	f("kind=incident", "2")
	f("severity=low", "2")
	f("technique=t1486", "6")
	f("tlp=AMBER", "3")
	f("q=scada", "3")
	f("observable=c2.bad[.]example", "2")
	f("observable=198.51.100.4&observable_type=ipv4", "3")
	f("observable_type=sha256", "3")
	f("contributor=fr-comcyber,de-cert-bw&severity=high,low&since=2026-03-02T10:01:00Z", "3,2,1")
	// Bad input is a 400 naming the parameter.
	for _, q := range []string{"since=yesterday", "kind=rumour", "limit=0", "cursor=zzz", "format=xml", "sort=title", "tlp=PURPLE"} {
		if code, _, body := env.get("analyst-1", "/api/v1/events?"+q); code != 400 || !bytes.Contains(body, []byte(`"code":"bad_request"`)) {
			t.Errorf("events?%s: %d %s, want 400", q, code, body)
		}
	}
}

func TestHistoryDenials(t *testing.T) {
	env := newHistoryEnv(t)
	f := func(who, query, want string) {
		t.Helper()
		if got := env.sources(who, query); got != want {
			t.Errorf("events?%s as %s = [%s], want [%s]", query, who, got, want)
		}
	}
	f("analyst-green", "tlp=AMBER", "")                                         // above ceiling
	f("root", "tlp=RED", "")                                                    // RED not named
	f("analyst-1", "since=2026-03-02T10:05:00Z&until=2026-03-02T10:06:00Z", "") // not releasable to it
	f("analyst-1", "contributor=pl-csirt-mon", "7")                             // anonymised name hidden
	f("pl-csirt-mon", "contributor=pl-csirt-mon", "7,6")                        // but not from itself
	f("root", "contributor=pl-csirt-mon", "7,6")                                // nor from admins
	// The anonymised event shows under a pseudonym, never the name.
	_, contributors := env.events("analyst-1", "technique=T1486")
	if len(contributors) != 1 || contributors[0] != testAnon.Pseudonym("analyst-1", "pl-csirt-mon") {
		t.Errorf("anonymised contributor shown as %v", contributors)
	}
	// Other exercise, no exercise, wrong role, no token: on every endpoint.
	for _, path := range []string{"/api/v1/events", "/api/v1/situations", "/api/v1/situations/S-A", "/api/v1/observables/198.51.100.1", "/api/v1/stats?group=week"} {
		if code, _, _ := env.get("analyst-noex", path); code != 403 {
			t.Errorf("%s as analyst-noex on an exercise it may not view: %d, want 403", path, code)
		}
		if code, _, _ := env.get("pusher", path); code != 403 {
			t.Errorf("%s as a contributor: %d, want 403", path, code)
		}
		if code, _, _ := env.get("nobody", path); code != 401 {
			t.Errorf("%s without a token: %d, want 401", path, code)
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		code, _, body := env.get("root", path+sep+"exercise="+env.ex+"-OTHER")
		if code == 200 && (bytes.Contains(body, []byte("event_id")) || bytes.Contains(body, []byte(`"S-A"`)) ||
			bytes.Contains(body, []byte(`"events":`)) && !bytes.Contains(body, []byte(`"events":[]`))) {
			t.Errorf("%s of another exercise shows this one's data: %s", path, body)
		}
	}
	// Observables: the look-up applies the same rules.
	_, _, body := env.get("analyst-green", "/api/v1/observables/198.51.100.4")
	if bytes.Contains(body, []byte("event_id")) {
		t.Errorf("AMBER sighting shown to a GREEN analyst: %s", body)
	}
	_, _, body = env.get("analyst-1", "/api/v1/observables/198.51.100.7")
	if bytes.Contains(body, []byte("pl-csirt-mon")) || !bytes.Contains(body, []byte(testAnon.Pseudonym("analyst-1", "pl-csirt-mon"))) {
		t.Errorf("anonymised sighting not pseudonymised: %s", body)
	}
	// Situations: RED not named, commander outside its mission area, anonymised contributor filter.
	if code, _, _ := env.get("analyst-1", "/api/v1/situations/S-RED"); code != 404 {
		t.Errorf("RED situation to an unnamed analyst: %d, want 404", code)
	}
	if code, _, _ := env.get("irini", "/api/v1/situations/S-A"); code != 404 {
		t.Errorf("situation outside a commander's missions: %d, want 404", code)
	}
	_, _, body = env.get("analyst-1", "/api/v1/situations?contributor=pl-csirt-mon")
	if bytes.Contains(body, []byte("S-A")) {
		t.Errorf("situation found by an anonymised contributor's name: %s", body)
	}
	_, _, body = env.get("analyst-1", "/api/v1/situations/S-A")
	var one struct{ Situation picture.Situation }
	json.Unmarshal(body, &one)
	if fmt.Sprint(one.Situation.Contributors) != fmt.Sprintf("[{fr-comcyber false} {%s true}]", testAnon.Pseudonym("analyst-1", "pl-csirt-mon")) {
		t.Errorf("situation contributors as analyst-1 sees them: %v", one.Situation.Contributors)
	}
	// Trends: the anonymised contributor is counted under its pseudonym.
	_, _, body = env.get("analyst-1", "/api/v1/stats?group=contributor")
	if !bytes.Contains(body, []byte(`{"key":["pl-csirt-mon"],"events":1}`)) ||
		!bytes.Contains(body, []byte(`{"key":["`+testAnon.Pseudonym("analyst-1", "pl-csirt-mon")+`"],"events":1}`)) {
		t.Errorf("trend must count the anonymised event under a pseudonym only: %s", body)
	}
}

func TestSituationsLatestVersionAndMembers(t *testing.T) {
	env := newHistoryEnv(t)
	code, _, body := env.get("althea", "/api/v1/situations")
	var out struct {
		Situations []picture.Situation
		Next       string
	}
	json.Unmarshal(body, &out)
	var got []string
	for _, s := range out.Situations {
		got = append(got, s.ID+":"+s.Title)
	}
	sort.Strings(got)
	if code != 200 || strings.Join(got, ",") != "S-A:Campaign S-A,S-RED:Campaign S-RED" {
		t.Fatalf("commander althea sees %v (%d %s)", got, code, body)
	}
	f := func(query, want string) {
		t.Helper()
		_, _, body := env.get("analyst-1", "/api/v1/situations?"+query)
		var out struct{ Situations []picture.Situation }
		json.Unmarshal(body, &out)
		var got []string
		for _, s := range out.Situations {
			got = append(got, s.ID)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("situations?%s = %v, want %s (%s)", query, got, want, body)
		}
	}
	f("min_score=50", "S-A")
	f("country=LY", "S-ELSEWHERE")
	f("technique=T1486", "S-A")
	f("observable=198.51.100.5", "")
	f("observable=198.51.100.1", "S-A")
	f("kind=report", "S-A")
	f("q=elsewhere", "S-ELSEWHERE")
	f("limit=1&sort=updated_at", "S-A")
	_, _, body = env.get("analyst-1", "/api/v1/situations/S-A")
	var one struct {
		Situation picture.Situation
		Events    []store.StoredEvent
	}
	json.Unmarshal(body, &one)
	if one.Situation.Title != "Campaign S-A" || len(one.Events) != 6 {
		t.Fatalf("situation S-A: %s, %d events (%s)", one.Situation.Title, len(one.Events), body)
	}
}

func TestExportCSVAndSTIXRoundTrip(t *testing.T) {
	env := newHistoryEnv(t)
	code, hd, body := env.get("analyst-1", "/api/v1/events?format=csv")
	if code != 200 || !strings.HasPrefix(hd.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", code, hd)
	}
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil || len(recs) != 7 || strings.Join(recs[0], ",") != strings.Join(csvColumns, ",") {
		t.Fatalf("csv: %v rows, %v: %s", len(recs), err, body)
	}
	for _, r := range recs {
		if r[13] == "T1486" && r[3] != testAnon.Pseudonym("analyst-1", "pl-csirt-mon") {
			t.Errorf("csv shows the anonymised event under %q", r[3])
		}
	}
	code, hd, body = env.get("analyst-1", "/api/v1/events?format=stix")
	if code != 200 || !strings.HasPrefix(hd.Get("Content-Type"), "application/stix+json") {
		t.Fatalf("stix: %d %s", code, hd)
	}
	var bundle struct{ Objects []map[string]any }
	json.Unmarshal(body, &bundle)
	names := map[string]string{}
	for _, o := range bundle.Objects {
		if o["type"] == "identity" {
			names[o["id"].(string)] = o["name"].(string)
		}
	}
	for _, o := range bundle.Objects {
		if o["x_cop_event_id"] == env.evs[6].ID && names[o["created_by_ref"].(string)] != testAnon.Pseudonym("analyst-1", "pl-csirt-mon") {
			t.Errorf("stix: the anonymised event is created by %q", names[o["created_by_ref"].(string)])
		}
	}
	evs, errs := stix.Parse(body, event.Source{Contributor: "reimport", ReceivedAt: time.Now()})
	if len(errs) > 0 {
		t.Fatalf("exported bundle does not parse: %v", errs)
	}
	// Export → Parse gives back each visible event: same kind, TLP and observables. An
	// incident with observables comes back as the incident plus the indicator that
	// indicates it (which also lends the incident its observables).
	type shape struct {
		kind event.Kind
		tlp  event.TLP
		obs  string
	}
	key := func(kind event.Kind, tlp event.TLP, obs []event.Observable) shape {
		var s []string
		for _, o := range obs {
			s = append(s, o.String())
		}
		sort.Strings(s)
		return shape{kind, tlp, strings.Join(s, " ")}
	}
	var want, got []shape
	for _, i := range []int{0, 1, 2, 3, 6, 7} {
		e := env.evs[i]
		if e.Kind == event.KindIncident {
			want = append(want, key(event.KindIncident, e.TLP, e.Observables), key(event.KindIndicator, e.TLP, e.Observables))
			continue
		}
		want = append(want, key(e.Kind, e.TLP, e.Observables))
	}
	for _, e := range evs {
		got = append(got, key(e.Kind, e.TLP, e.Observables))
	}
	less := func(a, b shape) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) }
	slices.SortFunc(want, less)
	slices.SortFunc(got, less)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("round trip:\n got %v\nwant %v", got, want)
	}
}

func TestEventPagesOverHTTPWithConcurrentInserts(t *testing.T) {
	env := newHistoryEnv(t)
	var more []event.Event
	for i := range 40 {
		more = append(more, hEvent(env.ex, "es-mcce", 100+i, func(e *event.Event) { e.ObservedAt = hT0.Add(time.Duration(i/4) * time.Second) }))
	}
	write := func(evs []event.Event) {
		b := &store.Batch{Events: evs}
		for range evs {
			b.Situations, b.Duplicate = append(b.Situations, "S-P"), append(b.Duplicate, false)
		}
		if err := env.st.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	write(more)
	seen := map[string]int{}
	cursor := ""
	for page := 0; page < 100; page++ {
		code, _, body := env.get("analyst-1", "/api/v1/events?contributor=es-mcce&limit=7&cursor="+cursor)
		var out struct {
			Events []store.StoredEvent
			Next   string
		}
		if code != 200 || json.Unmarshal(body, &out) != nil {
			t.Fatalf("page %d: %d %s", page, code, body)
		}
		for _, e := range out.Events {
			seen[e.ID]++
		}
		write([]event.Event{
			hEvent(env.ex, "es-mcce", 1000+page, func(e *event.Event) { e.ObservedAt = hT0.Add(time.Hour) }),
			hEvent(env.ex, "es-mcce", 2000+page, func(e *event.Event) { e.ObservedAt = hT0.Add(5 * time.Second) }),
		})
		if out.Next == "" {
			break
		}
		cursor = out.Next
	}
	for _, e := range more {
		if seen[e.ID] != 1 {
			t.Errorf("%s seen %d times", e.SourceID, seen[e.ID])
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s seen %d times", id, n)
		}
	}
}

func TestTrendCountsOnceAndAudits(t *testing.T) {
	env := newHistoryEnv(t)
	code, _, body := env.get("analyst-1", "/api/v1/stats?group=week,sector")
	if code != 200 || !bytes.Contains(body, []byte(`{"key":["2026-03-02","energy"],"events":5}`)) ||
		!bytes.Contains(body, []byte(`{"key":["2026-03-02","health"],"events":1}`)) {
		t.Fatalf("trend: %d %s", code, body)
	}
	for _, g := range store.TrendDims() {
		if code, _, body := env.get("analyst-1", "/api/v1/stats?group="+g); code != 200 {
			t.Errorf("group=%s: %d %s", g, code, body)
		}
	}
	if code, _, _ := env.get("althea", "/api/v1/stats?group=week"); code != 403 {
		t.Errorf("trend to a commander: %d, want 403", code)
	}
	if code, _, _ := env.get("analyst-1", "/api/v1/stats?group=colour"); code != 400 {
		t.Errorf("unknown group: %d, want 400", code)
	}
	// The server's audit log is batched; flush it before counting.
	if err := env.st.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := env.st.Conn().QueryRow(context.Background(), `SELECT count() FROM cop.audit WHERE identity = 'analyst-1'
		AND action = 'stats.trend' AND position(filter, ?) > 0`, env.ex).Scan(&n); err != nil || n < uint64(len(store.TrendDims())+2) {
		t.Fatalf("audit rows for the trends: %d, %v", n, err)
	}
}
