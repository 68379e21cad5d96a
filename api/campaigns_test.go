package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/access"
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

// TestAccessMatrixCampaignOpened: opening a campaign (GET /api/v1/campaigns/{id}) gives
// only member situations the viewer may see, a campaign named after a situation it may
// not see is not found for it though it is for an admin, anonymised contributors stay
// pseudonyms, and the request is refused as the websocket's is.
func TestAccessMatrixCampaignOpened(t *testing.T) {
	f := newFixture(t, nil, matrixIdentities, nil)
	var sits []picture.Situation
	for i, s := range matrixSituations() {
		s.Observables = []event.Observable{{Type: event.ObsIPv4, Value: "198.51.100." + string(rune('1'+i))}}
		sits = append(sits, s)
	}
	f.pic.Apply(deltas(sits...))
	get := func(viewer, id string, q url.Values) (int, string) {
		resp := f.do(t, "GET", "/api/v1/campaigns/"+id+"?"+q.Encode(), f.tokens[viewer], nil)
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	version := uint64(1)
	for _, c := range wsCells {
		t.Run(c.rule, func(t *testing.T) {
			// Make c.situation the campaign's oldest, so that the campaign of those who see
			// it is named after it.
			admin := matrixIdentities[4]
			for _, s := range sits {
				if s.ID == c.situation {
					version++
					s.Version, s.FirstSeen = version, s.FirstSeen.Add(-time.Duration(version)*time.Hour)
					f.pic.Apply(deltas(s))
					if s.Exercise == "" && admin.SituationVisible(&s, access.View{}, f.s.Missions) { // alone in its exercise: no campaign
						id := "campaign-" + c.situation
						if status, body := get("admin", id, url.Values{"exercise": {s.Exercise}}); status != http.StatusOK {
							t.Fatalf("admin opens %s: %d %s", id, status, body)
						}
					}
				}
			}
			q := url.Values{}
			for k, v := range c.view {
				q[k] = v
			}
			id := "campaign-" + c.situation
			status, body := get(c.viewer, id, q)
			if !c.allow {
				if status != http.StatusNotFound || strings.Contains(body, c.situation+`"`) && !strings.Contains(body, "no campaign") {
					t.Errorf("%s opens %s: %d %s, want 404", c.viewer, id, status, body)
				}
				return
			}
			var list struct{ Campaigns []picture.Campaign }
			_, lb := func() (int, string) {
				resp := f.do(t, "GET", "/api/v1/campaigns?"+q.Encode(), f.tokens[c.viewer], nil)
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}()
			json.Unmarshal([]byte(lb), &list)
			for _, cp := range list.Campaigns {
				status, body := get(c.viewer, cp.ID, q)
				if status != http.StatusOK {
					t.Fatalf("%s opens its own campaign %s: %d %s", c.viewer, cp.ID, status, body)
				}
				if !strings.Contains(body, `"`+c.situation+`"`) {
					t.Errorf("%s opens %s without %s: %s", c.viewer, cp.ID, c.situation, body)
				}
				var got struct{ Situations []picture.Situation }
				json.Unmarshal([]byte(body), &got)
				for _, s := range got.Situations {
					if s.ID == "s-anon" && c.viewer != "admin" && s.Contributors[0].Name == "feed-a" {
						t.Errorf("%s: an opened campaign names the anonymised contributor: %s", c.viewer, body)
					}
				}
			}
		})
	}
	for _, c := range wsRequestCells {
		t.Run("request/"+c.rule, func(t *testing.T) {
			tok := c.token
			if c.viewer != "" {
				tok = f.tokens[c.viewer]
			}
			resp := f.do(t, "GET", "/api/v1/campaigns/campaign-s-green?"+c.view.Encode(), tok, nil)
			want := c.status
			if want == http.StatusSwitchingProtocols {
				want = http.StatusNotFound // allowed: the campaign is named after whichever member is oldest
			}
			if resp.StatusCode != want && !(want == http.StatusNotFound && resp.StatusCode == http.StatusOK) {
				t.Errorf("status %d, want %d", resp.StatusCode, want)
			}
		})
	}
}
