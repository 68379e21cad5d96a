package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestTAXIIPagesACollection(t *testing.T) {
	env := newHistoryEnv(t)
	get := func(who, path string) (int, http.Header, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("GET", env.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+env.tokens[who])
		req.Header.Set("Accept", taxiiMedia)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		if ct := resp.Header.Get("Content-Type"); ct != taxiiMedia && resp.StatusCode != 401 && resp.StatusCode != 403 {
			t.Errorf("%s: Content-Type %q, want %q", path, ct, taxiiMedia)
		}
		return resp.StatusCode, resp.Header, m
	}
	if code, _, m := get("analyst-1", "/taxii2/"); code != 200 || m["default"] != taxiiRoot {
		t.Fatalf("discovery: %d %v", code, m)
	}
	if code, _, m := get("analyst-1", taxiiRoot); code != 200 || m["versions"] == nil {
		t.Fatalf("api root: %d %v", code, m)
	}
	_, _, m := get("analyst-1", taxiiRoot+"collections/")
	ex := collectionID(env.ex)
	var ids []string
	for _, c := range m["collections"].([]any) {
		ids = append(ids, c.(map[string]any)["id"].(string))
	}
	if strings.Join(ids, ",") != pictureCollection+","+ex {
		t.Fatalf("collections of analyst-1: %v", ids)
	}
	if code, _, _ := get("analyst-noex", taxiiRoot+"collections/"+ex+"/objects/"); code != 404 {
		t.Errorf("objects of an exercise the caller may not view: %d, want 404", code)
	}
	if code, _, _ := get("pusher", "/taxii2/"); code != 403 {
		t.Errorf("TAXII for a contributor: %d, want 403", code)
	}
	// Page through indicators two events at a time: six visible events, each once.
	seen := map[string]int{}
	next, pages := "", 0
	for ; pages < 20; pages++ {
		code, hd, m := get("analyst-1", taxiiRoot+"collections/"+ex+"/objects/?limit=2&added_after=2000-01-01T00:00:00Z&next="+url.QueryEscape(next))
		if code != 200 {
			t.Fatalf("objects: %d %v", code, m)
		}
		for _, h := range []string{"X-TAXII-Date-Added-First", "X-TAXII-Date-Added-Last"} {
			if _, err := time.Parse(time.RFC3339, hd.Get(h)); err != nil {
				t.Errorf("%s: %q", h, hd.Get(h))
			}
		}
		for _, o := range m["objects"].([]any) {
			if id, ok := o.(map[string]any)["x_cop_event_id"].(string); ok {
				if p, dup := seen[id]; dup && p != pages {
					t.Errorf("event %s on pages %d and %d", id, p, pages)
				}
				seen[id] = pages
			}
		}
		if m["more"] != true {
			break
		}
		next = m["next"].(string)
	}
	if pages != 2 || len(seen) != 6 {
		t.Fatalf("%d pages, events %v; want 3 pages of 6 events", pages+1, seen)
	}
	_, _, m = get("analyst-1", taxiiRoot+"collections/"+ex+"/objects/?match[type]=indicator")
	for _, o := range m["objects"].([]any) {
		if o.(map[string]any)["type"] != "indicator" {
			t.Fatalf("match[type]=indicator gave a %v", o.(map[string]any)["type"])
		}
	}
	// added_after past the last addition: nothing more.
	_, _, m = get("analyst-1", taxiiRoot+"collections/"+ex+"/objects/?added_after="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if len(m["objects"].([]any)) != 0 || m["more"] != false {
		t.Fatalf("added_after in the future: %v", m)
	}
}
