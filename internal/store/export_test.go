package store

import "context"

// SetAfterKeys sets the hook EachSituation runs between its two phases, until the returned
// function restores none.
func SetAfterKeys(f func()) (restore func()) {
	afterKeys = f
	return func() { afterKeys = nil }
}

// Exec runs q on s's connection (tests: OPTIMIZE a partition).
func (s *Store) Exec(ctx context.Context, q string, args ...any) error {
	return s.conn.Exec(ctx, q, args...)
}

// AlreadyDone is alreadyDone (tests: run a migration's statements again).
var AlreadyDone = alreadyDone

// WriteBeforeMigration6 makes s write as COP did before migration 6 (no names columns) when on,
// for tests that write into a database migrated up to an older step.
func (s *Store) WriteBeforeMigration6(on bool) { s.preNames = on }
