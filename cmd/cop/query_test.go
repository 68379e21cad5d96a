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
	for _, want := range []string{"OBSERVED", "fr-comcyber", "ipv4:192.0.2.1", "member state 1a2b"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	c.Token = "wrong"
	if err := query(context.Background(), c, &out); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("bad token: %v", err)
	}
}
