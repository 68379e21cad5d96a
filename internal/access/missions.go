package access

import (
	"slices"

	"github.com/cidcc/cop/internal/picture"
)

// Mission is a CSDP mission or operation with its area of responsibility: countries and
// bounding boxes (for sea areas), and the sectors it cares about most.
type Mission struct {
	Name      string   `json:"name"`
	Title     string   `json:"title"`
	Countries []string `json:"countries"`
	Boxes     []Box    `json:"boxes,omitempty"`
	Sectors   []string `json:"sectors,omitempty"`
}

// Box is a latitude/longitude rectangle.
type Box struct {
	South, West, North, East float64
}

// Missions are keyed by upper-case name.
type Missions map[string]Mission

// Covers reports whether s touches the mission's area: a shared country, or a position
// inside one of its boxes.
func (m Mission) Covers(s *picture.Situation) bool {
	for _, c := range s.Countries {
		if slices.Contains(m.Countries, c) {
			return true
		}
	}
	if s.Geo != nil {
		for _, b := range m.Boxes {
			if s.Geo.Lat >= b.South && s.Geo.Lat <= b.North && s.Geo.Lon >= b.West && s.Geo.Lon <= b.East {
				return true
			}
		}
	}
	return false
}

// DefaultMissions are the CSDP missions and operations of MISSION.md with approximate areas
// and their sectors of interest, which weigh a situation's relevance to the mission
// (Mission.Relevance): Althea guards a state's institutions and its grid (energy,
// public administration, defence); the naval operations protect shipping and the
// cables and pipelines under their seas (transport, submarine cables, telecom or
// energy); the Ukraine missions its grid, networks and state (EUAM) and the forces they
// train (EUMAM); EUPM Moldova its energy dependence and administration. Missions without
// sectors weigh their area alone.
func DefaultMissions() Missions {
	ms := []Mission{
		{Name: "EUFOR-ALTHEA", Title: "EUFOR Althea", Countries: []string{"BA"}, Sectors: []string{"energy", "public-administration", "defence"}},
		{Name: "EUNAVFOR-ATALANTA", Title: "EUNAVFOR Atalanta", Countries: []string{"SO", "DJ", "YE", "KE", "SC"},
			Boxes: []Box{{South: -12, West: 40, North: 16, East: 66}}, Sectors: []string{"transport", "submarine-cable", "telecom"}},
		{Name: "EUNAVFOR-ASPIDES", Title: "EUNAVFOR Aspides", Countries: []string{"YE", "ER", "DJ", "SA", "EG"},
			Boxes: []Box{{South: 11, West: 32, North: 30, East: 45}}, Sectors: []string{"transport", "submarine-cable", "energy"}},
		{Name: "EUNAVFOR-MED-IRINI", Title: "EUNAVFOR MED Irini", Countries: []string{"LY", "MT"},
			Boxes: []Box{{South: 30, West: 10, North: 38, East: 25}}, Sectors: []string{"transport", "energy", "submarine-cable"}},
		{Name: "EULEX-KOSOVO", Title: "EULEX Kosovo", Countries: []string{"XK"}},
		{Name: "EUAM-UKRAINE", Title: "EUAM Ukraine", Countries: []string{"UA"}, Sectors: []string{"energy", "telecom", "public-administration"}},
		{Name: "EUMAM-UKRAINE", Title: "EUMAM Ukraine", Countries: []string{"UA", "PL", "DE"}, Sectors: []string{"defence"}},
		{Name: "EUMM-GEORGIA", Title: "EUMM Georgia", Countries: []string{"GE"}},
		{Name: "EUMA-ARMENIA", Title: "EUMA Armenia", Countries: []string{"AM"}},
		{Name: "EUPM-MOLDOVA", Title: "EUPM Moldova", Countries: []string{"MD"}, Sectors: []string{"energy", "public-administration"}},
		{Name: "EUAM-IRAQ", Title: "EUAM Iraq", Countries: []string{"IQ"}},
		{Name: "EUCAP-SOMALIA", Title: "EUCAP Somalia", Countries: []string{"SO"}},
		{Name: "EUBAM-LIBYA", Title: "EUBAM Libya", Countries: []string{"LY"}},
		{Name: "EUBAM-RAFAH", Title: "EUBAM Rafah", Countries: []string{"PS", "EG"}},
	}
	out := Missions{}
	for _, m := range ms {
		out[m.Name] = m
	}
	return out
}
