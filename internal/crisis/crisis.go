package crisis

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

// Levels, after the EU's Blueprint for coordinated response to large-scale cyber incidents.
const (
	// MinLevel, 1 (watch): something of concern the analysts watch; no one else is asked.
	MinLevel = 1
	// Level 2 (significant): several member states or a critical sector are touched; the
	// crisis liaison officers (EU-CyCLONe) and the commanders concerned are informed.
	// Level 3 (large-scale): a large-scale cybersecurity incident (NIS2 art. 16) whose
	// response the member states coordinate through EU-CyCLONe.
	// MaxLevel, 4 (crisis): a cyber crisis beyond what the member states can handle
	// alone; the political level (IPCR) is engaged.
	MaxLevel = 4
)

// Status is where a crisis is in its life.
type Status string

// Statuses, in order. A proposal starts as monitoring (and Proposed until a person
// confirms it).
const (
	Monitoring  Status = "monitoring"           // watched; proposals start here
	Escalated   Status = "escalated"            // confirmed as needing the crisis network's attention
	Coordinated Status = "coordinated-response" // a coordinated response is under way
	Closed      Status = "closed"               // over; the rules re-open it only at a higher level
)

// State is a crisis's status and level, before and after a timeline entry.
type State struct {
	Status Status `json:"status"`
	Level  int    `json:"level"`
}

// Entry is one line of a crisis's timeline.
type Entry struct {
	At time.Time `json:"at"`
	// Actor is the person (identity name) or, for the rules, "rules <version>".
	Actor  string `json:"actor"`
	Action string `json:"action"`
	From   *State `json:"from,omitempty"` // nil on the proposal
	To     State  `json:"to"`
	Reason string `json:"reason,omitempty"`
}

// Subject is what a crisis is about: a campaign or a lone situation of the picture.
type Subject struct {
	Kind string `json:"kind"` // SubjectCampaign or SubjectSituation
	ID   string `json:"id"`
}

// Contributor is one contributor to a crisis's situations. Read paths show Name as the
// viewer may see it (access.Anonymiser), as for a situation's contributors.
type Contributor struct {
	Name      string `json:"name"`
	Anonymise bool   `json:"anonymise,omitempty"`
	Military  bool   `json:"military,omitempty"`
}

