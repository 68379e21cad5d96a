package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/store"
)

// committedOffsets returns the consumer group's committed offset (the next offset to
// read) per partition of topic; partitions the group never committed are absent.
func committedOffsets(ctx context.Context, cfg bus.Config, group, topic string) (map[int]int64, error) {
	parts, err := bus.Partitions(ctx, cfg, topic)
	if err != nil {
		return nil, err
	}
	cl := cfg.Client()
	res, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return nil, fmt.Errorf("cannot fetch committed offsets of group %s: %w", group, err)
	}
	if errors.Is(res.Error, kafka.GroupIdNotFound) {
		// Apache Kafka answers an unknown group with no offsets, other brokers (kfake,
		// which the demo embeds) with this error: either way nothing is committed yet.
		return map[int]int64{}, nil
	}
	if res.Error != nil {
		return nil, fmt.Errorf("cannot fetch committed offsets of group %s: %w", group, res.Error)
	}
	out := map[int]int64{}
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("cannot fetch committed offset of %s/%d: %w", topic, p.Partition, p.Error)
		}
		if p.CommittedOffset >= 0 {
			out[p.Partition] = p.CommittedOffset
		}
	}
	return out, nil
}

// partitionReaders reads cop.events messages by offset, one reader per partition kept
// open while offsets follow each other.
type partitionReaders struct {
	bus  bus.Config
	rs   map[int]*kafka.Reader
	next map[int]int64
}

func newPartitionReaders(bc bus.Config) *partitionReaders {
	return &partitionReaders{bus: bc, rs: map[int]*kafka.Reader{}, next: map[int]int64{}}
}

func (pr *partitionReaders) read(ctx context.Context, p int, offset int64) (kafka.Message, error) {
	r := pr.rs[p]
	if r == nil {
		r = bus.NewPartitionReader(pr.bus, pr.bus.Events(), p)
		pr.rs[p], pr.next[p] = r, -1
	}
	if pr.next[p] != offset {
		if err := r.SetOffset(offset); err != nil {
			return kafka.Message{}, fmt.Errorf("cannot seek %s/%d to %d: %w", pr.bus.Events(), p, offset, err)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	m, err := r.FetchMessage(fctx)
	cancel()
	if err != nil {
		return m, fmt.Errorf("cannot re-read %s/%d@%d: %w", pr.bus.Events(), p, offset, err)
	}
	if m.Offset != offset {
		return m, fmt.Errorf("cannot re-read %s/%d@%d: got offset %d (deleted by retention?)", pr.bus.Events(), p, offset, m.Offset)
	}
	pr.next[p] = offset + 1
	return m, nil
}

func (pr *partitionReaders) Close() {
	for _, r := range pr.rs {
		r.Close()
	}
}

// reapplyJournal re-applies the journaled batches after the snapshot (from) exactly as
// they were applied before: same messages, same order, same times. Batches the group
// committed (below to) were stored and published then; only the engine's memory of them
// was lost. A batch not committed yet (the crash came between its journal record and its
// commit) may or may not have been stored: it is stored and published again (the tables
// fold the identical rows), and the group redelivers it as known ids. It returns the
// messages re-applied and whether the engine now holds uncommitted batches.
func (c *Correlator) reapplyJournal(ctx context.Context, recs []journalRecord, from, to map[int]int64) (int, error) {
	pr := newPartitionReaders(c.Bus)
	defer pr.Close()
	total := 0
	var batch []event.Event
	var sb store.Batch
	for _, rec := range recs {
		if len(rec.Runs) > 0 && before(rec.Runs, from) {
			continue // in the snapshot already
		}
		committed := before(rec.Runs, to)
		batch = batch[:0]
		for _, run := range rec.Runs {
			for o := run[1]; o < run[1]+run[2]; o++ {
				m, err := pr.read(ctx, run[0], int64(o))
				if err != nil {
					return total, err
				}
				total++
				var e event.Event
				if decodeEvent(m.Value, &e) == nil {
					batch = append(batch, e)
				}
			}
		}
		sb.Reset()
		sb.StoredAt = time.Unix(0, rec.Now).UTC()
		if len(batch) > 0 {
			res := c.Engine.Apply(batch, time.Unix(0, rec.Now).UTC())
			// Materialise the deltas as the live run did: building them marks situations
			// as published, which later merges depend on.
			deltas := c.Engine.Deltas()
			if !committed {
				sb.Events = batch
				for _, st := range res.Events {
					sb.Situations = append(sb.Situations, st.SituationID)
					sb.Duplicate = append(sb.Duplicate, st.Duplicate)
				}
				sb.Deltas = append(sb.Deltas, deltas...)
			}
		}
		if rec.Tick != 0 {
			ds := c.Engine.Tick(time.Unix(0, rec.Tick).UTC())
			if !committed {
				sb.Deltas = append(sb.Deltas, ds...)
			}
		}
		if len(sb.Events) > 0 || len(sb.Deltas) > 0 {
			c.Log.Info().Int("events", len(sb.Events)).Int("deltas", len(sb.Deltas)).Msg("storing again a batch journaled but not committed before the stop")
			w := bus.NewWriter(c.Bus, c.Bus.Picture())
			send, err := publish(w, &sb)
			if err == nil {
				err = c.Store.Write(ctx, &sb)
			}
			if err == nil {
				err = send(ctx)
			}
			w.Close()
			if err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// before reports whether every run ends at or before offsets (a partition absent from
// offsets has nothing before).
func before(runs [][3]int, offsets map[int]int64) bool {
	for _, r := range runs {
		o, ok := offsets[r[0]]
		if !ok || int64(r[1]+r[2]) > o {
			return false
		}
	}
	return true
}
