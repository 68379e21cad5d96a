package access

import (
	"strings"

	"github.com/cidcc/cop/internal/picture"
)

// OrderKey is what CompareRanked orders s by in view v, without building the copy that
// Ranked sets: its Rank in a known mission's view, else its score. The websocket's
// per-view top (api.viewTop) keeps situations by it.
func (ms Missions) OrderKey(v View, s *picture.Situation) float64 {
	if v.Mission != "" {
		if m, ok := ms[strings.ToUpper(v.Mission)]; ok {
			if r := Rank(s.Score, m.Relevance(s)); r != 0 {
				return r
			}
		}
	}
	return s.Score
}
