package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// --name becomes the API's name parameter, and the table shows each row's stated names.
func TestQueryByNameShowsNames(t *testing.T) {
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.Path+"?"+r.URL.RawQuery)
		if r.URL.Path == "/api/v1/situations" {
			w.Write([]byte(`{"situations":[{"id":"s-1","updated_at":"2026-11-30T08:00:00Z","score":42,"names":[{"kind":"campaign","name":"gridlock"}],"title":"T"}]}`))
			return
		}
		w.Write([]byte(`{"events":[{"observed_at":"2026-03-02T10:00:00Z","contributor":"fr-comcyber","kind":"indicator","names":[{"kind":"intrusion-set","name":"apt 28"},{"kind":"malware","name":"x-agent"}],"title":"C2"}]}`))
	}))
	defer srv.Close()
	run := func(args ...string) string {
		t.Helper()
		var c queryConfig
		if err := queryFlags(&c).Parse(append([]string{"--url", srv.URL, "--token", "tok"}, args...)); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := query(context.Background(), c, &out); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	out := run("--name", "APT 28")
	if asked[0] != "/api/v1/events?name=APT+28" {
		t.Errorf("asked %s; want name=APT+28", asked[0])
	}
	if !strings.Contains(out, "NAMES") || !strings.Contains(out, "intrusion-set:apt 28,malware:x-agent") {
		t.Errorf("events table lacks the names:\n%s", out)
	}
	if out = run("--situations", "--name", "Gridlock"); !strings.Contains(out, "campaign:gridlock") {
		t.Errorf("situations table lacks the names:\n%s", out)
	}
	if out = run("--format", "json", "--name", "x"); !strings.Contains(out, `"names":[{"kind":"intrusion-set","name":"apt 28"}`) {
		t.Errorf("json lacks the names:\n%s", out)
	}
}
