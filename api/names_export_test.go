package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/ingest/stix"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/store"
)

// namedKinds stores one named event of each kind (and a report without observables), all
// stating the malware x-agent, the AMBER one also a campaign no GREEN viewer may learn of.
func namedKinds(t *testing.T, env *historyEnv) []event.Event {
	t.Helper()
	named := func(i int, kind event.Kind, tlp event.TLP, names ...event.Name) event.Event {
		return hEvent(env.ex, "fr-comcyber", i, func(e *event.Event) {
			e.Kind, e.TLP, e.Names = kind, tlp, append([]event.Name{{Kind: "malware", Name: "x-agent"}}, names...)
		})
	}
	evs := []event.Event{
		named(30, event.KindIndicator, event.TLPGreen, event.Name{Kind: "intrusion-set", Name: "apt 28"}),
		named(31, event.KindSighting, event.TLPGreen, event.Name{Kind: "tool", Name: "mimikatz"}),
		named(32, event.KindIncident, event.TLPGreen, event.Name{Kind: "threat-actor", Name: "fancy bear"}),
		named(33, event.KindReport, event.TLPGreen, event.Name{Kind: "intrusion-set", Name: "apt 28"}),
		named(34, event.KindReport, event.TLPAmber, event.Name{Kind: "campaign", Name: "operation quiet harbour"}),
		named(35, event.KindReport, event.TLPGreen),
	}
	evs[5].Observables = nil
	b := &store.Batch{Events: evs, StoredAt: time.Now()}
	for range evs {
		b.Situations, b.Duplicate = append(b.Situations, "S-A"), append(b.Duplicate, false)
	}
	if err := env.st.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return evs
}

func nameSet(ns []event.Name) string {
	var s []string
	for _, n := range ns {
		s = append(s, n.Kind+":"+n.Name)
	}
	slices.Sort(s)
	return strings.Join(s, ",")
}

