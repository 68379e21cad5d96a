package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/ingest"
	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/itest"
)

// pullObservables returns the distinct observables ("type:value") of contributor's events
// in the store, waiting until there are want of them (or 60 s pass).
func pullObservables(t *testing.T, s *secureServe, contributor string, want int) []string {
	t.Helper()
	var got []string
	itest.Eventually(t, 60*time.Second, 300*time.Millisecond, func() (bool, string) {
		got = got[:0]
		rows, err := s.st.Conn().Query(context.Background(), `SELECT DISTINCT concat(t, ':', v) AS o FROM cop.events
			ARRAY JOIN obs_types AS t, obs_values AS v WHERE contributor = ? ORDER BY o`, contributor)
		if err != nil {
			return false, err.Error()
		}
		defer rows.Close()
		for rows.Next() {
			var o string
			rows.Scan(&o)
			got = append(got, o)
		}
		return len(got) >= want, fmt.Sprintf("%d observables of %s stored, want %d: %v", len(got), contributor, want, got)
	})
	return got
}

// localObservables parses doc with COP's parsers and returns its distinct observables.
func localObservables(t *testing.T, f ingest.Format, doc []byte) []string {
	t.Helper()
	_, evs, _ := ingest.Parse(f, doc, event.Source{Contributor: "local", ReceivedAt: time.Now()})
	var out []string
	for _, e := range evs {
		for _, o := range e.Observables {
			out = append(out, o.String())
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func eventCount(t *testing.T, s *secureServe, contributor string) uint64 {
	t.Helper()
	var n uint64
	if err := s.st.Conn().QueryRow(context.Background(), `SELECT count() FROM (SELECT DISTINCT id FROM cop.events WHERE contributor = ?)`, contributor).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// medallionData is the memory backend file of an OASIS medallion server: one API root with
// one writable collection holding objects, each added at added.
func medallionData(port int, collection string, objects []map[string]any, added time.Time) map[string]any {
	var manifest []map[string]any
	for i, o := range objects {
		version, _ := o["modified"].(string)
		if version == "" {
			version, _ = o["created"].(string)
		}
		manifest = append(manifest, map[string]any{"id": o["id"], "version": version,
			"date_added": added.Add(time.Duration(i) * time.Millisecond).UTC().Format("2006-01-02T15:04:05.000000Z"),
			"media_type": "application/stix+json;version=2.1"})
	}
	root := fmt.Sprintf("http://127.0.0.1:%d/partner/", port)
	return map[string]any{
		"/discovery": map[string]any{"title": "partner TAXII (medallion)", "default": root, "api_roots": []string{root}},
		"partner": map[string]any{
			"information": map[string]any{"title": "partner", "versions": []string{"application/taxii+json;version=2.1"}, "max_content_length": 10485760},
			"status":      []any{},
			"collections": []any{map[string]any{"id": collection, "title": "partner indicators", "can_read": true, "can_write": true,
				"media_types": []string{"application/stix+json;version=2.1"}, "objects": objects, "manifest": manifest}},
		},
	}
}

// pullTAXIIFromMedallion pulls a collection of the OASIS TAXII 2.1 reference server
// (medallion, memory backend) with `cop pull taxii` into a real COP (Kafka, ClickHouse):
// paged by 5 objects, every observable COP's parser reads from the same objects arrives, the
// invalid indicator is rejected with its reason (and dead-lettered), a second pull adds
// nothing, and an object added later is the only one the third pull takes.
func pullTAXIIFromMedallion(t *testing.T, s *secureServe, feed string) {
	py := itest.Python(t)

	var objects []map[string]any
	for _, f := range []string{"indicators.json", "misp-export-grouping.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "stix", f))
		if err != nil {
			t.Fatal(err)
		}
		var bundle struct{ Objects []map[string]any }
		if err := json.Unmarshal(b, &bundle); err != nil {
			t.Fatal(err)
		}
		objects = append(objects, bundle.Objects...)
	}
	bad := map[string]any{"type": "indicator", "spec_version": "2.1", "id": "indicator--0b6f0f6c-6f0e-4a57-9d62-3c2b2b0c0bad",
		"created": "2026-01-10T08:00:00.000Z", "modified": "2026-01-10T08:00:00.000Z", "name": "bad pattern",
		"pattern": "[ipv4-addr:value = 'not an address']", "pattern_type": "stix", "valid_from": "2026-01-10T08:00:00Z"}
	objects = append(objects, bad)
	all, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--6a1b4cf5-8a8f-4a1c-9d3e-0c7a3c2b1a00", "objects": objects})
	want := localObservables(t, ingest.FormatSTIX, all)
	if len(want) < 5 {
		t.Fatalf("the test bundle has only %d observables: %v", len(want), want)
	}

	port := itest.FreePort(t)
	dir := t.TempDir()
	collection := "2f9d5c4e-0d3b-4f7e-9b9a-6e5c1d2a3b4c"
	data, _ := json.Marshal(medallionData(port, collection, objects, time.Now().Add(-time.Hour)))
	cfg, _ := json.Marshal(map[string]any{"backend": map[string]any{"module": "medallion.backends.memory_backend",
		"module_class": "MemoryBackend", "filename": filepath.Join(dir, "data.json")},
		"users": map[string]string{"cop": "pull-secret"}, "taxii": map[string]any{"max_page_size": 100}})
	os.WriteFile(filepath.Join(dir, "data.json"), data, 0o600)
	os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o600)
	itest.StartPython(t, py, port, "-m", "medallion.scripts.run", "--host", "127.0.0.1", "--port", strconv.Itoa(port), filepath.Join(dir, "config.json"))

	state := filepath.Join(dir, "pull-state.json")
	args := []string{"taxii", fmt.Sprintf("http://127.0.0.1:%d/taxii2/", port), "--collection", collection,
		"--user", "cop", "--password", "pull-secret", "--cop-url", "http://" + s.addr, "--cop-token", s.tokens[feed],
		"--contributor", feed, "--state", state, "--limit", "5"}
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := pull(context.Background(), args, &out); err != nil {
			t.Fatalf("cop pull: %v\n%s", err, out.String())
		}
		t.Logf("cop pull:\n%s", out.String())
		return out.String()
	}
	out := run(args...)
	if !strings.Contains(out, fmt.Sprintf("%d objects in %d pages", len(objects), (len(objects)+4)/5)) {
		t.Errorf("first pull: want %d objects in pages of 5:\n%s", len(objects), out)
	}
	if !strings.Contains(out, "rejected: ") || !strings.Contains(out, "not an address") {
		t.Errorf("first pull: the bad indicator's reason is not given:\n%s", out)
	}
	got := pullObservables(t, s, feed, len(want))
	if !slices.Equal(got, want) {
		t.Errorf("observables stored:\n %v\nwant (COP's parser on the same objects):\n %v", got, want)
	}
	n := eventCount(t, s, feed)
	var letters uint64
	itest.Eventually(t, 30*time.Second, 300*time.Millisecond, func() (bool, string) {
		s.st.Conn().QueryRow(context.Background(), `SELECT count() FROM cop.deadletter WHERE contributor = ?
			AND arrayExists(r -> position(r, 'not an address') > 0, reasons)`, feed).Scan(&letters)
		return letters == 1, fmt.Sprintf("%d dead letters naming the bad pattern", letters)
	})

	out = run(args...)
	if !strings.Contains(out, "nothing new") || !strings.Contains(out, "0 objects in 1 pages") {
		t.Errorf("second pull took something:\n%s", out)
	}
	time.Sleep(time.Second)
	if m := eventCount(t, s, feed); m != n {
		t.Errorf("events after the second pull: %d, want %d", m, n)
	}

	// One new object, added through medallion's own TAXII POST: the third pull takes it alone.
	fresh := map[string]any{"type": "indicator", "spec_version": "2.1", "id": "indicator--3c1e8a52-77d0-4d6e-a0a4-4d1f0f5e9e01",
		"created": "2026-02-01T08:00:00.000Z", "modified": "2026-02-01T08:00:00.000Z", "name": "fresh C2",
		"pattern": "[ipv4-addr:value = '203.0.113.99']", "pattern_type": "stix", "valid_from": "2026-02-01T08:00:00Z"}
	body, _ := json.Marshal(map[string]any{"objects": []any{fresh}})
	req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/partner/collections/%s/objects/", port, collection), bytes.NewReader(body))
	req.SetBasicAuth("cop", "pull-secret")
	req.Header.Set("Content-Type", "application/taxii+json;version=2.1")
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST to medallion: %v %v", resp, err)
	}
	resp.Body.Close()
	out = run(args...)
	if !strings.Contains(out, "1 objects in 1 pages") {
		t.Errorf("third pull: want the one new object:\n%s", out)
	}
	got = pullObservables(t, s, feed, len(want)+1)
	if !slices.Contains(got, "ipv4:203.0.113.99") {
		t.Errorf("the new object's observable did not arrive: %v", got)
	}
}

// pullErrorsSayWhat checks cop pull's answers in words: nothing listening, not a
// TAXII server, refused credentials, an unknown collection, a token of the wrong contributor.
func pullErrorsSayWhat(t *testing.T, s *secureServe, feed, analyst string) {
	closed := itest.FreePort(t)
	cop := []string{"--cop-url", "http://" + s.addr, "--cop-token", s.tokens[feed], "--state", filepath.Join(t.TempDir(), "st.json")}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unreachable", []string{"taxii", fmt.Sprintf("http://127.0.0.1:%d/taxii2/", closed), "--collection", "x"}, "nothing answers there"},
		{"not TAXII", []string{"taxii", "http://" + s.addr + "/healthz", "--collection", "x"}, "not a TAXII 2.1 discovery URL"},
		{"401", []string{"taxii", "http://" + s.addr + "/taxii2/", "--collection", "x", "--token", "cop_wrong"}, "refused the credentials (401 Unauthorized)"},
		{"unknown collection", []string{"taxii", "http://" + s.addr + "/taxii2/", "--collection", "nope", "--token", s.tokens[analyst]}, "--collection nope: not at http://" + s.addr + "/taxii2/cop/, which has: "},
		{"wrong contributor", []string{"taxii", "http://" + s.addr + "/taxii2/", "--collection", "x", "--contributor", "someone-else"}, "the COP token is " + feed + "'s"},
		{"no collection", []string{"taxii", "http://" + s.addr + "/taxii2/"}, "--collection: name the id"},
		{"bad since", []string{"misp", "http://" + s.addr + "/", "--since", "yesterday"}, "--since: want an RFC 3339 time"},
		{"not a MISP feed", []string{"misp", "http://" + s.addr + "/api/v1"}, "manifest.json: not found (404)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			err := pull(context.Background(), append(c.args, cop...), &out)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one saying %q", err, c.want)
			}
			if err != nil && (strings.Contains(err.Error(), "dial tcp") || strings.Contains(err.Error(), "json: cannot") || strings.Contains(err.Error(), "invalid character")) {
				t.Errorf("Go internals in the message: %v", err)
			}
		})
	}
}

