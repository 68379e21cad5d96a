package pipeline

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/correlate"
	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/deadletter"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/metrics"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
)

// Correlation on several instances: Sequencers and Replicas.
//
// Linking and corroboration are global: two events that share an observable belong to one
// situation whichever partition of cop.events they landed on, and a situation's score
// depends on all its members. Splitting the engine's state by partition would split
// situations; a distributed union-find would need a consensus protocol of its own. The
// engine, though, is cheap next to what surrounds it (decoding, ClickHouse inserts,
// publishing), and it is deterministic: the same batches in the same order at the same
// times give the same state, situation ids included (the journal relies on this already).
//
// So a Sequencer fixes one order: it consumes cop.events in a consumer group and appends
// each batch's offsets and time to cop.sequence, a one-partition topic, before committing.
// Any number of Sequencers may run (the group splits cop.events between them; the one
// partition of cop.sequence orders what they append), so every correlator process runs one.
// Every Replica applies the whole sequence to its own engine — identical on every replica —
// but stores only the events of the cop.events partitions it owns (partition mod Count) and
// stores and publishes only the situations it owns (a hash of the id mod Count). The picture
// is the one a single correlator would give; ClickHouse inserts, dead letters and picture
// publishing are split Count ways.
//
// A batch sequenced twice (a Sequencer stopped between its append and its commit) holds
// redeliveries the second time: the engine drops them by id, so nothing counts twice.
//
// Each record carries the replica count its Sequencer was started with, and a record's
// share is decided by its own count. So replicas may join or leave while the stream runs:
// restart the processes one by one with the new count (and start the new ones); every
// record is still stored by exactly one replica, whichever count it carries. A new replica
// reads cop.sequence from the start: it stores only its share of the records that count it.
// A replica no longer counted must not stop before it has applied the last record that
// counted it (its lag on cop.sequence is 0 after the others restarted).

// sequenceRecord is one batch on cop.sequence: a journal record plus the epoch that seeds
// the situation ids of an engine that starts on it (every replica starting empty starts on
// the first record, so they all mint the same ids).
type sequenceRecord struct {
	journalRecord
	Epoch string `json:"epoch"`
	Count int    `json:"count"` // replicas sharing this record's output
}

// Sequencer orders cop.events into cop.sequence.
type Sequencer struct {
	Bus     bus.Config
	Log     zerolog.Logger
	Metrics *metrics.Registry
	// Count is the number of replicas that share the output of the records it appends.
	Count int
	// MaxBatch, Linger and TickEvery as for Correlator (defaults 5000, 50 ms, 10 s).
	MaxBatch  int
	Linger    time.Duration
	TickEvery time.Duration
}

// Run sequences until ctx is done.
func (s *Sequencer) Run(ctx context.Context) error {
	if s.Count < 1 {
		return fmt.Errorf("sequencer for %d replicas: want at least 1", s.Count)
	}
	if s.MaxBatch == 0 {
		s.MaxBatch = 5000
	}
	if s.Linger == 0 {
		s.Linger = 50 * time.Millisecond
	}
	if s.TickEvery == 0 {
		s.TickEvery = 10 * time.Second
	}
	if s.Metrics == nil {
		s.Metrics = &metrics.Registry{}
	}
	sequenced := s.Metrics.Counter(`cop_sequence_records_total`, "Batches appended to cop.sequence.")
	retries := s.Metrics.Counter(`cop_sequence_retries_total`, "Retries of a cop.sequence append or a cop.events commit.")
	if err := retry(ctx, s.Log, retries, "create cop.sequence", func() error { return bus.EnsureTopics(ctx, s.Bus, s.Bus.Sequence()) }); err != nil {
		return nil
	}
	epoch := fmt.Sprintf("%s-seq-%d-%d", s.Bus.Namespace, os.Getpid(), time.Now().UnixNano())
	r := bus.NewGroupReader(s.Bus, s.Bus.Group("sequence"), s.Bus.Events())
	w := bus.NewWriter(s.Bus, s.Bus.Sequence())
	defer r.Close()
	defer w.Close()
	nextTick := time.Now().Add(s.TickEvery)
	var buf []kafka.Message
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, s.TickEvery)
		msgs, err := bus.FetchBatch(fctx, r, buf, s.MaxBatch, s.Linger)
		cancel()
		buf = msgs
		if len(msgs) == 0 && err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
			s.Log.Warn().Err(err).Msg("cannot fetch from cop.events; retrying")
			bus.Pause(ctx, time.Second)
			continue
		}
		now := time.Now().UTC()
		tick := now.After(nextTick) && ctx.Err() == nil
		if len(msgs) == 0 && !tick {
			continue
		}
		rec := sequenceRecord{journalRecord: journalRecord{Now: now.UnixNano(), Runs: runsOf(msgs)}, Epoch: epoch, Count: s.Count}
		if tick {
			rec.Tick = now.UnixNano()
			nextTick = now.Add(s.TickEvery)
		}
		v, err := json.Marshal(&rec)
		if err != nil {
			return fmt.Errorf("BUG: cannot encode sequence record: %w", err)
		}
		// What was fetched is appended and committed even when ctx ends meanwhile.
		wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		err = retry(wctx, s.Log, retries, "append to cop.sequence", func() error { return w.WriteMessages(wctx, kafka.Message{Value: v}) })
		if err == nil && len(msgs) > 0 {
			err = retry(wctx, s.Log, retries, "commit cop.events offsets", func() error { return r.CommitMessages(wctx, msgs...) })
		}
		wcancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil // not committed: sequenced again after the restart
			}
			return err
		}
		sequenced.Inc()
	}
	return nil
}

