package crisis

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

// Explanation says why a crisis was proposed: the rule (the highest level that held; of
// equal levels, the first in the rules), its conditions with the values that made them
// hold, the other rules that held, and the rules' version.
type Explanation struct {
	RulesVersion string      `json:"rules_version"`
	Rule         string      `json:"rule"`
	Level        int         `json:"level"`
	Conditions   []Condition `json:"conditions"`
	Also         []string    `json:"also,omitempty"`
	Text         string      `json:"text"`
}

// Condition is one condition of a rule and the subject's value for it.
type Condition struct {
	Name  string  `json:"name"` // "score", "member_states", "critical_sector", "civil_military"
	Value float64 `json:"value"`
	Want  float64 `json:"want"`
	// Detail lists what was counted (member states, sectors, contributors by side).
	Detail string `json:"detail,omitempty"`
	Holds  bool   `json:"holds"`
}

// facts are what the rules look at in a subject: the union over its situations.
type facts struct {
	kind, id, exercise string
	title              string
	category           string // the best situation's
	techniques         []string
	score              float64
	situations         []string
	countries, states  []string
	sectors, critical  []string
	missions           []string
	contributors       []Contributor
	civil, military    int
	geo                *event.Geo
	tlp                event.TLP
	releasable         []string
}

func gather(r *Rules, missions access.Missions, kind, id string, members []*picture.Situation) facts {
	slices.SortFunc(members, func(a, b *picture.Situation) int { return strings.Compare(a.ID, b.ID) })
	f := facts{kind: kind, id: id, exercise: members[0].Exercise, score: -1}
	byName := map[string]*Contributor{}
	bestGeo := -1.0
	first := true
	for _, s := range members {
		f.situations = append(f.situations, s.ID)
		if s.Score > f.score {
			f.score, f.title, f.category = s.Score, s.Title, s.Category
		}
		f.techniques = union(f.techniques, s.Techniques)
		if s.Geo != nil && s.Score > bestGeo {
			g := *s.Geo
			f.geo, bestGeo = &g, s.Score
		}
		f.countries = union(f.countries, s.Countries)
		f.sectors = union(f.sectors, s.Sectors)
		for _, c := range s.Contributors {
			if p := byName[c.Name]; p != nil {
				p.Anonymise = p.Anonymise || c.Anonymise
			} else {
				byName[c.Name] = &Contributor{Name: c.Name, Anonymise: c.Anonymise, Military: r.military(c.Name)}
			}
		}
		f.tlp = max(f.tlp, s.TLP)
		if first {
			f.releasable, first = slices.Clone(s.ReleasableTo), false
		} else {
			f.releasable = intersectRelease(f.releasable, s.ReleasableTo)
		}
		for name, m := range missions {
			if m.Covers(s) && !slices.Contains(f.missions, name) {
				f.missions = append(f.missions, name)
			}
		}
	}
	for _, c := range byName {
		f.contributors = append(f.contributors, *c)
		if c.Military {
			f.military++
		} else {
			f.civil++
		}
	}
	slices.SortFunc(f.contributors, func(a, b Contributor) int { return strings.Compare(a.Name, b.Name) })
	for _, c := range f.countries {
		if r.memberState(c) {
			f.states = append(f.states, c)
		}
	}
	for _, s := range f.sectors {
		if slices.Contains(r.CriticalSectors, s) {
			f.critical = append(f.critical, s)
		}
	}
	slices.Sort(f.missions)
	return f
}

// union adds to dst what of xs it lacks, sorted.
func union(dst, xs []string) []string {
	for _, x := range xs {
		if !slices.Contains(dst, x) {
			dst = append(dst, x)
		}
	}
	slices.Sort(dst)
	return dst
}

