package crisis

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

var t0 = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

// sit makes a situation; obs links situations into campaigns by a shared /24.
func sit(id string, score float64, countries, sectors []string, contributors []string, ip string) *picture.Situation {
	s := &picture.Situation{ID: id, Title: "situation " + id, Score: score, Countries: countries, Sectors: sectors,
		TLP: event.TLPGreen, FirstSeen: t0, LastSeen: t0, UpdatedAt: t0}
	for _, c := range contributors {
		s.Contributors = append(s.Contributors, picture.Contributor{Name: c})
	}
	if ip != "" {
		s.Observables = []event.Observable{{Type: event.ObsIPv4, Value: ip}}
	}
	return s
}

func evaluate(t *testing.T, sits []*picture.Situation, crises []Crisis, now time.Time) Result {
	t.Helper()
	return Evaluate(Input{Rules: DefaultRules(), Missions: access.DefaultMissions(), Situations: sits, Crises: crises, Now: now})
}

func TestCampaignCrossingARuleIsProposedWithItsExplanation(t *testing.T) {
	sits := []*picture.Situation{
		sit("s1", 30, []string{"EE"}, []string{"energy"}, []string{"ee-cert"}, "203.0.113.5"),
		sit("s2", 22, []string{"FI"}, []string{"energy"}, []string{"fi-ncsc"}, "203.0.113.9"),
		sit("s3", 5, []string{"DE"}, []string{"transport"}, []string{"de-bsi"}, ""),
	}
	res := evaluate(t, sits, nil, t0)
	if len(res.Updated) != 1 {
		t.Fatalf("want one crisis (the campaign of s1 and s2), got %d: %+v", len(res.Updated), res.Updated)
	}
	c := res.Updated[0]
	if c.ID != "crisis-campaign-s1" || c.Subject != (Subject{Kind: SubjectCampaign, ID: "campaign-s1"}) {
		t.Errorf("id %q subject %+v", c.ID, c.Subject)
	}
	if c.Status != Monitoring || !c.Proposed || c.Level != 2 {
		t.Errorf("status %s proposed %v level %d, want a level 2 proposal in monitoring", c.Status, c.Proposed, c.Level)
	}
	x := c.Explanation
	if x.Rule != "critical-infrastructure" || x.RulesVersion != "default-1" || !strings.Contains(x.Text, "2 member states (EE, FI)") {
		t.Errorf("explanation %+v", x)
	}
	if !slices.Equal(c.Situations, []string{"s1", "s2"}) || !slices.Equal(c.MemberStates, []string{"EE", "FI"}) ||
		!slices.Equal(c.CriticalSectors, []string{"energy"}) {
		t.Errorf("members %v states %v critical %v", c.Situations, c.MemberStates, c.CriticalSectors)
	}
	if len(res.Changes) != 1 || res.Changes[0].Kind != ChangeProposed {
		t.Errorf("changes %+v", res.Changes)
	}
	if len(c.Timeline) != 1 || c.Timeline[0].Actor != "rules default-1" || c.Timeline[0].Action != "propose" {
		t.Errorf("timeline %+v", c.Timeline)
	}
}

func TestConditionsEach(t *testing.T) {
	f := func(name string, s *picture.Situation, wantRule string) {
		t.Helper()
		res := evaluate(t, []*picture.Situation{s}, nil, t0)
		got := ""
		if len(res.Updated) > 0 {
			got = res.Updated[0].Explanation.Rule
		}
		if got != wantRule {
			t.Errorf("%s: rule %q, want %q", name, got, wantRule)
		}
	}
	f("quiet", sit("a", 10, []string{"EE", "FI", "DE"}, []string{"energy"}, []string{"x"}, ""), "")
	f("score alone is no crisis", sit("a", 70, []string{"EE"}, nil, []string{"x"}, ""), "")
	f("three member states are not enough outside critical sectors", sit("a", 25, []string{"EE", "FI", "DE"}, []string{"health"}, []string{"x"}, ""), "")
	f("four member states", sit("a", 25, []string{"EE", "FI", "DE", "PL"}, []string{"health"}, []string{"x"}, ""), "several-member-states")
	f("non-members do not count", sit("a", 25, []string{"BA", "XK", "UA", "MD"}, []string{"health"}, []string{"x"}, ""), "")
	f("civil and military on a critical sector", sit("a", 25, []string{"BA"}, []string{"telecom"}, []string{"ee-cert", "fr-comcyber"}, ""), "civil-military")
	f("two civil on a critical sector", sit("a", 25, []string{"BA"}, []string{"telecom"}, []string{"ee-cert", "nl-ncsc"}, ""), "")
	f("large scale", sit("a", 40, []string{"EE", "FI", "DE"}, []string{"submarine-cable"}, []string{"x"}, ""), "large-scale-critical-infrastructure")
	f("four states is large scale", sit("a", 55, []string{"EE", "FI", "DE", "IT"}, []string{"energy"}, []string{"ee-cert", "de-cert-bw"}, ""), "large-scale-critical-infrastructure")
	f("crisis", sit("a", 50, []string{"EE", "FI", "DE", "IT", "PL"}, []string{"energy"}, []string{"ee-cert", "de-cert-bw"}, ""), "cyber-crisis")
}

