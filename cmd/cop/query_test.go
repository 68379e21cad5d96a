package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestQueryFollowsCursorsAndPrintsATable(t *testing.T) {
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
			w.Write([]byte(`{"error":"missing bearer token","code":"unauthenticated"}`))
			return
		}
		asked = append(asked, r.URL.RawQuery)
		if r.URL.Query().Get("cursor") == "" {
			w.Write([]byte(`{"events":[{"observed_at":"2026-03-02T10:00:00Z","contributor":"fr-comcyber","kind":"indicator","severity":"high","tlp":"GREEN","countries":["EE"],"observables":[{"type":"ipv4","value":"192.0.2.1"}],"title":"C2"}],"next":"abc"}`))
			return
		}
		w.Write([]byte(`{"events":[{"observed_at":"2026-03-01T10:00:00Z","contributor":"member state 1a2b","kind":"sighting","severity":"low","tlp":"CLEAR","title":"Scan"}]}`))
	}))
	defer srv.Close()
	var c queryConfig
	fs := queryFlags(&c)
	if err := fs.Parse([]string{"--url", srv.URL, "--token", "tok", "--all", "--country", "EE", "--observable-type", "ipv4"}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := query(context.Background(), c, &out); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 2 || asked[0] != "country=EE&observable_type=ipv4" || !strings.Contains(asked[1], "cursor=abc") {
		t.Fatalf("asked %v", asked)
	}
	for _, want := range []string{"OBSERVED", "fr-comcyber", "ipv4:192.0.2.1", "member state 1a2b", "2026-03-02T10:00:00Z", "2026-03-01T10:00:00Z"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	c.Token = "wrong"
	if err := query(context.Background(), c, &out); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("bad token: %v", err)
	}
}

// The table's time columns come from observed_at and updated_at (they printed the zero
// time for every row), and a page's "# more" hint names a flag that exists.
func TestQueryTableShowsTimesAndAHintThatWorks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("cursor") == "xyz" {
			w.Write([]byte(`{"situations":[]}`))
			return
		}
		w.Write([]byte(`{"situations":[{"id":"s-1","updated_at":"2026-11-30T08:00:00Z","score":42,"severity":"high","tlp":"GREEN","event_count":3,"title":"T"}],"next":"xyz"}`))
	}))
	defer srv.Close()
	var c queryConfig
	fs := queryFlags(&c)
	if err := fs.Parse([]string{"--url", srv.URL, "--token", "tok", "--situations"}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := query(context.Background(), c, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "0001-01-01") || !strings.Contains(out.String(), "2026-11-30T08:00:00Z") {
		t.Errorf("UPDATED column:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "# more: --all, or --cursor xyz") {
		t.Fatalf("hint:\n%s", out.String())
	}
	var c2 queryConfig
	if err := queryFlags(&c2).Parse([]string{"--url", srv.URL, "--token", "tok", "--situations", "--cursor", "xyz"}); err != nil {
		t.Fatalf("the hint's flag: %v", err)
	}
	if err := runQuery(context.Background(), []string{"--token", "tok", "cursor=xyz"}); err == nil || !strings.Contains(err.Error(), "unexpected argument") {
		t.Errorf("a filter given as an argument: %v, want it refused", err)
	}
}
