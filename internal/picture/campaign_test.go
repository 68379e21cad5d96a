package picture

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/event"
)

func sit(id string, score float64, obs ...event.Observable) *Situation {
	return &Situation{ID: id, Score: score, Title: "t " + id, Observables: obs, FirstSeen: time.Unix(int64(len(id)), 0)}
}

func ipv4(v string) event.Observable { return event.Observable{Type: event.ObsIPv4, Value: v} }
func dom(v string) event.Observable  { return event.Observable{Type: event.ObsDomain, Value: v} }

func TestCampaignsGroupNeighbouringInfrastructureAndSayWhy(t *testing.T) {
	sits := []*Situation{
		sit("a", 50, ipv4("198.51.100.7")),
		sit("b", 70, ipv4("198.51.100.9"), dom("login.badcorp.example.co.uk")),
		sit("c", 20, dom("mail.badcorp.example.co.uk")), // same registrable domain as b
		sit("d", 90, ipv4("203.0.113.5")),               // alone
		sit("e", 10, event.Observable{Type: event.ObsURL, Value: "https://cdn.other.example/x"}),
		sit("f", 15, event.Observable{Type: event.ObsEmail, Value: "ops@other.example"}),
	}
	cs := GroupCampaigns(sits, CampaignConfig{})
	if len(cs) != 2 {
		t.Fatalf("got %d campaigns, want 2: %+v", len(cs), cs)
	}
	if got := cs[0].Situations; !reflect.DeepEqual(got, []string{"b", "a", "c"}) {
		t.Errorf("first campaign %v, want b, a, c (best first)", got)
	}
	if cs[0].Score != 70 || cs[0].Title != "t b" {
		t.Errorf("campaign takes its best situation's score and title: %+v", cs[0])
	}
	links := map[string]bool{}
	for _, l := range cs[0].Links {
		links[l.Kind+" "+l.Key] = true
	}
	if !links["ipv4-24 198.51.100.0/24"] || !links["domain example.co.uk"] && !links["domain badcorp.example.co.uk"] {
		t.Errorf("links %+v do not say why", cs[0].Links)
	}
	if got := cs[1].Situations; !reflect.DeepEqual(got, []string{"f", "e"}) {
		t.Errorf("second campaign %v, want f, e (a URL's and an email's registrable domain)", got)
	}
	if cs := GroupCampaigns(sits, CampaignConfig{NoSubnets: true, NoDomains: true}); len(cs) != 0 {
		t.Errorf("with every link switched off: %d campaigns", len(cs))
	}
	if cs := GroupCampaigns(sits, CampaignConfig{NoDomains: true}); len(cs) != 1 || len(cs[0].Situations) != 2 {
		t.Errorf("subnets only: %+v", cs)
	}
}

func TestHubKeysLinkNothing(t *testing.T) {
	var sits []*Situation
	for i := range DefaultHubThreshold + 1 { // one more than the cutoff share 8.8.8.0/24
		sits = append(sits, sit(fmt.Sprint("s", i), 1, ipv4(fmt.Sprintf("8.8.8.%d", i))))
	}
	if cs := GroupCampaigns(sits, CampaignConfig{}); len(cs) != 0 {
		t.Errorf("a /24 shared by %d situations glued %d campaigns", len(sits), len(cs))
	}
	if cs := GroupCampaigns(sits[:DefaultHubThreshold], CampaignConfig{}); len(cs) != 1 {
		t.Errorf("%d situations at the cutoff: %d campaigns, want 1", DefaultHubThreshold, len(cs))
	}
}

func TestCampaignsDoNotDependOnOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var sits []*Situation
	for i := range 300 {
		sits = append(sits, sit(fmt.Sprintf("s%03d", i), float64(r.IntN(100)),
			ipv4(fmt.Sprintf("10.%d.%d.1", r.IntN(3), r.IntN(40))), dom(fmt.Sprintf("h%d.d%d.example", i, r.IntN(60)))))
	}
	want := GroupCampaigns(sits, CampaignConfig{})
	for range 5 {
		r.Shuffle(len(sits), func(i, j int) { sits[i], sits[j] = sits[j], sits[i] })
		if got := GroupCampaigns(sits, CampaignConfig{}); !reflect.DeepEqual(got, want) {
			t.Fatal("campaigns changed with the order of the situations")
		}
	}
}

