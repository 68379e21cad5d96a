package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cidcc/cop/internal/deadletter"
	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
)

// Batch is what one correlator batch stores: the events (with their situation and
// duplicate flag, index-aligned) and the situation deltas.
type Batch struct {
	Events     []event.Event
	Situations []string // situation id per event; "" for a dropped redelivery (not stored)
	Duplicate  []bool
	Deltas     []picture.Delta
	// StoredAt is when COP added the events (TAXII's date added): the correlator's batch
	// time, which its journal keeps, so a batch stored again after a crash writes rows
	// identical to the first ones and they fold. Zero means now.
	StoredAt time.Time
}

// Reset empties b for reuse, keeping its capacity.
func (b *Batch) Reset() {
	b.Events, b.Situations, b.Duplicate, b.Deltas = b.Events[:0], b.Situations[:0], b.Duplicate[:0], b.Deltas[:0]
	b.StoredAt = time.Time{}
}

// Write stores b: events, their observables and situations, the three inserts at once
// (ClickHouse takes them on separate connections). It returns only when ClickHouse has
// accepted every table's rows, so the caller may commit its offsets then. Replaying the
// same batch is harmless (the tables fold rows with the same key).
func (s *Store) Write(ctx context.Context, b *Batch) error {
	now := b.StoredAt.UTC()
	if b.StoredAt.IsZero() {
		now = time.Now().UTC()
	}
	return parallel(
		func() error { return s.writeEvents(ctx, b, now) },
		func() error { return s.writeObservables(ctx, b, now) },
		func() error { return s.writeSituations(ctx, b.Deltas) },
	)
}

