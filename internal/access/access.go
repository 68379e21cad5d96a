// Package access owns who may see what: identities and their roles, mission areas, and the
// marking rules (TLP ceiling, releasability, anonymisation, exercise separation) that every
// read path applies through this one package. It does no I/O beyond loading its config.
package access

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/cidcc/cop/correlate"
	"github.com/cidcc/cop/internal/event"
)

// Role is what an identity may do.
type Role string

// Roles of DESIGN.md.
const (
	RoleContributor Role = "contributor" // push its own feed only
	RoleCommander   Role = "commander"   // live picture of its missions
	RoleAnalyst     Role = "analyst"     // history, export, TAXII
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
	case RoleAdmin, RoleAnalyst:
		return true
	case RoleCommander:
		return m != "" && slices.Contains(id.Missions, strings.ToUpper(m))
	}
	return false
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
func (id *Identity) SituationVisible(s *correlate.Situation, v View, missions Missions) bool {
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

// Redact returns s as id may see it: anonymised contributors other than id itself are
// replaced by a pseudonym stable for this viewer.
func (id *Identity) Redact(s correlate.Situation) correlate.Situation {
	if id.Role == RoleAdmin {
		return s
	}
	anon := false
	for _, c := range s.Contributors {
		if c.Anonymise && c.Name != id.Name {
			anon = true
			break
		}
	}
	if !anon {
		return s
	}
	cs := make([]correlate.Contributor, len(s.Contributors))
	for i, c := range s.Contributors {
		if c.Anonymise && c.Name != id.Name {
			c.Name = Pseudonym(id.Name, c.Name)
		}
		cs[i] = c
	}
	s.Contributors = cs
	return s
}

// Pseudonym names an anonymised contributor to one viewer: "member state 3f2a", the same
// every time for that viewer, different for another viewer.
func Pseudonym(viewer, contributor string) string {
	h := sha256.Sum256([]byte("cop-pseudonym\x00" + viewer + "\x00" + contributor))
	return "member state " + hex.EncodeToString(h[:2])
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
