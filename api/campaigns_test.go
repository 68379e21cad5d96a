package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

// TestAccessMatrixCampaigns: every situation of the matrix shares one /24, so a caller
// that could see two would see them as one campaign. A campaign names only situations
// its viewer may see (the websocket's cells, on GET /api/v1/campaigns), and the request
// itself is refused as the websocket's is.
func TestAccessMatrixCampaigns(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	var sits []picture.Situation
	for i, s := range matrixSituations() {
		s.Observables = []event.Observable{{Type: event.ObsIPv4, Value: "198.51.100." + string(rune('1'+i))}}
		sits = append(sits, s)
	}
	f.pic.Apply(deltas(sits...))
	get := func(viewer string, q url.Values) (int, string) {
		resp := f.do(t, "GET", "/api/v1/campaigns?"+q.Encode(), f.tokens[viewer], nil)
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range wsCells {
		t.Run(c.rule, func(t *testing.T) {
			status, body := get(c.viewer, c.view)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			var got struct {
				Campaigns  []picture.Campaign
				Situations int
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			named := false
			for _, cp := range got.Campaigns {
				for _, id := range cp.Situations {
					named = named || id == c.situation
				}
			}
			switch {
			case !c.allow && strings.Contains(body, c.situation):
				t.Errorf("%s learns of %s through a campaign: %s", c.viewer, c.situation, body)
			case c.allow && got.Situations >= 2 && !named:
				t.Errorf("%s sees %d situations but %s is in no campaign: %s", c.viewer, got.Situations, c.situation, body)
			}
		})
	}
	for _, c := range wsRequestCells {
		t.Run("request/"+c.rule, func(t *testing.T) {
			tok := c.token
			if c.viewer != "" {
				tok = f.tokens[c.viewer]
			}
			resp := f.do(t, "GET", "/api/v1/campaigns?"+c.view.Encode(), tok, nil)
			want := c.status
			if want == http.StatusSwitchingProtocols {
				want = http.StatusOK
			}
			if resp.StatusCode != want {
				t.Errorf("status %d, want %d", resp.StatusCode, want)
			}
		})
	}
	t.Run("anonymised_contributor_stays_a_pseudonym", func(t *testing.T) {
		_, body := get("analyst-1", nil)
		if !strings.Contains(body, "s-anon") {
			t.Fatalf("s-anon not in the analyst's campaigns: %s", body)
		}
		if strings.Contains(body, `"feed-a"`) {
			t.Errorf("a campaign names the anonymised contributor: %s", body)
		}
	})
}
