package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/store"
)

// Regressions of the black-box probe of issue 14 (points 7 to 14) on the history API.

// A filter value can reach ClickHouse only bound, never formatted into SQL, and nothing
// a caller searched for may reach the log: a subnormal min_score made a syntax error whose
// message (with the request's search text, an AMBER+STRICT term) was logged.
func TestMinScoreSubnormalAndNonFinite(t *testing.T) {
	env := newHistoryEnv(t)
	secret := "amberstrict-term-" + env.ex
	for _, v := range []string{"1e-308", "5e-324", "4.9e-324", "0.0000001"} {
		code, _, body := env.get("analyst-1", "/api/v1/situations?min_score="+v+"&q="+secret)
		if code != 200 {
			t.Errorf("min_score=%s: %d %s", v, code, body)
		}
	}
	code, _, body := env.get("analyst-1", "/api/v1/situations?min_score=1e-308")
	var out struct{ Situations []struct{ ID string } }
	json.Unmarshal(body, &out)
	if code != 200 || len(out.Situations) != 2 { // S-A and S-ELSEWHERE, whose scores are > 0
		t.Errorf("min_score=1e-308: %d %s", code, body)
	}
	for _, v := range []string{"NaN", "nan", "Inf", "+Inf", "-Inf", "1e309", "-1", "100.5"} {
		code, _, body := env.get("analyst-1", "/api/v1/situations?min_score="+url.QueryEscape(v))
		if code != 400 || !strings.Contains(string(body), "min_score") || !strings.Contains(string(body), "0 to 100") {
			t.Errorf("min_score=%s: %d %s, want 400 naming min_score and 0 to 100", v, code, body)
		}
	}
	if strings.Contains(env.logs.String(), secret) {
		t.Errorf("the log holds a caller's search text:\n%s", env.logs.String())
	}
}

// A store error is logged with the request's parameter names, never their values nor the
// SQL text ClickHouse quotes back.
func TestStoreErrorLogNamesParametersOnly(t *testing.T) {
	env := newHistoryEnv(t)
	env.st.Close() // every query now fails
	code, _, _ := env.get("analyst-1", "/api/v1/events?q=secret-title-term&observable=secret.example")
	if code != http.StatusServiceUnavailable {
		t.Fatalf("events with the store closed: %d, want 503", code)
	}
	logs := env.logs.String()
	if strings.Contains(logs, "secret") {
		t.Errorf("the log holds a query value:\n%s", logs)
	}
	if !strings.Contains(logs, `"params":["exercise","observable","q"]`) {
		t.Errorf("the log does not name the parameters:\n%s", logs)
	}
}

// An event's situation id is shown only when the viewer may see that situation: a GREEN
// event of a RED situation otherwise tells that hidden intelligence on its values exists.
func TestEventNamesOnlySituationsTheViewerMaySee(t *testing.T) {
	env := newHistoryEnv(t)
	green := hEvent(env.ex, "de-cert-bw", 20, func(e *event.Event) {
		e.Observables = []event.Observable{{Type: event.ObsIPv4, Value: "203.0.113.77"}}
	})
	if err := env.st.Write(context.Background(), &store.Batch{Events: []event.Event{green}, Situations: []string{"S-RED"},
		Duplicate: []bool{false}, StoredAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"analyst-1", "root"} { // S-RED is RED for EUFOR-ALTHEA: neither is named
		for _, path := range []string{"/api/v1/events?observable=203.0.113.77", "/api/v1/events?observable=203.0.113.77&format=csv",
			"/api/v1/events?observable=203.0.113.77&format=stix", "/api/v1/observables/203.0.113.77",
			taxiiRoot + "collections/" + collectionID(env.ex) + "/objects/"} {
			code, _, body := env.get(who, path)
			if code != 200 || !strings.Contains(string(body), "203.0.113.77") {
				t.Fatalf("%s as %s: %d %s", path, who, code, body)
			}
			if strings.Contains(string(body), "S-RED") {
				t.Errorf("%s as %s names the hidden situation S-RED: %s", path, who, body)
			}
		}
	}
	// A situation the viewer may see is still named.
	_, _, body := env.get("analyst-1", "/api/v1/observables/198.51.100.1")
	if !strings.Contains(string(body), `"situations":["S-A"]`) || !strings.Contains(string(body), `"situation_id":"S-A"`) {
		t.Errorf("the visible situation S-A is not named: %s", body)
	}
}

// ClickHouse's DateTime ends at 2106-02-07T06:28:15Z; a bound beyond it wrapped to 1970.
// A since beyond what the store holds selects nothing, an until beyond it bounds nothing,
// and the same on the other side of 1970.
func TestTimeBoundsBeyondTheStoreRange(t *testing.T) {
	env := newHistoryEnv(t)
	all := env.sources("analyst-1", "")
	if all == "" {
		t.Fatal("no events")
	}
	f := func(query, want string) {
		t.Helper()
		if got := env.sources("analyst-1", query); got != want {
			t.Errorf("events?%s = [%s], want [%s]", query, got, want)
		}
	}
	for _, far := range []string{"2106-02-07T06:28:16Z", "2106-02-07T06:28:15Z", "2200-01-01T00:00:00Z", "9999-12-31T23:59:59Z"} {
		f("since="+far, "")
		f("until="+far, all)
	}
	f("since=1900-01-01T00:00:00Z", all)
	f("until=1900-01-01T00:00:00Z", "")
	f("until=1970-01-01T00:00:00Z", "")
	for _, path := range []string{"/api/v1/situations?since=2106-02-07T06:28:16Z", "/api/v1/situations?since=9999-01-01T00:00:00Z"} {
		_, _, body := env.get("analyst-1", path)
		if !strings.Contains(string(body), `"situations":[]`) {
			t.Errorf("%s: %s, want no situations", path, body)
		}
	}
	_, _, body := env.get("analyst-1", "/api/v1/stats?since=2106-02-07T06:28:16Z")
	if !strings.Contains(string(body), `"events":0`) {
		t.Errorf("stats since 2106-02-07T06:28:16Z: %s, want no events", body)
	}
	for _, after := range []string{"2106-02-07T06:28:16Z", "9999-12-31T00:00:00Z"} {
		_, _, body := env.get("analyst-1", taxiiRoot+"collections/"+collectionID(env.ex)+"/objects/?added_after="+after)
		var page struct {
			Objects []any `json:"objects"`
			More    bool  `json:"more"`
		}
		if err := json.Unmarshal(body, &page); err != nil || len(page.Objects) != 0 || page.More {
			t.Errorf("TAXII added_after=%s: %s, want no objects", after, body)
		}
	}
}
