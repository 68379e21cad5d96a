package access

import (
	"slices"
	"strings"
	"testing"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

func TestRelevance(t *testing.T) {
	ms := DefaultMissions()
	f := func(mission string, s picture.Situation, want float64) {
		t.Helper()
		if got := ms[mission].Relevance(&s); got != want {
			t.Fatalf("%s %+v: relevance %v, want %v", mission, s, got, want)
		}
	}
	f("EUFOR-ALTHEA", picture.Situation{Countries: []string{"BA"}, Sectors: []string{"energy"}}, 1)
	f("EUFOR-ALTHEA", picture.Situation{Countries: []string{"BA"}, Sectors: []string{"food"}}, 0.5)
	f("EUFOR-ALTHEA", picture.Situation{Countries: []string{"BA", "RS"}}, 0.25)
	f("EUFOR-ALTHEA", picture.Situation{Countries: []string{"FR"}, Sectors: []string{"defence"}}, 0.5)
	f("EUFOR-ALTHEA", picture.Situation{}, 0)
	// A position at sea inside Atalanta's box is fully in its area.
	f("EUNAVFOR-ATALANTA", picture.Situation{Countries: []string{"IN"}, Geo: &event.Geo{Lat: 5, Lon: 55}, Sectors: []string{"transport"}}, 1)
	// A mission without sectors of interest weighs its area alone.
	f("EULEX-KOSOVO", picture.Situation{Countries: []string{"XK", "RS"}, Sectors: []string{"energy"}}, 0.5)
}

// TestRelevanceOrdersCommandersView checks the commander's order: of two situations of
// equal score, the one more in the mission's area and sectors comes first, and the
// order is the score's for a view without a mission.
func TestRelevanceOrdersCommandersView(t *testing.T) {
	ms := DefaultMissions()
	sits := func() []picture.Situation {
		return []picture.Situation{
			{ID: "a-out-of-area", Score: 50, Countries: []string{"RS"}, Sectors: []string{"energy"}, Explanation: picture.Explanation{Text: "x"}},
			{ID: "b-in-area", Score: 50, Countries: []string{"BA"}, Sectors: []string{"energy"}},
			{ID: "c-in-area-other-sector", Score: 50, Countries: []string{"BA"}, Sectors: []string{"food"}},
			{ID: "d-higher", Score: 80, Countries: []string{"RS"}},
		}
	}
	order := func(v View) []string {
		ss := sits()
		for i := range ss {
			ms.Ranked(v, &ss[i])
		}
		slices.SortFunc(ss, func(a, b picture.Situation) int { return CompareRanked(&a, &b) })
		ids := make([]string, len(ss))
		for i, s := range ss {
			ids[i] = s.ID
		}
		return ids
	}
	// b 50 × 1; d 80 × 0.5 (no area, no sector); a and c 50 × 0.75 (sector, area), by id.
	if got, want := order(View{Mission: "eufor-althea"}), []string{"b-in-area", "d-higher", "a-out-of-area", "c-in-area-other-sector"}; !slices.Equal(got, want) {
		t.Fatalf("Althea's order %v, want %v", got, want)
	}
	if got, want := order(View{}), []string{"d-higher", "a-out-of-area", "b-in-area", "c-in-area-other-sector"}; !slices.Equal(got, want) {
		t.Fatalf("order without a mission %v, want %v", got, want)
	}
	s := sits()[0]
	ms.Ranked(View{Mission: "EUFOR-ALTHEA"}, &s)
	if s.Explanation.Relevance != 0.5 || s.Rank != 37.5 || !strings.Contains(s.Explanation.Text, "relevance 0.50 to EUFOR-ALTHEA: order 37.5") {
		t.Fatalf("ranked copy %+v", s)
	}
}

func TestRankedLeavesTheSharedSituation(t *testing.T) {
	shared := &picture.Situation{ID: "s", Score: 40, Countries: []string{"BA"}, Explanation: picture.Explanation{Text: "t"}}
	cp := *shared
	DefaultMissions().Ranked(View{Mission: "EUFOR-ALTHEA"}, &cp)
	if shared.Rank != 0 || shared.Explanation.Relevance != 0 || shared.Explanation.Text != "t" || cp.Rank == 0 {
		t.Fatalf("shared %+v, copy %+v", shared, cp)
	}
}

func TestOrderKeyIsWhatCompareRankedOrdersTheRankedCopyBy(t *testing.T) {
	ms := DefaultMissions()
	f := func(v View, s picture.Situation) {
		t.Helper()
		c := s
		ms.Ranked(v, &c)
		if got, want := ms.OrderKey(v, &s), orderKey(&c); got != want {
			t.Errorf("OrderKey(%+v, %s) = %v, want the ranked copy's %v", v, s.ID, got, want)
		}
	}
	f(View{}, picture.Situation{ID: "a", Score: 40})
	f(View{Mission: "EUFOR-ALTHEA"}, picture.Situation{ID: "b", Score: 40, Countries: []string{"BA"}})
	f(View{Mission: "eufor-althea"}, picture.Situation{ID: "c", Score: 40, Countries: []string{"FR"}})
	f(View{Mission: "EUFOR-ALTHEA"}, picture.Situation{ID: "d", Score: 0})
	f(View{Mission: "NO-SUCH"}, picture.Situation{ID: "e", Score: 12})
}
