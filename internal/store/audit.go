package store

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// AuditEntry is one row of cop.audit: who asked what, with what outcome.
type AuditEntry struct {
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
	rows   []AuditEntry // Lock should be held.
	timer  *time.Timer  // Lock should be held; non-nil while rows wait.
	closed bool         // Lock should be held.
}

// Audit records entries in cop.audit. It returns at once; entries are written in batches
// within a second, and on Close. It fails only when the batch it triggers cannot be written.
func (s *Store) Audit(ctx context.Context, entries ...AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	now := time.Now().UTC()
	for i := range entries {
		if entries[i].At.IsZero() {
			entries[i].At = now
		}
	}
	a := &s.audit
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return s.insertAudit(ctx, entries)
	}
	a.rows = append(a.rows, entries...)
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
func (a *auditLog) takeLocked() []AuditEntry {
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	rows := a.rows
	a.rows = nil
	return rows
}

func (s *Store) insertAudit(ctx context.Context, rows []AuditEntry) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO cop.audit (at, identity, role, action, filter, rows, status)")
	if err != nil {
		return fmt.Errorf("cannot prepare insert into cop.audit: %w", err)
	}
	defer b.Abort()
	for _, r := range rows {
		if err := b.Append(clampTime(r.At), r.Identity, r.Role, r.Action, r.Filter, r.Rows, r.Status); err != nil {
			return fmt.Errorf("cannot append audit row: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot write %d audit rows: %w", len(rows), err)
	}
	return nil
}
