package api

import (
	"net/http"
	"slices"
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
	rows := 0
	v, status := s.campaignView(w, r, id)
	defer func() { s.audit(r, id, "campaigns.list", uint64(rows), status) }()
	if status != http.StatusOK {
		return
	}
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

// campaignView is the view a campaigns request names (mission, exercise, sector,
// min_score), as the websocket takes it, and 200; or the status of the refusal written
// when id may not take it.
func (s *Server) campaignView(w http.ResponseWriter, r *http.Request, id access.Identity) (access.View, int) {
	q := r.URL.Query()
	v := id.DefaultView(access.View{Mission: strings.ToUpper(q.Get("mission")), Exercise: strings.ToUpper(q.Get("exercise")), Sectors: list(q, "sector")})
	if !id.AllowedExercise(v.Exercise) {
		return v, s.fail(w, r, errForbiddenExercise)
	}
	if !id.AllowedView(v) {
		return v, s.fail(w, r, errForbiddenMission)
	}
	f, err := situationFilter(q)
	if err != nil {
		return v, s.fail(w, r, err)
	}
	v.MinScore = f.MinScore
	return v, http.StatusOK
}

// campaign serves GET /api/v1/campaigns/{id}: one campaign of the live picture as the
// caller may see it under the view its query names, with its member situations
// (redacted, ranked for the view, best first): what the bounded websocket picture opens
// a campaign with when it holds only some of its situations.
func (s *Server) campaign(w http.ResponseWriter, r *http.Request, id access.Identity) {
	rows := 0
	v, status := s.campaignView(w, r, id)
	defer func() { s.audit(r, id, "campaigns.get", uint64(rows), status) }()
	if status != http.StatusOK {
		return
	}
	all, _ := s.Picture.Snapshot()
	var visible []*picture.Situation
	for _, st := range all {
		if id.SituationVisible(st, v, s.Missions) {
			visible = append(visible, st)
		}
	}
	want := r.PathValue("id")
	for _, c := range picture.GroupCampaigns(visible, s.campaignConfig()) {
		if c.ID != want {
			continue
		}
		byID := make(map[string]*picture.Situation, len(visible))
		for _, st := range visible {
			byID[st.ID] = st
		}
		out := make([]picture.Situation, 0, len(c.Situations))
		for _, sid := range c.Situations {
			out = append(out, s.Anon.Redact(&id, *byID[sid]))
			s.Missions.Ranked(v, &out[len(out)-1])
		}
		slices.SortFunc(out, func(a, b picture.Situation) int { return access.CompareRanked(&a, &b) })
		rows = len(out)
		writeJSON(w, http.StatusOK, map[string]any{"campaign": c, "situations": out})
		return
	}
	// The same answer whether it does not exist or may not be seen.
	status = http.StatusNotFound
	writeError(w, status, "not_found", "no campaign "+want+" in this identity's view")
}
