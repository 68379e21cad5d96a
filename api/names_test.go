package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

// namedHistory adds to env a GREEN event naming an intrusion set and a malware, an AMBER
// one naming a campaign only AMBER viewers may learn of, and a situation carrying both
// names.
func namedHistory(t *testing.T, env *historyEnv) (green, amber event.Event) {
	t.Helper()
	green = hEvent(env.ex, "fr-comcyber", 20, func(e *event.Event) {
		e.Names = []event.Name{{Kind: "intrusion-set", Name: "apt 28"}, {Kind: "malware", Name: "x-agent"}}
		e.FalsePositives = 2
	})
	amber = hEvent(env.ex, "fr-comcyber", 21, func(e *event.Event) {
		e.TLP = event.TLPAmber
		e.Names = []event.Name{{Kind: "campaign", Name: "operation quiet harbour"}, {Kind: "malware", Name: "x-agent"}}
	})
	b := &store.Batch{Events: []event.Event{green, amber}, Situations: []string{"S-NAMED", "S-NAMED"}, Duplicate: []bool{false, false},
		Deltas: []picture.Delta{{Situation: picture.Situation{ID: "S-NAMED", Version: 1, Exercise: env.ex, Title: "named",
			Kind: event.KindIndicator, Severity: event.SeverityHigh, TLP: event.TLPGreen, EventCount: 2,
			Names:     []event.Name{{Kind: "intrusion-set", Name: "apt 28"}, {Kind: "malware", Name: "x-agent"}},
			FirstSeen: hT0, LastSeen: hT0, UpdatedAt: hT0}}}, StoredAt: time.Now()}
	if err := env.st.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return green, amber
}

// ?name= matches a stated name exactly, whatever its case and spacing, on events and
// situations; an AMBER event is found by name only by those who may see it; a bad name is
// a 400 naming the parameter.
func TestHistoryFiltersByName(t *testing.T) {
	env := newHistoryEnv(t)
	green, amber := namedHistory(t, env)
	f := func(who, query string, want ...string) {
		t.Helper()
		got, _ := env.events(who, query)
		var ids []string
		for _, g := range got {
			ids = append(ids, strings.SplitN(g, "/", 2)[0])
		}
		if strings.Join(ids, ",") != strings.Join(want, ",") {
			t.Errorf("events?%s as %s = %v, want %v", query, who, ids, want)
		}
	}
	f("analyst-1", "name=APT%2028", green.SourceID)
	f("analyst-1", "name=%20apt%20%20%0928%20", green.SourceID)
	f("analyst-1", "name=apt") // exact, not a substring
	f("analyst-1", "name=X-Agent", amber.SourceID, green.SourceID)
	f("analyst-green", "name=X-Agent", green.SourceID)
	f("analyst-1", "name=operation%20quiet%20harbour", amber.SourceID)
	f("analyst-green", "name=operation%20quiet%20harbour")
	f("analyst-1", "name=apt%2028&name=operation%20quiet%20harbour", amber.SourceID, green.SourceID)
	f("analyst-1", "name=apt%2028&kind=report")
	_, _, body := env.get("analyst-1", "/api/v1/events?name=apt%2028")
	if !bytes.Contains(body, []byte(`"names":[{"kind":"intrusion-set","name":"apt 28"},{"kind":"malware","name":"x-agent"}]`)) ||
		!bytes.Contains(body, []byte(`"false_positives":2`)) {
		t.Errorf("event JSON lacks its names or false positives: %s", body)
	}
	for _, q := range []string{"name=", "name=%20%20", "name=" + strings.Repeat("x", event.MaxNameLen+1)} {
		if code, _, body := env.get("analyst-1", "/api/v1/events?"+q); code != 400 || !bytes.Contains(body, []byte("name: want")) {
			t.Errorf("events?%.40s: %d %s, want 400 naming the parameter", q, code, body)
		}
	}
	sits := func(who, query string) string {
		t.Helper()
		code, _, body := env.get(who, "/api/v1/situations?"+query)
		if code != 200 {
			t.Fatalf("situations?%s: %d %s", query, code, body)
		}
		return string(body)
	}
	if body := sits("analyst-1", "name=X-AGENT"); !strings.Contains(body, `"S-NAMED"`) || strings.Contains(body, `"S-A"`) {
		t.Errorf("situations?name=X-AGENT: %s", body)
	}
	if body := sits("analyst-1", "name=emotet"); strings.Contains(body, `"S-NAMED"`) {
		t.Errorf("situations?name=emotet: %s", body)
	}
	// CSV carries the names and the false-positive count.
	_, _, body = env.get("analyst-1", "/api/v1/events?format=csv&name=apt%2028")
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("csv: %v %s", err, body)
	}
	row := map[string]string{}
	for i, c := range recs[0] {
		row[c] = recs[1][i]
	}
	if row["names"] != "intrusion-set:apt 28;malware:x-agent" || row["false_positives"] != "2" {
		t.Errorf("csv row %v", row)
	}
}