func TestReEvaluationFindsTheSameCrisis(t *testing.T) {
	sits := []*picture.Situation{sit("s1", 30, []string{"EE", "FI"}, []string{"energy"}, []string{"a"}, "")}
	first := evaluate(t, sits, nil, t0)
	again := evaluate(t, sits, first.Updated, t0.Add(time.Second))
	if len(again.Updated) != 0 || len(again.Changes) != 0 {
		t.Fatalf("the same picture changed the crisis: %+v", again)
	}
	// s1 joins a campaign with s0, which is older: the campaign's id is s0's, and the
	// crisis follows it instead of a second one being proposed.
	s0 := sit("s0", 10, []string{"LV"}, []string{"energy"}, []string{"b"}, "198.51.100.1")
	s0.FirstSeen = t0.Add(-time.Hour)
	sits[0].Observables = []event.Observable{{Type: event.ObsIPv4, Value: "198.51.100.2"}}
	grown := evaluate(t, []*picture.Situation{s0, sits[0]}, first.Updated, t0.Add(2*time.Second))
	if len(grown.Updated) != 1 || grown.Updated[0].ID != "crisis-s1" {
		t.Fatalf("want crisis-s1 to follow its situation into the campaign, got %+v", grown.Updated)
	}
	if c := grown.Updated[0]; !slices.Equal(c.Situations, []string{"s0", "s1"}) || !slices.Equal(c.MemberStates, []string{"EE", "FI", "LV"}) {
		t.Errorf("situations %v states %v", c.Situations, c.MemberStates)
	}
}

func TestExercisesNeverShareACrisis(t *testing.T) {
	real := sit("s1", 30, []string{"EE", "FI"}, []string{"energy"}, []string{"a"}, "203.0.113.1")
	ex := sit("s2", 30, []string{"EE", "FI"}, []string{"energy"}, []string{"a"}, "203.0.113.2")
	ex.Exercise = "CYDEF-X"
	res := evaluate(t, []*picture.Situation{real, ex}, nil, t0)
	if len(res.Updated) != 2 {
		t.Fatalf("want two crises (one per picture), got %+v", res.Updated)
	}
	for _, c := range res.Updated {
		if len(c.Situations) != 1 || (c.Exercise == "") != (c.Situations[0] == "s1") {
			t.Errorf("crisis %s of exercise %q holds %v", c.ID, c.Exercise, c.Situations)
		}
	}
	if res.Updated[0].ID == res.Updated[1].ID || !strings.Contains(res.Updated[0].ID+res.Updated[1].ID, "cydef-x") {
		t.Errorf("ids %s %s", res.Updated[0].ID, res.Updated[1].ID)
	}
}

func TestMarkingIsTheMostRestrictiveAndNeverLoosens(t *testing.T) {
	a := sit("s1", 30, []string{"EE"}, []string{"energy"}, []string{"a"}, "203.0.113.1")
	b := sit("s2", 10, []string{"FI"}, []string{"energy"}, []string{"b"}, "203.0.113.2")
	b.TLP = event.TLPAmber
	res := evaluate(t, []*picture.Situation{a, b}, nil, t0)
	c := res.Updated[0]
	if c.TLP != event.TLPAmber || len(c.ReleasableTo) != 0 {
		t.Fatalf("marking %v %v", c.TLP, c.ReleasableTo)
	}
	// b leaves the campaign: the crisis keeps the marking it was shown under.
	b.Observables = nil
	later := evaluate(t, []*picture.Situation{a, b}, res.Updated, t0.Add(time.Second))
	for _, c := range later.Updated {
		if c.ID == "crisis-campaign-s1" && c.TLP != event.TLPAmber {
			t.Errorf("marking loosened to %v", c.TLP)
		}
	}
}