// parallel runs fs at once and returns the first error of them (in order).
func parallel(fs ...func() error) error {
	errs := make([]error, len(fs))
	var wg sync.WaitGroup
	for i, f := range fs {
		wg.Go(func() { errs[i] = f() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

const eventColumns = `id, contributor, source_id, kind, observed_at, received_at, valid_until, category,
	techniques, sectors, countries, has_geo, lat, lon, severity, confidence, tlp, releasable_to,
	anonymise, exercise, title, summary, obs_types, obs_values, situation_id, duplicate, stored_at`

func (s *Store) writeEvents(ctx context.Context, b *Batch, now time.Time) error {
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO cop.events ("+eventColumns+")")
	if err != nil {
		return fmt.Errorf("cannot prepare insert into cop.events: %w", err)
	}
	defer batch.Abort()
	n := 0
	for i := range b.Events {
		if b.Situations[i] == "" {
			continue
		}
		e := &b.Events[i]
		types := make([]string, len(e.Observables))
		values := make([]string, len(e.Observables))
		for j, o := range e.Observables {
			types[j], values[j] = o.Type.String(), o.Value
		}
		var lat, lon float64
		if e.Geo != nil {
			lat, lon = e.Geo.Lat, e.Geo.Lon
		}
		err := batch.Append(e.ID, e.Contributor, e.SourceID, e.Kind.String(), clampTime(e.ObservedAt),
			clampTime(e.ReceivedAt), clampTime(e.ValidUntil), e.Category, nonNil(e.Techniques), nonNil(e.Sectors),
			nonNil(e.Countries), b2u(e.Geo != nil), lat, lon, e.Severity.String(), e.Confidence, e.TLP.String(),
			nonNil(e.ReleasableTo), b2u(e.Anonymise), e.Exercise, e.Title, e.Summary, types, values,
			b.Situations[i], b2u(b.Duplicate[i]), now)
		if err != nil {
			return fmt.Errorf("cannot append event %s: %w", e.ID, err)
		}
		n++
	}
	if n == 0 {
		return nil
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("cannot insert %d events: %w", n, err)
	}
	return nil
}

func (s *Store) writeObservables(ctx context.Context, b *Batch, now time.Time) error {
	batch, err := s.conn.PrepareBatch(ctx, `INSERT INTO cop.observables (type, value, event_id, contributor,
		observed_at, exercise, situation_id, tlp, releasable_to, anonymise, stored_at)`)
	if err != nil {
		return fmt.Errorf("cannot prepare insert into cop.observables: %w", err)
	}
	defer batch.Abort()
	n := 0
	for i := range b.Events {
		if b.Situations[i] == "" {
			continue
		}
		e := &b.Events[i]
		for _, o := range e.Observables {
			if err := batch.Append(o.Type.String(), o.Value, e.ID, e.Contributor, clampTime(e.ObservedAt),
				e.Exercise, b.Situations[i], e.TLP.String(), nonNil(e.ReleasableTo), b2u(e.Anonymise), now); err != nil {
				return fmt.Errorf("cannot append observable of %s: %w", e.ID, err)
			}
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("cannot insert %d observables: %w", n, err)
	}
	return nil
}

func (s *Store) writeSituations(ctx context.Context, deltas []picture.Delta) error {
	if len(deltas) == 0 {
		return nil
	}
	batch, err := s.conn.PrepareBatch(ctx, `INSERT INTO cop.situations (id, version, exercise, title, severity,
		confidence, score, tlp, releasable_to, contributors, countries, sectors, event_count, first_seen,
		last_seen, updated_at, removed, merged_into, payload)`)
	if err != nil {
		return fmt.Errorf("cannot prepare insert into cop.situations: %w", err)
	}
	defer batch.Abort()
	for i := range deltas {
		d := &deltas[i]
		st := &d.Situation
		payload, err := json.Marshal(st)
		if err != nil {
			return fmt.Errorf("cannot encode situation %s: %w", st.ID, err)
		}
		names := make([]string, len(st.Contributors))
		for j, c := range st.Contributors {
			names[j] = c.Name
		}
		sev := st.Severity
		if sev == 0 {
			sev = event.SeverityInfo
		}
		tlp := st.TLP
		if tlp == 0 {
			tlp = event.TLPClear
		}
		if err := batch.Append(st.ID, st.Version, st.Exercise, st.Title, sev.String(), st.Confidence, st.Score,
			tlp.String(), nonNil(st.ReleasableTo), names, nonNil(st.Countries), nonNil(st.Sectors),
			uint32(st.EventCount), clampTime(st.FirstSeen), clampTime(st.LastSeen), clampTime(st.UpdatedAt),
			b2u(d.Removed), d.MergedInto, string(payload)); err != nil {
			return fmt.Errorf("cannot append situation %s: %w", st.ID, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("cannot insert %d situations: %w", len(deltas), err)
	}
	return nil
}

// WriteDeadLetters stores rejected messages, one row per letter (see deadletter.Letter.Capped).
func (s *Store) WriteDeadLetters(ctx context.Context, letters []deadletter.Letter) error {
	if len(letters) == 0 {
		return nil
	}
	batch, err := s.conn.PrepareBatch(ctx, `INSERT INTO cop.deadletter (id, contributor, source, format, reason,
		reasons, rejected, raw, raw_size, received_at)`)
	if err != nil {
		return fmt.Errorf("cannot prepare insert into cop.deadletter: %w", err)
	}
	defer batch.Abort()
	for _, l := range letters {
		reasons := l.Reasons
		if reasons == nil {
			reasons = []string{}
		}
		if err := batch.Append(l.ID, l.Contributor, l.Source, l.Format, l.Reason, reasons, uint32(l.Rejected),
			string(l.Raw), uint32(l.RawSize), clampTime(l.ReceivedAt)); err != nil {
			return fmt.Errorf("cannot append dead letter %s: %w", l.ID, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("cannot insert %d dead letters: %w", len(letters), err)
	}
	return nil
}

// DateTime holds 1970-01-01..2105; keep out-of-range times from failing a whole batch.
var (
	minTime = time.Unix(0, 0).UTC()
	maxTime = time.Date(2105, 12, 31, 0, 0, 0, 0, time.UTC)
)

// QueryTime is t as a query bound on a DateTime column: the column holds minTime..maxTime
// (writes clamp to it), and a bound outside would wrap around 32 bits. A time before
// minTime becomes minTime, one after maxTime becomes the second after it; so a since (>=)
// beyond the range selects nothing and an until (<) beyond it bounds nothing.
func QueryTime(t time.Time) time.Time {
	switch {
	case t.Before(minTime):
		return minTime
	case t.After(maxTime):
		return maxTime.Add(time.Second)
	}
	return t.UTC()
}

func clampTime(t time.Time) time.Time {
	switch {
	case t.Before(minTime):
		return minTime
	case t.After(maxTime):
		return maxTime
	}
	return t.UTC()
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}