// A campaign's name links however many situations give it; an actor's links none (an
// actor runs several campaigns), and infrastructure past the hub cutoff links none.
func TestCampaignNamesLinkPastTheHubCutoffActorsDoNot(t *testing.T) {
	var sits []*Situation
	for i := range DefaultHubThreshold + 10 {
		s := sit(fmt.Sprintf("s%02d", i), 1, ipv4(fmt.Sprintf("10.%d.0.1", i)))
		s.Names = []event.Name{{Kind: "threat-actor", Name: "volt marten"}}
		if i%2 == 0 {
			s.Names = append(s.Names, event.Name{Kind: "campaign", Name: "gridlock"})
		}
		sits = append(sits, s)
	}
	cs := GroupCampaigns(sits, CampaignConfig{})
	if len(cs) != 1 || len(cs[0].Situations) != (DefaultHubThreshold+10+1)/2 || cs[0].Links[0].Kind != "campaign" {
		t.Fatalf("campaigns %+v: want one of the %d situations naming gridlock, linked by its name", cs, (DefaultHubThreshold+10+1)/2)
	}
	if cs := GroupCampaigns(sits, CampaignConfig{NoNames: true}); len(cs) != 0 {
		t.Errorf("with names switched off: %d campaigns", len(cs))
	}
}

// patterned is a situation with a category, sectors and techniques, and a file hash of
// its own (evidence that links nothing, so it is not grouped by deed: attachBare).
func patterned(id string, cat string, first time.Time, sectors []string, techs ...string) *Situation {
	sum := sha256.Sum256([]byte(id))
	s := sit(id, float64(len(id)), event.Observable{Type: event.ObsSHA256, Value: hex.EncodeToString(sum[:])})
	s.Category, s.Techniques, s.Sectors, s.FirstSeen = cat, techs, sectors, first
	return s
}

// Issue 16: "same category + technique + target sector within a window" links, says so,
// and can be switched off; a different technique set, sector or window does not link.
func TestPatternLinksSameCategoryTechniquesSectorWithinWindow(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	sits := []*Situation{
		patterned("a", "availability/sabotage", t0, []string{"energy"}, "T1485", "T1561.002"),
		patterned("b", "availability/sabotage", t0.Add(3*time.Hour), []string{"energy"}, "T1561.002", "T1485"),
		patterned("c", "availability/sabotage", t0, []string{"energy"}, "T1485"),                                // other techniques
		patterned("d", "availability/sabotage", t0, []string{"health"}, "T1485", "T1561.002"),                   // other sector
		patterned("e", "availability/sabotage", t0.Add(30*time.Hour), []string{"energy"}, "T1485", "T1561.002"), // next window
		patterned("f", "availability/sabotage", t0, []string{"energy"}),                                         // no technique: no pattern
	}
	cs := GroupCampaigns(sits, CampaignConfig{PatternWindow: DefaultPatternWindow})
	if len(cs) != 1 || !reflect.DeepEqual(cs[0].Situations, []string{"a", "b"}) {
		t.Fatalf("campaigns %+v: want a and b", cs)
	}
	if l := cs[0].Links; len(l) != 1 || l[0].Kind != "pattern" || l[0].Key != "availability/sabotage|T1485|T1561.002|energy|2026-01-05T00:00:00Z" {
		t.Errorf("links %+v do not say why", l)
	}
	if cs := GroupCampaigns(sits, CampaignConfig{}); len(cs) != 0 {
		t.Errorf("patterns are off unless configured: %+v", cs)
	}
	if cs := GroupCampaigns(sits, CampaignConfig{PatternWindow: 48 * time.Hour}); len(cs) != 1 || len(cs[0].Situations) != 3 {
		t.Errorf("a 48 h window: %+v, want a, b and e", cs)
	}
}

