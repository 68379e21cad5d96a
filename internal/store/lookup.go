package store

import (
	"context"
	"fmt"
	"time"

	"github.com/cidcc/cop/internal/event"
)

// MaxSightings bounds one observable look-up; History.Truncated says when it was reached.
const MaxSightings = 10_000

// Sighting is one event that reported an observable.
type Sighting struct {
	EventID     string    `json:"event_id"`
	Type        string    `json:"type"`
	Contributor string    `json:"contributor"`
	Anonymise   bool      `json:"-"`
	ObservedAt  time.Time `json:"observed_at"`
	SituationID string    `json:"situation_id,omitempty"`
	TLP         event.TLP `json:"tlp"`
}

// History is every sighting of one observable value the caller may see.
type History struct {
	Value      string     `json:"value"`
	FirstSeen  time.Time  `json:"first_seen,omitzero"`
	LastSeen   time.Time  `json:"last_seen,omitzero"`
	Sightings  []Sighting `json:"sightings"`
	Situations []string   `json:"situations"`
	Truncated  bool       `json:"truncated,omitempty"`
}

// Observable returns the sightings of value (of type typ, if not empty) in c's scope,
// oldest first, each event once. cop.observables is ordered by value, so this reads a
// few granules whatever the table's size.
func (s *Store) Observable(ctx context.Context, c Caller, value, typ string) (History, error) {
	h := History{Value: value, Sightings: []Sighting{}, Situations: []string{}}
	w := &sqlWhere{}
	w.add("value = ?", value)
	if typ != "" {
		w.add("type = ?", typ)
	}
	w.marking(c, "")
	rows, err := s.conn.Query(ctx, `SELECT event_id, type, contributor, anonymise, observed_at, situation_id, toInt8(tlp)
		FROM cop.observables WHERE `+w.String()+` ORDER BY observed_at, event_id LIMIT 1 BY event_id, type LIMIT `+
		fmt.Sprint(MaxSightings+1), w.args...)
	if err != nil {
		return h, fmt.Errorf("cannot look up observable: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sg Sighting
		var anon uint8
		var tlp int8
		if err := rows.Scan(&sg.EventID, &sg.Type, &sg.Contributor, &anon, &sg.ObservedAt, &sg.SituationID, &tlp); err != nil {
			return h, fmt.Errorf("cannot read sighting: %w", err)
		}
		if len(h.Sightings) == MaxSightings {
			h.Truncated = true
			break
		}
		sg.Anonymise, sg.TLP, sg.ObservedAt = anon == 1, event.TLP(tlp), sg.ObservedAt.UTC()
		if h.FirstSeen.IsZero() {
			h.FirstSeen = sg.ObservedAt
		}
		h.LastSeen = sg.ObservedAt
		h.Sightings = append(h.Sightings, sg)
	}
	if err := rows.Err(); err != nil {
		return h, fmt.Errorf("cannot read sightings: %w", err)
	}
	// Only situations c may see are named (as for events: see hideSituations).
	var ids []string
	for _, sg := range h.Sightings {
		if sg.SituationID != "" {
			ids = append(ids, sg.SituationID)
		}
	}
	visible, err := s.visibleSituations(ctx, c, ids)
	if err != nil {
		return h, err
	}
	seen := map[string]bool{}
	for i := range h.Sightings {
		sg := &h.Sightings[i]
		if !visible[sg.SituationID] {
			sg.SituationID = ""
		} else if !seen[sg.SituationID] {
			seen[sg.SituationID] = true
			h.Situations = append(h.Situations, sg.SituationID)
		}
	}
	return h, nil
}
