package correlate

import (
	"fmt"
	"testing"
)

func TestDictInternsEachNameOnce(t *testing.T) {
	var d dict
	for round := range 2 {
		for i := range 1000 {
			name := fmt.Sprint("name-", i)
			if id := d.id(name); id != uint32(i) || d.names[id] != name {
				t.Fatalf("round %d: %q got id %d (%q)", round, name, id, d.names[id])
			}
		}
	}
	if len(d.names) != 1000 {
		t.Fatalf("%d names interned, want 1000", len(d.names))
	}
}
