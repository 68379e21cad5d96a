package picture

import (
	"testing"

	"github.com/cidcc/cop/internal/event"
)

func TestGeoOutside(t *testing.T) {
	s := &Situation{Title: "Wiper (PL)", Countries: []string{"PL"}, Geo: &event.Geo{Lat: 49.84, Lon: 31.11}}
	if !GeoOutside(s) {
		t.Error("49.84, 31.11 (Ukraine) for a situation in PL: want outside")
	}
	s.Countries = []string{"PL", "UA"}
	if GeoOutside(s) {
		t.Error("in UA's box, and UA is named: want inside")
	}
	if GeoOutside(&Situation{Countries: []string{"PL"}}) {
		t.Error("no position: want false")
	}
}
