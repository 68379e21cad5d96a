package groundtruth

import "github.com/cidcc/cop/internal/picture"

// campaigns measures the condensed picture (picture.Condense: campaigns, standalone
// situations, background counts) against the truth: top-level items per true campaign
// and campaigns mixing true campaigns.
func (r *Report) campaigns(all []*picture.Situation, comps map[string]*composition, ids []string, cfg picture.CampaignConfig) {
	campaigns := len(ids)
	cd := picture.Condense(all, cfg)
	cs := cd.Campaigns
	r.COPCampaigns, r.Standalone, r.Background = len(cs), len(cd.Standalone), len(cd.Background)
	per := make([]map[string]bool, campaigns) // true campaign → the top-level items holding it
	for i := range per {
		per[i] = map[string]bool{}
	}
	items := map[string]map[int]int{} // item → true campaign → events
	item := func(sit, item string) {
		if comp := comps[sit]; comp != nil {
			for ci, n := range comp.campaigns {
				per[ci][item] = true
				if items[item] == nil {
					items[item] = map[int]int{}
				}
				items[item][ci] += n
			}
		}
	}
	mixed := 0
	inCampaign := map[string]bool{}
	for _, c := range cs {
		truth := map[int]bool{}
		for _, id := range c.Situations {
			inCampaign[id] = true
			item(id, c.ID)
			if comp := comps[id]; comp != nil {
				for ci := range comp.campaigns {
					truth[ci] = true
				}
			}
		}
		if len(truth) >= 2 {
			mixed++
		}
	}
	for _, id := range cd.Standalone {
		item(id, id)
	}
	standalone := map[string]bool{}
	for _, id := range cd.Standalone {
		standalone[id] = true
	}
	for _, s := range all {
		if !inCampaign[s.ID] && !standalone[s.ID] {
			k := "background " + first(s.Countries) + " " + first(s.Sectors)
			item(s.ID, k)
			if comp := comps[s.ID]; comp != nil && len(comp.campaigns) > 0 {
				r.CampaignInBackground++
			}
		}
	}
	r.TopLevel = cd.Items()
	r.detail(ids, items)
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

func first(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return xs[0]
}
