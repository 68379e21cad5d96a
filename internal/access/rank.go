package access

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/cidcc/cop/internal/picture"
)

// RankFloor is a in the commander's order Rank = Score × (a + (1 − a) × Relevance): a
// situation of no relevance to the mission keeps half its score, one of full relevance
// all of it. Relevance is worth at most ×2, less than the ×2.5 between two severity
// levels (correlate.DefaultConfig), so it reorders situations of one severity, and of
// two adjacent ones only where corroboration or age already set them close
// (docs/scoring.md).
const RankFloor = 0.5

// Relevance is how much s concerns mission m, in [0, 1]: the mean of its area overlap
// and its sector overlap. The area overlap is 1 if s is placed inside one of the
// mission's boxes, else the share of its countries that are the mission's. The sector
// overlap is 1 if one of its sectors is one of the mission's sectors of interest, else
// 0; a mission without sectors of interest takes the area overlap for it.
func (m Mission) Relevance(s *picture.Situation) float64 {
	area := m.areaOverlap(s)
	sector := area
	if len(m.Sectors) > 0 {
		sector = 0
		if intersects(m.Sectors, s.Sectors) {
			sector = 1
		}
	}
	return (area + sector) / 2
}

func (m Mission) areaOverlap(s *picture.Situation) float64 {
	if g := s.Geo; g != nil {
		for _, b := range m.Boxes {
			if g.Lat >= b.South && g.Lat <= b.North && g.Lon >= b.West && g.Lon <= b.East {
				return 1
			}
		}
	}
	if len(s.Countries) == 0 {
		return 0
	}
	in := 0
	for _, c := range s.Countries {
		if slices.Contains(m.Countries, c) {
			in++
		}
	}
	return float64(in) / float64(len(s.Countries))
}

// Rank is the commander's order of a situation of score score and relevance relevance.
func Rank(score, relevance float64) float64 {
	return score * (RankFloor + (1-RankFloor)*relevance)
}

// Ranked sets, on s, the copy of a situation sent to view v, its relevance to the view's
// mission (Explanation.Relevance, also added to the explanation's text) and its Rank.
// A view without a known mission leaves s as it is: its order is the score's.
func (ms Missions) Ranked(v View, s *picture.Situation) {
	if v.Mission == "" {
		return
	}
	m, ok := ms[strings.ToUpper(v.Mission)]
	if !ok {
		return
	}
	r := m.Relevance(s)
	s.Explanation.Relevance = r
	s.Rank = Rank(s.Score, r)
	t := make([]byte, 0, len(s.Explanation.Text)+64+len(m.Name))
	t = append(t, s.Explanation.Text...)
	t = append(t, "; relevance "...)
	t = strconv.AppendFloat(t, r, 'f', 2, 64)
	t = append(t, " to "...)
	t = append(t, m.Name...)
	t = append(t, ": order "...)
	t = strconv.AppendFloat(t, s.Rank, 'f', 1, 64)
	s.Explanation.Text = string(t)
}

// CompareRanked orders situations of one view best first: by Rank where the view set it
// (Missions.Ranked), else by score, then by id. The websocket's snapshots and the
// quality benchmark's precision@10 both order by it.
func CompareRanked(a, b *picture.Situation) int {
	if c := cmp.Compare(orderKey(b), orderKey(a)); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

func orderKey(s *picture.Situation) float64 {
	if s.Rank != 0 {
		return s.Rank
	}
	return s.Score
}
