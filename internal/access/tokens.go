package access

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/cidcc/cop/internal/event"
)

// Entry is one line of the identities file: an identity and the SHA-256 of its token.
// Tokens themselves are never stored.
type Entry struct {
	Identity
	TokenSHA256 string `json:"token_sha256"`
}

// File is the identities file (JSON).
type File struct {
	Identities []Entry `json:"identities"`
}

// Tokens authenticates bearer tokens against the identities file. Reload replaces the
// set atomically (on SIGHUP).
type Tokens struct {
	mu     sync.RWMutex
	byHash map[string]Identity // Lock should be held.
	byName map[string]Identity // Lock should be held.
}

// NewTokens builds an authenticator from entries.
func NewTokens(entries []Entry) (*Tokens, error) {
	t := &Tokens{}
	return t, t.set(entries)
}

// LoadTokens reads the identities file at path.
func LoadTokens(path string) (*Tokens, error) {
	t := &Tokens{}
	return t, t.Reload(path)
}

// Reload re-reads path; on error the previous set stays in force.
func (t *Tokens) Reload(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read identities file: %w", err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("cannot parse identities file %s: %w", path, err)
	}
	return t.set(f.Identities)
}

func (t *Tokens) set(entries []Entry) error {
	m := make(map[string]Identity, len(entries))
	names := make(map[string]Identity, len(entries))
	for i, e := range entries {
		h := strings.ToLower(e.TokenSHA256)
		if len(h) != 64 {
			return fmt.Errorf("identity %d (%s): token_sha256 must be 64 hex digits", i, e.Name)
		}
		if e.Name == "" {
			return fmt.Errorf("identity %d: name missing", i)
		}
		switch e.Role {
		case RoleContributor, RoleCommander, RoleAnalyst, RoleLiaison, RoleAdmin:
		default:
			return fmt.Errorf("identity %s: role %q: want contributor, commander, analyst, liaison or admin", e.Name, e.Role)
		}
		if e.MaxTLP == 0 {
			e.MaxTLP = event.TLPClear
		}
		for j := range e.Missions {
			e.Missions[j] = strings.ToUpper(e.Missions[j])
		}
		for j := range e.Exercises {
			e.Exercises[j] = strings.ToUpper(e.Exercises[j])
		}
		if _, dup := names[e.Name]; dup {
			return fmt.Errorf("identity %s: name used twice", e.Name)
		}
		m[h] = e.Identity
		names[e.Name] = e.Identity
	}
	t.mu.Lock()
	t.byHash, t.byName = m, names
	t.mu.Unlock()
	return nil
}

// Authenticate returns the identity whose token this is.
func (t *Tokens) Authenticate(token string) (Identity, bool) {
	if token == "" {
		return Identity{}, false
	}
	// The map is keyed by SHA-256 of the token: a look-up's timing says something about
	// the hash, never about the token, so no constant-time scan over every identity.
	h := HashToken(token)
	t.mu.RLock()
	defer t.mu.RUnlock()
	id, ok := t.byHash[h]
	return id, ok
}

// AuthenticateName returns the identity called name. Mutual TLS uses it: the client
// certificate, verified against the configured CA, names the identity in its subject CN.
func (t *Tokens) AuthenticateName(name string) (Identity, bool) {
	if name == "" {
		return Identity{}, false
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	id, ok := t.byName[name]
	return id, ok
}

// HashToken returns the hex SHA-256 of a token, as stored in the identities file.
func HashToken(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// NewToken returns a fresh random token ("cop_" + 32 bytes hex) and its hash.
func NewToken() (token, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("BUG: crypto/rand failed: " + err.Error())
	}
	token = "cop_" + hex.EncodeToString(b[:])
	return token, HashToken(token)
}
