// Package pipeline wires the correlation engine to the outside: it consumes cop.events in
// a consumer group, applies each batch to the engine, publishes the situation deltas on
// cop.picture, stores events and situations in ClickHouse, and only then commits the
// offsets. It also sinks cop.deadletter into ClickHouse. It holds no business rules: those
// are the engine's.
//
// # Write cadence
//
// A Kafka fetch is small (at 200 events/s, ~20 events every 100 ms) and every ClickHouse
// insert is a new part per table and partition, which the server then merges again and
// again: one insert per fetch made ClickHouse rewrite 68x the inserted bytes. So the
// correlator applies and publishes each fetch at once but gathers the rows
// (store.Pending) and writes them every FlushEvery (default 1 s) once FlushMinRows rows
// (5000) are gathered, or when the first gathered fetch waited FlushWait (10 s), or at
// FlushRows rows, whichever first, then commits the offsets of every fetch in the flush.
// Small inserts cost the most merges (see cadence): at the demo's 200 events/s a flush
// waits the 10 s, at 5000 events/s and more it goes every second.
// Why this keeps "nothing lost, nothing counted twice":
//
//   - Offsets are committed only after the rows of their events are in ClickHouse, as
//     before; a crash loses at most the gathered, uncommitted fetches, which Kafka
//     redelivers.
//   - The state file is never written while rows are gathered and not stored (the
//     engine is "ahead" of the commits): a restart restores the engine at the committed
//     offsets, so the redelivered events are new to it, applied, stored and committed
//     again. Had it been written, the restored engine would take them for redeliveries
//     and drop them, and they would never be stored.
//   - The deltas of gathered events are already on cop.picture before their rows are in
//     ClickHouse (up to FlushWait earlier). That is what the live picture is for; after
//     a crash the redelivered events are applied again to the restored engine and their
//     deltas published again, and the picture keeps each situation's latest version, so
//     it converges. The stored rows of a batch stored twice fold (same keys, same
//     StoredAt from the journal or the redelivered batch).
//
// # Pipelining
//
// A flush runs on a goroutine of its own (flight.go) while the loop goes on applying,
// publishing and gathering the next fetches: the engine's work overlaps ClickHouse's.
// One flush is in flight at a time; when the next one is due before it landed, the loop
// waits for it (backpressure: at most one flush written and one gathered). A fetch's
// deltas are published by a goroutine of their own too (publisher.go), in the order the
// fetches were applied, while the loop applies the next one (at most one written and one
// queued). So:
//
//   - Offsets are committed in order: each flush holds the fetches after the previous
//     one's, and commits only after its rows and dead letters are written and the
//     deltas of its last fetch (so of all its fetches, published in order) are on
//     cop.picture: a commit still comes after both the store and the publish.
//   - The state file is written only when no flush is in flight and nothing applied
//     since is gathered: when one is due, the loop first waits for the flight and writes
//     what it gathered (settle), so the file's offsets are the committed ones and the
//     journal's records all lie before them, as in the serial loop.
//   - A crash with a flush in flight loses it and everything gathered behind it, all
//     uncommitted: redelivered and applied to the restored engine like any uncommitted
//     fetch.
//
// The Replica path (replica.go) gathers the same way, and commits cop.sequence after the
// flush (serially).
package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/correlate"
	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/deadletter"
	"github.com/cidcc/cop/internal/metrics"
	"github.com/cidcc/cop/internal/store"
)

