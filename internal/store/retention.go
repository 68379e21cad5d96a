package store

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Retention says how long the tables that grow without bound keep their rows, in whole
// months; 0 keeps them for ever. The rows go a whole month at a time, by dropping the
// month's partition (18.16 has no TTL; a partition drop costs nothing on any server): a
// row is kept at least its table's months and at most one month more.
type Retention struct {
	// Audit is for cop.audit (who asked what), by the time of the request.
	Audit int
	// DeadLetter is for cop.deadletter (rejected messages), by the time received.
	DeadLetter int
}

// DefaultRetention is what `cop serve` keeps unless told otherwise: thirteen months of
// audit (a year to look back on, whole), three of dead letters (time to notice, fix and
// re-send a feed).
var DefaultRetention = Retention{Audit: 13, DeadLetter: 3}

// retained are the tables Retention bounds, each partitioned by toYYYYMM of a time column
// alone (schema.go, migration 1).
var retained = []struct {
	table  string
	months func(Retention) int
}{
	{"audit", func(r Retention) int { return r.Audit }},
	{"deadletter", func(r Retention) int { return r.DeadLetter }},
}

// DropExpired drops, as of now, the monthly partitions of the retained tables that are
// entirely older than their retention: with 3 months in December, September and later
// stay. It returns what it dropped ("deadletter 202608").
func (s *Store) DropExpired(ctx context.Context, now time.Time, r Retention) (dropped []string, err error) {
	for _, t := range retained {
		months := t.months(r)
		if months <= 0 {
			continue
		}
		y, m, _ := now.UTC().Date()
		first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).AddDate(0, -months, 0)
		cutoff := uint32(first.Year()*100 + int(first.Month()))
		rows, err := s.conn.Query(ctx, `SELECT DISTINCT partition FROM system.parts
			WHERE database = ? AND table = ? AND active`, s.database(), t.table)
		if err != nil {
			return dropped, fmt.Errorf("cannot list the partitions of cop.%s: %w", t.table, err)
		}
		var old []uint32
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				rows.Close()
				return dropped, fmt.Errorf("cannot list the partitions of cop.%s: %w", t.table, err)
			}
			if v, err := strconv.ParseUint(p, 10, 32); err == nil && uint32(v) < cutoff {
				old = append(old, uint32(v))
			}
		}
		rows.Close()
		for _, p := range old {
			if err := s.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE cop.%s DROP PARTITION %d", t.table, p)); err != nil {
				return dropped, fmt.Errorf("cannot drop partition %d of cop.%s: %w", p, t.table, err)
			}
			dropped = append(dropped, fmt.Sprintf("%s %d", t.table, p))
		}
	}
	return dropped, nil
}
