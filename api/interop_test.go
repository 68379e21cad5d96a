package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
	"github.com/cidcc/cop/internal/store"
)

// interopData stores events of every kind and observable type for the reference clients'
// tests, observed in a window of their own, and returns them with the window.
type interopData struct {
	evs    []event.Event
	hidden event.Event // RED: the analyst may not see it
	t0, t1 time.Time
	stored time.Time
	anon   string
}

func storeInteropData(t *testing.T, st *store.Store) *interopData {
	ns := itest.Namespace(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 18))
	t0, t1 := window(rng)
	d := &interopData{t0: t0, t1: t1, stored: time.Now().UTC(), anon: "anon-" + ns}
	id := func(s string) string { h := sha256.Sum256([]byte(ns + s)); return hex.EncodeToString(h[:16]) }
	obs := func(pairs ...string) []event.Observable {
		var out []event.Observable
		for i := 0; i < len(pairs); i += 2 {
			typ, _ := event.ParseObservableType(pairs[i])
			out = append(out, event.Observable{Type: typ, Value: pairs[i+1]})
		}
		return out
	}
	mk := func(name string, kind event.Kind, tlp event.TLP, o []event.Observable, mod func(*event.Event)) event.Event {
		e := statsEvent(id(name), t0.Add(time.Duration(len(d.evs)+1)*time.Minute), tlp, mod)
		e.Kind, e.Observables, e.Title = kind, o, "interop "+name+" "+ns
		e.Summary, e.Techniques, e.Sectors = "Seen by the "+name+" test", []string{"T1566.001"}, []string{"energy"}
		return e
	}
	d.evs = []event.Event{
		mk("indicator", event.KindIndicator, event.TLPGreen, obs("ipv4", "198.51.100.7", "domain", ns+".c2.example", "url", "http://"+ns+".example/a?b=1",
			"sha256", strings.Repeat("b", 64), "md5", strings.Repeat("c", 32), "sha1", strings.Repeat("d", 40), "email", "phish@"+ns+".example",
			"ipv6", "2001:db8::7", "cidr", "203.0.113.0/24", "asn", "AS64500"), nil),
		mk("sighting", event.KindSighting, event.TLPAmber, obs("ipv4", "198.51.100.8"), nil),
		mk("report", event.KindReport, event.TLPGreen, obs("cve", "CVE-2024-3400", "domain", "r."+ns+".example"), func(e *event.Event) { e.Category = "vulnerable/vulnerable-system" }),
		mk("incident", event.KindIncident, event.TLPAmberStrict, obs("domain", "i."+ns+".example"), func(e *event.Event) { e.Severity = event.SeverityCritical }),
		mk("incident-bare", event.KindIncident, event.TLPClear, nil, func(e *event.Event) { e.Category = "availability/ddos" }),
		mk("anon", event.KindIndicator, event.TLPGreen, obs("ipv4", "198.51.100.9"), func(e *event.Event) { e.Anonymise, e.Contributor = true, d.anon }),
	}
	d.hidden = mk("hidden", event.KindIndicator, event.TLPRed, obs("ipv4", "198.51.100.66"), nil)
	b := &store.Batch{StoredAt: d.stored, Events: append(slices.Clone(d.evs), d.hidden)}
	for range b.Events {
		b.Situations = append(b.Situations, "S-INTEROP-"+strings.ToUpper(ns))
		b.Duplicate = append(b.Duplicate, false)
	}
	if err := st.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return d
}

func interopFixture(t *testing.T) (*fixture, *interopData, string) {
	st := openStore(t)
	d := storeInteropData(t, st)
	f := newFixture(t, st, []access.Identity{{Name: "analyst-i", Role: access.RoleAnalyst, MaxTLP: event.TLPAmberStrict}}, nil)
	return f, d, f.tokens["analyst-i"]
}