// What becomes of a situation linked to nothing (issue 16): low or medium and seen by one
// contributor, it is a background count of its country and sector; high, or corroborated,
// it stays an item of its own; NoBackground keeps every one an item.
func TestCondenseFoldsUnlinkedLowSituationsIntoBackgroundCounts(t *testing.T) {
	one := []Contributor{{Name: "ee-cert"}}
	mk := func(id string, sev event.Severity, contributors []Contributor, country, sector string, obs ...event.Observable) *Situation {
		s := sit(id, float64(sev)*10+float64(len(id)), obs...)
		s.Severity, s.Contributors, s.Countries, s.Sectors, s.EventCount = sev, contributors, []string{country}, []string{sector}, 2
		return s
	}
	sits := []*Situation{
		mk("hub-only", event.SeverityLow, one, "EE", "energy", ipv4("192.0.2.53")),
		mk("bare", event.SeverityMedium, one, "EE", "energy"),
		mk("local", event.SeverityLow, one, "LV", "health", ipv4("100.96.1.1")),
		mk("high", event.SeverityHigh, one, "EE", "energy"),
		mk("corroborated", event.SeverityLow, []Contributor{{Name: "ee-cert"}, {Name: "cert-eu"}}, "EE", "energy"),
		mk("c1", event.SeverityLow, one, "EE", "energy", ipv4("100.64.0.1")),
		mk("c2", event.SeverityLow, one, "EE", "energy", ipv4("100.64.0.2")),
	}
	cd := Condense(sits, CampaignConfig{})
	if len(cd.Campaigns) != 1 || !reflect.DeepEqual(cd.Standalone, []string{"high", "corroborated"}) {
		t.Fatalf("campaigns %+v, standalone %v", cd.Campaigns, cd.Standalone)
	}
	want := []BackgroundCount{
		{Country: "EE", Sector: "energy", Situations: 2, Events: 4, Severity: event.SeverityMedium, Best: "bare"},
		{Country: "LV", Sector: "health", Situations: 1, Events: 2, Severity: event.SeverityLow, Best: "local"},
	}
	for i := range cd.Background {
		cd.Background[i].best = 0
	}
	if !reflect.DeepEqual(cd.Background, want) || cd.Items() != 5 {
		t.Errorf("background %+v (%d items), want %+v (5 items)", cd.Background, cd.Items(), want)
	}
	if cd := Condense(sits, CampaignConfig{NoBackground: true}); len(cd.Background) != 0 || len(cd.Standalone) != 5 {
		t.Errorf("NoBackground: %+v", cd)
	}
}

// Property: Condense, patterns included, depends only on the set of situations.
func TestCondenseDoesNotDependOnOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	t0 := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	cats, secs := []string{"fraud/phishing", "availability/ddos"}, []string{"energy", "health", "telecom"}
	var sits []*Situation
	for i := range 400 {
		s := sit(fmt.Sprintf("s%03d", i), float64(r.IntN(50)), ipv4(fmt.Sprintf("10.%d.%d.1", r.IntN(4), r.IntN(80))))
		s.Category, s.Sectors = cats[r.IntN(2)], []string{secs[r.IntN(3)]}
		s.FirstSeen = t0.Add(time.Duration(r.IntN(72)) * time.Hour)
		if r.IntN(3) == 0 {
			s.Techniques = []string{"T1566", "T1498"}[r.IntN(2):]
		}
		s.Severity = event.Severity(1 + r.IntN(4))
		s.Contributors = []Contributor{{Name: "a"}, {Name: "b"}}[:1+r.IntN(2)]
		s.Countries = []string{"EE", "LV"}[r.IntN(2):]
		if r.IntN(4) == 0 { // nothing to link on: grouped by deed (attachBare)
			s.Observables = nil
			if r.IntN(5) == 0 {
				s.Sectors = append(s.Sectors, "transport")
			}
		}
		sits = append(sits, s)
	}
	for _, cfg := range []CampaignConfig{{PatternWindow: 6 * time.Hour}, {}} {
		want := Condense(sits, cfg)
		if len(want.Background) == 0 || len(want.Campaigns) == 0 {
			t.Fatalf("the property needs both campaigns and background: %+v", want)
		}
		for range 5 {
			r.Shuffle(len(sits), func(i, j int) { sits[i], sits[j] = sits[j], sits[i] })
			if got := Condense(sits, cfg); !reflect.DeepEqual(got, want) {
				t.Fatalf("%+v: the condensed picture changed with the order of the situations", cfg)
			}
		}
	}
}