func TestProposalRisesUntilAPersonActsThenRulesOnlyPropose(t *testing.T) {
	s := sit("s1", 25, []string{"EE", "FI", "DE", "PL"}, []string{"health"}, []string{"a"}, "")
	res := evaluate(t, []*picture.Situation{s}, nil, t0)
	s.Sectors = []string{"energy"}
	s.Score = 40
	up := evaluate(t, []*picture.Situation{s}, res.Updated, t0.Add(time.Second))
	if len(up.Changes) != 1 || up.Changes[0].Kind != ChangeLevel || up.Updated[0].Level != 3 {
		t.Fatalf("want the proposal raised to 3: %+v", up.Changes)
	}
	c := up.Updated[0]
	if _, err := c.Act(Action{Action: ActConfirm}, "analyst-1", t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	s.Score, s.Contributors = 60, append(s.Contributors, picture.Contributor{Name: "fr-comcyber"}, picture.Contributor{Name: "ee-cert"})
	s.Countries = append(s.Countries, "IT")
	four := evaluate(t, []*picture.Situation{s}, []Crisis{c}, t0.Add(3*time.Second))
	got := four.Updated[0]
	if got.Level != 3 || got.RuleLevel != 4 || four.Changes[0].Kind != ChangeLevel {
		t.Errorf("confirmed crisis: level %d rule level %d changes %+v; want the level kept and 4 proposed", got.Level, got.RuleLevel, four.Changes)
	}
	if last := got.Timeline[len(got.Timeline)-1]; last.Action != "propose-level" || last.To.Level != 3 {
		t.Errorf("timeline ends %+v", last)
	}
}

func TestClosedCrisisReopensOnlyAtAHigherLevel(t *testing.T) {
	s := sit("s1", 25, []string{"EE", "FI", "DE", "PL"}, []string{"health"}, []string{"a"}, "")
	c := evaluate(t, []*picture.Situation{s}, nil, t0).Updated[0]
	if _, err := c.Act(Action{Action: ActClose, Reason: "false positive"}, "analyst-1", t0); err != nil {
		t.Fatal(err)
	}
	same := evaluate(t, []*picture.Situation{s}, []Crisis{c}, t0.Add(time.Second))
	if len(same.Changes) != 0 {
		t.Fatalf("closed crisis re-proposed at the same level: %+v", same.Changes)
	}
	s.Sectors, s.Score = []string{"energy"}, 40
	re := evaluate(t, []*picture.Situation{s}, []Crisis{c}, t0.Add(2*time.Second))
	if len(re.Changes) != 1 || re.Changes[0].Kind != ChangeProposed || re.Updated[0].Status != Monitoring || re.Updated[0].ID != c.ID {
		t.Errorf("want the same crisis re-opened: %+v", re.Changes)
	}
}

func TestTransitions(t *testing.T) {
	f := func(name string, from State, proposed bool, a Action, want State, wantErr error) {
		t.Helper()
		c := Crisis{ID: "c", Status: from.Status, Level: from.Level, Proposed: proposed}
		ch, err := c.Act(a, "analyst-1", t0)
		if !errors.Is(err, wantErr) {
			t.Errorf("%s: err %v, want %v", name, err, wantErr)
			return
		}
		if err != nil {
			if c.State() != from || c.Version != 0 {
				t.Errorf("%s: refused action changed the crisis", name)
			}
			return
		}
		if c.State() != want || c.Proposed || len(c.Timeline) != 1 || c.Timeline[0].To != want || *c.Timeline[0].From != from {
			t.Errorf("%s: got %+v timeline %+v, want %+v", name, c.State(), c.Timeline, want)
		}
		if ch.Crisis.ID != "c" || ch.Reason == "" {
			t.Errorf("%s: change %+v", name, ch)
		}
	}
	m2, e2, e3, c3 := State{Monitoring, 2}, State{Escalated, 2}, State{Escalated, 3}, State{Coordinated, 3}
	f("confirm", m2, true, Action{Action: ActConfirm}, m2, nil)
	f("confirm at a level", m2, true, Action{Action: ActConfirm, Level: 3}, State{Monitoring, 3}, nil)
	f("confirm twice", m2, false, Action{Action: ActConfirm}, m2, ErrTransition)
	f("escalate from monitoring keeps the level", m2, true, Action{Action: ActEscalate}, e2, nil)
	f("escalate from monitoring to a level", m2, false, Action{Action: ActEscalate, Level: 4}, State{Escalated, 4}, nil)
	f("escalate again raises the level", e2, false, Action{Action: ActEscalate}, e3, nil)
	f("escalate past 4", State{Escalated, 4}, false, Action{Action: ActEscalate}, State{}, ErrTransition)
	f("escalate to a lower level", e3, false, Action{Action: ActEscalate, Level: 2}, State{}, ErrBadLevel)
	f("coordinate", e3, false, Action{Action: ActCoordinate}, c3, nil)
	f("coordinate from monitoring", m2, false, Action{Action: ActCoordinate}, State{}, ErrTransition)
	f("downgrade needs a reason", c3, false, Action{Action: ActDowngrade}, State{}, ErrNoReason)
	f("downgrade steps back", c3, false, Action{Action: ActDowngrade, Reason: "contained"}, e3, nil)
	f("downgrade escalated", e3, false, Action{Action: ActDowngrade, Level: 2, Reason: "contained"}, m2, nil)
	f("downgrade monitoring lowers the level", m2, false, Action{Action: ActDowngrade, Reason: "minor"}, State{Monitoring, 1}, nil)
	f("downgrade below 1", State{Monitoring, 1}, false, Action{Action: ActDowngrade, Reason: "minor"}, State{}, ErrTransition)
	f("close", c3, false, Action{Action: ActClose, Reason: "over"}, State{Closed, 3}, nil)
	f("close needs a reason", c3, false, Action{Action: ActClose}, State{}, ErrNoReason)
	f("act on closed", State{Closed, 3}, false, Action{Action: ActEscalate}, State{}, ErrTransition)
	f("level out of range", m2, false, Action{Action: ActEscalate, Level: 5}, State{}, ErrBadLevel)
	f("unknown", m2, false, Action{Action: "nuke"}, State{}, ErrUnknownAction)
}

func TestOnlyAnalystsLiaisonsAndAdminsAct(t *testing.T) {
	for role, want := range map[access.Role]bool{access.RoleAnalyst: true, access.RoleLiaison: true, access.RoleAdmin: true,
		access.RoleCommander: false, access.RoleContributor: false, "": false} {
		if MayAct(role) != want {
			t.Errorf("MayAct(%q) = %v", role, !want)
		}
	}
}

// TestEvaluationIsOrderIndependent shuffles the situations and the crises given and
// checks the result is the same, on a random picture with campaigns, several exercises
// and crises already held.
func TestEvaluationIsOrderIndependent(t *testing.T) {
	countries := []string{"EE", "FI", "DE", "IT", "BA", "SO", "PL", "FR"}
	sectors := []string{"energy", "telecom", "health", "transport", "submarine-cable"}
	contributors := []string{"ee-cert", "fr-comcyber", "de-cert-bw", "nl-ncsc", "cert-eu"}
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var sits []*picture.Situation
		for i := range 40 {
			pick := func(xs []string) []string {
				var out []string
				for range 1 + rng.IntN(3) {
					out = union(out, []string{xs[rng.IntN(len(xs))]})
				}
				return out
			}
			ip := ""
			if rng.IntN(3) > 0 {
				ip = "203.0." + string(rune('0'+rng.IntN(4))) + ".7"
			}
			s := sit(string(rune('a'+i%26))+string(rune('a'+i/26)), float64(rng.IntN(70)), pick(countries), pick(sectors), pick(contributors), ip)
			if rng.IntN(4) == 0 {
				s.Exercise = "CYDEF-X"
			}
			s.FirstSeen = t0.Add(time.Duration(rng.IntN(100)) * time.Minute)
			s.TLP = event.TLP(2 + rng.IntN(2))
			sits = append(sits, s)
		}
		held := evaluate(t, sits[:20], nil, t0).Updated
		want := evaluate(t, sits, held, t0.Add(time.Second))
		for range 5 {
			ss, hs := slices.Clone(sits), slices.Clone(held)
			rng.Shuffle(len(ss), func(i, j int) { ss[i], ss[j] = ss[j], ss[i] })
			rng.Shuffle(len(hs), func(i, j int) { hs[i], hs[j] = hs[j], hs[i] })
			got := evaluate(t, ss, hs, t0.Add(time.Second))
			a, _ := json.Marshal(want)
			b, _ := json.Marshal(got)
			if string(a) != string(b) {
				t.Fatalf("seed %d: a shuffled input gave another result:\n%s\n%s", seed, a, b)
			}
		}
		if seed == 0 && len(want.Updated) == 0 {
			t.Fatal("the random picture proposes nothing: the property is vacuous")
		}
	}
}

