package store

import (
	"context"
	"fmt"
	"time"
)

// Contributions is what one contributor sent, as it may see it: its latest accepted
// events (grouped by the minute they were received: about one per push or Kafka batch) and
// its latest dead letters, with their reasons. It is the contributor's own data, so no
// marking applies; the API serves it to that contributor only.
type Contributions struct {
	Contributor string             `json:"contributor"`
	Received    []ReceivedMinute   `json:"received"`
	Events      []ContributedEvent `json:"events"`
	DeadLetters []StoredLetter     `json:"dead_letters"`
}

// ReceivedMinute counts the events of one contributor received in one minute.
type ReceivedMinute struct {
	Minute     time.Time `json:"minute"`
	Exercise   string    `json:"exercise,omitempty"`
	Events     uint64    `json:"events"`
	Duplicates uint64    `json:"duplicates"`
}

// ContributedEvent is one accepted event, as its contributor sent it.
type ContributedEvent struct {
	ID          string    `json:"id"`
	SourceID    string    `json:"source_id"`
	Kind        string    `json:"kind"`
	Severity    string    `json:"severity"`
	TLP         string    `json:"tlp"`
	Title       string    `json:"title"`
	Exercise    string    `json:"exercise,omitempty"`
	ObservedAt  time.Time `json:"observed_at"`
	ReceivedAt  time.Time `json:"received_at"`
	Duplicate   bool      `json:"duplicate,omitempty"`
	SituationID string    `json:"situation_id,omitempty"`
}

// StoredLetter is a dead letter as stored, without its raw bytes.
type StoredLetter struct {
	ID         string    `json:"id"`
	Source     string    `json:"source"`
	Format     string    `json:"format"`
	Reason     string    `json:"reason"`
	Reasons    []string  `json:"reasons"`
	Rejected   uint32    `json:"rejected"`
	RawSize    uint32    `json:"raw_size"`
	ReceivedAt time.Time `json:"received_at"`
}

// ContributionsOf returns contributor's latest limit events, dead letters and received
// minutes, newest first.
func (s *Store) ContributionsOf(ctx context.Context, contributor string, limit int) (Contributions, error) {
	out := Contributions{Contributor: contributor, Received: []ReceivedMinute{}, Events: []ContributedEvent{}, DeadLetters: []StoredLetter{}}
	rows, err := s.conn.Query(ctx, `SELECT toStartOfMinute(received_at) AS m, exercise, uniqExact(id), uniqExactIf(id, duplicate = 1)
		FROM cop.events WHERE contributor = ? GROUP BY m, exercise ORDER BY m DESC, exercise LIMIT ?`, contributor, uint64(limit))
	if err != nil {
		return out, fmt.Errorf("cannot query contributions: %w", err)
	}
	for rows.Next() {
		var r ReceivedMinute
		if err := rows.Scan(&r.Minute, &r.Exercise, &r.Events, &r.Duplicates); err != nil {
			rows.Close()
			return out, fmt.Errorf("cannot read contributions: %w", err)
		}
		r.Minute = r.Minute.UTC()
		out.Received = append(out.Received, r)
	}
	rows.Close()
	rows, err = s.conn.Query(ctx, `SELECT id, source_id, toString(kind), toString(severity), toString(tlp), title, exercise,
		observed_at, received_at, duplicate, situation_id
		FROM cop.events WHERE contributor = ? ORDER BY received_at DESC, id LIMIT 1 BY id LIMIT ?`, contributor, uint64(limit))
	if err != nil {
		return out, fmt.Errorf("cannot query contributed events: %w", err)
	}
	for rows.Next() {
		var e ContributedEvent
		var dup uint8
		if err := rows.Scan(&e.ID, &e.SourceID, &e.Kind, &e.Severity, &e.TLP, &e.Title, &e.Exercise,
			&e.ObservedAt, &e.ReceivedAt, &dup, &e.SituationID); err != nil {
			rows.Close()
			return out, fmt.Errorf("cannot read contributed events: %w", err)
		}
		e.Duplicate, e.ObservedAt, e.ReceivedAt = dup == 1, e.ObservedAt.UTC(), e.ReceivedAt.UTC()
		out.Events = append(out.Events, e)
	}
	rows.Close()
	rows, err = s.conn.Query(ctx, `SELECT id, source, format, reason, reasons, rejected, raw_size, received_at
		FROM cop.deadletter WHERE contributor = ? ORDER BY received_at DESC, id LIMIT 1 BY id LIMIT ?`, contributor, uint64(limit))
	if err != nil {
		return out, fmt.Errorf("cannot query dead letters: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var l StoredLetter
		if err := rows.Scan(&l.ID, &l.Source, &l.Format, &l.Reason, &l.Reasons, &l.Rejected, &l.RawSize, &l.ReceivedAt); err != nil {
			return out, fmt.Errorf("cannot read dead letters: %w", err)
		}
		l.ReceivedAt = l.ReceivedAt.UTC()
		out.DeadLetters = append(out.DeadLetters, l)
	}
	return out, rows.Err()
}
