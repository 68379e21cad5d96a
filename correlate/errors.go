package correlate

import "errors"

var (
	// ErrSnapshotFormat is returned by Restore when the input is not an engine snapshot or
	// is damaged (bad magic, checksum mismatch, impossible sizes): the correlator must not
	// resume from it and should rebuild its state from the event history instead.
	ErrSnapshotFormat = errors.New("not a valid engine snapshot")

	// ErrSnapshotVersion is returned by Restore for a snapshot written by an engine with a
	// different state layout; state layouts are not migrated, so the snapshot is discarded.
	ErrSnapshotVersion = errors.New("unsupported engine snapshot version")
)
