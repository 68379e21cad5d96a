package crisis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/jsonerr"
	"github.com/cidcc/cop/internal/picture"
)

// Rules are the escalation rules of a deployment: the rules themselves and what their
// conditions count as a member state, a critical sector and a military contributor.
// Version is carried on every proposal, so a crisis says which rules proposed it.
type Rules struct {
	Version string `json:"version"`
	// CriticalSectors are the sectors a critical_sector condition looks for.
	CriticalSectors []string `json:"critical_sectors"`
	// MemberStates are the countries (ISO 3166-1 alpha-2) min_member_states counts; ["*"]
	// counts every country.
	MemberStates []string `json:"member_states"`
	// MilitaryContributors name the contributors that are military (the MICNET's military
	// CERTs, NATO NCIRC): each a contributor name or a glob pattern ("milcert-*"), matched
	// case-insensitively. Every other contributor is civil. A civil_military condition
	// holds when at least one of each reported the subject.
	MilitaryContributors []string `json:"military_contributors"`
	// MaxTLP is the most restrictive marking a situation may have to be part of a crisis
	// (default AMBER), and a situation restricted to named recipients (releasable_to) is
	// never part of one: a crisis is shared across missions, with the liaison officers and
	// every commander it touches, and is shown only to whom may see all of it. Stricter
	// situations stay in the picture of those cleared for them.
	MaxTLP event.TLP `json:"max_tlp"`
	Rules  []Rule    `json:"rules"`

	mu           sync.Mutex
	militaryMemo map[string]bool // Lock should be held.
}

// Rule proposes a crisis of Level when every condition it sets holds (an unset condition
// is not checked; a rule sets one at least).
type Rule struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Level       int    `json:"level"`
	// Subjects the rule applies to: "situation", "campaign"; empty is both.
	Subjects []string `json:"subjects,omitempty"`
	// MinScore: the subject's score (a campaign's is its best situation's) is at least this.
	MinScore float64 `json:"min_score,omitempty"`
	// MinMemberStates: the subject touches at least this many member states.
	MinMemberStates int `json:"min_member_states,omitempty"`
	// CriticalSector: the subject touches one of Rules.CriticalSectors.
	CriticalSector bool `json:"critical_sector,omitempty"`
	// CivilMilitary: civil and military contributors both reported the subject.
	CivilMilitary bool `json:"civil_military,omitempty"`
}

// Subject kinds.
const (
	SubjectSituation = "situation"
	SubjectCampaign  = "campaign"
)

// EUMemberStates are the 27 member states of the European Union.
var EUMemberStates = []string{"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
	"IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"}

// DefaultRules are the rules when no file is given. Their scores are on the scoring's
// scale (docs/scoring.md, 100 × severity × corroboration × criticality × decay ×
// recency): a critical incident in a critical sector reported by one contributor scores
// about 14, by two about 26, by three about 35; a high one needs about six contributors
// for 20; the best of a realistic picture score 60 to 70. So 20 is "corroborated, not a
// lone claim", 35 "severe and well corroborated", 50 "the top of the picture". A score
// alone is no crisis: every rule also asks for breadth (member states) or a critical
// sector, which keeps them meaningful whatever the feeds; and subjects of one threat
// join one crisis (Evaluate), so rotating infrastructure does not multiply crises.
func DefaultRules() *Rules {
	return &Rules{
		Version:         "default-1",
		MaxTLP:          event.TLPAmber,
		CriticalSectors: []string{"energy", "telecom", "submarine-cable"},
		MemberStates:    slices.Clone(EUMemberStates),
		// The military CERTs and cyber commands of the MICNET that report to COP, and
		// NATO's NCIRC as a partner; deployments list their own.
		MilitaryContributors: []string{"*milcert*", "*-mil", "*-mil-*", "*comcyber*", "*cert-bw*", "*csirt-mon*",
			"*mcce*", "nato-ncirc", "eumc-*", "*-cyber-command*", "*cyfor*"},
		Rules: []Rule{
			{Name: "critical-infrastructure", Level: 2, MinScore: 20, CriticalSector: true, MinMemberStates: 2,
				Description: "a corroborated threat to a critical sector in several member states"},
			{Name: "several-member-states", Level: 2, MinScore: 20, MinMemberStates: 4,
				Description: "a corroborated threat touching four member states or more"},
			{Name: "civil-military", Level: 2, MinScore: 20, CivilMilitary: true, CriticalSector: true,
				Description: "civil and military contributors see the same threat to a critical sector"},
			{Name: "large-scale-critical-infrastructure", Level: 3, MinScore: 35, CriticalSector: true, MinMemberStates: 3,
				Description: "a severe, well corroborated threat to a critical sector in three member states or more"},
			{Name: "cyber-crisis", Level: 4, MinScore: 50, CriticalSector: true, MinMemberStates: 5, CivilMilitary: true,
				Description: "a threat at the top of the picture to critical infrastructure in five member states or more, seen by civil and military contributors"},
		},
	}
}

