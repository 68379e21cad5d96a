package event_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cidcc/cop/internal/event"
)

func TestQuoteCutsLongValuesAndKeepsShortOnesAsPercentQ(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := event.Quote(in); got != want {
			t.Errorf("Quote(%.40q) = %q, want %q", in, got, want)
		}
	}
	f("", `""`)
	f(`a"b`, `"a\"b"`)
	f(strings.Repeat("x", event.MaxQuoted), `"`+strings.Repeat("x", event.MaxQuoted)+`"`)
	f(strings.Repeat("9", 1_000_000), `"`+strings.Repeat("9", event.MaxQuoted-3)+`…" (1000000 bytes)`)
	// Cut on a rune boundary: é is two bytes.
	f(strings.Repeat("é", 100), `"`+strings.Repeat("é", (event.MaxQuoted-3)/2)+`…" (200 bytes)`)
}

func TestTruncateStaysWithinNBytesOnARuneBoundary(t *testing.T) {
	for _, s := range []string{strings.Repeat("a", 600), strings.Repeat("€", 300), "short"} {
		for _, n := range []int{3, 4, 5, 100, 512} {
			got := event.Truncate(s, n)
			if len(got) > n && len(s) > n || !utf8.ValidString(got) || len(s) <= n && got != s {
				t.Errorf("Truncate(%.10q…, %d) = %.20q… (%d bytes)", s, n, got, len(got))
			}
		}
	}
}
