// Package access owns who may see what: identities and their roles, mission areas, and the
// marking rules (TLP ceiling, releasability, anonymisation, exercise separation) that every
// read path applies through this one package. It does no I/O beyond loading its config.
package access

import (
	"cmp"
	"slices"
	"strings"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/keys"
	"github.com/cidcc/cop/internal/picture"
)

// Role is what an identity may do.
type Role string

// Roles of DESIGN.md.
const (
	RoleContributor Role = "contributor" // push its own feed only
	RoleCommander   Role = "commander"   // live picture of its missions
	RoleAnalyst     Role = "analyst"     // history, export, TAXII
	RoleLiaison     Role = "liaison"     // crisis liaison officer (EU-CyCLONe): crises across missions
	RoleAdmin       Role = "admin"
)

// Identity is an authenticated caller.
type Identity struct {
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	MaxTLP    event.TLP `json:"tlp_max"`
	Missions  []string  `json:"missions,omitempty"`
	Exercises []string  `json:"exercises,omitempty"` // exercises this identity may view
}

// View is what a viewer asks to see; the identity bounds it.
type View struct {
	Mission  string   `json:"mission,omitempty"`
	MinScore float64  `json:"min_score,omitempty"`
	Sectors  []string `json:"sectors,omitempty"`
	Exercise string   `json:"exercise,omitempty"`
}

// AllowedExercise reports whether id may look at exercise ("" is the real picture).
func (id *Identity) AllowedExercise(exercise string) bool {
	if exercise == "" || id.Role == RoleAdmin {
		return true
	}
	return slices.Contains(id.Exercises, strings.ToUpper(exercise))
}

// AllowedMission reports whether id may take a mission's view; "" is every mission, which
// only analysts and admins may take.
func (id *Identity) AllowedMission(m string) bool {
	switch id.Role {
	case RoleAdmin, RoleAnalyst, RoleLiaison:
		return true
	case RoleCommander:
		return m != "" && slices.Contains(id.Missions, strings.ToUpper(m))
	}
	return false
}

// DefaultView is v with the view id takes when it names none: a commander's first mission.
func (id *Identity) DefaultView(v View) View {
	if id.Role == RoleCommander && v.Mission == "" && len(id.Missions) > 0 {
		v.Mission = id.Missions[0]
	}
	return v
}

// AllowedView reports whether id may take view v: its exercise, and its mission (a
// commander must name one of its own; others may name any or none).
func (id *Identity) AllowedView(v View) bool {
	return id.AllowedExercise(v.Exercise) && (v.Mission == "" && id.Role != RoleCommander || id.AllowedMission(v.Mission))
}

// Marked is what the marking rules look at, for events and situations alike.
type Marked struct {
	TLP          event.TLP
	ReleasableTo []string
	Exercise     string
}

// CanSee applies the marking rules: TLP ceiling (RED only to named recipients),
// releasability (the viewer or one of its missions named, if the list is not empty), and
// exercise separation (only the exercise the view asks for).
func (id *Identity) CanSee(m Marked, exercise string) bool {
	if m.Exercise != exercise {
		return false
	}
	if m.TLP == 0 || m.TLP > id.MaxTLP {
		return false
	}
	named := id.named(m.ReleasableTo)
	if m.TLP == event.TLPRed && !named {
		return false
	}
	return len(m.ReleasableTo) == 0 || named
}

// Recipients are the names that count as naming id in a releasability list: its own name
// and its missions, upper-case as stored. Query paths pass them to the store (Scope.Named).
func (id *Identity) Recipients() []string {
	out := make([]string, 0, 1+len(id.Missions))
	out = append(out, strings.ToUpper(id.Name))
	for _, m := range id.Missions {
		out = append(out, strings.ToUpper(m))
	}
	return out
}

func (id *Identity) named(list []string) bool {
	for _, r := range list {
		if strings.EqualFold(r, id.Name) {
			return true
		}
		for _, m := range id.Missions {
			if strings.EqualFold(r, m) {
				return true
			}
		}
	}
	return false
}

// SituationVisible reports whether s is in id's picture under view v.
func (id *Identity) SituationVisible(s *picture.Situation, v View, missions Missions) bool {
	if !id.CanSee(Marked{TLP: s.TLP, ReleasableTo: s.ReleasableTo, Exercise: s.Exercise}, strings.ToUpper(v.Exercise)) {
		return false
	}
	if s.Score < v.MinScore {
		return false
	}
	if len(v.Sectors) > 0 && !intersects(v.Sectors, s.Sectors) {
		return false
	}
	if v.Mission != "" {
		m, ok := missions[strings.ToUpper(v.Mission)]
		if !ok || !m.Covers(s) {
			return false
		}
	}
	return true
}

// Anonymiser applies the anonymisation rule: to every viewer but itself (and admins), a
// contributor that asked not to be named is shown by a pseudonym, keyed with the
// deployment's secret so that knowing every name involved does not reverse it.
type Anonymiser struct {
	Keys *keys.Ring
}

// Shown is the name of contributor as id may see it.
func (a Anonymiser) Shown(id *Identity, contributor string, anonymise bool) string {
	if hidden(id, contributor, anonymise) {
		return a.Pseudonym(id.Name, contributor)
	}
	return contributor
}

// hidden reports whether id is shown contributor's pseudonym instead of its name.
func hidden(id *Identity, contributor string, anonymise bool) bool {
	return anonymise && id.Role != RoleAdmin && contributor != id.Name
}

// Redacts reports whether Redact may show s to id otherwise than as s is: whether id is
// shown one of its contributors by pseudonym. When it is false, s as encoded for anyone
// is what id may see of it (the websocket hub shares those bytes between viewers).
func (a Anonymiser) Redacts(id *Identity, s *picture.Situation) bool {
	for _, c := range s.Contributors {
		if hidden(id, c.Name, c.Anonymise) {
			return true
		}
	}
	return false
}

// Pseudonym names an anonymised contributor to one viewer: "member state 3f2a9c01", the
// same every time for that viewer, unrelated for another viewer or another contributor.
func (a Anonymiser) Pseudonym(viewer, contributor string) string {
	return "member state " + a.Keys.Pseudonym(viewer, contributor)[:8]
}

// Redact returns s as id may see it: anonymised contributors other than id itself are
// replaced by their pseudonyms, and the list is sorted again by the names shown, so a
// pseudonym's place in it says nothing of the name behind it.
func (a Anonymiser) Redact(id *Identity, s picture.Situation) picture.Situation {
	anon := false
	for _, c := range s.Contributors {
		anon = anon || a.Shown(id, c.Name, c.Anonymise) != c.Name
	}
	if !anon {
		return s
	}
	cs := make([]picture.Contributor, len(s.Contributors))
	for i, c := range s.Contributors {
		c.Name = a.Shown(id, c.Name, c.Anonymise)
		cs[i] = c
	}
	slices.SortFunc(cs, func(x, y picture.Contributor) int {
		if c := strings.Compare(x.Name, y.Name); c != 0 {
			return c
		}
		return cmp.Compare(b2i(x.Anonymise), b2i(y.Anonymise))
	})
	s.Contributors = cs
	return s
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func intersects(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if strings.EqualFold(x, y) {
				return true
			}
		}
	}
	return false
}
