package picture

import "github.com/cidcc/cop/internal/geo"

// GeoOutside reports whether s's position is certainly outside every country it names
// (internal/geo's boxes), so that a page can say so instead of drawing the point as if it
// were there (issue 19). False without a position, or when it names no country geo knows.
func GeoOutside(s *Situation) bool {
	return s.Geo != nil && geo.Outside(s.Geo.Lat, s.Geo.Lon, s.Countries)
}