// pymispFeed is the script that writes a MISP feed with PyMISP: two events, the first
// written by to_feed() as MISP's feed generator does ({"Event": …}), the second by
// to_json() (the bare event), the manifest from each event's manifest and hashes.csv from
// attributes_hashes('md5').
const pymispFeed = `
import json, os, sys
from pymisp import MISPEvent, MISPOrganisation
out = sys.argv[1]
org = MISPOrganisation(); org.name = "partner-cert"; org.uuid = "5d1b2c3a-1f2e-4d5c-8b7a-6f5e4d3c2b1a"
manifest, hashes = {}, []
for i, (info, attrs, writer) in enumerate([
    ("Partner phishing wave", [("ip-dst", "198.51.100.23"), ("domain", "login-partner.example"), ("sha256", "a" * 64)], "feed"),
    ("Partner C2 list", [("url", "http://c2.partner.example/gate.php"), ("ip-dst", "203.0.113.50")], "json"),
]):
    e = MISPEvent()
    e.info = info
    e.uuid = "0b8f9e2c-3d4a-4b5c-9d6e-7f8a9b0c1d2" + str(i)
    e.Orgc = org
    e.threat_level_id = 2
    e.add_tag("tlp:green")
    for t, v in attrs:
        e.add_attribute(t, v, to_ids=True)
    manifest.update(e.manifest)
    hashes += [(h, e.uuid) for h in e.attributes_hashes("md5")]
    with open(os.path.join(out, e.uuid + ".json"), "w") as f:
        f.write(json.dumps(e.to_feed()) if writer == "feed" else e.to_json())
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f)
with open(os.path.join(out, "hashes.csv"), "w") as f:
    f.write("".join(h + "," + u + "\n" for h, u in hashes))
`

