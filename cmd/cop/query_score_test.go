package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// cop query --situations asks for the best first (the API's default is the newest first),
// keeps an explicit --sort, and writes CSV too, in the order the API gave.
func TestQuerySituationsAskBestFirstAndWriteCSV(t *testing.T) {
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.Query().Get("sort"))
		w.Write([]byte(`{"situations":[{"id":"s-9","score":91.25,"severity":"critical","tlp":"AMBER","event_count":4,"countries":["EE","FI"],"updated_at":"2026-11-30T08:00:00Z","title":"Wiper"},` +
			`{"id":"s-1","score":12,"severity":"low","tlp":"GREEN","event_count":1,"title":"Scan"}]}`))
	}))
	defer srv.Close()
	run := func(args ...string) string {
		t.Helper()
		var c queryConfig
		if err := queryFlags(&c).Parse(append([]string{"--url", srv.URL, "--token", "tok", "--situations"}, args...)); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := query(context.Background(), c, &out); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	run()
	run("--sort", "-updated_at")
	csv := run("--format", "csv")
	if strings.Join(asked, " ") != "-score -updated_at -score" {
		t.Errorf("sorts asked: %q, want -score, the given one, -score", asked)
	}
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "score,id,") || !strings.HasPrefix(lines[1], "91.2,s-9,critical,AMBER,4,EE;FI,") ||
		!strings.HasPrefix(lines[2], "12.0,s-1,") {
		t.Errorf("situations CSV:\n%s", csv)
	}
}