// Correlator is one correlation stage instance.
type Correlator struct {
	Bus     bus.Config
	Store   *store.Store
	Engine  *correlate.Engine
	Log     zerolog.Logger
	Metrics *metrics.Registry
	Group   string // default "cop-correlate"
	// MaxBatch and Linger bound a batch: up to MaxBatch events, or what arrived within
	// Linger after the first (defaults 20000 and 50 ms: ClickHouse takes big inserts best).
	MaxBatch int
	Linger   time.Duration
	// FlushEvery, FlushWait, FlushMinRows and FlushRows bound how long and how much the
	// correlator gathers before it writes to ClickHouse and commits: at FlushRows rows
	// (default 50000), else every FlushEvery (1 s) once it holds FlushMinRows (5000) or the
	// last write did, else once the first gathered batch waited FlushWait (10 s); see the
	// package doc. A negative FlushEvery writes every batch at once.
	FlushEvery   time.Duration
	FlushWait    time.Duration
	FlushMinRows int
	FlushRows    int
	// TickEvery is how often decay is re-scored (default 10 s).
	TickEvery time.Duration

	// StatePath, when set, is the state file (engine snapshot + the committed offsets it
	// corresponds to; see state.go), next to its journal (StatePath+".journal", see
	// journal.go). Run restores the engine from it and re-applies the journaled batches
	// after it exactly as they were; it writes it after a commit every SnapshotEvery or
	// SnapshotBatches batches, whichever first (defaults 30 s and 1000), and on a clean
	// stop. Empty: the engine starts empty and is never saved (tests only).
	StatePath       string
	SnapshotEvery   time.Duration
	SnapshotBatches int
	// EngineConfig is the configuration a restored engine gets (default
	// correlate.DefaultConfig()).
	EngineConfig *correlate.Config
	// DrainTimeout bounds how long a stop waits for the in-flight batch to be stored and
	// committed (default 15 s); past it the batch stays uncommitted and is redelivered.
	DrainTimeout time.Duration

	cadence cadence // of the Flush fields, set by withDefaults
}

// Run consumes until ctx is done. A ClickHouse or Kafka failure is retried with backoff
// while the batch is held: the offsets stay uncommitted, so Kafka lag grows instead of
// memory (backpressure), and nothing is lost. When ctx ends, the batch in flight is still
// stored and committed, and a final snapshot is written, so a restart re-applies nothing.
// Run works on a copy of c with the defaults filled in: c itself is never changed.
func (c *Correlator) Run(ctx context.Context) error {
	w := c.withDefaults()
	return w.run(ctx)
}

// withDefaults returns a copy of c with every unset field at its default.
func (c *Correlator) withDefaults() *Correlator {
	w := *c
	w.Group = cmp.Or(w.Group, w.Bus.Group("correlate"))
	w.MaxBatch = cmp.Or(w.MaxBatch, 20000)
	w.Linger = cmp.Or(w.Linger, 50*time.Millisecond)
	w.cadence = newCadence(w.FlushEvery, w.FlushWait, w.FlushMinRows, w.FlushRows)
	w.TickEvery = cmp.Or(w.TickEvery, 10*time.Second)
	w.SnapshotEvery = cmp.Or(w.SnapshotEvery, 30*time.Second)
	w.SnapshotBatches = cmp.Or(w.SnapshotBatches, 1000)
	w.DrainTimeout = cmp.Or(w.DrainTimeout, 15*time.Second)
	if w.Metrics == nil {
		w.Metrics = &metrics.Registry{}
	}
	if w.Engine == nil {
		// Situation ids are minted from the engine instance, so it must never repeat: not
		// across namespaces sharing one ClickHouse, not across restarts that start from an
		// empty engine (cop.picture still holds the old situations). A restored engine takes
		// the instance recorded in its state file instead.
		cfg := engineConfig(w.EngineConfig)
		if cfg.Instance == "" {
			cfg.Instance = fmt.Sprintf("%s-%d-%d", w.Bus.Namespace, os.Getpid(), time.Now().UnixNano())
		}
		w.Engine = correlate.New(cfg)
	}
	return &w
}

// correlatorMetrics are the Correlator's own metrics.
type correlatorMetrics struct {
	events, reapplied, dups, bad, batches, retries, flushes *metrics.Counter
	batchSecs, lag, flushRows                               *metrics.Gauge
	gauges                                                  func(*correlate.Engine)
}

func newCorrelatorMetrics(reg *metrics.Registry) correlatorMetrics {
	return correlatorMetrics{
		events:    reg.Counter(`cop_correlate_events_total`, "Events applied to the engine."),
		reapplied: reg.Counter(`cop_correlate_replayed_total`, "cop.events messages re-applied at start to bring the restored engine up to the committed offsets."),
		dups:      reg.Counter(`cop_duplicates_total`, "Events recognised as duplicates (redelivery or re-sent content)."),
		bad:       reg.Counter(`cop_correlate_undecodable_total`, "cop.events messages that could not be decoded."),
		batches:   reg.Counter(`cop_correlate_batches_total`, "Batches stored and committed."),
		retries:   reg.Counter(`cop_store_retries_total`, "Retries of a ClickHouse or Kafka write."),
		flushes:   reg.Counter(`cop_store_flushes_total`, "Writes of the gathered batches to ClickHouse (one insert per table each)."),
		flushRows: reg.Gauge(`cop_store_flush_rows`, "Event and situation rows of the last write to ClickHouse."),
		batchSecs: reg.Gauge(`cop_correlate_batch_seconds`, "Duration of the last flush from the first gathered fetch to the commit."),
		lag:       reg.Gauge(`cop_correlate_lag`, "Messages on cop.events behind the newest, as of the last batch (summed over the partitions it held)."),
		gauges:    engineGauges(reg),
	}
}