// intersectRelease combines releasability lists as the picture does: an empty list
// restricts nothing, two lists keep the names in both, and lists with no name in common
// release to no one (picture.NoRelease).
func intersectRelease(a, b []string) []string {
	switch {
	case len(a) == 0:
		return slices.Clone(b)
	case len(b) == 0:
		return a
	}
	var out []string
	for _, x := range a {
		if slices.ContainsFunc(b, func(y string) bool { return strings.EqualFold(x, y) }) {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return []string{picture.NoRelease}
	}
	slices.Sort(out)
	return out
}

// propose returns the explanation of the highest-level rule that holds for f, or false.
func (r *Rules) propose(f *facts) (Explanation, bool) {
	var best *Explanation
	var also []string
	for i := range r.Rules {
		ru := &r.Rules[i]
		if !ru.appliesTo(f.kind) {
			continue
		}
		x, ok := r.check(ru, f)
		if !ok {
			continue
		}
		if best == nil || x.Level > best.Level {
			if best != nil {
				also = append(also, best.Rule)
			}
			best = &x
		} else {
			also = append(also, ru.Name)
		}
	}
	if best == nil {
		return Explanation{}, false
	}
	slices.Sort(also)
	best.Also = also
	return *best, true
}

// check evaluates one rule's conditions on f.
func (r *Rules) check(ru *Rule, f *facts) (Explanation, bool) {
	x := Explanation{RulesVersion: r.Version, Rule: ru.Name, Level: ru.Level}
	all := true
	add := func(c Condition) {
		x.Conditions = append(x.Conditions, c)
		all = all && c.Holds
	}
	score := math.Round(f.score*10) / 10
	if ru.MinScore > 0 {
		add(Condition{Name: "score", Value: score, Want: ru.MinScore, Holds: f.score >= ru.MinScore})
	}
	if ru.MinMemberStates > 0 {
		add(Condition{Name: "member_states", Value: float64(len(f.states)), Want: float64(ru.MinMemberStates),
			Detail: strings.Join(f.states, ", "), Holds: len(f.states) >= ru.MinMemberStates})
	}
	if ru.CriticalSector {
		add(Condition{Name: "critical_sector", Value: float64(len(f.critical)), Want: 1,
			Detail: strings.Join(f.critical, ", "), Holds: len(f.critical) > 0})
	}
	if ru.CivilMilitary {
		add(Condition{Name: "civil_military", Value: float64(min(f.civil, f.military)), Want: 1,
			Detail: fmt.Sprintf("%d civil, %d military", f.civil, f.military), Holds: f.civil > 0 && f.military > 0})
	}
	if !all {
		return x, false
	}
	var parts []string
	for _, c := range x.Conditions {
		switch c.Name {
		case "score":
			parts = append(parts, "score "+strconv.FormatFloat(c.Value, 'f', 1, 64)+" ≥ "+strconv.FormatFloat(c.Want, 'f', -1, 64))
		case "member_states":
			parts = append(parts, fmt.Sprintf("%d member states (%s) ≥ %d", int(c.Value), c.Detail, int(c.Want)))
		case "critical_sector":
			parts = append(parts, "critical sector "+c.Detail)
		case "civil_military":
			parts = append(parts, "corroborated by "+c.Detail+" contributors")
		}
	}
	x.Text = fmt.Sprintf("rule %s (rules %s) proposes level %d for %s %s: %s", ru.Name, r.Version, ru.Level, f.kind, f.id, strings.Join(parts, "; "))
	return x, true
}

// Input is what Evaluate looks at.
type Input struct {
	Rules    *Rules
	Missions access.Missions
	// Situations are the live picture's, every exercise's; campaigns are grouped within
	// each exercise (picture.GroupCampaigns under Campaigns, the links the picture itself
	// uses), so no crisis mixes two.
	Situations []*picture.Situation
	Campaigns  picture.CampaignConfig
	// Crises are the crises known so far, open and closed.
	Crises []Crisis
	Now    time.Time
}

// Result is what Evaluate found: the crises it changed or created, after the change,
// sorted by id, and the changes worth an alert.
type Result struct {
	Updated []Crisis
	Changes []Change
}

// candidate is a subject the rules look at: a campaign, or a situation in none.
type candidate struct {
	exercise string
	kind, id string
	members  []*picture.Situation
}

// Evaluate applies the rules to the picture's campaigns and lone situations, of the
// situations a crisis may hold (Rules.MaxTLP, no releasability list). A subject
// belongs to the crisis of its id or, failing that, to the crisis of its exercise
// sharing most of its situations (so a situation joining a campaign, or a campaign
// changing its oldest member, keeps its crisis); a crisis keeps the best of the subjects
// that belong to it. Any other subject for which a rule holds joins an open crisis of
// the same threat if there is one (Related: the same
// category, a technique, a sector and a member state in common: infrastructure rotates,
// and a campaign whose addresses became a hub falls apart into situations that are
// still one threat), else it is proposed as a new crisis. Each crisis then follows the
// union of its subjects (situations, what they touch, marking), and its level rises
// while it is a proposal nobody has acted on; a closed crisis is re-opened only by a
// rule of a higher level than it had. The result depends on the sets given, not their
// order.
func Evaluate(in Input) Result {
	shared := make([]*picture.Situation, 0, len(in.Situations))
	for _, s := range in.Situations {
		if in.Rules.shareable(s) {
			shared = append(shared, s)
		}
	}
	cands := candidates(shared, in.Campaigns)
	crises := make(map[string]*Crisis, len(in.Crises))
	bySituation := map[string][]string{} // exercise + "\x00" + situation id → crisis ids
	for i := range in.Crises {
		c := in.Crises[i].Clone()
		crises[c.ID] = &c
	}
	ids := make([]string, 0, len(crises))
	for id := range crises {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		c := crises[id]
		for _, s := range c.Situations {
			k := c.Exercise + "\x00" + s
			bySituation[k] = append(bySituation[k], id)
		}
	}
	// Each subject claims one crisis: the one of its id, else the one sharing most of its
	// situations; each crisis keeps its best claimant (so a crisis follows one subject
	// and never snowballs through the situations it once held).
	type claim struct {
		cand    int
		byID    bool
		overlap int
		same    bool // the subject's best situation is of the crisis's category
	}
	better := func(a, b claim) bool { // a is a better claim than b
		if a.byID != b.byID {
			return a.byID
		}
		if a.overlap != b.overlap {
			return a.overlap > b.overlap
		}
		if a.same != b.same {
			return a.same
		}
		return a.cand < b.cand // candidates are sorted: the smaller subject
	}
	claims := map[string]claim{}
	for i, cd := range cands {
		own := ID(cd.exercise, Subject{Kind: cd.kind, ID: cd.id})
		cl := claim{cand: i}
		cid := own
		if _, ok := crises[own]; ok {
			cl.byID = true
		} else {
			count := map[string]int{}
			for _, s := range cd.members {
				for _, id := range bySituation[cd.exercise+"\x00"+s.ID] {
					count[id]++
				}
			}
			cid = ""
			for id, n := range count {
				if n > cl.overlap || n == cl.overlap && id < cid {
					cid, cl.overlap = id, n
				}
			}
			if cid == "" {
				continue
			}
		}
		cl.same = bestCategory(cd.members) == crises[cid].Category
		if held, ok := claims[cid]; !ok || better(cl, held) {
			claims[cid] = cl
		}
	}
	members := map[string][]*picture.Situation{} // crisis id → its subjects' situations this time
	var order []string                           // crisis ids in the order first assigned
	var fresh []*facts                           // the first subject of each new crisis, for related
	assign := func(cid string, cd *candidate) {
		if _, ok := members[cid]; !ok {
			order = append(order, cid)
		}
		members[cid] = append(members[cid], cd.members...)
	}
	won := make([]bool, len(cands))
	for _, cid := range ids {
		if cl, ok := claims[cid]; ok {
			won[cl.cand] = true
			assign(cid, &cands[cl.cand])
		}
	}
	floor := in.Rules.scoreFloor()
	for i := range cands {
		cd := &cands[i]
		if won[i] || maxScore(cd.members) < floor {
			continue // no rule can hold: not worth gathering
		}
		f := gather(in.Rules, in.Missions, cd.kind, cd.id, slices.Clone(cd.members))
		if _, holds := in.Rules.propose(&f); !holds {
			continue
		}
		// The same threat as an open crisis held, or as one proposed a moment ago?
		relID, relN := "", 0
		for _, id := range ids {
			if c := crises[id]; c.Open() && c.Exercise == f.exercise && c.TLP <= in.Rules.MaxTLP && len(c.ReleasableTo) == 0 {
				if n := related(c.Category, c.Techniques, c.Sectors, c.Countries, &f); n > relN {
					relID, relN = id, n
				}
			}
		}
		for _, g := range fresh { // in the order they were made: the first of equals wins
			if g.exercise != f.exercise {
				continue
			}
			if n := related(g.category, g.techniques, g.sectors, g.countries, &f); n > relN {
				relID, relN = ID(g.exercise, Subject{g.kind, g.id}), n
			}
		}
		if relID != "" {
			assign(relID, cd)
			continue
		}
		own := ID(cd.exercise, Subject{Kind: cd.kind, ID: cd.id})
		if _, taken := crises[own]; taken {
			continue // its own crisis kept a better claimant (BUG guard: ids are per subject)
		}
		fresh = append(fresh, &f)
		assign(own, cd)
	}
	subjects := map[string]*facts{}
	for _, g := range fresh {
		subjects[ID(g.exercise, Subject{g.kind, g.id})] = g
	}
	var res Result
	for _, cid := range order {
		c, held := crises[cid]
		kind, sid := "", ""
		if held {
			kind, sid = c.Subject.Kind, c.Subject.ID
		} else {
			kind, sid = subjects[cid].kind, subjects[cid].id
		}
		f := gather(in.Rules, in.Missions, kind, sid, dedupe(members[cid]))
		x, holds := in.Rules.propose(&f)
		if held {
			if ch, changed := c.follow(&f, x, holds, in.Now); changed {
				res.Updated = append(res.Updated, c.Clone())
				res.Changes = append(res.Changes, ch...)
			}
			continue
		}
		if !holds {
			continue // BUG guard: its first subject held, and a union only adds
		}
		nc := propose(&f, x, in.Now)
		res.Updated = append(res.Updated, nc.Clone())
		res.Changes = append(res.Changes, Change{Kind: ChangeProposed, Crisis: nc.Clone(), Reason: "crisis proposed at level " +
			strconv.Itoa(nc.Level) + ": " + x.Text})
	}
	slices.SortFunc(res.Updated, func(a, b Crisis) int { return strings.Compare(a.ID, b.ID) })
	slices.SortStableFunc(res.Changes, func(a, b Change) int { return strings.Compare(a.Crisis.ID, b.Crisis.ID) })
	return res
}

// related says how much subject f looks like the threat of a crisis (its category,
// techniques, sectors and countries): the countries they share when the category is the
// same and a technique, a sector and a country are shared, else 0.
func related(category string, techniques, sectors, countries []string, f *facts) int {
	if (category == "" || category != f.category) && !shares(techniques, f.techniques) || !shares(sectors, f.sectors) {
		return 0
	}
	n := 0
	for _, s := range f.countries {
		if slices.Contains(countries, s) {
			n++
		}
	}
	return n
}

func shares(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// bestCategory is the category of the best-scored of sits (the smallest id of equals).
func bestCategory(sits []*picture.Situation) string {
	var best *picture.Situation
	for _, s := range sits {
		if best == nil || s.Score > best.Score || s.Score == best.Score && s.ID < best.ID {
			best = s
		}
	}
	if best == nil {
		return ""
	}
	return best.Category
}

func maxScore(sits []*picture.Situation) float64 {
	m := 0.0
	for _, s := range sits {
		m = max(m, s.Score)
	}
	return m
}

// dedupe returns sits without repeats (a situation two subjects of one crisis share).
func dedupe(sits []*picture.Situation) []*picture.Situation {
	slices.SortFunc(sits, func(a, b *picture.Situation) int { return strings.Compare(a.ID, b.ID) })
	return slices.CompactFunc(sits, func(a, b *picture.Situation) bool { return a.ID == b.ID })
}

// candidates are the campaigns of each exercise and the situations in none, sorted by
// exercise then id.
func candidates(sits []*picture.Situation, links picture.CampaignConfig) []candidate {
	byEx := map[string][]*picture.Situation{}
	for _, s := range sits {
		byEx[s.Exercise] = append(byEx[s.Exercise], s)
	}
	var out []candidate
	for ex, ss := range byEx {
		byID := make(map[string]*picture.Situation, len(ss))
		for _, s := range ss {
			byID[s.ID] = s
		}
		inCampaign := map[string]bool{}
		for _, cp := range picture.GroupCampaigns(ss, links) {
			cd := candidate{exercise: ex, kind: SubjectCampaign, id: cp.ID}
			for _, id := range cp.Situations {
				inCampaign[id] = true
				cd.members = append(cd.members, byID[id])
			}
			out = append(out, cd)
		}
		for _, s := range ss {
			if !inCampaign[s.ID] {
				out = append(out, candidate{exercise: ex, kind: SubjectSituation, id: s.ID, members: []*picture.Situation{s}})
			}
		}
	}
	slices.SortFunc(out, func(a, b candidate) int {
		return cmp.Or(strings.Compare(a.exercise, b.exercise), strings.Compare(a.id, b.id))
	})
	return out
}

// rulesActor is the timeline's actor for what the rules did.
func rulesActor(x Explanation) string { return "rules " + x.RulesVersion }

// propose makes a new crisis of f at the level of x.
func propose(f *facts, x Explanation, now time.Time) *Crisis {
	c := &Crisis{Exercise: f.exercise, Subject: Subject{Kind: f.kind, ID: f.id}, Status: Monitoring, Proposed: true,
		Level: x.Level, RuleLevel: x.Level, Explanation: x, CreatedAt: now}
	c.ID = ID(f.exercise, c.Subject)
	c.absorb(f)
	c.touch(now)
	c.Timeline = []Entry{{At: now, Actor: rulesActor(x), Action: "propose", To: c.State(), Reason: x.Text}}
	return c
}

// absorb takes f's situations and what they touch. The marking only tightens: what a
// crisis once showed (in its timeline too) stays behind the marking it was shown under.
func (c *Crisis) absorb(f *facts) {
	c.Title, c.Score, c.Geo = f.title, math.Round(f.score*10)/10, f.geo
	if c.Category == "" {
		c.Category = f.category
	}
	c.Situations, c.Techniques = f.situations, f.techniques
	c.Countries, c.MemberStates = f.countries, f.states
	c.Sectors, c.CriticalSectors = f.sectors, f.critical
	c.Missions, c.Contributors = f.missions, f.contributors
	c.Civil, c.Military = f.civil, f.military
	if c.TLP == 0 {
		c.TLP, c.ReleasableTo = f.tlp, f.releasable
	} else {
		c.TLP = max(c.TLP, f.tlp)
		c.ReleasableTo = intersectRelease(c.ReleasableTo, f.releasable)
	}
}

// follow brings c up to its subject f, whose rules' proposal is x (holds). It reports the
// changes worth an alert and whether anything changed at all. A score moving by less
// than a point alone is no change: scores move with age every second.
func (c *Crisis) follow(f *facts, x Explanation, holds bool, now time.Time) ([]Change, bool) {
	before := c.Clone()
	c.absorb(f)
	changed := !slices.Equal(before.Situations, c.Situations) || !slices.Equal(c.Countries, before.Countries) ||
		!slices.Equal(c.Sectors, before.Sectors) || !slices.Equal(c.Missions, before.Missions) ||
		!slices.Equal(c.Contributors, before.Contributors) || c.TLP != before.TLP || !slices.Equal(c.Techniques, before.Techniques) ||
		!slices.Equal(c.ReleasableTo, before.ReleasableTo) || math.Abs(c.Score-before.Score) >= 1 ||
		c.Title != before.Title
	if !changed {
		// Keep the values the stored version has: nothing worth a version moved.
		*c = before
	}
	var out []Change
	if holds && x.Level > c.RuleLevel {
		from := c.State()
		c.RuleLevel, c.Explanation = x.Level, x
		entry := Entry{At: now, Actor: rulesActor(x), From: &from, Reason: x.Text}
		switch {
		case c.Status == Closed && x.Level > c.Level:
			c.Status, c.Level, c.Proposed = Monitoring, x.Level, true
			entry.Action = "reopen"
			out = append(out, Change{Kind: ChangeProposed, From: &from, Reason: fmt.Sprintf("closed crisis re-opened at level %d: %s", x.Level, x.Text)})
		case c.Proposed && x.Level > c.Level:
			c.Level = x.Level
			entry.Action = "propose"
			out = append(out, Change{Kind: ChangeLevel, From: &from, Reason: fmt.Sprintf("proposal raised to level %d: %s", x.Level, x.Text)})
		case c.Open() && x.Level > c.Level:
			entry.Action = "propose-level"
			out = append(out, Change{Kind: ChangeLevel, From: &from, Reason: fmt.Sprintf("rules propose level %d (now %d): %s", x.Level, c.Level, x.Text)})
		}
		entry.To = c.State()
		if entry.Action != "" {
			c.Timeline = append(c.Timeline, entry)
		}
		changed = true
	}
	if !changed {
		return nil, false
	}
	c.touch(now)
	for i := range out {
		out[i].Crisis = c.Clone()
	}
	return out, true
}