// pullMISPFeedFromPyMISP writes a MISP feed with CIRCL's PyMISP, serves it on loopback
// with Python's http.server, and pulls it with `cop pull misp` into a real COP: every
// attribute arrives, and a second pull fetches no event.
func pullMISPFeedFromPyMISP(t *testing.T, s *secureServe, feed string) {
	py := itest.Python(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "feed.py")
	os.WriteFile(script, []byte(pymispFeed), 0o600)
	site := filepath.Join(dir, "feed")
	os.Mkdir(site, 0o700)
	itest.RunPython(t, py, 60*time.Second, script, site)
	port := itest.FreePort(t)
	itest.StartPython(t, py, port, "-m", "http.server", "--bind", "127.0.0.1", "--directory", site, strconv.Itoa(port))

	args := []string{"misp", fmt.Sprintf("http://127.0.0.1:%d/", port), "--cop-url", "http://" + s.addr,
		"--cop-token", s.tokens[feed], "--state", filepath.Join(dir, "state.json")}
	var out bytes.Buffer
	if err := pull(context.Background(), args, &out); err != nil {
		t.Fatalf("cop pull misp: %v\n%s", err, out.String())
	}
	t.Logf("cop pull misp:\n%s", out.String())
	if !strings.Contains(out.String(), "2 events listed, 2 new or changed") || !strings.Contains(out.String(), "pushed: 2 accepted, 0 rejected") {
		t.Errorf("first pull:\n%s", out.String())
	}
	want := []string{"domain:login-partner.example", "ipv4:198.51.100.23", "ipv4:203.0.113.50", "sha256:" + strings.Repeat("a", 64),
		"url:http://c2.partner.example/gate.php"}
	if got := pullObservables(t, s, feed, len(want)); !slices.Equal(got, want) {
		t.Errorf("observables stored %v, want %v", got, want)
	}
	out.Reset()
	if err := pull(context.Background(), args, &out); err != nil {
		t.Fatalf("second cop pull misp: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "2 events listed, 0 new or changed") || !strings.Contains(out.String(), "pushed: 0 accepted") {
		t.Errorf("second pull took something:\n%s", out.String())
	}
}

// pullMISPRESTSearch pulls a MISP instance's /events/restSearch (a loopback server
// answering as MISP does: the API key in Authorization, {"response": […]} paged by page and
// limit, events from the timestamp given) into a real COP: every event arrives, the state
// keeps the newest timestamp, the next run asks from it and adds no event, and a wrong key
// is refused in words.
func pullMISPRESTSearch(t *testing.T, s *secureServe, feed string) {
	type ev = map[string]any
	var events []ev
	for i, ts := range []int{1767225600, 1767229200, 1767232800} {
		events = append(events, ev{"Event": ev{"uuid": fmt.Sprintf("7c1d0000-0000-4000-8000-%012d", i), "info": fmt.Sprintf("REST event %d", i),
			"date": "2026-01-01", "timestamp": strconv.Itoa(ts), "threat_level_id": "2", "analysis": "1",
			"Tag": []ev{{"name": "tlp:green"}}, "Attribute": []ev{{"type": "ip-dst", "category": "Network activity", "to_ids": true,
				"value": fmt.Sprintf("192.0.2.%d", 10+i), "uuid": fmt.Sprintf("7c1d0000-0000-4000-9000-%012d", i)}}}})
	}
	var asked []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/events/restSearch" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "misp-key" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"name":"Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header.","message":"Authentication failed.","url":"/events/restSearch"}`))
			return
		}
		var q struct {
			Page, Limit int
			Timestamp   int
		}
		var raw map[string]any
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &q)
		json.Unmarshal(b, &raw)
		asked = append(asked, raw)
		var from []ev
		for _, e := range events {
			if ts, _ := strconv.Atoi(e["Event"].(ev)["timestamp"].(string)); ts >= q.Timestamp {
				from = append(from, e)
			}
		}
		lo := min((q.Page-1)*q.Limit, len(from))
		json.NewEncoder(w).Encode(map[string]any{"response": from[lo:min(lo+q.Limit, len(from))]})
	}))
	defer srv.Close()
	state := filepath.Join(t.TempDir(), "state.json")
	args := []string{"misp", srv.URL, "--key", "misp-key", "--limit", "2", "--cop-url", "http://" + s.addr, "--cop-token", s.tokens[feed], "--state", state}
	var out bytes.Buffer
	if err := pull(context.Background(), args, &out); err != nil {
		t.Fatalf("cop pull misp --key: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "pushed: 3 accepted, 0 rejected") || len(asked) != 2 {
		t.Errorf("first pull asked %d pages:\n%s", len(asked), out.String())
	}
	want := []string{"ipv4:192.0.2.10", "ipv4:192.0.2.11", "ipv4:192.0.2.12"}
	if got := pullObservables(t, s, feed, 3); !slices.Equal(got, want) {
		t.Errorf("observables %v, want %v", got, want)
	}
	out.Reset()
	if err := pull(context.Background(), args, &out); err != nil {
		t.Fatalf("second pull: %v\n%s", err, out.String())
	}
	if last := asked[len(asked)-1]; last["timestamp"] != float64(1767232800) {
		t.Errorf("second pull asked %v, want timestamp 1767232800 (the newest taken)", last)
	}
	time.Sleep(time.Second)
	if n := eventCount(t, s, feed); n != 3 {
		t.Errorf("%d events after the second pull, want 3", n)
	}
	err := pull(context.Background(), append(args[:len(args):len(args)], "--key", "wrong"), &out)
	if err == nil || !strings.Contains(err.Error(), "refused the credentials (401 Unauthorized)") {
		t.Errorf("wrong key: %v", err)
	}
}

