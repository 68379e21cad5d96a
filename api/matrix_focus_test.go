package api

import (
	"slices"
	"strings"
	"testing"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

// TestAccessMatrixWebsocketFocus: the access matrix of the websocket's focus (the map
// zoomed into an area, hub_focus.go). A focus narrows the viewer's own view. With a bound of 1
// filled by a sentinel, each viewer focuses on every country of the cell's situation,
// with view fields that try to widen it (another mission, an exercise, no minimum):
// the focus brings the situations it may see that the bound left out, never one of
// another mission's area, above its TLP ceiling, not releasable to it or of another
// exercise, and counts only what it may see; the anonymised contributor stays a
// pseudonym. In both modes: the situations there before the focus ("snapshot"), and
// arriving after it ("delta").
func TestAccessMatrixWebsocketFocus(t *testing.T) {
	cells := []struct {
		rule, viewer, exercise, situation string
		allow                             bool
	}{
		{"tlp_above_ceiling/deny", "cmdr-green", "", "s-amber", false},
		{"tlp_at_ceiling/allow", "cmdr-green", "", "s-green", true},
		{"red_unnamed/deny", "cmdr-althea", "", "s-red-unnamed", false},
		{"red_named/allow", "cmdr-althea", "", "s-red-named", true},
		{"not_releasable/deny", "cmdr-althea", "", "s-rel-other", false},
		{"releasable_to_mission/allow", "cmdr-althea", "", "s-rel-mission", true},
		{"exercise_in_real_picture/deny", "cmdr-althea", "", "s-exercise", false},
		{"exercise_in_exercise_picture/allow", "cmdr-althea", "CYDEF-X", "s-exercise", true},
		{"real_in_exercise_picture/deny", "cmdr-althea", "CYDEF-X", "s-green", false},
		{"other_mission_area/deny", "cmdr-althea", "", "s-ua", false},
		{"other_mission_area_green/deny", "cmdr-green", "", "s-ua", false},
		{"analyst_all_missions/allow", "analyst-1", "", "s-ua", true},
		{"anonymised/allow", "cmdr-althea", "", "s-anon", true},
	}
	for _, mode := range []string{"snapshot", "delta"} {
		for _, c := range cells {
			t.Run(mode+"/"+c.rule, func(t *testing.T) {
				f := newFixture(t, nil, matrixIdentities, nil)
				f.s.Hub.SetViewTop(1, 0)
				var all []picture.Situation
				for _, s := range matrixSituations() {
					s.Score = 30
					all = append(all, s)
				}
				// The top: a sentinel every viewer may see, in the cell's picture.
				top := sit("a-top", event.TLPClear, func(s *picture.Situation) { s.Score, s.Exercise = 99, c.exercise })
				// What the focus must bring, ranked below the rest: proof that it did.
				last := sit("z-last", event.TLPClear, func(s *picture.Situation) { s.Score, s.Exercise, s.Countries = 1, c.exercise, []string{"UA", "BA"} })
				if mode == "snapshot" {
					f.pic.Apply(deltas(append(all, top, last)...))
				} else {
					f.pic.Apply(deltas(top)) // the rest arrive once the focus is set
				}
				q := map[string][]string{}
				if c.exercise != "" {
					q["exercise"] = []string{c.exercise}
				}
				cl := f.follow(t, c.viewer, q)
				p := &heldPicture{}
				snap := readMessage(t, cl.conn)
				p.apply(t, &snap)
				if got := ids(snap.Situations); !slices.Equal(got, []string{"a-top"}) {
					t.Fatalf("snapshot %v, want [a-top] alone (bound 1)", got)
				}
				sendFocus(t, cl.conn, map[string]any{"countries": []string{"BA", "UA"}, "limit": 20,
					"mission": "EUAM-UKRAINE", "exercise": "CYDEF-X", "min_score": 0, "sectors": []string{}})
				if mode == "delta" {
					readHeld(t, cl.conn, p, func(p *heldPicture, fs *FocusState) bool { return fs != nil })
					f.pic.Apply(deltas(append(all, last)...))
				}
				fs := readHeld(t, cl.conn, p, func(p *heldPicture, fs *FocusState) bool { return fs != nil && holds(p, "z-last") })
				_, got := p.situations[c.situation]
				if got != c.allow {
					t.Errorf("%s focused on BA and UA holds %s: %v, want %v (holds %v)", c.viewer, c.situation, got, c.allow, keysOf(p.situations))
				}
				id := matrixIdentities[slices.IndexFunc(matrixIdentities, func(i access.Identity) bool { return i.Name == c.viewer })]
				v := id.DefaultView(access.View{Exercise: c.exercise})
				may := 0
				for _, s := range append(all, top, last) {
					if id.SituationVisible(&s, v, f.s.Missions) {
						may++ // every one is in BA or UA
						if _, ok := p.situations[s.ID]; !ok && s.ID != "a-top" {
							t.Errorf("%s: the focus lacks %s, which it may see", c.viewer, s.ID)
						}
					} else if _, ok := p.situations[s.ID]; ok {
						t.Errorf("%s: the focus brought %s, which it may not see", c.viewer, s.ID)
					}
				}
				if fs.Total != may || p.rest.Total != 0 {
					t.Errorf("%s: focus total %d rest %d, want the %d it may see in BA and UA and nothing left", c.viewer, fs.Total, p.rest.Total, may)
				}
				if s, ok := p.situations["s-anon"]; ok && id.Role != access.RoleAdmin && strings.Contains(s, `"name":"feed-a"`) {
					t.Errorf("%s: the focus names anonymised contributor feed-a: %s", c.viewer, s)
				}
			})
		}
	}
}
