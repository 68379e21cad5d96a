package picture

import (
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/cidcc/cop/internal/event"
)

// Campaign is a group of situations linked on weaker evidence than a shared observable:
// the campaign its reports name, or infrastructure next to each other (the same IPv4 /24
// or IPv6 /48, the same registrable domain). It is what a commander's list shows as one item, each opening its situations.
type Campaign struct {
	// ID is the id of its oldest situation (first seen, then id), prefixed: stable while
	// that situation lives.
	ID    string `json:"id"`
	Title string `json:"title"`
	// Score and Severity are its best situation's; Situations lists its members, best first.
	Score      float64        `json:"score"`
	Severity   event.Severity `json:"severity"`
	Situations []string       `json:"situations"`
	// Members is how many situations it holds. Situations lists them all, except on the
	// websocket's bounded picture, which lists only those it sends (docs/websocket.md).
	Members int `json:"members"`
	// Links say why the situations are one campaign: each key that joined two or more.
	Links     []CampaignLink `json:"links"`
	Countries []string       `json:"countries,omitempty"`
	Sectors   []string       `json:"sectors,omitempty"`
}

// CampaignLink is one reason situations were grouped.
type CampaignLink struct {
	Kind       string `json:"kind"` // "campaign" (a name its reports give), "actor" (an actor's name and what it did), "malware" (a malware family's, the same way), "exploit" (a CVE and the sector it was exploited against), "deed" (what reports with nothing else to link on did, attachBare), "ipv4-24", "ipv6-48", "domain" or "pattern"
	Key        string `json:"key"`
	Situations int    `json:"situations"`
}

// CampaignConfig says which links group situations. The zero value is DefaultCampaigns.
type CampaignConfig struct {
	// NoSubnets, NoDomains and NoNames switch off linking on IP prefixes, on registrable
	// domains and on the campaign names reports give.
	NoSubnets, NoDomains, NoNames bool
	// NoActors switches off linking on an actor's stated name (threat actor or intrusion
	// set) with the same category, techniques and sector within ActorWindow.
	NoActors bool
	// NoDeeds leaves situations with nothing to link on in no campaign (attachBare).
	NoDeeds bool
	// NoExploits switches off linking on a CVE exploited against the same sector within
	// ActorWindow.
	NoExploits bool
	// Aliases name an actor's synonyms (nil: DefaultAliases); NoAliases compares actors'
	// names as given.
	Aliases   Aliases
	NoAliases bool
	// ActorWindow is the window of an actor link and of an exploit link (default
	// DefaultActorWindow).
	ActorWindow time.Duration
	// NoBackground keeps every situation in no campaign an item of its own (Condense).
	NoBackground bool
	// Common is the deployment's warning list (correlate.Config.Common): these
	// observables give no key at all (not their /24, /48 or registrable domain, nor a
	// URL's or an address's on them), so a public resolver's or a shortener's key does
	// not link before the hub cutoff is reached.
	Common []event.Observable
	// PatternWindow, where configured (0: off, the default), links situations of the same
	// category, the same techniques and a shared target sector first seen in the same
	// window (UTC, aligned to it). Off by default: on the held-out scenario it chains
	// local incidents of common patterns into one giant campaign (docs/quality.md).
	PatternWindow time.Duration
	// HubThreshold: a key shared by more situations than this is a hub (a public
	// resolver's /24, a CDN's or cloud's range, a shortener's domain) and links nothing,
	// as observables over the engine's hub threshold link no situations.
	HubThreshold int
}

// DefaultHubThreshold is CampaignConfig.HubThreshold's default.
const DefaultHubThreshold = 24

// DefaultActorWindow is CampaignConfig.ActorWindow's default: the same actor doing the
// same thing to the same sector within a week is one campaign.
const DefaultActorWindow = 7 * 24 * time.Hour

// DefaultPatternWindow is the window to configure for pattern links: a campaign's waves
// follow each other within hours; a day keeps two weeks' look-alikes apart.
const DefaultPatternWindow = 24 * time.Hour

