package store

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// AuditRow is one row of cop.audit: who asked what, with what outcome.
type AuditRow struct {
	At       time.Time // zero: now
	Identity string
	Role     string
	Action   string // e.g. "stats", "events", "export", "taxii"
	Filter   string // the query as asked (never the token)
	Rows     uint64 // rows or groups returned
	Status   uint16 // HTTP status answered
}

// auditFlushEvery bounds how long an audit row waits in memory; auditBatch how many wait.
const (
	auditFlushEvery = time.Second
	auditBatch      = 1000
)

// auditLog batches audit rows: one ClickHouse insert per second or per auditBatch rows, not
// one per request. It has no goroutine of its own: a timer armed by the first buffered row.
type auditLog struct {
	mu     sync.Mutex
	rows   []AuditRow  // Lock should be held.
	timer  *time.Timer // Lock should be held; non-nil while rows wait.
	closed bool        // Lock should be held.
}

// Audit records row in cop.audit. It returns at once; rows are written in batches within
// a second, and on Close. It fails only when the batch it triggers cannot be written.
func (s *Store) Audit(ctx context.Context, row AuditRow) error {
	if row.At.IsZero() {
		row.At = time.Now().UTC()
	}
	a := &s.audit
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return s.insertAudit(ctx, []AuditRow{row})
	}
	a.rows = append(a.rows, row)
	if len(a.rows) >= auditBatch {
		rows := a.takeLocked()
		a.mu.Unlock()
		return s.insertAudit(ctx, rows)
	}
	if a.timer == nil {
		a.timer = time.AfterFunc(auditFlushEvery, func() { s.FlushAudit(context.Background()) })
	}
	a.mu.Unlock()
	return nil
}

// FlushAudit writes the audit rows waiting in memory.
func (s *Store) FlushAudit(ctx context.Context) error {
	s.audit.mu.Lock()
	rows := s.audit.takeLocked()
	s.audit.mu.Unlock()
	return s.insertAudit(ctx, rows)
}

// takeLocked empties the buffer. Lock should be held.
func (a *auditLog) takeLocked() []AuditRow {
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	rows := a.rows
	a.rows = nil
	return rows
}

func (s *Store) insertAudit(ctx context.Context, rows []AuditRow) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO cop.audit (at, identity, role, action, filter, rows, status)")
	if err != nil {
		return fmt.Errorf("cannot prepare insert into cop.audit: %w", err)
	}
	defer b.Abort()
	for _, r := range rows {
		if err := b.Append(r.At.UTC().Truncate(time.Second), r.Identity, r.Role, r.Action, r.Filter, r.Rows, r.Status); err != nil {
			return fmt.Errorf("cannot append audit row: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot write %d audit rows: %w", len(rows), err)
	}
	return nil
}
