// Package correlate is COP's correlation engine: it deduplicates events, tracks who
// corroborated each observable, links events that share observables into situations and
// scores each situation with an explanation.
//
// It is pure and single-threaded: no Kafka, no ClickHouse, no goroutines of its own. The
// pipeline (correlate/pipeline) feeds it batches with Engine.Apply and takes its outputs;
// Engine.Tick re-scores for decay; Snapshot and Restore let a restarted correlator resume.
// Its memory is bounded: situations retire after Config.RetireAfter without an event, or
// oldest first beyond Config.MaxObservables and MaxSituations (retire.go).
package correlate

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
	// Confidence is the combined confidence, 0–100 (noisy-OR over independent contributors).
	Confidence   float64       `json:"confidence"`
	Score        float64       `json:"score"`
	Explanation  Explanation   `json:"explanation"`
	Contributors []Contributor `json:"contributors"`
	Countries    []string      `json:"countries,omitempty"`
	Sectors      []string      `json:"sectors,omitempty"`
	Techniques   []string      `json:"techniques,omitempty"`
	Geo          *event.Geo    `json:"geo,omitempty"`
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
// Confidence × Criticality × Decay, each factor in [0, 1].
type Explanation struct {
	Severity       float64 `json:"severity"`
	Confidence     float64 `json:"confidence"`
	Corroborations int     `json:"corroborations"`
	Criticality    float64 `json:"criticality"`
	Decay          float64 `json:"decay"`
	AgeHours       float64 `json:"age_hours"`
	Text           string  `json:"text"`
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
