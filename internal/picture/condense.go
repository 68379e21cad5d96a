package picture

import (
	"cmp"
	"slices"
	"strings"

	"github.com/cidcc/cop/internal/event"
)

// Condensed is what a commander's list starts from (docs/quality.md, "What the list
// shows"): campaigns, the situations in no campaign that stand on their own, and
// background counts for the rest.
type Condensed struct {
	Campaigns []Campaign `json:"campaigns"`
	// Standalone are the situations in no campaign that are shown as items of their own:
	// high or critical, or corroborated by two contributors or more. Best first.
	Standalone []string `json:"standalone"`
	// Background counts the other situations in no campaign — low or medium, one
	// contributor, linked to nothing: local incidents, and events whose observables are
	// all hubs or none that can link — per country and sector. Sorted by country, sector.
	Background []BackgroundCount `json:"background"`
}

// BackgroundCount is how many background situations one country and sector hold.
type BackgroundCount struct {
	Country    string         `json:"country"` // "" when the situation names none
	Sector     string         `json:"sector"`  // "" when it names none
	Situations int            `json:"situations"`
	Events     int            `json:"events"`
	Severity   event.Severity `json:"severity"` // the highest among them
	// Best is the id of the best-scoring of them (the bucket's example).
	Best string `json:"best"`
	// best is Best's score, kept to choose it.
	best float64
}

// Items is how many items a list of c shows: one per campaign, standalone situation and
// background count.
func (c *Condensed) Items() int { return len(c.Campaigns) + len(c.Standalone) + len(c.Background) }

// Condense groups sits into campaigns (GroupCampaigns) and sorts the situations in no
// campaign into standalone items and background counts; cfg.NoBackground keeps every
// situation in no campaign an item of its own. Like GroupCampaigns it depends only on the
// set of situations given, not their order. A background situation counts under its first
// country and first sector (the engine keeps them sorted), so each counts once.
func Condense(sits []*Situation, cfg CampaignConfig) Condensed {
	out := Condensed{Campaigns: GroupCampaigns(sits, cfg), Standalone: []string{}, Background: []BackgroundCount{}}
	in := map[string]bool{}
	for _, c := range out.Campaigns {
		for _, id := range c.Situations {
			in[id] = true
		}
	}
	var alone []*Situation
	buckets := map[[2]string]*BackgroundCount{}
	for _, s := range sits {
		if in[s.ID] {
			continue
		}
		if cfg.NoBackground || s.Severity >= event.SeverityHigh || len(s.Contributors) >= 2 {
			alone = append(alone, s)
			continue
		}
		k := [2]string{first(s.Countries), first(s.Sectors)}
		b := buckets[k]
		if b == nil {
			b = &BackgroundCount{Country: k[0], Sector: k[1]}
			buckets[k] = b
		}
		b.Situations++
		b.Events += s.EventCount
		b.Severity = max(b.Severity, s.Severity)
		if b.Best == "" || s.Score > b.best || s.Score == b.best && s.ID < b.Best {
			b.Best, b.best = s.ID, s.Score
		}
	}
	slices.SortFunc(alone, func(a, b *Situation) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for _, s := range alone {
		out.Standalone = append(out.Standalone, s.ID)
	}
	for _, b := range buckets {
		out.Background = append(out.Background, *b)
	}
	slices.SortFunc(out.Background, func(a, b BackgroundCount) int {
		return cmp.Or(strings.Compare(a.Country, b.Country), strings.Compare(a.Sector, b.Sector))
	})
	return out
}

func first(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return xs[0]
}
