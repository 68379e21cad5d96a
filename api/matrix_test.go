package api

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

// matrixSituations are one situation per marking rule, all in EUFOR Althea's area (BA)
// unless the rule is about the area.
func matrixSituations() []picture.Situation {
	return []picture.Situation{
		sit("s-green", event.TLPGreen, nil),
		sit("s-amber", event.TLPAmber, nil),
		sit("s-red-named", event.TLPRed, func(s *picture.Situation) { s.ReleasableTo = []string{"CMDR-ALTHEA"} }),
		sit("s-red-unnamed", event.TLPRed, nil),
		sit("s-rel-mission", event.TLPGreen, func(s *picture.Situation) { s.ReleasableTo = []string{"EUFOR-ALTHEA"} }),
		sit("s-rel-other", event.TLPGreen, func(s *picture.Situation) { s.ReleasableTo = []string{"CERT-EU"} }),
		sit("s-anon", event.TLPGreen, func(s *picture.Situation) {
			s.Contributors = []picture.Contributor{{Name: "feed-a", Anonymise: true}}
		}),
		sit("s-exercise", event.TLPGreen, func(s *picture.Situation) { s.Exercise = "CYDEF-X" }),
		sit("s-ua", event.TLPGreen, func(s *picture.Situation) { s.Countries = []string{"UA"} }),
	}
}

// wsCells are the rules that filter situations on the websocket, as (viewer, view,
// situation, allowed).
var wsCells = []struct {
	rule, viewer string
	view         url.Values
	situation    string
	allow        bool
}{
	{"tlp_above_ceiling/deny", "cmdr-green", nil, "s-amber", false},
	{"tlp_at_ceiling/allow", "cmdr-green", nil, "s-green", true},
	{"red_named/allow", "cmdr-althea", nil, "s-red-named", true},
	{"red_unnamed/deny", "cmdr-althea", nil, "s-red-unnamed", false},
	{"not_releasable/deny", "cmdr-althea", nil, "s-rel-other", false},
	{"releasable_to_mission/allow", "cmdr-althea", nil, "s-rel-mission", true},
	{"exercise_in_real_picture/deny", "cmdr-althea", nil, "s-exercise", false},
	{"exercise_in_exercise_picture/allow", "cmdr-althea", url.Values{"exercise": {"cydef-x"}}, "s-exercise", true},
	{"real_in_exercise_picture/deny", "cmdr-althea", url.Values{"exercise": {"CYDEF-X"}}, "s-green", false},
	{"other_mission_area/deny", "cmdr-althea", nil, "s-ua", false},
	{"analyst_all_missions/allow", "analyst-1", nil, "s-ua", true},
}

// wsRequestCells are rules decided when the websocket is requested.
var wsRequestCells = []struct {
	rule, viewer, token string
	view                url.Values
	status              int
}{
	{"no_token/deny", "", "", nil, http.StatusUnauthorized},
	{"bad_token/deny", "", "cop_0000", nil, http.StatusUnauthorized},
	{"wrong_role_contributor/deny", "feed-a", "", nil, http.StatusForbidden},
	{"exercise_not_allowed/deny", "cmdr-green", "", url.Values{"exercise": {"CYDEF-X"}}, http.StatusForbidden},
	{"other_mission/deny", "cmdr-althea", "", url.Values{"mission": {"EUAM-UKRAINE"}}, http.StatusForbidden},
	{"commander_own_mission/allow", "cmdr-althea", "", url.Values{"mission": {"eufor-althea"}}, http.StatusSwitchingProtocols},
}

func TestAccessMatrixWebsocket(t *testing.T) {
	for _, mode := range []string{"snapshot", "delta"} {
		for _, c := range wsRequestCells {
			t.Run(mode+"/"+c.rule, func(t *testing.T) {
				f := newFixture(t, nil, matrixIdentities, nil)
				if mode == "snapshot" {
					f.pic.Apply(deltas(matrixSituations()...))
				}
				tok := c.token
				if c.viewer != "" {
					tok = f.tokens[c.viewer]
				}
				conn, resp, err := f.dial(tok, c.view, nil)
				if conn != nil {
					defer conn.Close()
				}
				if resp == nil {
					t.Fatalf("no HTTP answer: %v", err)
				}
				if resp.StatusCode != c.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
				}
				if c.status != http.StatusSwitchingProtocols {
					return
				}
				cl := &wsClient{conn: conn, seen: map[string]picture.Situation{}}
				cl.snapshot(t)
				if mode == "delta" {
					f.pic.Apply(deltas(matrixSituations()...))
					f.pic.Apply(deltas(sit("zz-sentinel", event.TLPClear, nil)))
					cl.readUntil(t, "zz-sentinel")
				}
				if _, ok := cl.seen["s-green"]; !ok {
					t.Error("commander's own mission view lacks s-green")
				}
			})
		}
		for _, c := range wsCells {
			t.Run(mode+"/"+c.rule, func(t *testing.T) {
				f := newFixture(t, nil, matrixIdentities, nil)
				sentinel := sit("zz-sentinel", event.TLPClear, func(s *picture.Situation) {
					if ex := c.view.Get("exercise"); ex != "" {
						s.Exercise = "CYDEF-X"
					}
				})
				var cl *wsClient
				if mode == "snapshot" {
					f.pic.Apply(deltas(append(matrixSituations(), sentinel)...))
					cl = f.follow(t, c.viewer, c.view)
					cl.snapshot(t)
				} else {
					cl = f.follow(t, c.viewer, c.view)
					cl.snapshot(t)
					f.pic.Apply(deltas(matrixSituations()...))
					f.pic.Apply(deltas(sentinel))
					cl.readUntil(t, "zz-sentinel")
				}
				if _, ok := cl.seen["zz-sentinel"]; !ok {
					t.Fatal("sentinel missing: the view shows nothing")
				}
				if _, got := cl.seen[c.situation]; got != c.allow {
					t.Errorf("%s sees %s: %v, want %v", c.viewer, c.situation, got, c.allow)
				}
			})
		}
		t.Run(mode+"/anonymised_contributor/pseudonym", func(t *testing.T) {
			f := newFixture(t, nil, matrixIdentities, nil)
			var cl *wsClient
			if mode == "snapshot" {
				f.pic.Apply(deltas(matrixSituations()...))
				cl = f.follow(t, "cmdr-althea", nil)
				cl.snapshot(t)
			} else {
				cl = f.follow(t, "cmdr-althea", nil)
				cl.snapshot(t)
				f.pic.Apply(deltas(matrixSituations()...))
				cl.readUntil(t, "s-anon")
			}
			s, ok := cl.seen["s-anon"]
			if !ok {
				t.Fatal("anonymised situation missing")
			}
			if got, want := s.Contributors[0].Name, testAnon.Pseudonym("cmdr-althea", "feed-a"); got != want {
				t.Errorf("contributor shown as %q, want pseudonym %q", got, want)
			}
			if n := cl.seen["s-green"].Contributors[0].Name; n != "feed-a" {
				t.Errorf("named contributor shown as %q", n)
			}
		})
	}
}