// correlatorLoop is the state of one Run between batches.
type correlatorLoop struct {
	*Correlator
	m        correlatorMetrics
	sw       *stateWriter
	jr       *journal // nil without a state file
	r        *kafka.Reader
	picture  *kafka.Writer
	dead     *kafka.Writer
	sb       store.Batch
	pend     store.Pending   // gathered rows, not yet handed to a flush
	pendMsgs []kafka.Message // their messages, not yet committed
	letters  []deadletter.Letter
	// flight is the flush being written (flight.go), nil when none; it sends itself on
	// flushed when done, and writes under fctx. spare is the other job, for reuse.
	flight, spare *flushJob
	flushed       chan *flushJob
	fctx          context.Context
	pub           *publisher
	committed     map[int]int64 // next offset per partition, as committed
	partLag       map[int]int64
	nextTick      time.Time
	// ahead: the engine holds events not yet handed to a flush (pend holds them); the
	// state file is never written then, nor while a flush is in flight, or a restart
	// would take the uncommitted (maybe unstored) events for redeliveries.
	ahead bool
}

func (c *Correlator) run(ctx context.Context) error {
	l := &correlatorLoop{Correlator: c, m: newCorrelatorMetrics(c.Metrics), partLag: map[int]int64{},
		nextTick: time.Now().Add(c.TickEvery)}
	wctx, release := drain(ctx, c.DrainTimeout)
	defer release()
	fctx, fcancel := context.WithCancel(wctx)
	defer fcancel()
	l.fctx, l.flushed, l.spare = fctx, make(chan *flushJob, 1), &flushJob{}
	if c.StatePath != "" {
		var err error
		if l.committed, err = c.restore(ctx, l.m.retries, l.m.reapplied); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if l.jr, err = openJournal(c.StatePath + ".journal"); err != nil {
			return err
		}
		defer l.jr.Close()
	}
	if l.committed == nil {
		l.committed = map[int]int64{}
	}
	l.sw = newStateWriter(c.Log, c.Metrics, c.StatePath, c.Bus.Events(), c.SnapshotEvery, c.SnapshotBatches)
	l.sw.written = func() {
		if err := l.jr.reset(); err != nil {
			// The records left are all before the new state file's offsets: skipped.
			c.Log.Error().Err(err).Msg("cannot empty the journal")
		}
	}
	l.r = bus.NewGroupReader(c.Bus, c.Group, c.Bus.Events())
	l.picture = bus.NewWriter(c.Bus, c.Bus.Picture())
	l.dead = bus.NewWriter(c.Bus, c.Bus.DeadLetter())
	defer l.r.Close()
	defer l.picture.Close()
	defer l.dead.Close()
	l.pub = startPublisher(fctx, l.picture, c.Log, l.m.retries)
	// A flush or publication still in flight when Run returns (after an error) is stopped
	// before the reader and writers it uses are closed; what was not committed is
	// redelivered.
	defer func() { fcancel(); l.land(); l.pub.stop() }()

	// The next batch is fetched and decoded while this one is applied and stored.
	fch := make(chan *fetched)
	pctx, pcancel := context.WithCancel(ctx)
	pdone := make(chan struct{})
	go func() { defer close(pdone); c.prefetch(pctx, l.r, fch, l.m.bad) }()
	defer func() { pcancel(); <-pdone }()
	wake := time.NewTimer(c.TickEvery)
	defer wake.Stop()
	for {
		if ctx.Err() != nil {
			if err := l.settle(); err != nil {
				return c.stopped(ctx, err)
			}
			l.snapshot()
			return nil
		}
		f := &fetched{}
		wake.Reset(max(0, time.Until(l.wakeAt())))
		select {
		case f = <-fch:
		case <-wake.C:
		case j := <-l.flushed:
			if err := l.landed(j); err != nil {
				return c.stopped(ctx, err)
			}
			continue
		case <-ctx.Done():
			continue
		}
		if err := l.step(ctx, wctx, f); err != nil {
			return c.stopped(ctx, err)
		}
		if l.sw.due() {
			if err := l.settle(); err != nil {
				return c.stopped(ctx, err)
			}
			l.snapshot()
		}
	}
}

