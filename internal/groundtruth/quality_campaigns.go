package groundtruth

import "github.com/cidcc/cop/internal/picture"

// campaigns measures the grouping of all into campaigns (picture.GroupCampaigns) against
// the truth: top-level items per true campaign and campaigns mixing true campaigns.
func (r *Report) campaigns(all []*picture.Situation, comps map[string]*composition, campaigns int) {
	cs := picture.GroupCampaigns(all, picture.CampaignConfig{})
	r.COPCampaigns = len(cs)
	inCampaign := map[string]bool{}
	per := make([]map[string]bool, campaigns) // true campaign → the top-level items holding it
	for i := range per {
		per[i] = map[string]bool{}
	}
	mixed := 0
	for _, c := range cs {
		truth := map[int]bool{}
		for _, id := range c.Situations {
			inCampaign[id] = true
			if comp := comps[id]; comp != nil {
				for ci := range comp.campaigns {
					truth[ci] = true
					per[ci][c.ID] = true
				}
			}
		}
		if len(truth) >= 2 {
			mixed++
		}
	}
	r.TopLevel = len(cs)
	for _, s := range all {
		if inCampaign[s.ID] {
			continue
		}
		r.TopLevel++
		if comp := comps[s.ID]; comp != nil {
			for ci := range comp.campaigns {
				per[ci][s.ID] = true
			}
		}
	}
	sum, n := 0, 0
	for _, items := range per {
		if len(items) > 0 {
			n++
			sum += len(items)
			r.ItemFragmentationMax = max(r.ItemFragmentationMax, len(items))
		}
	}
	if n > 0 {
		r.ItemFragmentationMean = float64(sum) / float64(n)
	}
	if len(cs) > 0 {
		r.CampaignImpurity = float64(mixed) / float64(len(cs))
	}
}
