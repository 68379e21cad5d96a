package api

import (
	"net/http"
	"strings"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/picture"
)

// campaignsOf groups situations (already filtered and redacted for one viewer).
func campaignsOf(sits []picture.Situation, cfg picture.CampaignConfig) []picture.Campaign {
	ptrs := make([]*picture.Situation, len(sits))
	for i := range sits {
		ptrs[i] = &sits[i]
	}
	return picture.GroupCampaigns(ptrs, cfg)
}

// campaignConfig is the hub's campaign links (Hub.Campaigns), the same on every path.
func (s *Server) campaignConfig() picture.CampaignConfig {
	if s.Hub == nil {
		return picture.CampaignConfig{}
	}
	return s.Hub.Campaigns
}

// campaigns serves GET /api/v1/campaigns: the live picture's campaigns as the caller may
// see them, under the view its query names (mission, exercise, min_score, sector), best
// first, each with its situations and the links that made it.
func (s *Server) campaigns(w http.ResponseWriter, r *http.Request, id access.Identity) {
	q := r.URL.Query()
	v := access.View{Mission: strings.ToUpper(q.Get("mission")), Exercise: strings.ToUpper(q.Get("exercise")), Sectors: list(q, "sector")}
	status := http.StatusOK
	rows := 0
	defer func() { s.audit(r, id, "campaigns.list", uint64(rows), status) }()
	v = id.DefaultView(v) // as the websocket takes it
	if !id.AllowedExercise(v.Exercise) {
		status = s.fail(w, r, errForbiddenExercise)
		return
	}
	if !id.AllowedView(v) {
		status = s.fail(w, r, errForbiddenMission)
		return
	}
	f, err := situationFilter(q)
	if err != nil {
		status = s.fail(w, r, err)
		return
	}
	v.MinScore = f.MinScore
	all, _ := s.Picture.Snapshot()
	var visible []picture.Situation
	for _, st := range all {
		if id.SituationVisible(st, v, s.Missions) {
			visible = append(visible, s.Anon.Redact(&id, *st))
		}
	}
	ptrs := make([]*picture.Situation, len(visible))
	for i := range visible {
		ptrs[i] = &visible[i]
	}
	cd := picture.Condense(ptrs, s.campaignConfig())
	if cd.Campaigns == nil {
		cd.Campaigns = []picture.Campaign{}
	}
	rows = len(cd.Campaigns)
	writeJSON(w, http.StatusOK, map[string]any{"campaigns": cd.Campaigns, "situations": len(visible),
		"standalone": cd.Standalone, "background": cd.Background})
}
