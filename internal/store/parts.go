package store

import (
	"context"
	"fmt"
)

// TableParts is what system.parts says of one of COP's tables: how much ClickHouse wrote
// for it, which is what its merges cost (see DESIGN.md, ClickHouse).
type TableParts struct {
	Table string
	// Inserted is how many parts inserts have written into the table since it was
	// created: its highest block number (a plain MergeTree numbers every part an insert
	// writes, one per partition the insert touches; merges number none). It counts the
	// parts merged away since, so the difference of two readings is the parts written
	// between them.
	Inserted uint64
	// Active is the parts the table is made of now; Parts those plus the merged-away
	// ones ClickHouse has not removed yet (it keeps them old_parts_lifetime, 480 s by
	// default).
	Active, Parts uint64
	// ActiveBytes and Bytes are the bytes on disk of the same.
	ActiveBytes, Bytes uint64
	// Rows is the rows of the active parts (before a ReplacingMergeTree folds them).
	Rows uint64
}

// Parts reads system.parts for every table of COP's database, by table name.
func (s *Store) Parts(ctx context.Context) (map[string]TableParts, error) {
	rows, err := s.conn.Query(ctx, `SELECT table, max(max_block_number), countIf(active), count(),
		sumIf(bytes_on_disk, active), sum(bytes_on_disk), sumIf(rows, active)
		FROM system.parts WHERE database = ? GROUP BY table`, s.database())
	if err != nil {
		return nil, fmt.Errorf("cannot read system.parts: %w", err)
	}
	defer rows.Close()
	out := map[string]TableParts{}
	for rows.Next() {
		var p TableParts
		var maxBlock int64
		if err := rows.Scan(&p.Table, &maxBlock, &p.Active, &p.Parts, &p.ActiveBytes, &p.Bytes, &p.Rows); err != nil {
			return nil, fmt.Errorf("cannot read system.parts: %w", err)
		}
		p.Inserted = uint64(max(0, maxBlock))
		out[p.Table] = p
	}
	return out, rows.Err()
}

// database is the name of the database s works in.
func (s *Store) database() string {
	if c, ok := s.conn.(dbConn); ok {
		return c.db
	}
	return Database
}
