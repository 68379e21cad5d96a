package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cidcc/cop/internal/crisis"
)

// crisesMigration is migration 7: cop.crises, every version of every crisis (issue 20),
// the latest winning (FINAL or argMax by version). The crisis is kept whole as JSON in
// payload; the columns beside it are what a query filters on. namespace is the Kafka
// namespace of the deployment that raised it (--namespace): deployments and test runs
// sharing a database never load each other's crises. Partitioned by exercise as
// cop.situations is: an exercise's crises never share a part with the real ones.
var crisesMigration = Migration{Version: 7, Name: "crises", SQL: []string{
	`CREATE TABLE IF NOT EXISTS cop.crises (
			namespace String,
			id String,
			version UInt64,
			exercise String,
			status String,
			level UInt8,
			tlp ` + tlpEnum + `,
			releasable_to Array(String),
			missions Array(String),
			updated_at DateTime,
			payload String
		) ENGINE = ReplacingMergeTree(version)
		PARTITION BY exercise
		ORDER BY (namespace, exercise, id)`,
}}

// SaveCrises stores a version of each crisis of namespace, in one insert.
func (s *Store) SaveCrises(ctx context.Context, namespace string, cs []crisis.Crisis) error {
	if len(cs) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO cop.crises (namespace, id, version, exercise, status, level, tlp, releasable_to, missions, updated_at, payload)")
	if err != nil {
		return fmt.Errorf("cannot prepare crises insert: %w", err)
	}
	for i := range cs {
		c := &cs[i]
		payload, err := json.Marshal(c)
		if err != nil {
			b.Abort()
			return fmt.Errorf("BUG: cannot encode crisis %s: %w", c.ID, err)
		}
		if err := b.Append(namespace, c.ID, c.Version, c.Exercise, string(c.Status), uint8(c.Level), c.TLP.String(),
			nonNil(c.ReleasableTo), nonNil(c.Missions), c.UpdatedAt.UTC(), string(payload)); err != nil {
			b.Abort()
			return fmt.Errorf("cannot append crisis %s: %w", c.ID, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot store crises: %w", err)
	}
	return nil
}

// LoadCrises returns the latest version of every open crisis of namespace, and of every
// crisis closed after closedSince (the rules re-open a closed crisis only at a higher level, so
// they need to know it), every exercise's.
func (s *Store) LoadCrises(ctx context.Context, namespace string, closedSince time.Time) ([]crisis.Crisis, error) {
	rows, err := s.conn.Query(ctx, `SELECT payload FROM cop.crises FINAL WHERE namespace = ? AND (status != 'closed' OR updated_at >= ?)`,
		namespace, closedSince.UTC())
	if err != nil {
		return nil, fmt.Errorf("cannot read crises: %w", err)
	}
	defer rows.Close()
	var out []crisis.Crisis
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("cannot read crises: %w", err)
		}
		var c crisis.Crisis
		if err := json.Unmarshal([]byte(p), &c); err != nil {
			return nil, fmt.Errorf("cannot decode a stored crisis: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
