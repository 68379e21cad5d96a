package groundtruth

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/cidcc/cop/correlate"
	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/geo"
	"github.com/cidcc/cop/internal/keys"
	"github.com/cidcc/cop/internal/picture"
)

// Report holds the figures Measure takes of a picture. docs/quality.md says what each one
// means and what it should become.
type Report struct {
	Events     int
	Situations int // live at the end
	// Campaigns is how many true campaigns have events in the picture.
	Campaigns int
	// FragmentationMean and FragmentationMax are live situations per true campaign (a
	// situation counts for every campaign it holds events of).
	FragmentationMean float64
	FragmentationMax  int
	// Impurity is the share of situations holding campaign events that hold events of two
	// or more true campaigns; NoiseMixed the share of them that hold noise too.
	Impurity   float64
	NoiseMixed float64
	// MixedEvents is the share of campaign events that are in a situation mixing two true
	// campaigns or more: one giant situation is one situation, but most of the events.
	MixedEvents float64
	// Critical is the share of situations of severity critical, as the dashboard counts.
	Critical float64
	// DistinctTop20 is how many different scores (to the 0.1 the dashboard shows) the 20
	// best situations have; TiesAtTop how many situations share the best score.
	DistinctTop20 int
	TiesAtTop     int
	// Top20 are the 20 best scores (WriteDetail).
	Top20     []float64
	Precision []Precision
	// ListPrecision is precision@10 of each commander view's condensed list
	// (quality_list.go).
	ListPrecision []Precision
	Snapshots     []Snapshot
	cfg           picture.CampaignConfig
	// COPCampaigns is how many campaigns picture.GroupCampaigns makes of the whole picture;
	// TopLevel how many items a list of it shows: campaigns, and situations in none.
	COPCampaigns, TopLevel int
	// ItemFragmentationMean and Max are top-level items per true campaign; CampaignImpurity
	// the share of COP campaigns holding events of two or more true campaigns.
	ItemFragmentationMean float64
	ItemFragmentationMax  int
	CampaignImpurity      float64
	// Standalone and Background are the top-level items that are situations in no
	// campaign and background counts (picture.Condense); CampaignInBackground how many
	// situations holding campaign events were folded into background counts.
	Standalone, Background, CampaignInBackground int
	// Detail is where each true campaign's events ended up, and Tops the ten best
	// situations of each commander's view (WriteDetail).
	Detail []TrueDetail
	Tops   []Top
}

// SituationsPer1k is live situations per 1,000 events.
func (r *Report) SituationsPer1k() float64 { return per1k(r.Situations, r.Events) }

// TopLevelPer1k is the items a commander's list starts from, per 1,000 events: campaigns
// and situations in no campaign. COP builds no campaigns yet, so it is every situation.
func (r *Report) TopLevelPer1k() float64 { return per1k(r.TopLevel, r.Events) }

// MinPrecision is the lowest precision@10 of any commander's view (0 if none).
func (r *Report) MinPrecision() float64 {
	if len(r.Precision) == 0 {
		return 0
	}
	m := math.Inf(1)
	for _, p := range r.Precision {
		m = min(m, p.At10)
	}
	return m
}

// Precision is precision@10 of one commander's view of one of its missions: the share of
// the ten best situations of the view (in the view's order: access.CompareRanked) (fewer if it holds fewer) whose majority campaign is
// in the view's true top ten, the true campaigns touching the mission's area or sectors,
// most severe first. A situation of noise only is a miss; an empty view scores 0.
type Precision struct {
	Viewer, Mission string
	At10            float64
	// Shown is how many situations the top ten held; Relevant how many true campaigns
	// touch the mission (the true top ten is the first ten of them).
	Shown, Relevant int
}

// Snapshot is the size of the websocket snapshot a viewer would get: the JSON of the
// situations visible in its view, redacted for it.
type Snapshot struct {
	Viewer, Mission string
	Situations      int
	Bytes           int
}

// Measure runs a fresh engine (correlate.DefaultConfig) over events in arrival order, in
// batches of batch events at simulated processing time (the last arrival of each batch),
// and measures the final picture against truth and the views of viewers: commanders take
// one view per mission, other roles the whole picture.
func Measure(events []event.Event, truth Truth, viewers []access.Identity, batch int) Report {
	return MeasureWith(events, truth, viewers, batch, MeasureOptions{})
}

