package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

// TestAccessMatrixLiaison: a liaison officer gets the dashboard's paths (the live picture
// of any mission's view within its TLP ceiling, the missions) and nothing of an analyst's,
// a contributor's or an admin's.
func TestAccessMatrixLiaison(t *testing.T) {
	ids := []access.Identity{{Name: "liaison-1", Role: access.RoleLiaison, MaxTLP: event.TLPAmber}}
	f := newFixture(t, nil, ids, nil)
	f.pic.Apply(deltas(
		sit("S-AMBER", event.TLPAmber, nil),
		sit("S-RED", event.TLPRed, nil),
		sit("S-SOMALIA", event.TLPGreen, func(s *picture.Situation) { s.Countries = []string{"SO"} }),
	))
	tok := f.tokens["liaison-1"]
	t.Run("whoami", func(t *testing.T) {
		if resp := f.do(t, "GET", "/api/v1/whoami", tok, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("%d", resp.StatusCode)
		}
	})
	t.Run("missions: every mission", func(t *testing.T) {
		resp := f.do(t, "GET", "/api/v1/missions", tok, nil)
		var ms []access.Mission
		json.Unmarshal([]byte(readAll(resp)), &ms)
		if resp.StatusCode != http.StatusOK || len(ms) != len(access.DefaultMissions()) {
			t.Errorf("%d, %d missions of %d", resp.StatusCode, len(ms), len(access.DefaultMissions()))
		}
	})
	for _, m := range []string{"", "EUFOR-ALTHEA", "EUNAVFOR-ATALANTA"} {
		t.Run("websocket view of "+m+" within the ceiling", func(t *testing.T) {
			q := url.Values{}
			if m != "" {
				q.Set("mission", m)
			}
			c := f.follow(t, "liaison-1", q)
			c.snapshot(t)
			if _, ok := c.seen["S-RED"]; ok {
				t.Error("a RED situation above the liaison's AMBER ceiling was sent")
			}
			want := map[string]string{"": "S-AMBER", "EUFOR-ALTHEA": "S-AMBER", "EUNAVFOR-ATALANTA": "S-SOMALIA"}[m]
			if _, ok := c.seen[want]; !ok {
				t.Errorf("%s not in the view: %v", want, c.seen)
			}
		})
	}
	for _, p := range []struct{ method, path string }{{"GET", "/api/v1/events"}, {"GET", "/api/v1/stats"}, {"GET", "/api/v1/observables/x.example"},
		{"GET", "/metrics"}, {"POST", "/api/v1/feeds"}, {"GET", "/api/v1/contributions"}} {
		t.Run(p.method+" "+p.path+" refused", func(t *testing.T) {
			resp := f.do(t, p.method, p.path, tok, strings.NewReader("[]"))
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%d, want 403", resp.StatusCode)
			}
		})
	}
}
