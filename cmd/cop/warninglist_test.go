package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cidcc/cop/internal/event"
)

// A MISP warning list gives the engine its exact values and says what it left out; a file
// that is not one is refused naming the flag and what was expected.
func TestWarningListKeepsExactValues(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	resolvers := write("resolvers.json", `{"name": "Test resolvers", "type": "cidr", "version": 1,
		"list": ["192.0.2.53", "198.51.100.53/32", "2001:db8::53/128", "203.0.113.0/24"]}`)
	hosts := write("hosts.json", `{"name": "Test shorteners", "type": "hostname", "list": ["Short.Example", "http://cdn.example/x"]}`)
	patterns := write("regex.json", `{"name": "Test patterns", "type": "regex", "list": ["^.*\\.example$"]}`)
	c := &serveConfig{}
	fs := serveFlags(c)
	if err := fs.Parse([]string{"--warninglist", resolvers, "--warninglist", hosts, "--warninglist", patterns}); err != nil {
		t.Fatal(err)
	}
	want := []event.Observable{{Type: event.ObsIPv4, Value: "192.0.2.53"}, {Type: event.ObsIPv4, Value: "198.51.100.53"},
		{Type: event.ObsIPv6, Value: "2001:db8::53"}, {Type: event.ObsDomain, Value: "short.example"},
		{Type: event.ObsURL, Value: "http://cdn.example/x"}}
	if !slices.Equal(c.Common, want) {
		t.Errorf("Common = %v, want %v (the /24 and the regex left out)", c.Common, want)
	}
	_, summary, err := loadWarningList(resolvers)
	if err != nil || !strings.Contains(summary, "3 exact values kept, 1 entries left out") {
		t.Errorf("summary %q, %v", summary, err)
	}
	bad := write("bad.json", `["192.0.2.1"]`)
	if _, _, err := loadWarningList(bad); err == nil || !strings.Contains(err.Error(), `"list" (an array of strings)`) || !strings.Contains(err.Error(), "--warninglist") {
		t.Errorf("a list that is not a MISP warning list: %v", err)
	}
}
