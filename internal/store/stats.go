package store

import (
	"context"
	"fmt"
	"time"

	"github.com/cidcc/cop/internal/event"
)

// Scope limits every history query to what one caller may see. Read paths build it from
// the caller's identity; the store applies it in SQL so no row outside it leaves ClickHouse.
type Scope struct {
	// Exercise selects the exercise picture; "" is the real picture. Never both.
	Exercise string
	// MaxTLP is the caller's ceiling; events marked above it are invisible.
	MaxTLP event.TLP
	// Since and Until bound observed_at; zero means unbounded.
	Since, Until time.Time
	// Viewer is the caller's identity name (for audit and anonymisation).
	Viewer string
	// Named are the names that count as naming the caller in releasable_to: its identity
	// and its missions (access.Identity.Recipients), upper-case as events store them. A row
	// with a non-empty releasable_to is visible only if it names one of them, and a RED row
	// only if it names one of them at all (RED goes to named recipients only).
	Named []string
}

// marking is the SQL condition of access.Identity.CanSee on columns tlp and releasable_to
// (exercise is matched apart), so aggregates never count what the rows would not show.
func (sc Scope) marking(tlp, releasable string) (string, []any) {
	return markingSQL(tlp, releasable, sc.MaxTLP, sc.Named)
}

func (sc Scope) where() (string, []any) {
	m, margs := sc.marking("tlp", "releasable_to")
	q := "exercise = ? AND " + m
	args := append([]any{sc.Exercise}, margs...)
	if !sc.Since.IsZero() {
		q += " AND observed_at >= ?"
		args = append(args, sc.Since.UTC())
	}
	if !sc.Until.IsZero() {
		q += " AND observed_at < ?"
		args = append(args, sc.Until.UTC())
	}
	return q, args
}

// Stats are the picture's totals as a caller may see them.
type Stats struct {
	Events      uint64            `json:"events"`
	Duplicates  uint64            `json:"duplicates"`
	Situations  uint64            `json:"situations"`
	DeadLetters uint64            `json:"dead_letters,omitempty"`
	BySeverity  map[string]uint64 `json:"by_severity"`
	BySector    map[string]uint64 `json:"by_sector"`
	ByCountry   map[string]uint64 `json:"by_country"`
}

// Stats counts distinct events (a redelivered event counts once even before merges),
// content duplicates and live situations in scope, grouped by severity, sector and country.
func (s *Store) Stats(ctx context.Context, sc Scope) (Stats, error) {
	where, args := sc.where()
	st := Stats{BySeverity: map[string]uint64{}, BySector: map[string]uint64{}, ByCountry: map[string]uint64{}}
	if err := s.conn.QueryRow(ctx, `SELECT uniqExact(id), uniqExactIf(id, duplicate = 1) FROM cop.events WHERE `+where, args...).
		Scan(&st.Events, &st.Duplicates); err != nil {
		return st, fmt.Errorf("cannot count events: %w", err)
	}
	m, margs := sc.marking("t", "rel")
	if err := s.conn.QueryRow(ctx, `SELECT count() FROM (
		SELECT id, argMax(removed, version) AS gone, argMax(tlp, version) AS t, argMax(releasable_to, version) AS rel
		FROM cop.situations WHERE exercise = ? GROUP BY id) WHERE gone = 0 AND `+m, append([]any{sc.Exercise}, margs...)...).
		Scan(&st.Situations); err != nil {
		return st, fmt.Errorf("cannot count situations: %w", err)
	}
	group := func(expr string, into map[string]uint64) error {
		rows, err := s.conn.Query(ctx, `SELECT toString(`+expr+`) AS k, uniqExact(id) FROM cop.events `+arrayJoin(expr)+
			` WHERE `+where+` GROUP BY k ORDER BY k`, args...)
		if err != nil {
			return fmt.Errorf("cannot group events by %s: %w", expr, err)
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			var n uint64
			if err := rows.Scan(&k, &n); err != nil {
				return fmt.Errorf("cannot read events by %s: %w", expr, err)
			}
			into[k] = n
		}
		return rows.Err()
	}
	if err := group("severity", st.BySeverity); err != nil {
		return st, err
	}
	if err := group("sector", st.BySector); err != nil {
		return st, err
	}
	if err := group("country", st.ByCountry); err != nil {
		return st, err
	}
	return st, nil
}

func arrayJoin(expr string) string {
	switch expr {
	case "sector":
		return "ARRAY JOIN sectors AS sector"
	case "country":
		return "ARRAY JOIN countries AS country"
	}
	return ""
}

// DeadLetterCount counts stored dead letters (admin view).
func (s *Store) DeadLetterCount(ctx context.Context) (uint64, error) {
	var n uint64
	if err := s.conn.QueryRow(ctx, `SELECT uniqExact(id) FROM cop.deadletter`).Scan(&n); err != nil {
		return 0, fmt.Errorf("cannot count dead letters: %w", err)
	}
	return n, nil
}
