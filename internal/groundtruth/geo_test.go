package groundtruth

import (
	"testing"

	"github.com/cidcc/cop/internal/geo"
)

// Issue 19: every generated position lies in the box of the country its event names.
func TestPositionsInsideTheirCountry(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		evs, _, err := Generate(Options{Events: 20_000, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Geo == nil {
				t.Fatalf("%s (%v) has no position", ev.Title, ev.Countries)
			}
			c, ok := geo.Lookup(ev.Countries[0])
			if !ok || !c.Box.Contains(ev.Geo.Lat, ev.Geo.Lon) {
				t.Fatalf("%q at %.2f,%.2f: outside %s's box", ev.Title, ev.Geo.Lat, ev.Geo.Lon, ev.Countries[0])
			}
		}
	}
}
