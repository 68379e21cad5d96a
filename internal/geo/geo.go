// Package geo knows where the countries COP's feeds and missions name are: for each, a
// bounding box (south, west, north, east, in degrees) and an anchor inside it (a capital,
// or the port or landing station a mission's area is about), so that generators draw
// positions inside the country they claim and the picture can say when a position is
// outside every country its events name (issue 19: "(PL)" drawn at 49.84, 31.11, in
// Ukraine).
//
// Boxes are coarse: a box contains its country, and some of its neighbours' border land
// and sea. A position outside the box is certainly outside the country; one inside is
// plausibly in it. It does no I/O.
package geo

import "slices"

// Box is a latitude/longitude rectangle.
type Box struct{ South, West, North, East float64 }

// Contains reports whether lat, lon is inside b (edges included).
func (b Box) Contains(lat, lon float64) bool {
	return lat >= b.South && lat <= b.North && lon >= b.West && lon <= b.East
}

// Country is what geo knows of one country.
type Country struct {
	Box Box
	// Lat, Lon is the anchor generators draw near; Radius (degrees) how far from it they
	// may go, small enough to stay on the country's side of its borders and coast.
	Lat, Lon, Radius float64
}

// countries: ISO 3166-1 alpha-2 (XK for Kosovo, as the EU uses it) → box and anchor.
// Boxes are the countries' extents (metropolitan France; Denmark without the Faroes and
// Greenland; Yemen with Socotra), rounded outwards to 0.1°.
var countries = map[string]Country{
	"EE": {Box{57.5, 21.7, 59.7, 28.3}, 59.44, 24.75, 0.25},
	"LV": {Box{55.6, 20.9, 58.1, 28.3}, 56.95, 24.11, 0.3},
	"LT": {Box{53.8, 20.9, 56.5, 26.9}, 54.69, 25.28, 0.3},
	"PL": {Box{49.0, 14.1, 54.9, 24.2}, 52.23, 21.01, 0.5},
	"FI": {Box{59.7, 20.5, 70.1, 31.6}, 60.17, 24.94, 0.2},
	"DE": {Box{47.2, 5.8, 55.1, 15.1}, 52.52, 13.40, 0.5},
	"FR": {Box{42.3, -4.8, 51.1, 8.3}, 48.86, 2.35, 0.6},
	"IT": {Box{36.6, 6.6, 47.1, 18.6}, 41.90, 12.50, 0.3},
	"ES": {Box{36.0, -9.4, 43.8, 3.4}, 40.42, -3.70, 0.6},
	"NL": {Box{50.7, 3.3, 53.6, 7.3}, 52.37, 4.90, 0.2},
	"SE": {Box{55.3, 11.0, 69.1, 24.2}, 59.33, 18.07, 0.3},
	"DK": {Box{54.5, 8.0, 57.8, 15.2}, 55.68, 12.57, 0.1},
	"GR": {Box{34.8, 19.3, 41.8, 28.3}, 37.98, 23.73, 0.15},
	"MT": {Box{35.8, 14.1, 36.1, 14.6}, 35.89, 14.45, 0.03},
	"CY": {Box{34.5, 32.2, 35.8, 34.6}, 35.17, 33.36, 0.15},
	"BA": {Box{42.5, 15.7, 45.3, 19.7}, 43.86, 18.41, 0.25},
	"XK": {Box{41.8, 20.0, 43.3, 21.8}, 42.66, 21.17, 0.15},
	"UA": {Box{44.3, 22.1, 52.4, 40.3}, 50.45, 30.52, 0.5},
	"MD": {Box{45.4, 26.6, 48.5, 30.2}, 47.01, 28.86, 0.25},
	"GE": {Box{41.0, 40.0, 43.6, 46.8}, 41.72, 44.79, 0.2},
	"AM": {Box{38.8, 43.4, 41.3, 46.7}, 40.18, 44.51, 0.15},
	"RO": {Box{43.6, 20.2, 48.3, 29.8}, 44.43, 26.10, 0.4},
	"BG": {Box{41.2, 22.3, 44.3, 28.7}, 42.70, 23.32, 0.25},
	"SO": {Box{-1.7, 40.9, 12.0, 51.5}, 2.05, 45.32, 0.2},
	"DJ": {Box{10.9, 41.7, 12.8, 43.5}, 11.59, 43.10, 0.05},
	"YE": {Box{12.1, 42.5, 19.0, 54.6}, 12.85, 45.00, 0.05},
	"LY": {Box{19.5, 9.3, 33.2, 25.2}, 32.85, 13.19, 0.05},
	"IQ": {Box{29.0, 38.7, 37.4, 48.6}, 33.31, 44.36, 0.5},
	"IE": {Box{51.4, -10.5, 55.4, -6.0}, 53.35, -6.40, 0.15},
	"PT": {Box{36.9, -9.6, 42.2, -6.1}, 38.75, -9.10, 0.05},
	"EG": {Box{22.0, 24.7, 31.7, 36.9}, 31.15, 29.95, 0.08},
	"SA": {Box{16.3, 34.5, 32.2, 55.7}, 21.50, 39.25, 0.08},
	"KE": {Box{-4.7, 33.9, 5.1, 41.9}, -1.29, 36.82, 0.3},
	"SC": {Box{-10.3, 46.2, -3.7, 56.3}, -4.62, 55.45, 0.02},
	"ER": {Box{12.3, 36.4, 18.0, 43.2}, 15.33, 38.93, 0.3},
	"PS": {Box{31.2, 34.2, 32.6, 35.6}, 31.90, 35.20, 0.05},
	"BE": {Box{49.5, 2.5, 51.5, 6.4}, 50.85, 4.35, 0.2},
	"AT": {Box{46.3, 9.5, 49.1, 17.2}, 48.21, 16.37, 0.15},
	"CZ": {Box{48.5, 12.0, 51.1, 18.9}, 50.08, 14.44, 0.3},
	"SK": {Box{47.7, 16.8, 49.7, 22.6}, 48.15, 17.11, 0.1},
	"HU": {Box{45.7, 16.1, 48.6, 22.9}, 47.50, 19.04, 0.3},
	"SI": {Box{45.4, 13.3, 46.9, 16.7}, 46.06, 14.51, 0.15},
	"HR": {Box{42.3, 13.4, 46.6, 19.5}, 45.81, 15.98, 0.15},
	"LU": {Box{49.4, 5.7, 50.2, 6.6}, 49.61, 6.13, 0.05},
}

// Lookup returns what geo knows of country (upper-case alpha-2), or false.
func Lookup(country string) (Country, bool) {
	c, ok := countries[country]
	return c, ok
}

// Known lists the countries geo knows, sorted.
func Known() []string {
	out := make([]string, 0, len(countries))
	for k := range countries {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Near is a position near country's anchor for two uniform draws u, v in [0, 1): within
// its Radius and clamped to its box, so always inside the box. false for a country geo
// does not know.
func Near(country string, u, v float64) (lat, lon float64, ok bool) {
	c, ok := countries[country]
	if !ok {
		return 0, 0, false
	}
	lat = min(max(c.Lat+(2*u-1)*c.Radius, c.Box.South), c.Box.North)
	lon = min(max(c.Lon+(2*v-1)*c.Radius, c.Box.West), c.Box.East)
	return lat, lon, true
}

// Outside reports whether lat, lon is certainly outside every one of the countries geo
// knows among those named; false when none of them is known (nothing to check against).
func Outside(lat, lon float64, named []string) bool {
	known := false
	for _, n := range named {
		if c, ok := countries[n]; ok {
			known = true
			if c.Box.Contains(lat, lon) {
				return false
			}
		}
	}
	return known
}