// TestTAXII2ClientReadsCOP reads COP's TAXII 2.1 server with the OASIS taxii2-client, as a
// partner would: discovery, the API root, the collections, the objects added after a time
// in pages (with next), the manifest and one object. Every visible event's object is there
// once, the hidden one is not, and the manifest lists exactly the objects.
func TestTAXII2ClientReadsCOP(t *testing.T) {
	py := itest.Python(t)
	f, d, token := interopFixture(t)
	out := itest.RunPython(t, py, 2*time.Minute, filepath.Join("testdata", "interop", "taxii_read.py"),
		f.srv.URL+"/taxii2/", token, d.stored.Add(-time.Second).Format(time.RFC3339Nano), "2")
	var got struct {
		Title        string
		APIRoots     []string `json:"api_roots"`
		RootVersions []string `json:"root_versions"`
		Collections  []struct{ ID, Title string }
		Pages        int
		Objects      []map[string]any
		Manifest     []map[string]any
		One          []string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %.300s", err, out)
	}
	if len(got.APIRoots) != 1 || !strings.HasSuffix(got.APIRoots[0], taxiiRoot) || !slices.Contains(got.RootVersions, taxiiMedia) ||
		len(got.Collections) == 0 || got.Collections[0].ID != pictureCollection {
		t.Errorf("discovery %q roots %v versions %v collections %+v", got.Title, got.APIRoots, got.RootVersions, got.Collections)
	}
	// as_pages asks for 2, then for as many as the first page held (COP's limit counts
	// events, each several objects): at least two pages, the second through next.
	if got.Pages < 2 {
		t.Errorf("%d pages for %d events asked 2 at a time: want paging with next", got.Pages, len(d.evs))
	}
	ids := map[string]int{}
	var text strings.Builder
	for _, o := range got.Objects {
		ids[o["id"].(string)]++
		b, _ := json.Marshal(o)
		text.Write(b)
	}
	for id, n := range ids {
		if n > 1 && !strings.HasPrefix(id, "identity--") {
			t.Errorf("%s served %d times", id, n)
		}
	}
	for _, e := range d.evs {
		if !strings.Contains(text.String(), `"x_cop_event_id":"`+e.ID+`"`) {
			t.Errorf("event %s (%s) is not among the objects", e.Title, e.Kind)
		}
	}
	if strings.Contains(text.String(), d.hidden.ID) || strings.Contains(text.String(), "198.51.100.66") {
		t.Errorf("the RED event was served to an AMBER+STRICT analyst")
	}
	if strings.Contains(text.String(), d.anon) {
		t.Errorf("the anonymised contributor is named")
	}
	if len(got.Manifest) != len(got.Objects) {
		t.Errorf("manifest lists %d records for %d objects", len(got.Manifest), len(got.Objects))
	}
	if len(got.Objects) == 0 {
		t.Fatal("no object served")
	}
	if len(got.One) != 1 || got.One[0] != got.Objects[0]["id"] {
		t.Errorf("get_object(%v) gave %v", got.Objects[0]["id"], got.One)
	}
}

// TestSTIXValidatorAcceptsCOPExport validates COP's STIX export and a page of its TAXII
// objects with the OASIS stix2-validator (STIX 2.1): no error, and stix2 parses every object.
func TestSTIXValidatorAcceptsCOPExport(t *testing.T) {
	py := itest.Python(t)
	f, d, token := interopFixture(t)
	dir := t.TempDir()
	q := url.Values{"since": {d.t0.Format(time.RFC3339)}, "until": {d.t1.Format(time.RFC3339)}, "format": {"stix"}}
	export := readAll(f.do(t, "GET", "/api/v1/events?"+q.Encode(), token, nil))
	q = url.Values{"added_after": {d.stored.Add(-time.Second).Format(time.RFC3339Nano)}, "limit": {"100"}}
	taxii := readAll(f.do(t, "GET", taxiiRoot+"collections/"+pictureCollection+"/objects/?"+q.Encode(), token, nil))
	var env struct{ Objects []json.RawMessage }
	if err := json.Unmarshal([]byte(taxii), &env); err != nil || len(env.Objects) == 0 {
		t.Fatalf("TAXII objects: %v: %.200s", err, taxii)
	}
	page, _ := json.Marshal(map[string]any{"type": "bundle", "id": stixID("bundle", "interop-taxii"), "objects": env.Objects})
	files := map[string][]byte{"export.json": []byte(export), "taxii-page.json": page}
	var args []string
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	out := itest.RunPython(t, py, 2*time.Minute, append([]string{filepath.Join("testdata", "interop", "stix_validate.py")}, args...)...)
	var got map[string]struct {
		Valid    bool
		Errors   []string
		Warnings []string
		Parsed   int
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %.300s", err, out)
	}
	for _, p := range args {
		r := got[p]
		if !r.Valid || len(r.Errors) > 0 || r.Parsed == 0 {
			t.Errorf("%s: valid %v, %d objects parsed, errors:\n%s", filepath.Base(p), r.Valid, r.Parsed, strings.Join(r.Errors, "\n"))
		}
		codes := map[string]int{} // {103} UUIDv5 ids, {401} x_cop_ properties, …
		for _, w := range r.Warnings {
			if i := strings.Index(w, "{"); i >= 0 && i+5 <= len(w) {
				codes[w[i:i+5]]++
			}
		}
		t.Logf("%s: %d objects valid, no error; warnings by code: %v", filepath.Base(p), r.Parsed, codes)
	}
}