// MeasureOptions are what MeasureWith may change of the picture it measures.
type MeasureOptions struct {
	// Campaigns are the campaign links (every link kind can be switched off;
	// docs/quality.md).
	Campaigns picture.CampaignConfig
	// Common, when set, is the warning list (correlate.Config.Common, and
	// picture.CampaignConfig.Common unless Campaigns sets one): the observables that never
	// link, as a deployment with MISP's warning lists has them, and as the demo runs.
	Common []event.Observable
}

// MeasureWith is Measure with the options o.
func MeasureWith(events []event.Event, truth Truth, viewers []access.Identity, batch int, o MeasureOptions) Report {
	r, _ := MeasurePicture(events, truth, viewers, batch, o)
	return r
}

// MeasurePicture is MeasureWith, and returns the final picture too, best score first (cop
// bench quality measures the websocket's snapshots of it).
func MeasurePicture(events []event.Event, truth Truth, viewers []access.Identity, batch int, o MeasureOptions) (Report, []*picture.Situation) {
	cfg := o.Campaigns
	if cfg.Common == nil {
		cfg.Common = o.Common // the same warning list above situations as in the engine
	}
	batch = max(1, batch)
	index := make(map[string]int, len(truth.Campaigns))
	for i, c := range truth.Campaigns {
		index[c.ID] = i
	}
	live, sitOf, merged := run(events, batch, o.Common)
	comps := map[string]*composition{}
	for i, id := range sitOf {
		for merged[id] != "" {
			id = merged[id]
		}
		if _, ok := live[id]; !ok {
			continue // an exact redelivery, or retired
		}
		c := comps[id]
		if c == nil {
			c = &composition{campaigns: map[int]int{}}
			comps[id] = c
		}
		l, ok := truth.Labels[events[i].ID]
		if !ok {
			continue // not in the truth table: not measured
		}
		if l.Noise {
			c.noise++
		} else {
			c.campaigns[index[l.Campaign]]++
		}
	}
	r := Report{Events: len(events), Situations: len(live), cfg: cfg}
	r.grouping(comps, len(truth.Campaigns))
	all := make([]*picture.Situation, 0, len(live))
	for _, s := range live {
		all = append(all, s)
	}
	sortByScore(all)
	r.ranking(all)
	r.views(all, comps, truth.Campaigns, viewers)
	ids := make([]string, len(truth.Campaigns))
	for i, c := range truth.Campaigns {
		ids[i] = c.ID
	}
	r.campaigns(all, comps, ids, cfg)
	return r, all
}

// views measures each viewer's views of all: snapshot bytes, and precision@10 for
// commanders, each view in its own order (relevance to its mission, access.Ranked).
func (r *Report) views(all []*picture.Situation, comps map[string]*composition, cs []Campaign, viewers []access.Identity) {
	anon := access.Anonymiser{Keys: keys.Fixed(keys.Set{IDs: keys.Key{Secret: []byte("quality")}, Pseudonyms: keys.Key{Secret: []byte("quality")}})}
	missions := access.DefaultMissions()
	for _, id := range viewers {
		views := []access.View{{}}
		if id.Role == access.RoleCommander {
			views = views[:0]
			for _, m := range id.Missions {
				views = append(views, access.View{Mission: m})
			}
		}
		for _, v := range views {
			shown := []picture.Situation{} // "[]" when empty, as the websocket sends it
			for _, s := range all {
				if id.SituationVisible(s, v, missions) {
					shown = append(shown, anon.Redact(&id, *s))
					missions.Ranked(v, &shown[len(shown)-1])
				}
			}
			// The view's order, as the websocket snapshot sends it (access.CompareRanked).
			slices.SortFunc(shown, func(a, b picture.Situation) int { return access.CompareRanked(&a, &b) })
			var top []*picture.Situation
			for i := range shown[:min(10, len(shown))] {
				top = append(top, &shown[i])
			}
			b, _ := json.Marshal(shown)
			r.Snapshots = append(r.Snapshots, Snapshot{Viewer: id.Name, Mission: v.Mission, Situations: len(shown), Bytes: len(b)})
			if id.Role == access.RoleCommander {
				r.Precision = append(r.Precision, precision(id.Name, missions[v.Mission], top, comps, cs))
				r.tops(id.Name, v.Mission, top, comps, cs)
				r.ListPrecision = append(r.ListPrecision, listPrecision(id.Name, missions[v.Mission], shown, comps, cs, r.cfg))
			}
		}
	}
}

