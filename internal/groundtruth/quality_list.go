package groundtruth

import (
	"cmp"
	"slices"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/picture"
)

// listPrecision is precision@10 of the list a commander's view starts from
// (picture.Condense over the situations the view shows): its items — campaigns,
// standalone situations, background counts — in the view's order (an item ranks as its
// best member: access.CompareRanked), each belonging to the true campaign most of its
// events belong to. A hit is an item whose campaign is among the view's true top ten and
// not already hit (a second item of one campaign is a fragment, a miss). The first k
// items count, k = min(10, items, true campaigns with events in the view): a view that
// can show three true campaigns is judged on its first three items. Relevant in the
// result is that last count.
func listPrecision(viewer string, m access.Mission, shown []picture.Situation, comps map[string]*composition, cs []Campaign, cfg picture.CampaignConfig) Precision {
	ptrs := make([]*picture.Situation, len(shown))
	byID := map[string]*picture.Situation{}
	for i := range shown {
		ptrs[i] = &shown[i]
		byID[shown[i].ID] = &shown[i]
	}
	cd := picture.Condense(ptrs, cfg)
	type item struct {
		best    *picture.Situation
		members []string
	}
	var items []item
	placed := map[string]bool{}
	add := func(ids []string) {
		it := item{members: ids}
		for _, id := range ids {
			placed[id] = true
			if s := byID[id]; it.best == nil || access.CompareRanked(s, it.best) < 0 {
				it.best = s
			}
		}
		items = append(items, it)
	}
	for _, c := range cd.Campaigns {
		add(c.Situations)
	}
	for _, id := range cd.Standalone {
		add([]string{id})
	}
	buckets := map[[2]string][]string{}
	for _, s := range ptrs {
		if !placed[s.ID] {
			k := [2]string{first(s.Countries), first(s.Sectors)}
			buckets[k] = append(buckets[k], s.ID)
		}
	}
	for _, ids := range buckets {
		add(ids)
	}
	slices.SortFunc(items, func(a, b item) int { return access.CompareRanked(a.best, b.best) })

	var relevant []int
	for i := range cs {
		if touches(m, &cs[i]) {
			relevant = append(relevant, i)
		}
	}
	slices.SortFunc(relevant, func(a, b int) int { return cmp.Compare(cs[a].Rank, cs[b].Rank) })
	want := relevant[:min(10, len(relevant))]
	inView := map[int]bool{}
	for _, s := range ptrs {
		if c := comps[s.ID]; c != nil {
			for ci := range c.campaigns {
				if slices.Contains(want, ci) {
					inView[ci] = true
				}
			}
		}
	}
	k := min(10, len(items), len(inView))
	p := Precision{Viewer: viewer, Mission: m.Name, Shown: k, Relevant: len(inView)}
	if k == 0 {
		return p
	}
	hit := map[int]bool{}
	for _, it := range items[:k] {
		agg := &composition{campaigns: map[int]int{}}
		for _, id := range it.members {
			if c := comps[id]; c != nil {
				for ci, n := range c.campaigns {
					agg.campaigns[ci] += n
				}
			}
		}
		if ci, ok := agg.majority(); ok && slices.Contains(want, ci) && !hit[ci] {
			hit[ci] = true
		}
	}
	p.At10 = float64(len(hit)) / float64(k)
	return p
}
