package jsondepth

import (
	"strings"
	"testing"
)

func TestExceeds(t *testing.T) {
	f := func(doc string, max int, want bool) {
		t.Helper()
		if got := Exceeds([]byte(doc), max); got != want {
			t.Fatalf("Exceeds(%.30q, %d) = %v, want %v", doc, max, got, want)
		}
	}
	f(`{"a":[1,{"b":2}]}`, 3, false)
	f(`{"a":[1,{"b":2}]}`, 2, true)
	f(`{"a":"[[[[[[[[\"]]"}`, 1, false)
	f(strings.Repeat("[", 65), 64, true)
	f(`not json at all`, 1, false)
}
