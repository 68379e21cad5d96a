package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/cidcc/cop/internal/event"
)

// Note is one assessment an analyst or liaison officer attached to a subject (a
// situation, a campaign or a crisis), a row of cop.notes (migration 8). Notes are never
// changed: a correction is a new note that Supersedes the old one. The API decides who may
// write and read them; the store keeps and returns them.
type Note struct {
	ID          string    `json:"id"`
	SubjectKind string    `json:"subject_kind"`
	SubjectID   string    `json:"subject_id"`
	Exercise    string    `json:"exercise,omitempty"`
	Author      string    `json:"author"`
	AuthorRole  string    `json:"author_role"`
	Text        string    `json:"text"`
	Confidence  uint8     `json:"confidence"`
	Action      string    `json:"action"`
	ActionText  string    `json:"action_text,omitempty"`
	Agreement   string    `json:"agreement,omitempty"`
	TLP         event.TLP `json:"tlp"`
	// ReleasableTo are upper-case identity or mission names; empty is no restriction
	// beyond TLP.
	ReleasableTo []string  `json:"releasable_to,omitempty"`
	Supersedes   string    `json:"supersedes,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// MaxNotesPerSubject bounds how many notes one read returns for one subject, oldest
// first; MaxNotesExport how many one export reads.
const (
	MaxNotesPerSubject = 1000
	MaxNotesExport     = 10000
)

const noteColumns = `id, subject_kind, subject_id, exercise, author, author_role, text, confidence, action,
	action_text, agreement, tlp, releasable_to, supersedes, created_at, created_nanos`

// AddNote stores n. A native batch, not INSERT ... VALUES with bound arguments (18.16
// waits forever for the data block of the latter).
func (s *Store) AddNote(ctx context.Context, n Note) error {
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO cop.notes ("+noteColumns+")")
	if err != nil {
		return fmt.Errorf("cannot prepare insert into cop.notes: %w", err)
	}
	defer b.Abort()
	if err := b.Append(n.ID, n.SubjectKind, n.SubjectID, n.Exercise, n.Author, n.AuthorRole, n.Text, n.Confidence,
		n.Action, n.ActionText, n.Agreement, n.TLP.String(), nonNil(n.ReleasableTo), n.Supersedes,
		clampTime(n.CreatedAt), uint32(n.CreatedAt.Nanosecond())); err != nil {
		return fmt.Errorf("cannot append note %s: %w", n.ID, err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot write note %s: %w", n.ID, err)
	}
	return nil
}

// Notes returns the notes on one subject in exercise ("" is the real picture), oldest
// first, at most MaxNotesPerSubject, every marking: the caller filters them.
func (s *Store) Notes(ctx context.Context, exercise, kind, id string) ([]Note, error) {
	return s.notes(ctx, "exercise = ? AND subject_kind = ? AND subject_id = ?", MaxNotesPerSubject, exercise, kind, id)
}

// NotesUpTo returns the notes in exercise marked at most maxTLP, of any subject, oldest
// first, at most MaxNotesExport: what an export may attach to the objects it writes.
func (s *Store) NotesUpTo(ctx context.Context, exercise string, maxTLP event.TLP) ([]Note, error) {
	return s.notes(ctx, "exercise = ? AND toInt8(tlp) <= "+strconv.Itoa(int(maxTLP)), MaxNotesExport, exercise)
}

// notes reads the notes matching where. LIMIT 1 BY id folds a note stored twice (a retried
// insert) without FINAL.
func (s *Store) notes(ctx context.Context, where string, limit int, args ...any) ([]Note, error) {
	q := "SELECT id, subject_kind, subject_id, exercise, author, author_role, text, confidence, action, action_text, agreement, " +
		"toInt8(tlp), releasable_to, supersedes, created_at, created_nanos FROM cop.notes WHERE " + where +
		" ORDER BY created_at, created_nanos, id LIMIT 1 BY id LIMIT " + strconv.Itoa(limit)
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot query notes: %w", err)
	}
	defer rows.Close()
	out := []Note{}
	for rows.Next() {
		var n Note
		var tlp int8
		var nanos uint32
		if err := rows.Scan(&n.ID, &n.SubjectKind, &n.SubjectID, &n.Exercise, &n.Author, &n.AuthorRole, &n.Text,
			&n.Confidence, &n.Action, &n.ActionText, &n.Agreement, &tlp, &n.ReleasableTo, &n.Supersedes,
			&n.CreatedAt, &nanos); err != nil {
			return nil, fmt.Errorf("cannot read note: %w", err)
		}
		n.TLP, n.CreatedAt = event.TLP(tlp), n.CreatedAt.UTC().Add(time.Duration(nanos))
		if len(n.ReleasableTo) == 0 {
			n.ReleasableTo = nil
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read notes: %w", err)
	}
	return out, nil
}
