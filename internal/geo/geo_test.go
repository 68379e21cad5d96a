package geo

import "testing"

func TestAnchorsAndNearStayInsideTheBox(t *testing.T) {
	for _, code := range Known() {
		c, _ := Lookup(code)
		if !c.Box.Contains(c.Lat, c.Lon) {
			t.Errorf("%s: anchor %.2f,%.2f outside its box %+v", code, c.Lat, c.Lon, c.Box)
		}
		for _, uv := range [][2]float64{{0, 0}, {0, 0.999}, {0.999, 0}, {0.999, 0.999}, {0.5, 0.5}} {
			lat, lon, ok := Near(code, uv[0], uv[1])
			if !ok || !c.Box.Contains(lat, lon) {
				t.Errorf("%s: Near(%v) = %.3f,%.3f outside %+v", code, uv, lat, lon, c.Box)
			}
		}
	}
}

func TestOutside(t *testing.T) {
	// Issue 19: a situation titled "(PL)" at 49.84, 31.11 is in Ukraine.
	if !Outside(49.84, 31.11, []string{"PL"}) {
		t.Error("49.84, 31.11 is not in Poland's box, want outside")
	}
	if Outside(49.84, 31.11, []string{"PL", "UA"}) {
		t.Error("49.84, 31.11 is in Ukraine's box, want inside one of PL, UA")
	}
	if Outside(0, 0, []string{"ZZ"}) || Outside(0, 0, nil) {
		t.Error("no known country named: nothing to check against, want false")
	}
	if _, _, ok := Near("ZZ", 0.5, 0.5); ok {
		t.Error("Near of an unknown country: want false")
	}
}
