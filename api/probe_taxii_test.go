package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TAXII 2.1: the manifest is a manifest, one object is that object, match[id],
// match[version] and match[spec_version] filter, and TAXII 2.0's media type is refused.
func TestTAXIIManifestObjectByIDMatchesAndVersionNegotiation(t *testing.T) {
	env := newHistoryEnv(t)
	col := taxiiRoot + "collections/" + collectionID(env.ex) + "/"
	get := func(path, accept string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("GET", env.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+env.tokens["analyst-1"])
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	items := func(path, key string) []map[string]any {
		t.Helper()
		code, m := get(path, taxiiMedia)
		if code != 200 {
			t.Fatalf("%s: %d %v", path, code, m)
		}
		var out []map[string]any
		list, _ := m[key].([]any)
		for _, o := range list {
			out = append(out, o.(map[string]any))
		}
		return out
	}
	objects := items(col+"objects/?limit=1000", "objects")
	if len(objects) < 6 {
		t.Fatalf("%d objects", len(objects))
	}
	// Manifest: one record per object, not the collection.
	manifest := items(col+"manifest/?limit=1000", "objects")
	if len(manifest) != len(objects) {
		t.Fatalf("manifest has %d records for %d objects", len(manifest), len(objects))
	}
	for i, rec := range manifest {
		if rec["id"] != objects[i]["id"] || rec["date_added"] == nil || rec["version"] == nil ||
			rec["media_type"] != "application/stix+json;version=2.1" || rec["type"] != nil {
			t.Fatalf("manifest record %d: %v (object %v)", i, rec, objects[i]["id"])
		}
	}
	var ind map[string]any
	for _, o := range objects {
		if o["type"] == "indicator" {
			ind = o
			break
		}
	}
	id := ind["id"].(string)
	// One object by id, its versions, and 404 for unknown and hidden ones.
	one := items(col+"objects/"+id+"/", "objects")
	if len(one) != 1 || one[0]["id"] != id {
		t.Fatalf("objects/%s/: %v", id, one)
	}
	if code, m := get(col+"objects/"+id+"/versions/", taxiiMedia); code != 200 || strings.Join(toStrings(m["versions"]), ",") != ind["modified"] {
		t.Errorf("versions of %s: %d %v, want [%v]", id, code, m, ind["modified"])
	}
	hidden := stixID("indicator", env.evs[4].ID) // RED, releasable to EUFOR-ALTHEA only
	for _, missing := range []string{"indicator--00000000-0000-5000-8000-000000000000", hidden} {
		if code, _ := get(col+"objects/"+missing+"/", taxiiMedia); code != 404 {
			t.Errorf("objects/%s/: %d, want 404", missing, code)
		}
	}
	// match[...]
	f := func(query string, want int) {
		t.Helper()
		if got := len(items(col+"objects/?limit=1000&"+query, "objects")); got != want {
			t.Errorf("objects?%s: %d objects, want %d", query, got, want)
		}
	}
	other := objects[len(objects)-1]["id"].(string)
	f("match[id]="+url.QueryEscape(id), 1)
	f("match[id]="+url.QueryEscape(id+","+other), 2)
	f("match[id]="+url.QueryEscape(id)+"&match[version]="+url.QueryEscape(ind["modified"].(string)), 1)
	f("match[id]="+url.QueryEscape(id)+"&match[version]=2000-01-01T00:00:00.000Z", 0)
	f("match[version]=last", len(objects))
	f("match[version]=first", len(objects))
	f("match[version]=all", len(objects))
	f("match[spec_version]=2.1", len(objects))
	f("match[spec_version]=2.0", 0)
	if code, _ := get(col+"objects/?match[version]=yesterday", taxiiMedia); code != 400 {
		t.Errorf("match[version]=yesterday: %d, want 400", code)
	}
	// Media types.
	for _, path := range []string{"/taxii2/", taxiiRoot, taxiiRoot + "collections/", col, col + "objects/", col + "manifest/", col + "objects/" + id + "/"} {
		for accept, want := range map[string]int{
			"application/vnd.oasis.taxii+json; version=2.0": 406,
			"application/taxii+json;version=2.0":            406,
			"text/html":                                     406,
			"application/taxii+json":                        200,
			"application/taxii+json;version=2.1":            200,
			"application/json;q=0.9, */*;q=0.1":             200,
		} {
			if code, _ := get(path, accept); code != want {
				t.Errorf("%s with Accept %q: %d, want %d", path, accept, code, want)
			}
		}
	}
}

func toStrings(v any) []string {
	var out []string
	xs, _ := v.([]any)
	for _, x := range xs {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// Every object of a collection, of every type (an event's own: indicators, incidents and
// their indicators and relationships, observed data, reports; shared ones: SCOs,
// identities), is served by objects/{id}/ as the collection serves it: the names an event's
// id takes in its objects' STIX ids (eventObjectNames) are the ones the export uses.
func TestEveryExportedObjectIsFoundByItsID(t *testing.T) {
	env := newHistoryEnv(t)
	col := taxiiRoot + "collections/" + collectionID(env.ex) + "/"
	get := func(path string) []any {
		t.Helper()
		req, _ := http.NewRequest("GET", env.url+path, nil)
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
		list, _ := m["objects"].([]any)
		return list
	}
	types := map[string]int{}
	for _, o := range get(col + "objects/?limit=1000") {
		id := o.(map[string]any)["id"].(string)
		types[strings.SplitN(id, "--", 2)[0]]++
		one := get(col + "objects/" + id + "/")
		if len(one) != 1 {
			t.Errorf("objects/%s/: %d objects, want 1", id, len(one))
			continue
		}
		want, _ := json.Marshal(o)
		got, _ := json.Marshal(one[0])
		if string(got) != string(want) {
			t.Errorf("objects/%s/:\n got %s\nwant %s", id, got, want)
		}
	}
	for typ := range eventObjectNames {
		if types[typ] == 0 {
			t.Errorf("the collection holds no %s: the test does not cover its look-up", typ)
		}
	}
	t.Logf("objects found by id, by type: %v", types)
}
