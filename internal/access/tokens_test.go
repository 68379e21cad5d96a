package access

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/cidcc/cop/internal/event"
)

func writeIdentities(t *testing.T, path string, entries ...Entry) {
	t.Helper()
	b, err := json.Marshal(File{Identities: entries})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestReloadSwapsIdentitiesAndBadFileKeepsOldSet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "identities.json")
	tokA, hashA := NewToken()
	tokB, hashB := NewToken()
	writeIdentities(t, path, Entry{Identity: Identity{Name: "cert-a", Role: RoleContributor, MaxTLP: event.TLPClear}, TokenSHA256: hashA})
	tokens, err := LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := tokens.Authenticate(tokA); !ok || id.Name != "cert-a" {
		t.Fatalf("token A before reload: %v %v", id, ok)
	}

	// SIGHUP after the operator replaced A by B.
	writeIdentities(t, path, Entry{Identity: Identity{Name: "analyst-b", Role: RoleAnalyst, MaxTLP: event.TLPAmber}, TokenSHA256: hashB})
	if err := tokens.Reload(path); err != nil {
		t.Fatal(err)
	}
	if _, ok := tokens.Authenticate(tokA); ok {
		t.Error("token A still authenticates after it left the file")
	}
	if id, ok := tokens.Authenticate(tokB); !ok || id.Name != "analyst-b" || id.MaxTLP != event.TLPAmber {
		t.Errorf("token B after reload: %+v %v", id, ok)
	}
	if _, ok := tokens.AuthenticateName("cert-a"); ok {
		t.Error("cert-a still known by name after reload")
	}

	// A broken file (bad JSON, bad role, short hash, duplicate name) keeps B in force.
	for _, bad := range []string{
		`{"identities": [`,
		`{"identities": [{"name": "x", "role": "god", "token_sha256": "` + hashA + `"}]}`,
		`{"identities": [{"name": "x", "role": "analyst", "token_sha256": "abc"}]}`,
		`{"identities": [{"name": "x", "role": "analyst", "token_sha256": "` + hashA + `"}, {"name": "x", "role": "admin", "token_sha256": "` + hashB + `"}]}`,
	} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := tokens.Reload(path); err == nil {
			t.Errorf("Reload accepted %s", bad)
		}
		if id, ok := tokens.Authenticate(tokB); !ok || id.Name != "analyst-b" {
			t.Errorf("after rejected file %s: token B gives %+v %v", bad, id, ok)
		}
		if _, ok := tokens.Authenticate(tokA); ok {
			t.Errorf("after rejected file %s: token A authenticates", bad)
		}
	}
	if err := tokens.Reload(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("Reload of a missing file succeeded")
	}
	if _, ok := tokens.Authenticate(tokB); !ok {
		t.Error("missing file dropped the identities in force")
	}
}

func TestAuthenticateRejectsEmptyAndUnknownTokens(t *testing.T) {
	tok, hash := NewToken()
	tokens, err := NewTokens([]Entry{{Identity: Identity{Name: "a", Role: RoleAdmin}, TokenSHA256: hash}})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "cop_", tok + "x", tok[:len(tok)-1], HashToken(tok)} {
		if _, ok := tokens.Authenticate(bad); ok {
			t.Errorf("token %q authenticated", bad)
		}
	}
	if _, ok := tokens.AuthenticateName(""); ok {
		t.Error("empty certificate name authenticated")
	}
}
