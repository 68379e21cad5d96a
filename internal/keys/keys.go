// Package keys owns COP's server secrets: the keys that make what COP shows to others
// unlinkable to the names behind it. Event ids are keyed with one (a viewer who knows a
// contributor's name and guesses its report ids cannot recompute an id), pseudonyms of
// anonymised contributors with the other (a viewer who knows its own name and every
// contributor's cannot reverse one).
//
// The keys live in one file beside the correlator's state, created with fresh random
// keys on first start (mode 0600) and read on every later one; every process of one
// deployment must read the same file. It does no other I/O and knows nothing of events
// or identities: it hands out keys and derives keyed hashes.
package keys

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// Size is the length of every key in bytes.
const Size = 32

// Key is one secret and when it was made.
type Key struct {
	Secret  []byte    `json:"-"`
	Created time.Time `json:"created"`
}

// file is the on-disk form; secrets are hex so the file can be inspected and copied.
type file struct {
	Version    int     `json:"version"`
	IDs        keyFile `json:"ids"`
	Pseudonyms keyFile `json:"pseudonyms"`
}

type keyFile struct {
	Secret  string    `json:"secret"`
	Created time.Time `json:"created"`
}

// Set is the keys of one deployment.
type Set struct {
	IDs        Key
	Pseudonyms Key
}

// Ring holds the current Set of a running process; Reload swaps in a rotated file.
type Ring struct {
	path string
	cur  atomic.Pointer[Set]
}

// Open reads the key file at path, creating it with fresh keys when it does not exist.
func Open(path string) (*Ring, error) {
	set, err := load(path)
	if errors.Is(err, fs.ErrNotExist) {
		set, err = create(path)
	}
	if err != nil {
		return nil, err
	}
	r := &Ring{path: path}
	r.cur.Store(set)
	return r, nil
}

// Fixed returns a ring over set that is not backed by a file (tests, benchmarks).
func Fixed(set Set) *Ring {
	r := &Ring{}
	r.cur.Store(&set)
	return r
}

// Reload reads the key file again (after `cop keys rotate`).
func (r *Ring) Reload() error {
	if r.path == "" {
		return nil
	}
	set, err := load(r.path)
	if err != nil {
		return err
	}
	r.cur.Store(set)
	return nil
}

// IDs returns the key event ids are minted with.
func (r *Ring) IDs() []byte { return r.cur.Load().IDs.Secret }

// Pseudonym returns the keyed hash naming contributor to viewer: 16 hex digits, the
// same every time for that pair under the current key, unrelated for any other pair.
func (r *Ring) Pseudonym(viewer, contributor string) string {
	return Hash(r.cur.Load().Pseudonyms.Secret, viewer, contributor)[:16]
}

// Hash is HMAC-SHA256 under key over the parts, each length-prefixed so that no two
// different lists of parts hash alike, hex encoded.
func Hash(key []byte, parts ...string) string {
	m := hmac.New(sha256.New, key)
	var n [4]byte
	for _, p := range parts {
		l := len(p)
		n[0], n[1], n[2], n[3] = byte(l>>24), byte(l>>16), byte(l>>8), byte(l)
		m.Write(n[:])
		m.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(m.Sum(sum[:0]))
}

// Rotate replaces the pseudonym key in the file at path (and the id key too when ids
// is set) with a fresh one. Pseudonyms shown after the rotation are unrelated to those
// shown before. Event ids minted after an id rotation differ from the ones before, so a
// report re-sent across it is recognised as a duplicate only by its content, within the
// engine's fingerprint window.
func Rotate(path string, ids bool) (Set, error) {
	set, err := load(path)
	if err != nil {
		return Set{}, err
	}
	now := time.Now().UTC()
	if set.Pseudonyms, err = newKey(now); err != nil {
		return Set{}, err
	}
	if ids {
		if set.IDs, err = newKey(now); err != nil {
			return Set{}, err
		}
	}
	return *set, write(path, set)
}

func newKey(at time.Time) (Key, error) {
	k := Key{Secret: make([]byte, Size), Created: at}
	if _, err := rand.Read(k.Secret); err != nil {
		return Key{}, fmt.Errorf("cannot make a key: %w", err)
	}
	return k, nil
}

func create(path string) (*Set, error) {
	now := time.Now().UTC()
	ids, err := newKey(now)
	if err != nil {
		return nil, err
	}
	ps, err := newKey(now)
	if err != nil {
		return nil, err
	}
	set := &Set{IDs: ids, Pseudonyms: ps}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the key directory: %w", err)
	}
	// The file appears whole or not at all: written aside, then linked into place. Of two
	// processes starting at once, one links and the other, finding the file there, reads
	// the keys that won (an exclusive create would let it read a file still being written).
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".new-*")
	if err != nil {
		return nil, fmt.Errorf("cannot create key file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(encode(set)); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("cannot write key file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("cannot write key file %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return load(path)
	} else if err != nil {
		return nil, fmt.Errorf("cannot create key file %s: %w", path, err)
	}
	return set, nil
}

func write(path string, set *Set) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, encode(set), 0o600); err != nil {
		return fmt.Errorf("cannot write key file %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("cannot write key file %s: %w", path, err)
	}
	return nil
}

func encode(set *Set) []byte {
	b, _ := json.MarshalIndent(file{Version: 1,
		IDs:        keyFile{hex.EncodeToString(set.IDs.Secret), set.IDs.Created},
		Pseudonyms: keyFile{hex.EncodeToString(set.Pseudonyms.Secret), set.Pseudonyms.Created}}, "", "  ")
	return append(b, '\n')
}

func load(path string) (*Set, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("cannot read key file: %w", err)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("key file %s is not valid JSON: %w", path, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("key file %s: version %d, want 1", path, f.Version)
	}
	set := &Set{}
	for _, k := range []struct {
		name string
		in   keyFile
		out  *Key
	}{{"ids", f.IDs, &set.IDs}, {"pseudonyms", f.Pseudonyms, &set.Pseudonyms}} {
		s, err := hex.DecodeString(k.in.Secret)
		if err != nil || len(s) != Size {
			return nil, fmt.Errorf("key file %s: %s.secret must be %d hex-encoded bytes", path, k.name, Size)
		}
		*k.out = Key{Secret: s, Created: k.in.Created}
	}
	return set, nil
}