// pullTAXIIOverTLSWithCA reads a TAXII server over TLS: refused in words with a
// certificate the machine does not trust, read with --ca naming its CA.
func pullTAXIIOverTLSWithCA(t *testing.T, s *secureServe, feed, ns string) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/taxii+json;version=2.1")
		switch r.URL.Path {
		case "/taxii2/":
			w.Write([]byte(`{"title":"tls partner","api_roots":["/root/"]}`))
		case "/root/collections/":
			w.Write([]byte(`{"collections":[{"id":"c1","title":"one","can_read":true}]}`))
		case "/root/collections/c1/objects/":
			w.Header().Set("X-TAXII-Date-Added-Last", "2026-11-30T10:00:00.000Z")
			w.Write([]byte(`{"more":false,"objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--6b1e9c52-77d0-4d6e-a0a4-4d1f0f5e9e02",
				"created":"2026-11-30T10:00:00.000Z","modified":"2026-11-30T10:00:00.000Z","pattern":"[domain-name:value = 'tls.` + ns + `.example']",
				"pattern_type":"stix","valid_from":"2026-11-30T10:00:00Z"}]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"taxii", srv.URL + "/taxii2/", "--collection", "c1", "--cop-url", "http://" + s.addr, "--cop-token", s.tokens[feed],
		"--state", filepath.Join(dir, "state.json")}
	var out bytes.Buffer
	if err := pull(context.Background(), args, &out); err == nil || !strings.Contains(err.Error(), "not signed by a CA this machine trusts (--ca names the partner's CA)") {
		t.Errorf("without --ca: %v", err)
	}
	if err := pull(context.Background(), append(args, "--ca", ca), &out); err != nil {
		t.Fatalf("with --ca: %v\n%s", err, out.String())
	}
	if got := pullObservables(t, s, feed, 1); !slices.Equal(got, []string{"domain:tls." + ns + ".example"}) {
		t.Errorf("observables %v", got)
	}
}

// TestPullIntoCOP runs every `cop pull` case against one real COP (`cop serve` on the real
// Kafka and ClickHouse), each case as its own contributor, so the serve starts once.
func TestPullIntoCOP(t *testing.T) {
	ns := itest.Namespace(t)
	names := []string{"medallion", "errors", "pymisp", "rest", "tls"}
	var ids []access.Identity
	var feeds []string
	for _, n := range names {
		ids = append(ids, access.Identity{Name: ns + "-" + n, Role: access.RoleContributor, MaxTLP: event.TLPRed})
		feeds = append(feeds, ns+"-"+n)
	}
	analyst := ns + "-analyst"
	ids = append(ids, access.Identity{Name: analyst, Role: access.RoleAnalyst, MaxTLP: event.TLPRed})
	s := startSecureServe(t, ns, ids, feeds, nil)
	t.Run("taxii_from_medallion", func(t *testing.T) { pullTAXIIFromMedallion(t, s, ns+"-medallion") })
	t.Run("errors_say_what", func(t *testing.T) { pullErrorsSayWhat(t, s, ns+"-errors", analyst) })
	t.Run("misp_feed_from_pymisp", func(t *testing.T) { pullMISPFeedFromPyMISP(t, s, ns+"-pymisp") })
	t.Run("misp_rest_search", func(t *testing.T) { pullMISPRESTSearch(t, s, ns+"-rest") })
	t.Run("taxii_over_tls_with_ca", func(t *testing.T) { pullTAXIIOverTLSWithCA(t, s, ns+"-tls", ns) })
}
