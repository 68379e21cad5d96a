package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cidcc/cop/internal/bus"
	"github.com/cidcc/cop/internal/metrics"
	"github.com/cidcc/cop/internal/picture"
)

// PictureConfig bounds the live picture. Zero fields take the defaults.
type PictureConfig struct {
	// MaxSituations caps how many situations the picture holds; beyond it the least
	// recently changed are dropped (cop_picture_dropped_total{reason="cap"}). Default 100,000.
	MaxSituations int
	// RetireAfter drops a situation whose UpdatedAt is older than this: the engine retires
	// a situation without a delta once it has decayed to 0 and not changed for its longest
	// lifetime, so cop.picture (compacted) keeps its last state forever. Default: the
	// engine's longest default lifetime.
	RetireAfter time.Duration
	// History is how many recent changes are kept so that a client can be sent only what
	// changed since the sequence it holds (coalesced deltas, resume). Each change keeps the
	// markings of the version it replaced (about 0.5 KB) until it falls out. Default 16,384.
	History int
	// Metrics receives the picture's counters; nil keeps them private.
	Metrics *metrics.Registry
}

func (c *PictureConfig) setDefaults() {
	if c.MaxSituations <= 0 {
		c.MaxSituations = 100_000
	}
	if c.RetireAfter <= 0 {
		c.RetireAfter = picture.LongestLifetime
	}
	if c.History <= 0 {
		c.History = 16_384
	}
	if c.Metrics == nil {
		c.Metrics = &metrics.Registry{}
	}
}

// Picture is the live picture in memory: the latest version of every situation, rebuilt
// from the compacted cop.picture topic at start and kept current from it. Every API
// instance reads all partitions itself (no consumer group), so instances are independent.
//
// Every change gets the next sequence number, and the last History changes are kept with
// the version they replaced, so that Since can tell a client holding the picture at any
// recent sequence exactly what changed for it. Stored situations are never modified, only
// replaced: pointers handed out stay valid and consistent without the lock.
type Picture struct {
	cfg   PictureConfig
	epoch string // names this picture's sequence numbers; a restart or another instance has another

	mu         sync.RWMutex
	situations map[string]held // Lock should be held.
	seq        uint64          // the last change's sequence number; Lock should be held.
	history    []change        // change seq is at history[seq%len]; Lock should be held.
	loaded     bool
	swept      time.Time // last retirement sweep

	size                     *metrics.Gauge
	dropRemoved, dropRetired *metrics.Counter
	dropCap                  *metrics.Counter
}

type held struct {
	s   *picture.Situation
	seq uint64 // last change
}

// change is one entry of the history: situation id changed at seq, replacing prev (its
// markings; nil: it was not in the picture). It left the picture if it is no longer held, merged into
// mergedInto if the engine said so.
type change struct {
	seq        uint64
	id         string
	prev       *picture.Situation
	mergedInto string
}

// Change is what happened to one situation between two sequence numbers: Prev is the
// version held at the first (nil: none; only the fields that decide who may see it), Cur
// the version held at the second (nil: it left the picture, into MergedInto if it merged).
type Change struct {
	ID         string
	Prev, Cur  *picture.Situation
	MergedInto string
}

// NewPicture returns an empty picture.
func NewPicture(cfg PictureConfig) *Picture {
	cfg.setDefaults()
	var b [8]byte
	rand.Read(b[:])
	reg := cfg.Metrics
	return &Picture{
		cfg:         cfg,
		epoch:       hex.EncodeToString(b[:]),
		situations:  map[string]held{},
		history:     make([]change, cfg.History),
		swept:       time.Now(),
		size:        reg.Gauge("cop_picture_situations", "Situations in the live picture."),
		dropRemoved: reg.Counter(`cop_picture_dropped_total{reason="merged"}`, "Situations dropped from the live picture, by reason."),
		dropRetired: reg.Counter(`cop_picture_dropped_total{reason="retired"}`, "Situations dropped from the live picture, by reason."),
		dropCap:     reg.Counter(`cop_picture_dropped_total{reason="cap"}`, "Situations dropped from the live picture, by reason."),
	}
}

// Epoch names this picture's sequence numbers: a sequence is only meaningful to the
// picture with the same epoch.
func (p *Picture) Epoch() string { return p.epoch }

// sweepEvery is how often Apply looks for situations to retire by age.
const sweepEvery = time.Minute