// run applies events to a fresh engine and returns the live situations at the end, the
// situation each event was stored under ("" for an exact redelivery), and which absorbed
// situation merged into which.
func run(events []event.Event, batch int, common []event.Observable) (live map[string]*picture.Situation, sitOf []string, merged map[string]string) {
	ecfg := correlate.DefaultConfig()
	ecfg.Common = common
	e := correlate.New(ecfg)
	live, merged = map[string]*picture.Situation{}, map[string]string{}
	sitOf = make([]string, 0, len(events))
	for i := 0; i < len(events); i += batch {
		b := events[i:min(i+batch, len(events))]
		res := e.Apply(b, b[len(b)-1].ReceivedAt)
		for _, st := range res.Events {
			sitOf = append(sitOf, st.SituationID)
		}
		for _, d := range e.Deltas() {
			if d.Removed {
				delete(live, d.Situation.ID)
				if d.MergedInto != "" {
					merged[d.Situation.ID] = d.MergedInto
				}
				continue
			}
			live[d.Situation.ID] = clone(&d.Situation)
		}
	}
	return live, sitOf, merged
}

// clone copies s out of the engine's reused delta buffers.
func clone(s *picture.Situation) *picture.Situation {
	c := *s
	c.Contributors = slices.Clone(s.Contributors)
	c.Countries = slices.Clone(s.Countries)
	c.Sectors = slices.Clone(s.Sectors)
	c.Techniques = slices.Clone(s.Techniques)
	c.ReleasableTo = slices.Clone(s.ReleasableTo)
	c.Observables = slices.Clone(s.Observables)
	c.EventIDs = slices.Clone(s.EventIDs)
	if s.Geo != nil {
		g := *s.Geo
		c.Geo = &g
	}
	return &c
}

// grouping measures how situations group the truth: fragmentation and impurity.
func (r *Report) grouping(comps map[string]*composition, campaigns int) {
	per := make([]int, campaigns)
	withCampaign, mixed, noisy := 0, 0, 0
	campaignEvents, mixedEvents := 0, 0
	for _, c := range comps {
		n := 0
		for ci, k := range c.campaigns {
			per[ci]++
			n += k
		}
		campaignEvents += n
		if len(c.campaigns) == 0 {
			continue
		}
		withCampaign++
		if len(c.campaigns) >= 2 {
			mixed++
			mixedEvents += n
		}
		if c.noise > 0 {
			noisy++
		}
	}
	sum := 0
	for _, n := range per {
		if n > 0 {
			r.Campaigns++
			sum += n
			r.FragmentationMax = max(r.FragmentationMax, n)
		}
	}
	if r.Campaigns > 0 {
		r.FragmentationMean = float64(sum) / float64(r.Campaigns)
	}
	if campaignEvents > 0 {
		r.MixedEvents = float64(mixedEvents) / float64(campaignEvents)
	}
	if withCampaign > 0 {
		r.Impurity = float64(mixed) / float64(withCampaign)
		r.NoiseMixed = float64(noisy) / float64(withCampaign)
	}
}

// ranking measures the score: share critical, distinct scores at the top, ties. all is
// sorted best first.
func (r *Report) ranking(all []*picture.Situation) {
	critical := 0
	for _, s := range all {
		if s.Severity == event.SeverityCritical {
			critical++
		}
	}
	if len(all) > 0 {
		r.Critical = float64(critical) / float64(len(all))
	}
	distinct := map[int64]bool{}
	for _, s := range all[:min(20, len(all))] {
		distinct[shown(s.Score)] = true
		r.Top20 = append(r.Top20, s.Score)
	}
	r.DistinctTop20 = len(distinct)
	for _, s := range all {
		if len(all) > 0 && shown(s.Score) == shown(all[0].Score) {
			r.TiesAtTop++
		}
	}
}

// shown is a score as the dashboard shows it, to 0.1.
func shown(score float64) int64 { return int64(math.Round(score * 10)) }