// Crisis is one crisis: its subject, level, status and timeline, what it touches, and the
// most restrictive marking of every situation it has held, which a viewer must be cleared
// for to see it at all (so it never reveals a member the viewer may not see).
type Crisis struct {
	// ID is derived from the exercise and the subject it was proposed for: evaluating the
	// same picture again finds the same crisis.
	ID string `json:"id"`
	// Version rises with every change (ReplacingMergeTree keeps the latest).
	Version  uint64  `json:"version"`
	Exercise string  `json:"exercise,omitempty"`
	Subject  Subject `json:"subject"`
	Title    string  `json:"title"`
	Level    int     `json:"level"`
	Status   Status  `json:"status"`
	// Proposed: the rules proposed it and no person has acted on it yet.
	Proposed bool `json:"proposed"`
	// RuleLevel is the highest level the rules have proposed for it.
	RuleLevel int `json:"rule_level"`
	// Explanation is the proposal that set RuleLevel: the rule and its conditions' values.
	Explanation Explanation `json:"explanation"`
	Score       float64     `json:"score"`
	// Countries, MemberStates, Sectors and CriticalSectors are those its situations touch
	// now (the timeline keeps what they touched before).
	Countries       []string `json:"countries,omitempty"`
	MemberStates    []string `json:"member_states,omitempty"`
	Sectors         []string `json:"sectors,omitempty"`
	CriticalSectors []string `json:"critical_sectors,omitempty"`
	// Category (the first subject's best situation's) and Techniques (every one seen) say
	// which threat it is: a new subject of the same threat joins it (Evaluate).
	Category   string   `json:"category,omitempty"`
	Techniques []string `json:"techniques,omitempty"`
	// Missions are the CSDP missions whose area one of its situations touched.
	Missions []string `json:"missions,omitempty"`
	// Situations are the member situations' ids now.
	Situations   []string      `json:"situations"`
	Contributors []Contributor `json:"contributors,omitempty"`
	// Civil and Military count its contributors by side (read paths leave an anonymised
	// contributor's side out of its entry: the counts say it without naming anyone).
	Civil        int        `json:"civil"`
	Military     int        `json:"military"`
	Geo          *event.Geo `json:"geo,omitempty"`
	TLP          event.TLP  `json:"tlp"`
	ReleasableTo []string   `json:"releasable_to,omitempty"`
	Timeline     []Entry    `json:"timeline"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

// Open reports whether c is not closed.
func (c *Crisis) Open() bool { return c.Status != Closed }

// State returns c's status and level.
func (c *Crisis) State() State { return State{Status: c.Status, Level: c.Level} }

// Marked is c's marking, for access.Identity.CanSee.
func (c *Crisis) Marked() access.Marked {
	return access.Marked{TLP: c.TLP, ReleasableTo: c.ReleasableTo, Exercise: c.Exercise}
}

// Touches reports whether c touches one of missions.
func (c *Crisis) Touches(missions []string) bool {
	for _, m := range missions {
		if slices.ContainsFunc(c.Missions, func(x string) bool { return strings.EqualFold(x, m) }) {
			return true
		}
	}
	return false
}

// Summary is a situation summarising c, the subject of its alerts: its id, title and
// score, what it touches, its position and its marking.
func (c *Crisis) Summary() picture.Situation {
	return picture.Situation{ID: c.ID, Version: c.Version, Exercise: c.Exercise, Title: c.Title, Kind: event.KindIncident,
		Severity: event.SeverityHigh, Score: c.Score, Countries: slices.Clone(c.Countries), Sectors: slices.Clone(c.Sectors),
		Geo: c.Geo, TLP: c.TLP, ReleasableTo: slices.Clone(c.ReleasableTo), FirstSeen: c.CreatedAt, LastSeen: c.UpdatedAt,
		UpdatedAt: c.UpdatedAt}
}

// ID derives a crisis's id from its exercise and subject.
func ID(exercise string, s Subject) string {
	if exercise == "" {
		return "crisis-" + s.ID
	}
	return "crisis-" + strings.ToLower(exercise) + "-" + s.ID
}

// Actions people may take on a crisis.
const (
	ActConfirm    = "confirm"    // accept the proposal as it stands (optionally at another level)
	ActEscalate   = "escalate"   // monitoring → escalated, or a higher level
	ActDowngrade  = "downgrade"  // one status back (coordinated → escalated → monitoring) and/or a lower level
	ActCoordinate = "coordinate" // escalated → coordinated-response
	ActClose      = "close"      // any open status → closed
)

// Actions lists every action, for errors and the API's documentation.
var Actions = []string{ActConfirm, ActEscalate, ActDowngrade, ActCoordinate, ActClose}

// MayAct reports whether role may act on crises: analysts, liaison officers and admins;
// commanders read only.
func MayAct(role access.Role) bool {
	return role == access.RoleAnalyst || role == access.RoleLiaison || role == access.RoleAdmin
}

// Action is what a person asks: Level 0 takes the action's default.
type Action struct {
	Action string `json:"action"`
	Level  int    `json:"level,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Act applies a person's action to c at now: the new status and level, a timeline entry
// and a new version, or an error (ErrUnknownAction, ErrTransition, ErrBadLevel,
// ErrNoReason, wrapped with why) leaving c unchanged.
func (c *Crisis) Act(a Action, actor string, now time.Time) (Change, error) {
	from := c.State()
	to, err := next(from, c.Proposed, a)
	if err != nil {
		return Change{}, err
	}
	c.Status, c.Level, c.Proposed = to.Status, to.Level, false
	c.touch(now)
	c.Timeline = append(c.Timeline, Entry{At: now, Actor: actor, Action: a.Action, From: &from, To: to, Reason: strings.TrimSpace(a.Reason)})
	kind := ChangeStatus
	if from.Status == to.Status {
		kind = ChangeLevel
	}
	return Change{Kind: kind, From: &from, Crisis: c.Clone(), Reason: describeAction(actor, a.Action, from, to)}, nil
}

// next is the status machine: the state action a leads to from from.
func next(from State, proposed bool, a Action) (State, error) {
	if a.Level != 0 && (a.Level < MinLevel || a.Level > MaxLevel) {
		return from, fmt.Errorf("%w: level %d: want 1 to 4", ErrBadLevel, a.Level)
	}
	if from.Status == Closed {
		return from, fmt.Errorf("%w: %s: the crisis is closed", ErrTransition, a.Action)
	}
	needReason := func() error {
		if strings.TrimSpace(a.Reason) == "" {
			return fmt.Errorf("%w: to %s a crisis, say why (field reason)", ErrNoReason, a.Action)
		}
		return nil
	}
	to := from
	switch a.Action {
	case ActConfirm:
		if !proposed {
			return from, fmt.Errorf("%w: confirm: the crisis was already confirmed", ErrTransition)
		}
		to.Level = cmpOr(a.Level, from.Level)
	case ActEscalate:
		if from.Status == Monitoring {
			to.Status = Escalated
		}
		to.Level = cmpOr(a.Level, from.Level)
		if to.Status == from.Status && a.Level == 0 {
			to.Level = from.Level + 1
		}
		if to.Level < from.Level || to == from {
			return from, fmt.Errorf("%w: escalate: level %d is not above level %d", ErrBadLevel, to.Level, from.Level)
		}
		if to.Level > MaxLevel {
			return from, fmt.Errorf("%w: escalate: already at level %d, the highest", ErrTransition, from.Level)
		}
	case ActDowngrade:
		if err := needReason(); err != nil {
			return from, err
		}
		switch from.Status {
		case Coordinated:
			to.Status = Escalated
		case Escalated:
			to.Status = Monitoring
		}
		to.Level = cmpOr(a.Level, from.Level)
		if to.Status == from.Status && a.Level == 0 {
			to.Level = from.Level - 1
		}
		if to.Level > from.Level || to == from {
			return from, fmt.Errorf("%w: downgrade: level %d is not below level %d", ErrBadLevel, to.Level, from.Level)
		}
		if to.Level < MinLevel {
			return from, fmt.Errorf("%w: downgrade: already monitoring at level 1: close it instead", ErrTransition)
		}
	case ActCoordinate:
		if from.Status != Escalated {
			return from, fmt.Errorf("%w: coordinate: the crisis is %s; a coordinated response follows an escalation", ErrTransition, from.Status)
		}
		to.Status = Coordinated
		to.Level = cmpOr(a.Level, from.Level)
		if to.Level < from.Level {
			return from, fmt.Errorf("%w: coordinate: level %d is below level %d (downgrade to lower it)", ErrBadLevel, to.Level, from.Level)
		}
	case ActClose:
		if err := needReason(); err != nil {
			return from, err
		}
		to.Status = Closed
	default:
		return from, fmt.Errorf("%w %q: want one of %s", ErrUnknownAction, a.Action, strings.Join(Actions, ", "))
	}
	return to, nil
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

func describeAction(actor, action string, from, to State) string {
	switch {
	case action == ActConfirm:
		return fmt.Sprintf("crisis confirmed at level %d by %s", to.Level, actor)
	case from.Status != to.Status:
		return fmt.Sprintf("crisis %s by %s: %s → %s, level %d", pastTense(action), actor, from.Status, to.Status, to.Level)
	default:
		return fmt.Sprintf("crisis %s to level %d by %s", pastTense(action), to.Level, actor)
	}
}

func pastTense(action string) string {
	switch action {
	case ActEscalate:
		return "escalated"
	case ActDowngrade:
		return "downgraded"
	case ActCoordinate:
		return "put under coordinated response"
	case ActClose:
		return "closed"
	}
	return action + "ed"
}

// touch records a change at now.
func (c *Crisis) touch(now time.Time) {
	c.Version++
	c.UpdatedAt = now
}

// Clone returns a deep copy of c.
func (c *Crisis) Clone() Crisis {
	d := *c
	d.Explanation.Conditions = slices.Clone(c.Explanation.Conditions)
	d.Explanation.Also = slices.Clone(c.Explanation.Also)
	d.Countries, d.MemberStates = slices.Clone(c.Countries), slices.Clone(c.MemberStates)
	d.Sectors, d.CriticalSectors = slices.Clone(c.Sectors), slices.Clone(c.CriticalSectors)
	d.Missions, d.Situations = slices.Clone(c.Missions), slices.Clone(c.Situations)
	d.Techniques = slices.Clone(c.Techniques)
	d.Contributors, d.ReleasableTo = slices.Clone(c.Contributors), slices.Clone(c.ReleasableTo)
	d.Timeline = slices.Clone(c.Timeline)
	if c.Geo != nil {
		g := *c.Geo
		d.Geo = &g
	}
	return d
}

// ChangeKind says what changed, for alerts.
type ChangeKind string

// Kinds of change.
const (
	ChangeProposed ChangeKind = "proposed" // the rules proposed a new crisis, or re-opened a closed one
	ChangeLevel    ChangeKind = "level"    // its level changed, or the rules propose a higher one
	ChangeStatus   ChangeKind = "status"   // its status changed
)

// Change is one change worth an alert: the crisis after it, what it was before (nil for a
// proposal) and in words why.
type Change struct {
	Kind   ChangeKind
	From   *State
	Crisis Crisis
	Reason string
}
