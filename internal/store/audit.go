package store

import (
	"context"
	"fmt"
	"time"
)

// AuditEntry is one row of cop.audit: who asked what and what they got.
type AuditEntry struct {
	At       time.Time
	Identity string
	Role     string
	Action   string // e.g. "events.list", "events.export.stix", "taxii.objects"
	Filter   string // the query string as asked
	Rows     uint64
	Status   uint16 // HTTP status
}

// Audit stores entries in one native batch.
func (s *Store) Audit(ctx context.Context, entries ...AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO cop.audit (at, identity, role, action, filter, rows, status)")
	if err != nil {
		return fmt.Errorf("cannot prepare insert into cop.audit: %w", err)
	}
	defer b.Abort()
	for _, e := range entries {
		if err := b.Append(clampTime(e.At), e.Identity, e.Role, e.Action, e.Filter, e.Rows, e.Status); err != nil {
			return fmt.Errorf("cannot append audit row: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot insert %d audit rows: %w", len(entries), err)
	}
	return nil
}
