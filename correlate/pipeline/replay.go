package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/event"
)

// committedOffsets returns the consumer group's committed offset (the next offset to
// read) per partition of topic; partitions the group never committed are absent.
func committedOffsets(ctx context.Context, cfg bus.Config, group, topic string) (map[int]int64, error) {
	parts, err := bus.Partitions(ctx, cfg, topic)
	if err != nil {
		return nil, err
	}
	cl := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second}
	res, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return nil, fmt.Errorf("cannot fetch committed offsets of group %s: %w", group, err)
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

// catchUp brings a restored engine up to the group's committed offsets: it re-reads
// cop.events from the snapshot's offsets (from; a partition absent there from its first
// offset) up to the committed offsets (to) and applies those events to the engine
// WITHOUT storing or publishing them. Everything before a committed offset was stored
// and published before it was committed, so only the engine's memory of it is missing.
// It returns how many messages it re-applied.
func (c *Correlator) catchUp(ctx context.Context, from, to map[int]int64) (int, error) {
	total := 0
	var batch []event.Event
	apply := func() {
		if len(batch) > 0 {
			c.Engine.Apply(batch, time.Now().UTC())
			batch = batch[:0]
		}
	}
	for p, end := range to {
		start, ok := from[p]
		if ok && start >= end {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: c.Bus.Brokers, Topic: c.Bus.Events(), Partition: p,
			MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 500 * time.Millisecond,
		})
		if !ok {
			start = kafka.FirstOffset
		}
		if err := r.SetOffset(start); err != nil {
			r.Close()
			return total, fmt.Errorf("cannot seek %s/%d to %d: %w", c.Bus.Events(), p, start, err)
		}
		for {
			fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			m, err := r.FetchMessage(fctx)
			cancel()
			if err != nil {
				r.Close()
				return total, fmt.Errorf("cannot re-read %s/%d up to offset %d: %w", c.Bus.Events(), p, end, err)
			}
			if m.Offset >= end {
				break // only possible when the first offset is already past end
			}
			total++
			var e event.Event
			if err := json.Unmarshal(m.Value, &e); err == nil && e.ID != "" {
				batch = append(batch, e)
				if len(batch) >= c.MaxBatch {
					apply()
				}
			}
			if m.Offset >= end-1 {
				break
			}
		}
		r.Close()
		apply() // a partition's events before the next partition's: keeps per-key order
	}
	return total, nil
}