// COP's STIX export names each stated name with one object per (kind, name), the same id in
// every export, marked with the lowest TLP of the events stating it; COP's own STIX parser
// reading the export gets every event's names back at the event's own TLP, and a GREEN
// viewer never receives a name only an AMBER event states.
func TestSTIXExportNamesRoundTrip(t *testing.T) {
	env := newHistoryEnv(t)
	evs := namedKinds(t, env)
	export := func(who string) ([]byte, map[string]map[string]any) {
		t.Helper()
		code, _, body := env.get(who, "/api/v1/events?format=stix&name=x-agent")
		if code != 200 {
			t.Fatalf("export as %s: %d %s", who, code, body)
		}
		var bundle struct{ Objects []map[string]any }
		if err := json.Unmarshal(body, &bundle); err != nil {
			t.Fatal(err)
		}
		byID := map[string]map[string]any{}
		for _, o := range bundle.Objects {
			if _, dup := byID[o["id"].(string)]; dup {
				t.Errorf("object %s twice in one bundle", o["id"])
			}
			byID[o["id"].(string)] = o
		}
		return body, byID
	}
	body, objs := export("analyst-1")
	for _, c := range []struct{ kind, name, tlp string }{
		{"malware", "x-agent", "GREEN"}, {"intrusion-set", "apt 28", "GREEN"}, {"tool", "mimikatz", "GREEN"},
		{"threat-actor", "fancy bear", "GREEN"}, {"campaign", "operation quiet harbour", "AMBER"},
	} {
		o := objs[stixID(c.kind, c.name)]
		if o == nil || o["type"] != c.kind || o["name"] != c.name || o["spec_version"] != "2.1" {
			t.Errorf("%s %q: object %v", c.kind, c.name, o)
			continue
		}
		if fmt.Sprint(o["object_marking_refs"]) != "["+tlpMarking[map[string]event.TLP{"GREEN": event.TLPGreen, "AMBER": event.TLPAmber}[c.tlp]]+"]" {
			t.Errorf("%s %q marked %v; want TLP:%s", c.kind, c.name, o["object_marking_refs"], c.tlp)
		}
		if (c.kind == "malware") != (o["is_family"] == true) {
			t.Errorf("%s %q: is_family %v", c.kind, c.name, o["is_family"])
		}
	}
	rels := map[string]int{}
	for _, o := range objs {
		if o["type"] == "relationship" && strings.HasPrefix(o["target_ref"].(string), "malware--") {
			rels[strings.SplitN(o["source_ref"].(string), "--", 2)[0]+" "+o["relationship_type"].(string)]++
		}
	}
	if want := map[string]int{"indicator indicates": 2, "observed-data related-to": 1, "incident related-to": 1}; fmt.Sprint(rels) != fmt.Sprint(want) {
		t.Errorf("relationships to the malware: %v; want %v", rels, want)
	}
	// Re-read by COP's parser: each event's names, at its own TLP (the incident comes back
	// with the indicator that indicates it).
	got, errs := stix.Parse(body, event.Source{Contributor: "reimport", ReceivedAt: time.Now()})
	if len(errs) > 0 {
		t.Fatalf("export does not parse: %v", errs)
	}
	var want, have []string
	for _, e := range evs {
		want = append(want, fmt.Sprint(e.Kind, " ", e.TLP, " ", nameSet(e.Names)))
		if e.Kind == event.KindIncident {
			want = append(want, fmt.Sprint(event.KindIndicator, " ", e.TLP, " ", nameSet(e.Names)))
		}
	}
	for _, e := range got {
		have = append(have, fmt.Sprint(e.Kind, " ", e.TLP, " ", nameSet(e.Names)))
	}
	slices.Sort(want)
	slices.Sort(have)
	if strings.Join(have, "\n") != strings.Join(want, "\n") {
		t.Errorf("round trip:\n got %s\nwant %s", strings.Join(have, "\n    "), strings.Join(want, "\n     "))
	}
	// The same ids in another export; the AMBER-only name never reaches a GREEN viewer.
	greenBody, green := export("analyst-green")
	if green[stixID("malware", "x-agent")] == nil || green[stixID("intrusion-set", "apt 28")] == nil {
		t.Errorf("a GREEN viewer's export lacks the GREEN names")
	}
	if green[stixID("campaign", "operation quiet harbour")] != nil || strings.Contains(string(greenBody), "quiet harbour") {
		t.Errorf("a GREEN viewer's export names the AMBER-only campaign")
	}
}

// The TAXII objects path carries the name objects too, once per page, with a manifest
// record each, and finds one by its id.
func TestTAXIIObjectsCarryNames(t *testing.T) {
	env := newHistoryEnv(t)
	namedKinds(t, env)
	col := env.url + taxiiRoot + "collections/" + collectionID(env.ex) + "/"
	get := func(path string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest("GET", col+path, nil)
		req.Header.Set("Authorization", "Bearer "+env.tokens["analyst-1"])
		req.Header.Set("Accept", taxiiMedia)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, m)
		}
		return m
	}
	count := func(m map[string]any, id string) int {
		n := 0
		for _, o := range m["objects"].([]any) {
			if o.(map[string]any)["id"] == id {
				n++
			}
		}
		return n
	}
	id := stixID("malware", "x-agent")
	if n := count(get("objects/?limit=1000"), id); n != 1 {
		t.Errorf("the malware object %d times in the page; want once", n)
	}
	if n := count(get("manifest/?limit=1000"), id); n != 1 {
		t.Errorf("the malware object %d times in the manifest; want once", n)
	}
	if n := count(get("objects/?limit=1000&match[type]=campaign"), stixID("campaign", "operation quiet harbour")); n != 1 {
		t.Errorf("match[type]=campaign: the campaign %d times; want once", n)
	}
	if one := get("objects/" + id + "/"); count(one, id) != 1 || len(one["objects"].([]any)) != 1 {
		t.Errorf("objects/%s/: %v", id, one)
	}
}