func TestParseRulesNamesTheFieldThatIsWrong(t *testing.T) {
	f := func(doc, want string) {
		t.Helper()
		_, err := ParseRules([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want it to say %q", doc, err, want)
		}
	}
	f(`{"rules":[{"name":"a","level":2,"min_score":10}]}`, "version")
	f(`{"version":"v1","rules":[]}`, "rules: want at least one rule")
	f(`{"version":"v1","rules":[{"name":"a","level":5,"min_score":10}]}`, "rules[0].level: want 1 to 4")
	f(`{"version":"v1","rules":[{"name":"a","level":2}]}`, "want at least one condition")
	f(`{"version":"v1","rules":[{"name":"a","level":2,"min_score":10},{"name":"a","level":1,"min_score":1}]}`, `rules[1].name: "a" is given twice`)
	f(`{"version":"v1","rules":[{"name":"a","level":2,"min_score":10,"subjects":["event"]}]}`, "rules[0].subjects")
	f(`{"version":"v1","member_states":["germany"],"rules":[{"name":"a","level":2,"min_score":10}]}`, "member_states")
	f(`{"version":"v1","rules":[{"name":"a","level":2,"min_scor":10}]}`, "min_scor")
	f(`{"version":"v1","rules":[{"name":"a","level":"two","min_score":10}]}`, "level")

	r, err := ParseRules([]byte(`{"version":"ops-2026-12","military_contributors":["army-*"],"rules":[{"name":"any","level":1,"min_score":5,"subjects":["campaign"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Military("ARMY-cert") || r.Military("fr-comcyber") || !reflect.DeepEqual(r.CriticalSectors, DefaultRules().CriticalSectors) {
		t.Errorf("parsed %+v", r)
	}
	lone := Evaluate(Input{Rules: r, Situations: []*picture.Situation{sit("s", 50, nil, nil, nil, "")}, Now: t0})
	if len(lone.Updated) != 0 {
		t.Error("a campaign-only rule proposed a lone situation")
	}
	if err := DefaultRules().Validate(); err != nil {
		t.Errorf("default rules invalid: %v", err)
	}
}

func TestSubjectsOfOneThreatJoinOneCrisis(t *testing.T) {
	threat := func(id, country string, techniques ...string) *picture.Situation {
		s := sit(id, 30, []string{country, "LV"}, []string{"energy"}, []string{"a"}, "")
		s.Category, s.Techniques = "availability/sabotage", techniques
		return s
	}
	// Two situations of one wiper campaign on rotated infrastructure (no shared observable,
	// no shared /24): the same category, technique, sector and a country in common.
	a, b := threat("s1", "EE", "T1485"), threat("s2", "LT", "T1485")
	res := evaluate(t, []*picture.Situation{a, b}, nil, t0)
	if len(res.Updated) != 1 || !slices.Equal(res.Updated[0].Situations, []string{"s1", "s2"}) {
		t.Fatalf("want one crisis holding both, got %+v", res.Updated)
	}
	// Another threat to the same sector in the same country is not the same crisis.
	c := threat("s3", "EE", "T1498")
	c.Category = "availability/ddos"
	again := evaluate(t, []*picture.Situation{a, b, c}, res.Updated, t0.Add(time.Second))
	ids := map[string]bool{}
	for _, u := range again.Updated {
		ids[u.ID] = true
	}
	if !ids["crisis-s3"] || len(again.Updated) != 1 {
		t.Errorf("a DDoS joined the wiper's crisis: %v", ids)
	}
}

func TestStricterSituationsAreNeverPartOfACrisis(t *testing.T) {
	f := func(name string, mod func(*picture.Situation)) {
		t.Helper()
		a := sit("s1", 30, []string{"EE"}, []string{"energy"}, []string{"a"}, "203.0.113.1")
		b := sit("s2", 30, []string{"FI"}, []string{"energy"}, []string{"b"}, "203.0.113.2")
		mod(b)
		res := evaluate(t, []*picture.Situation{a, b}, nil, t0)
		for _, c := range res.Updated {
			if slices.Contains(c.Situations, "s2") || slices.Contains(c.Countries, "FI") {
				t.Errorf("%s: crisis %s holds the stricter situation", name, c.ID)
			}
		}
	}
	f("AMBER+STRICT", func(s *picture.Situation) { s.TLP = event.TLPAmberStrict })
	f("RED", func(s *picture.Situation) { s.TLP, s.ReleasableTo = event.TLPRed, []string{"EUFOR-ALTHEA"} })
	f("releasable to named recipients", func(s *picture.Situation) { s.ReleasableTo = []string{"CERT-EU"} })
	r, err := ParseRules([]byte(`{"version":"v","max_tlp":"AMBER+STRICT","rules":[{"name":"a","level":1,"min_score":1}]}`))
	if err != nil || r.MaxTLP != event.TLPAmberStrict {
		t.Errorf("max_tlp: %v %v", r, err)
	}
}