// sortByScore orders situations as the websocket snapshot does: best score first, then id.
func sortByScore(all []*picture.Situation) {
	slices.SortFunc(all, func(a, b *picture.Situation) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// precision is precision@10 of a commander's view of mission m (see Precision).
func precision(viewer string, m access.Mission, top []*picture.Situation, comps map[string]*composition, cs []Campaign) Precision {
	var relevant []int
	for i := range cs {
		if touches(m, &cs[i]) {
			relevant = append(relevant, i)
		}
	}
	slices.SortFunc(relevant, func(a, b int) int { return cmp.Compare(cs[a].Rank, cs[b].Rank) })
	want := relevant[:min(10, len(relevant))]
	p := Precision{Viewer: viewer, Mission: m.Name, Shown: len(top), Relevant: len(relevant)}
	hits := 0
	for _, s := range top {
		if ci, ok := comps[s.ID].majority(); ok && slices.Contains(want, ci) {
			hits++
		}
	}
	if len(top) > 0 {
		p.At10 = float64(hits) / float64(len(top))
	}
	return p
}

// touches reports whether campaign c targets mission m's area (a country, or a country
// whose place is inside one of its boxes) or one of its sectors.
func touches(m access.Mission, c *Campaign) bool {
	for _, country := range c.Countries {
		if slices.Contains(m.Countries, country) {
			return true
		}
		p, ok := geo.Lookup(country)
		for _, b := range m.Boxes {
			if ok && p.Lat >= b.South && p.Lat <= b.North && p.Lon >= b.West && p.Lon <= b.East {
				return true
			}
		}
	}
	for _, s := range c.Sectors {
		if slices.Contains(m.Sectors, s) {
			return true
		}
	}
	return false
}

// composition is what a live situation holds of the truth.
type composition struct {
	campaigns map[int]int // campaign index -> events
	noise     int
}

// majority is the campaign most of c's events belong to (the lowest index on a tie), or
// false for a situation of noise only.
func (c *composition) majority() (int, bool) {
	if c == nil {
		return 0, false
	}
	best, n := -1, 0
	for ci, k := range c.campaigns {
		if k > n || k == n && ci < best {
			best, n = ci, k
		}
	}
	return best, best >= 0
}

func per1k(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 1000 * float64(n) / float64(of)
}

// WriteTable prints r as one table: figure, value, and what issue 16 asks of it.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	row := func(name, value, target string) { fmt.Fprintf(&b, "%-66s %14s  %s\n", name, value, target) }
	pct := func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }
	row("figure", "value", "target")
	row("events", fmt.Sprint(r.Events), "")
	row("situations", fmt.Sprint(r.Situations), "")
	row("situations per 1,000 events", fmt.Sprintf("%.1f", r.SituationsPer1k()), "")
	row("true campaigns", fmt.Sprint(r.Campaigns), "")
	row("COP campaigns (picture.GroupCampaigns)", fmt.Sprint(r.COPCampaigns), "")
	row("standalone situations (in no campaign, high+ or corroborated)", fmt.Sprint(r.Standalone), "")
	row("background counts (country x sector)", fmt.Sprint(r.Background), "")
	row("situations with campaign events folded into background", fmt.Sprint(r.CampaignInBackground), "")
	row("fragmentation: top-level items per true campaign, mean", fmt.Sprintf("%.1f", r.ItemFragmentationMean), "<= 2")
	row("fragmentation: top-level items per true campaign, max", fmt.Sprint(r.ItemFragmentationMax), "")
	row("impurity: COP campaigns mixing >= 2 true campaigns", pct(r.CampaignImpurity), "<= 5%")
	row("fragmentation: situations per true campaign, mean", fmt.Sprintf("%.1f", r.FragmentationMean), "<= 2 COP campaigns")
	row("fragmentation: situations per true campaign, max", fmt.Sprint(r.FragmentationMax), "")
	row("impurity: situations mixing >= 2 true campaigns", pct(r.Impurity), "<= 5%")
	row("campaign situations holding noise too", pct(r.NoiseMixed), "")
	row("campaign events in situations mixing >= 2 true campaigns", pct(r.MixedEvents), "")
	row("top-level items per 1,000 events (campaigns + situations in none)", fmt.Sprintf("%.1f", r.TopLevelPer1k()), "<= 50")
	row("critical (severity critical)", pct(r.Critical), "<= 5%")
	row("distinct scores in the top 20", fmt.Sprint(r.DistinctTop20), ">= 15")
	row("ties at the top score", fmt.Sprint(r.TiesAtTop), "")
	for _, p := range r.Precision {
		row("precision@10 "+p.Viewer+" "+p.Mission, fmt.Sprintf("%.2f", p.At10),
			fmt.Sprintf(">= 0.9 (%d shown, %d true campaigns touch it)", p.Shown, p.Relevant))
	}
	for _, p := range r.ListPrecision {
		row("precision@10 of the list "+p.Viewer+" "+p.Mission, fmt.Sprintf("%.2f", p.At10),
			fmt.Sprintf("(%d items ranked, %d true campaigns in the view)", p.Shown, p.Relevant))
	}
	for _, s := range r.Snapshots {
		view := s.Mission
		if view == "" {
			view = "(all)"
		}
		target := fmt.Sprintf("%d situations", s.Situations)
		if s.Viewer == "admin" {
			target += "; <= 1 MB"
		}
		row("snapshot bytes "+s.Viewer+" "+view, fmt.Sprint(s.Bytes), target)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
