// Package picture owns the live picture's model: the situation the engine renders, its
// contributors and the explanation of its score, and the delta that changes it. The
// correlation engine (correlate) renders into it; the API, the store and the access
// rules read it. It holds data and the rules about the data alone (markings), does no
// I/O and must not depend on the engine.
package picture

import (
	"time"

	"github.com/cidcc/cop/internal/event"
)

// Situation is what the picture shows: one or more linked events, with their combined
// marking, corroboration and score. Its JSON is the payload of cop.picture and of the
// websocket.
type Situation struct {
	ID string `json:"id"`
	// Version rises with every change, so consumers keep the latest (ReplacingMergeTree).
	Version  uint64 `json:"version"`
	Exercise string `json:"exercise,omitempty"`
	Title    string `json:"title"`
	// Kind and Category are those of the most severe member.
	Kind     event.Kind     `json:"kind"`
	Category string         `json:"category,omitempty"`
	Severity event.Severity `json:"severity"`
	// Confidence is the combined confidence, 0–100 (noisy-OR over independent
	// contributors). It is shown, not scored: Explanation.Corroboration is.
	Confidence float64 `json:"confidence"`
	// Score is 0–100, the same for every viewer (Explanation, docs/scoring.md).
	Score float64 `json:"score"`
	// Rank is the order of a commander's mission view, best first: Score weighed by the
	// situation's relevance to the mission (access.Missions.Rank). Only the copy sent to
	// that view carries it; the engine's and the store's situations leave it 0.
	Rank         float64       `json:"rank,omitempty"`
	Explanation  Explanation   `json:"explanation"`
	Contributors []Contributor `json:"contributors"`
	Countries    []string      `json:"countries,omitempty"`
	Sectors      []string      `json:"sectors,omitempty"`
	Techniques   []string      `json:"techniques,omitempty"`
	// Names are the campaigns, intrusion sets, threat actors, malware and tools its members
	// name (event.Name), and, of kind "vulnerability", the CVEs they exploit (the CVE id
	// as given, upper case), sorted by kind then name, the CVEs first.
	Names []event.Name `json:"names,omitempty"`
	// Geo is the position of its best member with one, in the order Title is chosen by
	// (most severe, then earliest): a situation titled after a report is placed where
	// that report is whenever it has a position.
	Geo *event.Geo `json:"geo,omitempty"`
	// TLP is the most restrictive marking of any member: a viewer must be cleared for it.
	TLP event.TLP `json:"tlp"`
	// ReleasableTo is the intersection of the members' non-empty releasability lists;
	// empty means no restriction beyond TLP.
	ReleasableTo []string `json:"releasable_to,omitempty"`
	// Observables holds up to MaxSituationObservables of the members' observables.
	Observables []event.Observable `json:"observables,omitempty"`
	EventCount  int                `json:"event_count"`
	// EventIDs holds up to MaxSituationEvents member ids, newest last.
	EventIDs  []string  `json:"event_ids,omitempty"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Contributor is one contributor to a situation. Anonymise means it asked not to be named
// to others: read paths replace Name with a pseudonym.
type Contributor struct {
	Name      string `json:"name"`
	Anonymise bool   `json:"anonymise,omitempty"`
}

// Explanation says why a situation scores what it scores: Score = 100 × Severity ×
// Corroboration × Criticality × Decay × Recency, each factor in [0, 1] (docs/scoring.md).
type Explanation struct {
	Severity float64 `json:"severity"`
	// Corroboration is E/(E+h) of the effective evidence E = Evidence: it keeps rising
	// with independent contributors and never reaches 1.
	Corroboration float64 `json:"corroboration"`
	// Evidence is Σ confidence × reliability over the distinct contributors.
	Evidence float64 `json:"evidence"`
	// Against is the evidence against: Σ min(1, w × false positives) × reliability over the
	// contributors that reported false-positive sightings of its members. Corroboration is
	// that of Evidence − Against (docs/scoring.md).
	Against float64 `json:"against,omitempty"`
	// FalsePositives sums each contributor's highest count of false-positive sightings.
	FalsePositives int `json:"false_positives,omitempty"`
	// Confidence is the noisy-OR 1 − Π(1 − confidence × reliability), shown, not scored.
	Confidence     float64 `json:"confidence"`
	Corroborations int     `json:"corroborations"`
	Criticality    float64 `json:"criticality"`
	Decay          float64 `json:"decay"`
	// Recency ranks the fresher of two otherwise equal situations higher.
	Recency  float64 `json:"recency"`
	AgeHours float64 `json:"age_hours"`
	// Relevance is the situation's relevance to the mission of the view it was sent to,
	// in [0, 1], set on that view's copy with Situation.Rank; absent elsewhere.
	Relevance float64 `json:"relevance,omitempty"`
	Text      string  `json:"text"`
}

// Score is the product the explanation explains: 100 × Severity × Corroboration ×
// Criticality × Decay × Recency.
func (x *Explanation) Score() float64 {
	return 100 * x.Severity * x.Corroboration * x.Criticality * x.Decay * x.Recency
}

// Delta is one change to the picture: a situation created or updated, or removed because
// it merged into another (Removed, with MergedInto naming the survivor) or was retired
// (Removed without MergedInto: no event for Config.RetireAfter, or the oldest when the
// engine was over Config.MaxObservables or MaxSituations).
type Delta struct {
	Situation  Situation `json:"situation"`
	MergedFrom []string  `json:"merged_from,omitempty"`
	Removed    bool      `json:"removed,omitempty"`
	MergedInto string    `json:"merged_into,omitempty"`
}

// Limits on how much of a situation is carried in a delta.
const (
	MaxSituationObservables = 32
	MaxSituationEvents      = 32
)

// LongestLifetime is the longest time a situation that no longer changes stays in the
// picture: the engine's longest default lifetime of an observable (a CVE's), after which it
// has decayed to nothing and is retired without a delta, so consumers of the compacted
// cop.picture drop it themselves. correlate.DefaultConfig takes it from here.
const LongestLifetime = 730 * 24 * time.Hour

// NoRelease is the single entry of Situation.ReleasableTo when the members' releasability
// lists have no name in common: no organisation is called "!none", so no releasability
// rule lets the situation through.
const NoRelease = "!none"

// Markings returns what of s decides who may see it (access.Identity.SituationVisible),
// without its observables, events and texts: what a history of replaced versions keeps.
func (s *Situation) Markings() *Situation {
	if s == nil {
		return nil
	}
	return &Situation{ID: s.ID, Version: s.Version, Exercise: s.Exercise, Score: s.Score, TLP: s.TLP,
		ReleasableTo: s.ReleasableTo, Countries: s.Countries, Sectors: s.Sectors, Geo: s.Geo}
}