// wakeAt is when the loop must run a step without a fetch: the next decay tick, or the
// flush of what it gathered.
func (l *correlatorLoop) wakeAt() time.Time {
	if l.pend.Batches() > 0 && l.cadence.every > 0 {
		return minTime(l.nextTick, l.cadence.at(&l.pend))
	}
	return l.nextTick
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// snapshot writes the state file unless the engine is ahead of the commits.
func (l *correlatorLoop) snapshot() {
	if !l.ahead && l.flight == nil {
		l.sw.write(l.Engine, l.committed)
	}
}

// step journals, applies and publishes one fetched batch (empty when only the decay tick
// or a flush is due) and gathers its rows; it hands what was gathered to a flush when one
// is due (see the package doc). Its writes run under wctx, which outlives ctx's
// end.
func (l *correlatorLoop) step(ctx, wctx context.Context, f *fetched) error {
	l.letters = append(l.letters, f.letters...)
	l.observeLag(f.msgs)
	now := time.Now().UTC()
	tick := now.After(l.nextTick) && ctx.Err() == nil
	if l.jr != nil && (len(f.msgs) > 0 || tick) {
		rec := journalRecord{Now: now.UnixNano(), Runs: runsOf(f.msgs)}
		if tick {
			rec.Tick = now.UnixNano()
		}
		if err := retry(wctx, l.Log, l.m.retries, "append to the journal", func() error { return l.jr.append(&rec) }); err != nil {
			return err
		}
	}
	sb := &l.sb
	sb.Reset()
	sb.StoredAt = now
	if len(f.events) > 0 {
		res := l.Engine.Apply(f.events, now)
		l.ahead = true
		l.sw.changed()
		sb.Events = f.events
		for _, st := range res.Events {
			sb.Situations = append(sb.Situations, st.SituationID)
			sb.Duplicate = append(sb.Duplicate, st.Duplicate)
			if st.Duplicate {
				l.m.dups.Inc()
			}
		}
		sb.Deltas = append(sb.Deltas, l.Engine.Deltas()...)
		l.m.events.Add(uint64(len(f.events)))
	}
	if tick {
		sb.Deltas = append(sb.Deltas, l.Engine.Tick(now)...)
		l.nextTick = now.Add(l.TickEvery)
		l.ahead = true
		l.sw.changed()
	}
	if len(sb.Deltas) > 0 {
		msgs, err := encodeDeltas(sb)
		if err != nil {
			return err
		}
		if err := l.pub.publish(wctx, msgs); err != nil {
			return err
		}
	}
	// A fetch of only undecodable messages has no rows, but is gathered all the same:
	// its offsets are committed with the flush, after its dead letters.
	if len(f.msgs) > 0 || len(sb.Events) > 0 || len(sb.Deltas) > 0 || len(l.letters) > 0 {
		if err := l.pend.Add(sb); err != nil {
			return err
		}
	}
	l.pendMsgs = append(l.pendMsgs, f.msgs...)
	if l.flushDue(ctx) {
		return l.takeOff()
	}
	return nil
}

// flushDue reports whether what the loop gathered must be written now.
func (l *correlatorLoop) flushDue(ctx context.Context) bool {
	return l.pend.Batches() > 0 && (ctx.Err() != nil || l.cadence.due(&l.pend, time.Now()))
}

// observeLag updates the lag gauge from the high-water marks of msgs.
func (l *correlatorLoop) observeLag(msgs []kafka.Message) {
	for i := range msgs {
		if m := &msgs[i]; m.HighWaterMark > 0 {
			l.partLag[m.Partition] = max(0, m.HighWaterMark-m.Offset-1)
		}
	}
	var total int64
	for _, n := range l.partLag {
		total += n
	}
	l.m.lag.Set(float64(total))
}

// engineGauges returns a function that publishes an engine's counters and state size as
// metrics (after each batch).
func engineGauges(reg *metrics.Registry) func(*correlate.Engine) {
	var (
		obs      = reg.Gauge(`cop_engine_observables`, "Distinct observables the engine tracks.")
		hubs     = reg.Gauge(`cop_engine_hub_observables`, "Observables that stopped linking (over the hub threshold or common).")
		sits     = reg.Gauge(`cop_engine_situations`, "Live situations in the engine.")
		retired  = reg.Gauge(`cop_engine_retired`, "Situations retired since the engine started (age or cap).")
		capped   = reg.Gauge(`cop_engine_cap_retired`, "Of which retired by the observable or situation cap.")
		evicted  = reg.Gauge(`cop_engine_dedup_evicted`, "Event ids and fingerprints the dedup windows forgot (age or size).")
		stateLen = reg.Gauge(`cop_engine_state_bytes`, "Memory the engine's state holds.")
	)
	return func(e *correlate.Engine) {
		c := e.Counters()
		obs.Set(float64(c.Observables))
		hubs.Set(float64(c.HubObservables))
		sits.Set(float64(c.Situations))
		retired.Set(float64(c.Retired))
		capped.Set(float64(c.CapRetired))
		evicted.Set(float64(c.EvictedIDs + c.EvictedFingerprints))
		stateLen.Set(float64(e.StateBytes()))
	}
}

// stopped turns the error of work that could not be finished into Run's result: after a
// stop (the drain timed out) it is not an error, the work in flight is simply done again
// after the restart, as the warning says.
func stopped(ctx context.Context, log zerolog.Logger, err error, warning string) error {
	if ctx.Err() != nil {
		log.Warn().Err(err).Msg(warning)
		return nil
	}
	return err
}

func (c *Correlator) stopped(ctx context.Context, err error) error {
	return stopped(ctx, c.Log, err, "stopped before the batch in flight was committed; it will be redelivered")
}

// engineConfig is cfg, or the default configuration when nil.
func engineConfig(cfg *correlate.Config) correlate.Config {
	if cfg != nil {
		return *cfg
	}
	return correlate.DefaultConfig()
}

// restore loads the state file (if any) into c.Engine and re-applies what the group
// committed after it. It returns the committed offsets the engine now corresponds to.
func (c *Correlator) restore(ctx context.Context, retries, reapplied *metrics.Counter) (map[int]int64, error) {
	from := map[int]int64{}
	e, hdr, err := readState(c.StatePath, engineConfig(c.EngineConfig))
	switch {
	case err == nil && hdr.Topic != c.Bus.Events():
		c.Log.Error().Str("path", c.StatePath).Str("topic", hdr.Topic).Msg("state file is for another topic; rebuilding the engine from cop.events")
	case err == nil:
		c.Engine, from = e, hdr.Offsets
		if from == nil {
			from = map[int]int64{}
		}
		c.Log.Info().Str("path", c.StatePath).Time("written_at", hdr.WrittenAt).Msg("engine restored from state file")
	case isNotExist(err):
		c.Log.Info().Str("path", c.StatePath).Msg("no state file; rebuilding the engine from what the group committed")
	default:
		c.Log.Error().Err(err).Msg("state file unusable; rebuilding the engine from cop.events")
	}
	var to map[int]int64
	if err := retry(ctx, c.Log, retries, "fetch committed cop.events offsets", func() error {
		var err error
		to, err = committedOffsets(ctx, c.Bus, c.Group, c.Bus.Events())
		return err
	}); err != nil {
		return nil, err
	}
	recs, err := readJournal(c.StatePath + ".journal")
	if err != nil {
		return nil, err
	}
	if len(to) > 0 && len(from) == 0 && len(recs) == 0 {
		c.Log.Warn().Msg("the group committed offsets but there is neither state file nor journal: the engine starts empty and earlier situations are not continued")
	}
	t := time.Now()
	var n int
	if err := retry(ctx, c.Log, retries, "re-apply the journal", func() error {
		var err error
		if n, err = c.reapplyJournal(ctx, recs, from, to); err != nil {
			// Start over: part of the journal is applied already.
			if e, hdr, rerr := readState(c.StatePath, engineConfig(c.EngineConfig)); rerr == nil && hdr.Topic == c.Bus.Events() {
				c.Engine = e
			} else {
				c.Engine = correlate.New(engineConfig(c.EngineConfig))
			}
		}
		return err
	}); err != nil {
		return nil, err
	}
	reapplied.Add(uint64(n))
	c.Log.Info().Int("reapplied", n).Dur("took", time.Since(t)).Msg("engine up to the committed offsets")
	return to, nil
}