// Apply folds deltas into the picture; an older version than the one held is ignored.
func (p *Picture) Apply(deltas []picture.Delta) {
	now := time.Now()
	retireBefore := now.Add(-p.cfg.RetireAfter)
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range deltas {
		d := &deltas[i]
		id := d.Situation.ID
		cur, ok := p.situations[id]
		if ok && cur.s.Version > d.Situation.Version {
			continue
		}
		if d.Removed || d.Situation.UpdatedAt.Before(retireBefore) {
			if ok {
				p.drop(id, cur.s, d.MergedInto)
				if d.Removed {
					p.dropRemoved.Inc()
				} else {
					p.dropRetired.Inc()
				}
			}
			continue
		}
		s := d.Situation
		var prev *picture.Situation
		if ok {
			prev = cur.s
		}
		p.record(id, prev.Markings(), "")
		p.situations[id] = held{s: &s, seq: p.seq}
	}
	if now.Sub(p.swept) >= sweepEvery {
		p.swept = now
		for id, h := range p.situations {
			if h.s.UpdatedAt.Before(retireBefore) {
				p.drop(id, h.s, "")
				p.dropRetired.Inc()
			}
		}
	}
	if len(p.situations) > p.cfg.MaxSituations {
		p.evict()
	}
	p.size.Set(float64(len(p.situations)))
}

// record appends a change to the history. Lock should be held.
func (p *Picture) record(id string, prev *picture.Situation, mergedInto string) {
	p.seq++
	p.history[p.seq%uint64(len(p.history))] = change{seq: p.seq, id: id, prev: prev, mergedInto: mergedInto}
}

// drop removes a held situation as a change. Lock should be held.
func (p *Picture) drop(id string, s *picture.Situation, mergedInto string) {
	p.record(id, s.Markings(), mergedInto)
	delete(p.situations, id)
}

// evict drops the least recently changed situations down to 95% of the cap, so that a
// picture at its cap sorts once per 5% of new situations rather than on every one.
// Lock should be held.
func (p *Picture) evict() {
	keep := p.cfg.MaxSituations - p.cfg.MaxSituations/20
	seqs := make([]uint64, 0, len(p.situations))
	for _, h := range p.situations {
		seqs = append(seqs, h.seq)
	}
	slices.Sort(seqs)
	cut := seqs[len(seqs)-keep] // keep the situations changed at or after cut
	for id, h := range p.situations {
		if h.seq < cut {
			p.drop(id, h.s, "")
			p.dropCap.Inc()
		}
	}
}

// Snapshot returns every situation and the sequence number the picture is at. The
// situations must not be modified.
func (p *Picture) Snapshot() ([]*picture.Situation, uint64) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]*picture.Situation, 0, len(p.situations))
	for _, h := range p.situations {
		out = append(out, h.s)
	}
	return out, p.seq
}

// Get returns the situation id as the picture holds it (nil: not held). It must not be
// modified.
func (p *Picture) Get(id string) *picture.Situation {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.situations[id].s
}

// Seq returns the sequence number of the last change.
func (p *Picture) Seq() uint64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.seq
}

// Since returns what changed after sequence from, one Change per situation sorted by id,
// and the sequence number they bring a holder of from up to. ok is false when from is not
// a sequence of this picture's recent history (too old, or ahead of it): the caller needs
// a snapshot instead.
func (p *Picture) Since(from uint64) (changes []Change, to uint64, ok bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	changes, ok = p.since(from)
	return changes, p.seq, ok
}

// SinceEach calls f with Since(from) for every from, all up to the same sequence, which
// it returns: holders of different sequences end at the same one. f is called under the
// read lock and must only keep what it is given.
func (p *Picture) SinceEach(froms []uint64, f func(from uint64, changes []Change, ok bool)) (to uint64) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, from := range froms {
		changes, ok := p.since(from)
		f(from, changes, ok)
	}
	return p.seq
}

// since implements Since. Read lock should be held.
func (p *Picture) since(from uint64) (changes []Change, ok bool) {
	n := uint64(len(p.history))
	if from > p.seq || p.seq-from > n {
		return nil, false
	}
	at := make(map[string]int, p.seq-from)
	for q := from + 1; q <= p.seq; q++ {
		c := &p.history[q%n]
		i, seen := at[c.id]
		if !seen {
			// The first change after from replaced the version held at from.
			at[c.id] = len(changes)
			changes = append(changes, Change{ID: c.id, Prev: c.prev})
			i = len(changes) - 1
		}
		changes[i].MergedInto = c.mergedInto
	}
	for i := range changes {
		if h, ok := p.situations[changes[i].ID]; ok {
			changes[i].Cur, changes[i].MergedInto = h.s, ""
		}
	}
	slices.SortFunc(changes, func(a, b Change) int { return strings.Compare(a.ID, b.ID) })
	return changes, true
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
	r := bus.NewPartitionReader(cfg, cfg.Picture(), part) // from the first offset
	defer r.Close()
	signalled := false
	deltas := make([]picture.Delta, 0, 256)
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
			var d picture.Delta
			if err := picture.DecodeDelta(m.Value, &d); err != nil {
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
