package pipeline

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/cidcc/cop/correlate"
	"github.com/cidcc/cop/internal/metrics"
)

// The Correlator and a Replica share one lifecycle: restore the engine from the state
// file, catch up to the committed offsets, then loop until ctx ends, finishing the work
// in flight under a drain context and writing the state file as they go and on a clean
// stop. drain and stateWriter are the parts they share.

// drain returns the context work in flight runs under: it outlives ctx by timeout, so a
// stop still stores and commits what was fetched. release frees it.
func drain(ctx context.Context, timeout time.Duration) (wctx context.Context, release func()) {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(timeout, cancel) })
	return wctx, func() { stop(); cancel() }
}

// stateWriter writes the state file (state.go) of one engine: every `every`, or after
// `batches` committed batches when that is set, whichever first, and only when the engine
// holds something the file does not.
type stateWriter struct {
	log     zerolog.Logger
	path    string // "": no state file
	topic   string
	every   time.Duration
	batches int // 0: by time only
	// written runs after each write (the Correlator empties its journal there).
	written  func()
	snaps    *metrics.Counter
	snapSecs *metrics.Gauge

	last  time.Time
	since int  // batches committed since the last write
	dirty bool // the engine holds events not in the state file
}

func newStateWriter(log zerolog.Logger, reg *metrics.Registry, path, topic string, every time.Duration, batches int) *stateWriter {
	return &stateWriter{log: log, path: path, topic: topic, every: every, batches: batches, last: time.Now(),
		snaps:    reg.Counter(`cop_correlate_snapshots_total`, "Engine state files written."),
		snapSecs: reg.Gauge(`cop_correlate_snapshot_seconds`, "Duration of the last state file write.")}
}

// changed records that the engine now holds something the state file does not.
func (w *stateWriter) changed() { w.dirty = true }

// committed records that a batch was committed.
func (w *stateWriter) committed() { w.since++ }

// due reports whether the state file should be written now: never without a file or a
// change to write (the Correlator waits for its flushes before a write).
func (w *stateWriter) due() bool {
	return w.path != "" && w.dirty && (w.batches > 0 && w.since >= w.batches || time.Since(w.last) >= w.every)
}

// write writes e's state at offsets, if it changed. A failure is not fatal: the previous
// state file plus a longer catch-up is still correct.
func (w *stateWriter) write(e *correlate.Engine, offsets map[int]int64) {
	if w.path == "" || !w.dirty || e == nil {
		return
	}
	t := time.Now()
	size, err := writeState(w.path, e, w.topic, offsets)
	if err != nil {
		w.log.Error().Err(err).Str("path", w.path).Msg("cannot write engine state; keeping the previous one")
		return
	}
	if w.written != nil {
		w.written()
	}
	w.snaps.Inc()
	w.snapSecs.Set(time.Since(t).Seconds())
	w.log.Debug().Str("path", w.path).Int64("bytes", size).Dur("took", time.Since(t)).Msg("engine state written")
	w.last, w.since, w.dirty = time.Now(), 0, false
}