// GroupCampaigns groups sits into campaigns; a situation linked to no other is in none.
// The result depends only on the set of situations given, not on their order, so every
// API instance computes the same campaigns from the same picture; callers pass only the
// situations a viewer may see, so a campaign never reveals one it may not.
func GroupCampaigns(sits []*Situation, cfg CampaignConfig) []Campaign {
	if cfg.HubThreshold <= 0 {
		cfg.HubThreshold = DefaultHubThreshold
	}
	if cfg.ActorWindow <= 0 {
		cfg.ActorWindow = DefaultActorWindow
	}
	switch {
	case cfg.NoAliases:
		cfg.Aliases = Aliases{}
	case cfg.Aliases == nil:
		cfg.Aliases = defaultAliases()
	}
	sorted := slices.Clone(sits)
	slices.SortFunc(sorted, func(a, b *Situation) int { return strings.Compare(a.ID, b.ID) })
	keys := make([][]CampaignLink, len(sorted))
	holders := map[CampaignLink][]int{}
	common := map[event.Observable]bool{}
	for _, o := range cfg.Common {
		common[o] = true
	}
	bare := make([]bool, len(sorted))
	for i, s := range sorted {
		keys[i] = campaignKeys(s, cfg, common)
		for _, k := range keys[i] {
			holders[k] = append(holders[k], i)
		}
		bare[i] = !slices.ContainsFunc(s.Observables, func(o event.Observable) bool { return !common[o] })
	}
	parent := make([]int, len(sorted))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(a, b int) {
		if a, b = find(a), find(b); a != b {
			parent[max(a, b)] = min(a, b)
		}
	}
	for k, hs := range holders {
		if k.Kind == "deed" || !linking(k, len(hs), cfg) {
			continue
		}
		for _, h := range hs[1:] {
			union(hs[0], h)
		}
	}
	used := attachBare(sorted, holders, bare, find, union)
	members := map[int][]int{}
	for i := range sorted {
		r := find(i)
		members[r] = append(members[r], i)
	}
	var out []Campaign
	for _, ms := range members {
		if len(ms) < 2 {
			continue
		}
		out = append(out, buildCampaign(sorted, ms, keys, holders, used, cfg))
	}
	slices.SortFunc(out, func(a, b Campaign) int {
		if a.Score != b.Score {
			if a.Score > b.Score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

func buildCampaign(sorted []*Situation, ms []int, keys [][]CampaignLink, holders map[CampaignLink][]int, used map[CampaignLink]bool, cfg CampaignConfig) Campaign {
	sits := make([]*Situation, len(ms))
	for i, m := range ms {
		sits[i] = sorted[m]
	}
	oldest := slices.MinFunc(sits, func(a, b *Situation) int {
		if c := a.FirstSeen.Compare(b.FirstSeen); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	slices.SortFunc(sits, func(a, b *Situation) int {
		if a.Score != b.Score {
			if a.Score > b.Score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	c := Campaign{ID: "campaign-" + oldest.ID, Title: sits[0].Title, Score: sits[0].Score, Severity: sits[0].Severity}
	in := map[int]bool{}
	for _, m := range ms {
		in[m] = true
	}
	links := map[CampaignLink]int{}
	for _, s := range sits {
		c.Situations = append(c.Situations, s.ID)
		c.Severity = max(c.Severity, s.Severity)
		c.Countries = appendNew(c.Countries, s.Countries)
		c.Sectors = appendNew(c.Sectors, s.Sectors)
	}
	for _, m := range ms {
		for _, k := range keys[m] {
			if hs := holders[k]; k.Kind == "deed" && used[k] || k.Kind != "deed" && linking(k, len(hs), cfg) {
				links[k] = len(hs)
			}
		}
	}
	c.Members = len(c.Situations)
	for k, n := range links {
		k.Situations = n
		c.Links = append(c.Links, k)
	}
	slices.SortFunc(c.Links, func(a, b CampaignLink) int {
		if a.Situations != b.Situations {
			return b.Situations - a.Situations
		}
		return strings.Compare(a.Kind+a.Key, b.Kind+b.Key)
	})
	if len(c.Links) > 8 {
		c.Links = c.Links[:8]
	}
	slices.Sort(c.Countries)
	slices.Sort(c.Sectors)
	return c
}

func appendNew(dst, xs []string) []string {
	for _, x := range xs {
		if !slices.Contains(dst, x) {
			dst = append(dst, x)
		}
	}
	return dst
}

// linking reports whether key k, held by n situations, links them: two at least, and
// for infrastructure no more than the hub cutoff. A campaign's name links however many
// situations give it: that is what the name says (an intrusion set's or an actor's does
// not: one runs several campaigns); so do an actor's deed, an exploit and a pattern,
// whose keys are already narrow (what was done, to which sector, in which window).
func linking(k CampaignLink, n int, cfg CampaignConfig) bool {
	return n >= 2 && (k.Kind == "campaign" || k.Kind == "actor" || k.Kind == "malware" || k.Kind == "exploit" || k.Kind == "pattern" || n <= cfg.HubThreshold)
}

// campaignKeys are the grouping keys of s's campaign names and observables, each once.
func campaignKeys(s *Situation, cfg CampaignConfig, common map[event.Observable]bool) []CampaignLink {
	var out []CampaignLink
	add := func(kind, key string) {
		if key == "" {
			return
		}
		k := CampaignLink{Kind: kind, Key: key}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	if !cfg.NoNames {
		for _, n := range s.Names {
			if n.Kind == "campaign" {
				add("campaign", n.Name)
			}
		}
	}
	if !cfg.NoExploits {
		// The same weakness exploited against the same sector within the actor window:
		// "CVE|sector|window start". A CVE alone links nothing (it does not identify:
		// event.ObservableType.Identifies), nor across sectors; the engine names a
		// situation's CVEs as names of kind "vulnerability".
		w := s.FirstSeen.UTC().Truncate(cfg.ActorWindow).Format(time.RFC3339)
		for _, n := range s.Names {
			if n.Kind == "vulnerability" {
				for _, sec := range s.Sectors {
					add("exploit", n.Name+"|"+sec+"|"+w)
				}
			}
		}
	}
	if s.Category != "" && (cfg.PatternWindow > 0 || !cfg.NoDeeds || !cfg.NoActors && !cfg.NoNames) {
		// What it did: "category|T1|T2|sector", for each of its sectors.
		techs := slices.Clone(s.Techniques)
		slices.Sort(techs)
		var did []string
		for _, sec := range s.Sectors {
			did = append(did, s.Category+"|"+strings.Join(techs, "|")+"|"+sec)
		}
		if !cfg.NoDeeds {
			// What it did in which day, for the reports with nothing to link on
			// (attachBare): "category|T1|T2|sector|day".
			w := s.FirstSeen.UTC().Truncate(DefaultPatternWindow).Format(time.RFC3339)
			for _, d := range did {
				add("deed", d+"|"+w)
			}
		}
		if cfg.PatternWindow > 0 && len(techs) > 0 {
			// The same category, the same techniques and a target sector, first seen in
			// the same window: "category|T1|T2|sector|window start".
			w := s.FirstSeen.UTC().Truncate(cfg.PatternWindow).Format(time.RFC3339)
			for _, d := range did {
				add("pattern", d+"|"+w)
			}
		}
		if !cfg.NoActors && !cfg.NoNames {
			// The same stated actor doing the same thing to the same sector within the
			// window: "actor name|category|T1|T2|sector|window start", the name as its
			// alias table has it. An actor's name alone links nothing (one actor runs
			// several campaigns).
			// A malware family's name links the same way (kind "malware"): one family
			// doing one thing to one sector in one week; a tool's does not (Cobalt Strike
			// is everyone's).
			w := s.FirstSeen.UTC().Truncate(cfg.ActorWindow).Format(time.RFC3339)
			for _, n := range s.Names {
				kind := "actor"
				switch n.Kind {
				case "threat-actor", "intrusion-set":
				case "malware":
					kind = "malware"
				default:
					continue
				}
				name := cfg.Aliases.Canonical(n.Name)
				for _, d := range did {
					add(kind, name+"|"+d+"|"+w)
				}
			}
		}
	}
	for _, o := range s.Observables {
		if common[o] {
			continue
		}
		switch o.Type {
		case event.ObsIPv4, event.ObsIPv6:
			if !cfg.NoSubnets {
				add(prefixKey(o.Value))
			}
		case event.ObsDomain:
			if !cfg.NoDomains {
				add("domain", registrable(o.Value))
			}
		case event.ObsURL:
			if u, err := url.Parse(o.Value); err == nil && !cfg.NoDomains {
				if a, err := netip.ParseAddr(u.Hostname()); err == nil {
					if common[event.Observable{Type: event.ObsIPv4, Value: a.String()}] || common[event.Observable{Type: event.ObsIPv6, Value: a.String()}] {
						continue
					}
					if !cfg.NoSubnets {
						add(prefixKey(u.Hostname()))
					}
				} else if !common[event.Observable{Type: event.ObsDomain, Value: strings.ToLower(u.Hostname())}] {
					add("domain", registrable(u.Hostname()))
				}
			}
		case event.ObsEmail:
			if at := strings.LastIndexByte(o.Value, '@'); at >= 0 && !cfg.NoDomains && !common[event.Observable{Type: event.ObsDomain, Value: strings.ToLower(o.Value[at+1:])}] {
				add("domain", registrable(o.Value[at+1:]))
			}
		}
	}
	return out
}

// prefixKey is the /24 of an IPv4 address or the /48 of an IPv6 one.
func prefixKey(ip string) (kind, key string) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "", ""
	}
	if a.Is4() || a.Is4In6() {
		p, _ := a.Unmap().Prefix(24)
		return "ipv4-24", p.String()
	}
	p, _ := a.Prefix(48)
	return "ipv6-48", p.String()
}

// registrable is host's registrable domain by the public suffix list, "" when it has none.
func registrable(host string) string {
	d, err := publicsuffix.EffectiveTLDPlusOne(strings.TrimSuffix(strings.ToLower(host), "."))
	if err != nil {
		return ""
	}
	return d
}

// attachBare groups the situations left alone by every other link that have no
// observable to link on (reports without indicators, or whose indicators are all hubs or
// on the warning list): by what they did, their "deed" key (the same category,
// techniques and sector in the same UTC day). Those sharing a deed are one group; the
// group joins the one campaign (situations linked by the other links) that did the same
// that day, and stays a group of its own when several did (it cannot say whose it is).
// A situation alone with observables of its own is no campaign to join (most are local
// incidents).
// Situations with observables are never joined to each other this way: a deed is too
// common to link evidence (the pattern link, CampaignConfig.PatternWindow, does that
// where configured). The components are read before any join, so the result does not
// depend on the order of the keys. It returns the deed keys that joined something.
func attachBare(sorted []*Situation, holders map[CampaignLink][]int, bare []bool, find func(int) int, union func(a, b int)) map[CampaignLink]bool {
	root := make([]int, len(sorted))
	size := map[int]int{}
	for i := range sorted {
		root[i] = find(i)
		size[root[i]]++
	}
	deeds := make([]int, len(sorted))
	for k, hs := range holders {
		if k.Kind == "deed" {
			for _, h := range hs {
				deeds[h]++
			}
		}
	}
	// Alone: bare, linked to nothing, and of one deed (a report of two sectors could
	// join two campaigns into one).
	alone := func(i int) bool { return bare[i] && size[root[i]] == 1 && deeds[i] == 1 }
	type join struct {
		k    CampaignLink
		a, b int
	}
	var joins []join
	for k, hs := range holders {
		if k.Kind != "deed" {
			continue
		}
		var lone []int
		targets := map[int]int{} // pass-one component → a member holding k
		for _, h := range hs {
			switch {
			case alone(h):
				lone = append(lone, h)
			case size[root[h]] >= 2:
				targets[root[h]] = h
			}
		}
		if len(lone) == 0 || len(lone) == 1 && len(targets) != 1 {
			continue
		}
		for _, h := range lone[1:] {
			joins = append(joins, join{k, lone[0], h})
		}
		if len(targets) == 1 {
			for _, t := range targets {
				joins = append(joins, join{k, lone[0], t})
			}
		}
	}
	used := map[CampaignLink]bool{}
	for _, j := range joins {
		union(j.a, j.b)
		used[j.k] = true
	}
	return used
}