// Replica is correlator number Index (from 0): it applies cop.sequence to its engine and
// stores and publishes its share of each record.
type Replica struct {
	Bus     bus.Config
	Store   *store.Store
	Log     zerolog.Logger
	Metrics *metrics.Registry
	Index   int
	// StatePath, SnapshotEvery and EngineConfig as for Correlator; the state file's
	// offset is this replica's next cop.sequence offset.
	StatePath     string
	SnapshotEvery time.Duration
	EngineConfig  *correlate.Config
	// DrainTimeout as for Correlator (default 15 s).
	DrainTimeout time.Duration
	// FlushEvery, FlushWait, FlushMinRows and FlushRows as for Correlator: the replica
	// gathers the rows of the records it applies and commits cop.sequence after they are
	// stored.
	FlushEvery   time.Duration
	FlushWait    time.Duration
	FlushMinRows int
	FlushRows    int
	cadence      cadence // of the Flush fields, set by Run
	// Engine is nil until the replica restored it or met its first record.
	Engine *correlate.Engine

	pr      *partitionReaders
	batch   []event.Event
	parts   []int
	sb      store.Batch
	pend    store.Pending // gathered rows, not yet in ClickHouse
	letters []deadletter.Letter
	picture *kafka.Writer
	dead    *kafka.Writer
	events  *metrics.Counter
	retries *metrics.Counter
}

// ownsPartition reports whether replica index of count stores the events of cop.events
// partition p.
func ownsPartition(index, count, p int) bool { return p%count == index }

// ownsSituation reports whether replica index of count stores and publishes situation id.
func ownsSituation(index, count int, id string) bool {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32()%uint32(count)) == index
}

// Run applies cop.sequence until ctx is done. On start it restores the state file and
// re-applies, without storing, the records between it and its committed offset; then it
// applies and publishes record by record, and stores and commits what it gathered at
// the cadence of its Flush fields.
//
// Run works on a copy of r with the defaults filled in: r itself is never changed.
func (r *Replica) Run(ctx context.Context) error {
	if r.Index < 0 {
		return fmt.Errorf("replica %d: want an index from 0", r.Index)
	}
	w := *r
	w.SnapshotEvery = cmp.Or(w.SnapshotEvery, 30*time.Second)
	w.DrainTimeout = cmp.Or(w.DrainTimeout, 15*time.Second)
	w.cadence = newCadence(w.FlushEvery, w.FlushWait, w.FlushMinRows, w.FlushRows)
	if w.Metrics == nil {
		w.Metrics = &metrics.Registry{}
	}
	return w.run(ctx)
}

