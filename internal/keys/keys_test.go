package keys

import (
	"path/filepath"
	"sync"
	"testing"
)

// Stages started at once on a fresh machine all open the key file; each must get the
// same, complete keys (an exclusive create let one read the file half written).
func TestOpenAtOnceGivesEveryoneTheSameKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "keys.json")
	const n = 16
	rings := make([]*Ring, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { rings[i], errs[i] = Open(path) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("open %d: %v", i, errs[i])
		}
		if string(rings[i].IDs()) != string(rings[0].IDs()) || rings[i].Pseudonym("a", "b") != rings[0].Pseudonym("a", "b") {
			t.Fatalf("open %d got other keys than open 0", i)
		}
	}
	again, err := Open(path)
	if err != nil || string(again.IDs()) != string(rings[0].IDs()) {
		t.Fatalf("reopen: %v, same keys %v", err, err == nil && string(again.IDs()) == string(rings[0].IDs()))
	}
	if _, err := Rotate(path, true); err != nil {
		t.Fatal(err)
	}
	if r, err := Open(path); err != nil || string(r.IDs()) == string(rings[0].IDs()) {
		t.Fatalf("after rotate --ids: %v, the id key must change", err)
	}
}
