package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cidcc/cop/internal/access"
)

// A restarted demo keeps its tokens (yesterday's dashboard link still works) unless asked
// for new ones, and the identities file it writes authenticates them.
func TestDemoKeepsItsTokensAcrossRestarts(t *testing.T) {
	c := &demoConfig{Dir: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(c.Dir, "demo"), 0o700); err != nil {
		t.Fatal(err)
	}
	first, err := demoIdentities(c)
	if err != nil {
		t.Fatal(err)
	}
	again, err := demoIdentities(c)
	if err != nil {
		t.Fatal(err)
	}
	if again["admin"] != first["admin"] || again["cdr-althea"] != first["cdr-althea"] {
		t.Error("a restart minted new tokens")
	}
	ids, err := access.LoadTokens(c.Identities)
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := ids.Authenticate(first["analyst"]); !ok || id.Name != "analyst" {
		t.Errorf("the kept analyst token does not authenticate: %v %v", id, ok)
	}
	// Every file `cop exercise gen --out` writes has a contributor token to push it with
	// (fi-ncsc reports only in the exercise scenario).
	if id, ok := ids.Authenticate(first["fi-ncsc"]); !ok || id.Name != "fi-ncsc" || id.Role != access.RoleContributor {
		t.Errorf("no fi-ncsc contributor token: %v %v", id, ok)
	}
	c.NewTokens = true
	fresh, err := demoIdentities(c)
	if err != nil {
		t.Fatal(err)
	}
	if fresh["admin"] == first["admin"] {
		t.Error("--new-tokens kept the old token")
	}
}
