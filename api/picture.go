package api

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/cidcc/cop/correlate"
	"github.com/cidcc/cop/internal/bus"
)

// Picture is the live picture in memory: the latest version of every situation, rebuilt
// from the compacted cop.picture topic at start and kept current from it. Every API
// instance reads all partitions itself (no consumer group), so instances are independent.
type Picture struct {
	mu         sync.RWMutex
	situations map[string]*correlate.Situation // Lock should be held.
	seq        uint64                          // bumped on every applied delta
	changed    map[string]struct{}             // ids changed since the last Drain
	removed    map[string]string               // id → merged into, since the last Drain
	loaded     bool
}

// NewPicture returns an empty picture.
func NewPicture() *Picture {
	return &Picture{
		situations: map[string]*correlate.Situation{},
		changed:    map[string]struct{}{},
		removed:    map[string]string{},
	}
}

// Apply folds deltas into the picture; an older version than the one held is ignored.
func (p *Picture) Apply(deltas []correlate.Delta) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range deltas {
		d := &deltas[i]
		id := d.Situation.ID
		cur, ok := p.situations[id]
		if ok && cur.Version > d.Situation.Version {
			continue
		}
		p.seq++
		if d.Removed {
			delete(p.situations, id)
			delete(p.changed, id)
			p.removed[id] = d.MergedInto
			continue
		}
		s := d.Situation
		p.situations[id] = &s
		p.changed[id] = struct{}{}
		delete(p.removed, id)
	}
}

// Snapshot calls f with every situation under the read lock, and returns the sequence
// number the snapshot is at.
func (p *Picture) Snapshot(f func(*correlate.Situation)) uint64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, s := range p.situations {
		f(s)
	}
	return p.seq
}

// Drain returns the situations changed and the ids removed since the last Drain.
func (p *Picture) Drain() (changed []correlate.Situation, removed map[string]string, seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.changed) == 0 && len(p.removed) == 0 {
		return nil, nil, p.seq
	}
	changed = make([]correlate.Situation, 0, len(p.changed))
	for id := range p.changed {
		changed = append(changed, *p.situations[id])
	}
	removed = p.removed
	p.changed = map[string]struct{}{}
	p.removed = map[string]string{}
	return changed, removed, p.seq
}

// Len returns the number of live situations.
func (p *Picture) Len() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.situations)
}

// Loaded reports whether the picture has caught up with cop.picture once since start.
func (p *Picture) Loaded() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.loaded
}

// Follow reads every partition of cop.picture from the beginning and applies it until ctx
// is done.
func (p *Picture) Follow(ctx context.Context, cfg bus.Config, log zerolog.Logger) error {
	var parts []int
	for {
		var err error
		if parts, err = bus.Partitions(ctx, cfg, cfg.Picture()); err == nil && len(parts) > 0 {
			break
		}
		log.Warn().Err(err).Msg("cannot read cop.picture partitions; retrying")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	var wg sync.WaitGroup
	caught := make(chan struct{}, len(parts))
	for _, part := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.followPartition(ctx, cfg, part, log, caught)
		}()
	}
	go func() {
		for range parts {
			select {
			case <-caught:
			case <-ctx.Done():
				return
			}
		}
		p.mu.Lock()
		p.loaded = true
		p.mu.Unlock()
		log.Info().Int("situations", p.Len()).Msg("live picture loaded from cop.picture")
	}()
	wg.Wait()
	return nil
}

func (p *Picture) followPartition(ctx context.Context, cfg bus.Config, part int, log zerolog.Logger, caught chan<- struct{}) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: cfg.Brokers, Topic: cfg.Picture(), Partition: part,
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: time.Second,
		StartOffset: kafka.FirstOffset,
	})
	defer r.Close()
	signalled := false
	deltas := make([]correlate.Delta, 0, 256)
	for ctx.Err() == nil {
		if !signalled {
			// Caught up when the reader's lag reaches zero (or the partition is empty).
			if lag, err := r.ReadLag(ctx); err == nil && lag == 0 {
				caught <- struct{}{}
				signalled = true
			}
		}
		deltas = deltas[:0]
		fctx, cancel := context.WithTimeout(ctx, time.Second)
		for len(deltas) < cap(deltas) {
			m, err := r.ReadMessage(fctx)
			if err != nil {
				break
			}
			var d correlate.Delta
			if err := json.Unmarshal(m.Value, &d); err != nil {
				log.Error().Err(err).Str("topic", m.Topic).Int("partition", m.Partition).Int64("offset", m.Offset).
					Msg("cannot decode picture delta; skipped")
				continue
			}
			deltas = append(deltas, d)
			if r.Lag() == 0 {
				break
			}
		}
		cancel()
		p.Apply(deltas)
	}
}
