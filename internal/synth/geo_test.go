package synth

import (
	"testing"
	"time"

	"github.com/cidcc/cop/internal/geo"
)

// Issue 19: "(PL)" was drawn at 49.84, 31.11, in Ukraine. Every position the demo's
// generator draws lies in the box of the country its report names.
func TestPositionsInsideTheirCountry(t *testing.T) {
	g := New(1)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	with := 0
	for range 20_000 {
		_, in := g.Next(now)
		if in.Geo == nil {
			continue
		}
		with++
		c, ok := geo.Lookup(in.Countries[0])
		if !ok || !c.Box.Contains(in.Geo.Lat, in.Geo.Lon) {
			t.Fatalf("%q at %.2f,%.2f: outside %s's box", in.Title, in.Geo.Lat, in.Geo.Lon, in.Countries[0])
		}
	}
	if with == 0 {
		t.Fatal("no report had a position")
	}
}
