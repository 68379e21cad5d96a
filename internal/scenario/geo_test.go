package scenario

import (
	"testing"

	"github.com/cidcc/cop/internal/geo"
)

// Issue 19: every position the exercise scenario gives lies in the box of the country its
// event names.
func TestPositionsInsideTheirCountry(t *testing.T) {
	feeds, err := Generate("energy-cables", opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range parse(t, feeds) {
		if e.Geo == nil || len(e.Countries) == 0 {
			continue
		}
		c, ok := geo.Lookup(e.Countries[0])
		if !ok || !c.Box.Contains(e.Geo.Lat, e.Geo.Lon) {
			t.Errorf("%q at %.2f,%.2f: outside %s's box", e.Title, e.Geo.Lat, e.Geo.Lon, e.Countries[0])
		}
	}
}
