package store

import (
	"context"
	"fmt"
	"time"
)

// EachObserved streams every event of picture exercise ("" is the real one) observed in
// [from, to), oldest first (then by id), each id once, whatever its marking. It is for
// `cop replay`, which re-injects the events with their markings unchanged; it applies no
// access rule, so its output must never be served to a caller.
func (s *Store) EachObserved(ctx context.Context, exercise string, from, to time.Time, fn func(*StoredEvent) error) error {
	rows, err := s.conn.Query(ctx, eventSelect+` WHERE exercise = ? AND observed_at >= ? AND observed_at < ?
		ORDER BY observed_at, id`, exercise, from.UTC(), to.UTC())
	if err != nil {
		return fmt.Errorf("cannot query events to replay: %w", err)
	}
	defer rows.Close()
	var last string
	for rows.Next() {
		var e StoredEvent
		if err := scanEvent(rows, &e); err != nil {
			return err
		}
		if e.ID == last { // a row the ReplacingMergeTree has not folded yet
			continue
		}
		last = e.ID
		if err := fn(&e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cannot read events to replay: %w", err)
	}
	return nil
}
