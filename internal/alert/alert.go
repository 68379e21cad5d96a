// Package alert owns what COP raises to the people a change concerns: an Alert says that a
// situation or campaign entered or rose in someone's view, or that a crisis was proposed or
// changed level or status. The crisis code raises alerts through a Sink; the dashboard
// (websocket), webhooks and syslog deliver them, each recipient filtered by its own
// clearance through internal/access like every read path. It does no I/O itself.
package alert

import (
	"time"

	"github.com/cidcc/cop/internal/picture"
)

// Kind is what an alert is about.
type Kind string

// Kinds of subject.
const (
	KindSituation Kind = "situation"
	KindCampaign  Kind = "campaign"
	KindCrisis    Kind = "crisis"
)

// Alert is one thing raised to whom it concerns.
type Alert struct {
	// ID is stable for one subject and one reason, so a repeat is the same alert.
	ID   string    `json:"id"`
	At   time.Time `json:"at"`
	Kind Kind      `json:"kind"`
	// Reason says in words why it is raised ("entered your view at score 72", "crisis
	// escalated to level 3 by analyst-1").
	Reason string `json:"reason"`
	// Level is a crisis's level (0 for other kinds).
	Level int `json:"level,omitempty"`
	// Subject is the situation itself or, for a campaign or crisis, a situation summarising
	// it: its id, title and score, the union of its members' countries, sectors and
	// positions, and the most restrictive of their markings. A recipient is concerned, and
	// may see it, when access.Identity.SituationVisible holds for Subject under its view.
	Subject picture.Situation `json:"subject"`
}

// Sink takes alerts to deliver. Raise must not block its caller for long.
type Sink interface {
	Raise(Alert)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(Alert)

// Raise calls f.
func (f SinkFunc) Raise(a Alert) { f(a) }

// Thresholds of the alerts the picture raises by itself (docs/alerts.md).
const (
	// DefaultScore is the score at or above which a situation entering a view raises an
	// alert, unless the view sets its own: a single unconfirmed report (about 14 at most)
	// does not page a commander; one corroborated by several contributors does.
	DefaultScore = 40
	// CriticalScore is the score whose crossing raises a second alert: about the share of
	// situations whose severity is critical (docs/scoring.md: 46 of 11,313 score 50+).
	CriticalScore = 60
)

// Fanout is a Sink that raises every alert to each of its sinks in turn.
type Fanout []Sink

// Raise raises a to every sink of f that is not nil.
func (f Fanout) Raise(a Alert) {
	for _, s := range f {
		if s != nil {
			s.Raise(a)
		}
	}
}