func (r *Replica) run(ctx context.Context) error {
	r.events = r.Metrics.Counter(`cop_correlate_events_total`, "Events applied to the engine.")
	r.retries = r.Metrics.Counter(`cop_store_retries_total`, "Retries of a ClickHouse or Kafka write.")
	lag := r.Metrics.Gauge(`cop_correlate_lag`, "Records on cop.sequence behind the newest, as of the last one applied.")
	gauges := engineGauges(r.Metrics)
	seq := r.Bus.Sequence()
	group := r.Bus.Group(fmt.Sprintf("correlate-%d", r.Index))
	r.pr = newPartitionReaders(r.Bus)
	defer r.pr.Close()
	r.picture = bus.NewWriter(r.Bus, r.Bus.Picture())
	r.dead = bus.NewWriter(r.Bus, r.Bus.DeadLetter())
	defer r.picture.Close()
	defer r.dead.Close()

	committed, err := r.restore(ctx, seq, group)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	wctx, release := drain(ctx, r.DrainTimeout)
	defer release()
	gr := bus.NewGroupReader(r.Bus, group, seq)
	defer gr.Close()
	sw := newStateWriter(r.Log, r.Metrics, r.StatePath, seq, r.SnapshotEvery, 0)
	// The state file is written only when nothing gathered is waiting for ClickHouse
	// (see the package doc): its offset is then the committed one.
	snapshot := func() {
		if r.pend.Batches() == 0 {
			sw.write(r.Engine, map[int]int64{0: committed})
		}
	}
	var last kafka.Message // the last record gathered, committed with the flush
	flush := func() error {
		if r.pend.Batches() == 0 {
			return nil
		}
		if err := r.flush(wctx); err != nil {
			return err
		}
		if err := retry(wctx, r.Log, r.retries, "commit cop.sequence offset", func() error { return gr.CommitMessages(wctx, last) }); err != nil {
			return err
		}
		r.pend.Reset()
		committed = last.Offset + 1
		sw.committed()
		if r.Engine != nil { // nil until the first record a Sequencer wrote
			gauges(r.Engine)
		}
		return nil
	}
	for {
		wait := time.Second
		if r.pend.Batches() > 0 {
			wait = max(time.Millisecond, min(wait, time.Until(r.cadence.at(&r.pend))))
		}
		fctx, cancel := context.WithTimeout(ctx, wait)
		m, err := gr.FetchMessage(fctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				if err := flush(); err != nil {
					return r.stopped(ctx, err)
				}
				snapshot()
				return nil
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				r.Log.Warn().Err(err).Msg("cannot fetch from cop.sequence; retrying")
				bus.Pause(ctx, time.Second)
			}
		} else {
			if m.HighWaterMark > 0 {
				lag.Set(float64(max(0, m.HighWaterMark-m.Offset-1)))
			}
			if err := r.apply(wctx, m, true); err != nil {
				return r.stopped(ctx, err)
			}
			if r.pend.Batches() == 0 {
				r.pend.Add(&store.Batch{}) // a skipped record: nothing to store, its offset to commit
			}
			last = m
			sw.changed()
		}
		if r.cadence.due(&r.pend, time.Now()) {
			if err := flush(); err != nil {
				return r.stopped(ctx, err)
			}
		}
		if sw.due() {
			snapshot()
		}
	}
}

// flush stores the gathered rows, then the gathered dead letters. r.pend is kept (the
// caller resets it once the offset is committed).
func (r *Replica) flush(ctx context.Context) error {
	if r.pend.Rows() > 0 {
		if err := retry(ctx, r.Log, r.retries, "store batch", func() error { return r.Store.WritePending(ctx, &r.pend) }); err != nil {
			return err
		}
		r.cadence.wrote(r.pend.Rows())
	}
	if len(r.letters) > 0 {
		if err := retry(ctx, r.Log, r.retries, "dead-letter undecodable events", func() error { return writeLetters(ctx, r.dead, r.letters) }); err != nil {
			return err
		}
		r.letters = r.letters[:0]
	}
	return nil
}

// restore loads the state file (if any) into r.Engine and re-applies, without storing,
// the records between it and the group's committed offset, which it returns.
func (r *Replica) restore(ctx context.Context, seq, group string) (int64, error) {
	var from int64
	if r.StatePath != "" {
		e, hdr, err := readState(r.StatePath, engineConfig(r.EngineConfig))
		switch {
		case err == nil && hdr.Topic == seq:
			r.Engine, from = e, hdr.Offsets[0]
			r.Log.Info().Str("path", r.StatePath).Int64("offset", from).Msg("engine restored from state file")
		case err == nil:
			r.Log.Error().Str("path", r.StatePath).Str("topic", hdr.Topic).Msg("state file is for another topic; rebuilding the engine from cop.sequence")
		case !isNotExist(err):
			r.Log.Error().Err(err).Msg("state file unusable; rebuilding the engine from cop.sequence")
		}
	}
	var to int64
	if err := retry(ctx, r.Log, r.retries, "fetch committed cop.sequence offset", func() error {
		if err := bus.EnsureTopics(ctx, r.Bus, seq); err != nil {
			return err
		}
		offs, err := committedOffsets(ctx, r.Bus, group, seq)
		to = offs[0]
		return err
	}); err != nil {
		return 0, err
	}
	if from > to {
		// Never written so: a state file is written only after its offset is committed.
		r.Log.Error().Int64("state", from).Int64("committed", to).Msg("state file ahead of the committed offset; rebuilding the engine from cop.sequence")
		r.Engine, from = nil, 0
	}
	return to, r.catchUp(ctx, from, to)
}

func (r *Replica) stopped(ctx context.Context, err error) error {
	return stopped(ctx, r.Log, err, "stopped before the record in flight was committed; it will be applied again")
}

