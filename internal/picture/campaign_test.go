package picture

import (
	"fmt"
	"math/rand/v2"
	"reflect"
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