// Reports with nothing to link on (no observable, or only warning-listed ones) are
// grouped by what they did in the day; the group joins the one campaign that did the
// same, and stays on its own when two did; a report of two sectors, or one with
// observables of its own, is not grouped this way, and a situation alone is no campaign
// to join; NoDeeds switches it off.
func TestBareReportsJoinTheOneCampaignDoingTheSame(t *testing.T) {
	t0 := time.Date(2026, 2, 10, 6, 0, 0, 0, time.UTC)
	resolver := ipv4("198.51.100.53")
	deed := func(id, sector string, obs ...event.Observable) *Situation {
		s := patterned(id, "malicious-code/infected-system", t0.Add(time.Duration(len(id))*time.Hour), []string{sector}, "T1486")
		s.Observables = obs
		return s
	}
	sits := []*Situation{
		deed("a1", "health", ipv4("100.99.7.20")), deed("a2", "health", ipv4("100.99.7.21")), // a campaign, by its /24
		deed("b1", "health"), deed("b2", "health", resolver), // bare: join it
		deed("c1", "energy", ipv4("100.70.1.1")), deed("c2", "energy", ipv4("100.70.1.2")), // two campaigns doing
		deed("d1", "energy", ipv4("100.80.1.1")), deed("d2", "energy", ipv4("100.80.1.2")), // the same to energy
		deed("e1", "energy"), deed("e2", "energy"), // bare: a group of their own
		deed("f1", "health"),                     // bare, but of two sectors
		deed("g1", "health", ipv4("100.60.1.1")), // its own observable: not grouped by deed
	}
	sits[10].Sectors = []string{"health", "energy"}
	got := map[string][]string{}
	for _, c := range GroupCampaigns(sits, CampaignConfig{Common: []event.Observable{resolver}}) {
		got[c.Situations[len(c.Situations)-1]] = c.Situations
		if c.Situations[0] == "b2" || slices.Contains(c.Situations, "b1") {
			if !slices.ContainsFunc(c.Links, func(l CampaignLink) bool {
				return l.Kind == "deed" && l.Key == "malicious-code/infected-system|T1486|health|2026-02-10T00:00:00Z"
			}) {
				t.Errorf("links %+v do not say why", c.Links)
			}
		}
	}
	want := [][]string{{"a1", "a2", "b1", "b2"}, {"c1", "c2"}, {"d1", "d2"}, {"e1", "e2"}}
	for _, w := range want {
		found := false
		for _, g := range got {
			if reflect.DeepEqual(sortedCopy(g), w) {
				found = true
			}
		}
		if !found {
			t.Errorf("campaigns %v: want %v among them", got, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("campaigns %v: want exactly %v", got, want)
	}
	if cs := GroupCampaigns(sits, CampaignConfig{Common: []event.Observable{resolver}, NoDeeds: true}); len(cs) != 3 {
		t.Errorf("deeds off: %d campaigns, want the three linked by their /24s", len(cs))
	}
}

func sortedCopy(xs []string) []string {
	ys := slices.Clone(xs)
	slices.Sort(ys)
	return ys
}

// An actor's stated name links situations where the actor did the same thing (category,
// techniques) to the same sector within the window; the name alone, or another category
// or sector, links nothing; NoActors and NoNames switch it off.
func TestActorLinksOnlyTheSameDeedAgainstTheSameSector(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	named := func(id, actor, cat string, sector string, first time.Time) *Situation {
		s := patterned(id, cat, first, []string{sector}, "T1486")
		s.Names = []event.Name{{Kind: "threat-actor", Name: actor}}
		return s
	}
	sits := []*Situation{
		named("a", "copper wolf", "malicious-code/infected-system", "health", t0),
		named("b", "copper wolf", "malicious-code/infected-system", "health", t0.Add(48*time.Hour)),
		named("c", "copper wolf", "malicious-code/infected-system", "public-administration", t0),      // other sector
		named("d", "copper wolf", "availability/ddos", "health", t0),                                  // other deed
		named("e", "iron stork", "malicious-code/infected-system", "health", t0),                      // other actor
		named("f", "copper wolf", "malicious-code/infected-system", "health", t0.Add(9*24*time.Hour)), // next week
	}
	cs := GroupCampaigns(sits, CampaignConfig{})
	if len(cs) != 1 || !reflect.DeepEqual(cs[0].Situations, []string{"a", "b"}) {
		t.Fatalf("campaigns %+v: want a and b", cs)
	}
	if l := cs[0].Links; len(l) != 1 || l[0].Kind != "actor" || l[0].Key != "copper wolf|malicious-code/infected-system|T1486|health|2026-01-05T00:00:00Z" {
		t.Errorf("links %+v do not say why", l)
	}
	for _, cfg := range []CampaignConfig{{NoActors: true}, {NoNames: true}} {
		if cs := GroupCampaigns(sits, cfg); len(cs) != 0 {
			t.Errorf("%+v: %+v", cfg, cs)
		}
	}
}

// The warning list (CampaignConfig.Common) gives no key: a resolver's /24 or a
// shortener's domain links nothing, even below the hub cutoff.
func TestWarningListLinksNothing(t *testing.T) {
	resolver := ipv4("198.51.100.53")
	short := dom("lnk.example")
	sits := []*Situation{
		sit("a", 1, resolver),
		sit("b", 2, ipv4("198.51.100.7")), // same /24 as the resolver
		sit("c", 3, event.Observable{Type: event.ObsURL, Value: "https://lnk.example/x1"}),
		sit("d", 4, short),
	}
	if cs := GroupCampaigns(sits, CampaignConfig{}); len(cs) != 2 {
		t.Fatalf("without a warning list: %+v, want a+b and c+d", cs)
	}
	if cs := GroupCampaigns(sits, CampaignConfig{Common: []event.Observable{resolver, short}}); len(cs) != 0 {
		t.Errorf("with the resolver and the shortener on the warning list: %+v, want none", cs)
	}
}

// A CVE exploited against one sector within the actor window links (kind "exploit"); the
// same CVE against another sector, or in the next window, does not.
func TestExploitLinksTheSameCVEAgainstTheSameSector(t *testing.T) {
	t0 := time.Date(2026, 2, 10, 6, 0, 0, 0, time.UTC)
	exploited := func(id, sector string, first time.Time) *Situation {
		s := patterned(id, "intrusions/system-compromise", first, []string{sector})
		s.Names = []event.Name{{Kind: "vulnerability", Name: "CVE-2023-46805"}}
		return s
	}
	sits := []*Situation{
		exploited("a", "telecom", t0),
		exploited("b", "telecom", t0.Add(5*time.Hour)),
		exploited("c", "public-administration", t0),       // other sector
		exploited("d", "telecom", t0.Add(8*24*time.Hour)), // next week
	}
	cs := GroupCampaigns(sits, CampaignConfig{})
	if len(cs) != 1 || !reflect.DeepEqual(cs[0].Situations, []string{"a", "b"}) {
		t.Fatalf("campaigns %+v: want a and b", cs)
	}
	if l := cs[0].Links; len(l) != 1 || l[0].Kind != "exploit" || l[0].Key != "CVE-2023-46805|telecom|2026-02-09T00:00:00Z" {
		t.Errorf("links %+v do not say why", l)
	}
	if cs := GroupCampaigns(sits, CampaignConfig{NoExploits: true}); len(cs) != 0 {
		t.Errorf("exploits switched off: %+v", cs)
	}
}

// Vendors' names for one actor make one actor link (DefaultAliases); a galaxy file adds
// its own; NoAliases compares the names as given.
func TestActorAliasesLinkOneActorsNames(t *testing.T) {
	t0 := time.Date(2026, 2, 10, 6, 0, 0, 0, time.UTC)
	named := func(id, actor string) *Situation {
		s := patterned(id, "fraud/phishing", t0, []string{"defence"}, "T1566.002")
		s.Names = []event.Name{{Kind: "threat-actor", Name: actor}}
		return s
	}
	sits := []*Situation{named("a", "fancy bear"), named("b", "forest blizzard"), named("c", "apt 28"), named("d", "copper wolf"), named("e", "wolf of copper")}
	cs := GroupCampaigns(sits, CampaignConfig{})
	if len(cs) != 1 || !reflect.DeepEqual(cs[0].Situations, []string{"a", "b", "c"}) {
		t.Fatalf("campaigns %+v: want a, b and c", cs)
	}
	if l := cs[0].Links; len(l) != 1 || l[0].Key != "apt28|fraud/phishing|T1566.002|defence|2026-02-09T00:00:00Z" {
		t.Errorf("links %+v: want the actor under its table name", l)
	}
	if cs := GroupCampaigns(sits, CampaignConfig{NoAliases: true}); len(cs) != 0 {
		t.Errorf("aliases off: %+v", cs)
	}
	a := DefaultAliases()
	n, err := a.ReadGalaxy([]byte(`{"name": "Threat Actor", "values": [{"value": "Copper Wolf", "meta": {"synonyms": ["Wolf of Copper"]}}, {"value": "Fancy Bear", "meta": {"synonyms": ["Not APT28"]}}]}`))
	if err != nil || n != 2 {
		t.Fatalf("ReadGalaxy: %d, %v", n, err)
	}
	if c := a.Canonical("Fancy Bear"); c != "apt28" {
		t.Errorf("a galaxy entry renamed a built-in actor: %q", c)
	}
	cs = GroupCampaigns(sits, CampaignConfig{Aliases: a})
	if len(cs) != 2 || !reflect.DeepEqual(cs[1].Situations, []string{"d", "e"}) && !reflect.DeepEqual(cs[0].Situations, []string{"d", "e"}) {
		t.Errorf("with the galaxy: %+v, want a-b-c and d-e", cs)
	}
	if _, err := a.ReadGalaxy([]byte(`{"list": []}`)); err == nil || !strings.Contains(err.Error(), "MISP galaxy cluster") {
		t.Errorf("a warning list read as a galaxy: %v", err)
	}
}
