package warninglist

import (
	"slices"
	"strings"
	"testing"

	"github.com/cidcc/cop/internal/event"
)

// The built-in lists parse whole (Builtin panics otherwise) and hold the values every
// deployment sees in unrelated reports.
func TestBuiltinListsHoldTheWellKnownHubs(t *testing.T) {
	vs := BuiltinValues()
	for _, o := range []event.Observable{{Type: event.ObsIPv4, Value: "8.8.8.8"}, {Type: event.ObsIPv6, Value: "2606:4700:4700::1111"},
		{Type: event.ObsDomain, Value: "bit.ly"}, {Type: event.ObsDomain, Value: "raw.githubusercontent.com"}} {
		if !slices.Contains(vs, o) {
			t.Errorf("%v not in the built-in lists", o)
		}
	}
	if n := len(Builtin()); n != 3 {
		t.Errorf("%d built-in lists, want 3", n)
	}
}

func TestParseKeepsExactValuesAndSaysWhatItLeftOut(t *testing.T) {
	l, err := Parse([]byte(`{"name": "x", "type": "cidr", "list": ["192.0.2.53", "203.0.113.0/24", "not an address"]}`))
	if err != nil || len(l.Values) != 1 || l.LeftOut != 2 || !strings.Contains(l.Summary("f.json"), "1 exact values kept, 2 entries left out") {
		t.Fatalf("%+v, %v", l, err)
	}
	if _, err := Parse([]byte(`{"list": 3}`)); err == nil || !strings.Contains(err.Error(), "MISP warning list") {
		t.Errorf("not a list: %v", err)
	}
}