// TestPyMISPLoadsCOPFeed reads COP's MISP feed as a MISP instance would (manifest.json,
// then each <uuid>.json, then hashes.csv) and loads every event with PyMISP's MISPEvent:
// each visible event is there, intact (info, organisation, TLP tag, every attribute), the
// hidden one is not, and the anonymised contributor appears as its pseudonym.
func TestPyMISPLoadsCOPFeed(t *testing.T) {
	py := itest.Python(t)
	f, d, token := interopFixture(t)
	args := []string{filepath.Join("testdata", "interop", "misp_load.py"), f.srv.URL + "/api/v1/misp", token}
	for _, e := range append(slices.Clone(d.evs), d.hidden) {
		u, _ := mispUUID(e.ID, e.ObservedAt)
		args = append(args, u)
	}
	out := itest.RunPython(t, py, 2*time.Minute, args...)
	var got map[string]json.RawMessage
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %.300s", err, out)
	}
	var hashes []string
	json.Unmarshal(got["_hashes"], &hashes)
	delete(got, "_manifest")
	for _, e := range append(slices.Clone(d.evs), d.hidden) {
		u, _ := mispUUID(e.ID, e.ObservedAt)
		raw, ok := got[u]
		if e.ID == d.hidden.ID {
			if ok || slices.ContainsFunc(hashes, func(h string) bool { return strings.HasSuffix(h, ","+u) }) {
				t.Errorf("the RED event is in the feed")
			}
			continue
		}
		if !ok {
			t.Errorf("event %s is not in the feed", e.Title)
			continue
		}
		var m struct {
			Info, Orgc, ManifestInfo string
			Tags                     []string
			Attributes               [][]any
			ThreatLevelID            int `json:"threat_level_id"`
		}
		json.Unmarshal(raw, &m)
		wantOrg := e.Contributor
		if e.Anonymise {
			wantOrg = testAnon.Pseudonym("analyst-i", e.Contributor)
		}
		if m.Info != e.Title || m.Orgc != wantOrg || !slices.Contains(m.Tags, "tlp:"+strings.ToLower(e.TLP.String())) {
			t.Errorf("%s: info %q orgc %q tags %v", e.Title, m.Info, m.Orgc, m.Tags)
		}
		if len(m.Attributes) != len(e.Observables) {
			t.Errorf("%s: %d attributes for %d observables: %v", e.Title, len(m.Attributes), len(e.Observables), m.Attributes)
		}
		for _, a := range m.Attributes {
			if a[2] != (e.Kind == event.KindIndicator) {
				t.Errorf("%s: attribute %v: to_ids %v for a %s", e.Title, a, a[2], e.Kind)
			}
		}
		if e.Severity == event.SeverityCritical && m.ThreatLevelID != 1 {
			t.Errorf("%s: threat level %d for a critical event", e.Title, m.ThreatLevelID)
		}
	}
	if strings.Contains(string(out), d.anon) {
		t.Errorf("the anonymised contributor is named in the feed")
	}
}