// catchUp re-applies records [from, to) without storing: this replica stored its share
// of them before it stopped.
func (r *Replica) catchUp(ctx context.Context, from, to int64) error {
	if from >= to {
		return nil
	}
	t := time.Now()
	cr := bus.NewPartitionReader(r.Bus, r.Bus.Sequence(), 0)
	defer cr.Close()
	if err := cr.SetOffset(from); err != nil {
		return fmt.Errorf("cannot seek cop.sequence to %d: %w", from, err)
	}
	for o := from; o < to; o++ {
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		m, err := cr.FetchMessage(fctx)
		cancel()
		if err != nil {
			return fmt.Errorf("cannot re-read cop.sequence@%d: %w", o, err)
		}
		if m.Offset != o {
			return fmt.Errorf("cannot re-read cop.sequence@%d: got offset %d", o, m.Offset)
		}
		if err := r.apply(ctx, m, false); err != nil {
			return err
		}
	}
	r.Log.Info().Int64("records", to-from).Dur("took", time.Since(t)).Msg("engine up to the committed offset")
	return nil
}

// apply applies one cop.sequence record to the engine; with store, it then publishes
// this replica's share of the deltas and gathers its rows and dead letters for the next
// flush.
func (r *Replica) apply(ctx context.Context, m kafka.Message, storeIt bool) error {
	var rec sequenceRecord
	if err := json.Unmarshal(m.Value, &rec); err != nil || rec.Now == 0 {
		// Only Sequencers write cop.sequence: a record they did not write changes no
		// engine. Every replica skips it alike (so their engines stay equal) and replica 0
		// keeps it in the dead letter.
		reason := "not a cop.sequence record: no batch time"
		if err != nil {
			reason = "not a cop.sequence record: " + err.Error()
		}
		r.Log.Error().Str("topic", m.Topic).Int64("offset", m.Offset).Str("reason", reason).Msg("skipped a cop.sequence record")
		if !storeIt || r.Index != 0 {
			return nil
		}
		letter := deadletter.New("", fmt.Sprintf("kafka:%s/%d@%d", m.Topic, m.Partition, m.Offset), "sequence", m.Value, time.Now().UTC(), reason)
		return retry(ctx, r.Log, r.retries, "dead-letter a cop.sequence record", func() error { return writeLetters(ctx, r.dead, []deadletter.Letter{letter}) })
	}
	count := max(rec.Count, 1)
	if r.Engine == nil {
		cfg := engineConfig(r.EngineConfig)
		cfg.Instance = rec.Epoch
		r.Engine = correlate.New(cfg)
	}
	r.batch, r.parts = r.batch[:0], r.parts[:0]
	var letters []deadletter.Letter
	for _, run := range rec.Runs {
		for o := run[1]; o < run[1]+run[2]; o++ {
			msg, err := r.pr.read(ctx, run[0], int64(o))
			if err != nil {
				return err
			}
			var e event.Event
			if err := decodeEvent(msg.Value, &e); err != nil {
				if storeIt && ownsPartition(r.Index, count, run[0]) {
					letters = append(letters, undecodable(&msg, err))
				}
				continue
			}
			r.batch, r.parts = append(r.batch, e), append(r.parts, run[0])
		}
	}
	sb := &r.sb
	sb.Reset()
	sb.StoredAt = time.Unix(0, rec.Now).UTC()
	if len(r.batch) > 0 {
		res := r.Engine.Apply(r.batch, sb.StoredAt)
		// Always materialise the deltas: building them marks situations as published,
		// which later merges depend on, so every replica must do it alike.
		deltas := r.Engine.Deltas()
		r.events.Add(uint64(len(r.batch)))
		sb.Events = r.batch
		for i, st := range res.Events {
			sit := st.SituationID
			if !ownsPartition(r.Index, count, r.parts[i]) {
				sit = "" // stored by its partition's owner
			}
			sb.Situations = append(sb.Situations, sit)
			sb.Duplicate = append(sb.Duplicate, st.Duplicate)
		}
		sb.Deltas = r.owned(sb.Deltas, deltas, count)
	}
	if rec.Tick != 0 {
		sb.Deltas = r.owned(sb.Deltas, r.Engine.Tick(time.Unix(0, rec.Tick).UTC()), count)
	}
	if !storeIt {
		return nil
	}
	// Published now, stored with the next flush (see the package doc).
	send, err := publish(r.picture, sb)
	if err != nil {
		return err
	}
	if err := retry(ctx, r.Log, r.retries, "publish picture", func() error { return send(ctx) }); err != nil {
		return err
	}
	r.letters = append(r.letters, letters...)
	return r.pend.Add(sb)
}

// owned appends to dst the deltas of situations this replica owns among count.
func (r *Replica) owned(dst, deltas []picture.Delta, count int) []picture.Delta {
	for i := range deltas {
		if ownsSituation(r.Index, count, deltas[i].Situation.ID) {
			dst = append(dst, deltas[i])
		}
	}
	return dst
}