// LoadRules reads rules from a JSON file (docs/crisis.md gives the format).
func LoadRules(file string) (*Rules, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cannot read escalation rules: %w", err)
	}
	r, err := ParseRules(b)
	if err != nil {
		return nil, fmt.Errorf("escalation rules %s: %w", file, err)
	}
	return r, nil
}

// ParseRules decodes and checks rules. Fields left out take DefaultRules' values, except
// rules, which a file must give.
func ParseRules(b []byte) (*Rules, error) {
	def := DefaultRules()
	r := &Rules{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(r); err != nil {
		field, reason := jsonerr.Describe(err)
		if field != "" {
			return nil, fmt.Errorf("%s: %s", field, reason)
		}
		return nil, errors.New(reason)
	}
	if r.CriticalSectors == nil {
		r.CriticalSectors = def.CriticalSectors
	}
	if r.MemberStates == nil {
		r.MemberStates = def.MemberStates
	}
	if r.MilitaryContributors == nil {
		r.MilitaryContributors = def.MilitaryContributors
	}
	if r.MaxTLP == 0 {
		r.MaxTLP = def.MaxTLP
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// Validate checks every field and names the first that is wrong.
func (r *Rules) Validate() error {
	if strings.TrimSpace(r.Version) == "" {
		return errors.New("version: want a non-empty string naming this set of rules")
	}
	if len(r.Rules) == 0 {
		return errors.New("rules: want at least one rule")
	}
	for _, p := range r.MilitaryContributors {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("military_contributors: %q is not a valid pattern", p)
		}
	}
	for _, c := range r.MemberStates {
		if c != "*" && (len(c) != 2 || strings.ToUpper(c) != c) {
			return fmt.Errorf("member_states: %q: want ISO 3166-1 alpha-2 codes (DE, FR) or \"*\"", c)
		}
	}
	seen := map[string]bool{}
	for i, ru := range r.Rules {
		at := "rules[" + strconv.Itoa(i) + "]"
		switch {
		case ru.Name == "":
			return errors.New(at + ".name: want a name")
		case seen[ru.Name]:
			return fmt.Errorf("%s.name: %q is given twice", at, ru.Name)
		case ru.Level < MinLevel || ru.Level > MaxLevel:
			return fmt.Errorf("%s.level: want 1 to 4, got %d", at, ru.Level)
		case ru.MinScore < 0 || ru.MinScore > 100:
			return fmt.Errorf("%s.min_score: want 0 to 100, got %g", at, ru.MinScore)
		case ru.MinMemberStates < 0:
			return fmt.Errorf("%s.min_member_states: want 0 or more, got %d", at, ru.MinMemberStates)
		case ru.MinScore == 0 && ru.MinMemberStates == 0 && !ru.CriticalSector && !ru.CivilMilitary:
			return errors.New(at + ": want at least one condition (min_score, min_member_states, critical_sector, civil_military)")
		}
		for _, s := range ru.Subjects {
			if s != SubjectSituation && s != SubjectCampaign {
				return fmt.Errorf("%s.subjects: %q: want \"situation\" or \"campaign\"", at, s)
			}
		}
		seen[ru.Name] = true
	}
	return nil
}

// Military reports whether contributor is military under r.
func (r *Rules) Military(contributor string) bool {
	c := strings.ToLower(contributor)
	for _, p := range r.MilitaryContributors {
		if ok, _ := path.Match(strings.ToLower(p), c); ok {
			return true
		}
	}
	return false
}

// military is Military, remembered: it is asked for every contributor of every subject.
func (r *Rules) military(contributor string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.militaryMemo[contributor]; ok {
		return v
	}
	if r.militaryMemo == nil || len(r.militaryMemo) > 100_000 {
		r.militaryMemo = map[string]bool{}
	}
	v := r.Military(contributor)
	r.militaryMemo[contributor] = v
	return v
}

// scoreFloor is the lowest score at which a rule can hold: the least min_score, or 0 if
// a rule has none.
func (r *Rules) scoreFloor() float64 {
	floor := math.Inf(1)
	for _, ru := range r.Rules {
		floor = min(floor, ru.MinScore)
	}
	return floor
}

// shareable reports whether s may be part of a crisis (MaxTLP, no releasability list).
func (r *Rules) shareable(s *picture.Situation) bool {
	return s.TLP != 0 && s.TLP <= r.MaxTLP && len(s.ReleasableTo) == 0
}

// memberState reports whether country counts towards min_member_states.
func (r *Rules) memberState(country string) bool {
	return slices.Contains(r.MemberStates, "*") || slices.Contains(r.MemberStates, country)
}

func (ru *Rule) appliesTo(kind string) bool {
	return len(ru.Subjects) == 0 || slices.Contains(ru.Subjects, kind)
}
