package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	// SituationJSON, when it holds one entry per delta, is each delta's situation encoded
	// (picture.EncodeDelta), which the store keeps as its payload instead of encoding it again.
	SituationJSON [][]byte
	// StoredAt is when COP added the events (TAXII's date added): the correlator's batch
	// time, which its journal keeps, so a batch stored again after a crash writes rows
	// identical to the first ones and they fold. Zero means now.
	StoredAt time.Time
}

// Reset empties b for reuse, keeping its capacity.
func (b *Batch) Reset() {
	b.Events, b.Situations, b.Duplicate, b.Deltas = b.Events[:0], b.Situations[:0], b.Duplicate[:0], b.Deltas[:0]
	b.SituationJSON = b.SituationJSON[:0]
	b.StoredAt = time.Time{}
}

// Write stores b: events, their observables and situations, the three inserts at once
// (ClickHouse takes them on separate connections). It returns only when ClickHouse has
// accepted every table's rows, so the caller may commit its offsets then. Replaying the
// same batch is harmless (the tables fold rows with the same key).
func (s *Store) Write(ctx context.Context, b *Batch) error {
	var p Pending
	if err := p.add(b, false); err != nil {
		return err
	}
	return s.WritePending(ctx, &p)
}

// Pending gathers the batches of several Kafka fetches so that they reach ClickHouse as
// one insert per table: each insert is a new part per table and partition it touches,
// and ClickHouse rewrites every small part while merging (68x the inserted bytes at the
// demo's rate when every 100 ms fetch was an insert). The correlator adds each batch it
// applied and writes them all every FlushEvery or when Rows is large.
//
// Add copies what it keeps of the deltas (the engine reuses their slices on its next
// batch) and keeps only the latest version of each situation: no reader reads an older
// one (cop.situations is read by latest version), so the versions a situation went
// through within one flush are not stored. Each event keeps its own batch's StoredAt, so
// rows stored again after a crash are identical to the first ones and fold.
type Pending struct {
	events     []event.Event
	situations []string
	duplicate  []bool
	storedAt   []time.Time
	sits       []situationRow
	byID       map[string]int // index in sits
	batches    int
	first      time.Time
}

// situationRow is one row of cop.situations, encoded from a delta.
type situationRow struct {
	id                                         string
	version                                    uint64
	exercise, title, severity, tlp, mergedInto string
	confidence, score                          float64
	releasableTo, contributors, countries      []string
	sectors, names, nameKinds                  []string
	eventCount                                 uint32
	firstSeen, lastSeen, updatedAt             time.Time
	removed                                    uint8
	payload                                    string
}

// Add gathers b (which the caller may reuse afterwards).
func (p *Pending) Add(b *Batch) error { return p.add(b, true) }

func (p *Pending) add(b *Batch, latestOnly bool) error {
	at := b.StoredAt.UTC()
	if b.StoredAt.IsZero() {
		at = time.Now().UTC()
	}
	if p.batches == 0 {
		p.first = time.Now()
	}
	p.batches++
	p.events = append(p.events, b.Events...)
	p.situations = append(p.situations, b.Situations...)
	p.duplicate = append(p.duplicate, b.Duplicate...)
	for range b.Events {
		p.storedAt = append(p.storedAt, at)
	}
	if p.byID == nil {
		p.byID = map[string]int{}
	}
	encoded := len(b.SituationJSON) == len(b.Deltas)
	for i := range b.Deltas {
		var payload []byte
		if encoded {
			payload = b.SituationJSON[i]
		}
		r, err := encodeSituation(&b.Deltas[i], payload)
		if err != nil {
			return err
		}
		if j, ok := p.byID[r.id]; ok && latestOnly {
			if r.version >= p.sits[j].version {
				p.sits[j] = r
			}
			continue
		}
		p.byID[r.id] = len(p.sits)
		p.sits = append(p.sits, r)
	}
	return nil
}

// Rows is the number of event and situation rows p holds.
func (p *Pending) Rows() int { return len(p.events) + len(p.sits) }

// Batches is the number of batches added since the last Reset.
func (p *Pending) Batches() int { return p.batches }

// Since is when the first batch since the last Reset was added (zero when empty).
func (p *Pending) Since() time.Time {
	if p.batches == 0 {
		return time.Time{}
	}
	return p.first
}

// Reset empties p for reuse, keeping its capacity.
func (p *Pending) Reset() {
	clear(p.events)
	p.events, p.situations, p.duplicate, p.storedAt = p.events[:0], p.situations[:0], p.duplicate[:0], p.storedAt[:0]
	clear(p.sits)
	p.sits = p.sits[:0]
	clear(p.byID)
	p.batches = 0
}

// WritePending stores what p holds like Write. p is unchanged: on an error the caller
// retries with the same p.
func (s *Store) WritePending(ctx context.Context, p *Pending) error {
	return parallel(
		func() error { return s.writeEvents(ctx, p) },
		func() error { return s.writeObservables(ctx, p) },
		func() error { return s.writeSituations(ctx, p.sits) },
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

// eventColumns are the columns of cop.events up to migration 5 (which copies them);
// eventWriteColumns are those the writer fills, with migration 6's.
const eventColumns = `id, contributor, source_id, kind, observed_at, received_at, valid_until, category,
	techniques, sectors, countries, has_geo, lat, lon, severity, confidence, tlp, releasable_to,
	anonymise, exercise, title, summary, obs_types, obs_values, situation_id, duplicate, stored_at`

const eventWriteColumns = eventColumns + `, names, name_kinds, false_positives`

const observableColumns = `type, value, event_id, contributor, observed_at, exercise, situation_id, tlp,
	releasable_to, anonymise, stored_at`

func (s *Store) writeEvents(ctx context.Context, b *Pending) error {
	cols := eventWriteColumns
	if s.preNames {
		cols = eventColumns
	}
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO cop.events ("+cols+")")
	if err != nil {
		return fmt.Errorf("cannot prepare insert into cop.events: %w", err)
	}
	defer batch.Abort()
	n := 0
	for i := range b.events {
		if b.situations[i] == "" {
			continue
		}
		e := &b.events[i]
		types := make([]string, len(e.Observables))
		values := make([]string, len(e.Observables))
		for j, o := range e.Observables {
			types[j], values[j] = o.Type.String(), o.Value
		}
		names, kinds := splitNames(e.Names)
		var lat, lon float64
		if e.Geo != nil {
			lat, lon = e.Geo.Lat, e.Geo.Lon
		}
		row := []any{e.ID, e.Contributor, e.SourceID, e.Kind.String(), clampTime(e.ObservedAt),
			clampTime(e.ReceivedAt), clampTime(e.ValidUntil), e.Category, nonNil(e.Techniques), nonNil(e.Sectors),
			nonNil(e.Countries), b2u(e.Geo != nil), lat, lon, e.Severity.String(), e.Confidence, e.TLP.String(),
			nonNil(e.ReleasableTo), b2u(e.Anonymise), e.Exercise, e.Title, e.Summary, types, values,
			b.situations[i], b2u(b.duplicate[i]), b.storedAt[i], names, kinds, e.FalsePositives}
		if s.preNames {
			row = row[:len(row)-3]
		}
		err := batch.Append(row...)
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

func (s *Store) writeObservables(ctx context.Context, b *Pending) error {
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO cop.observables ("+observableColumns+")")
	if err != nil {
		return fmt.Errorf("cannot prepare insert into cop.observables: %w", err)
	}
	defer batch.Abort()
	n := 0
	for i := range b.events {
		if b.situations[i] == "" {
			continue
		}
		e := &b.events[i]
		for _, o := range e.Observables {
			if err := batch.Append(o.Type.String(), o.Value, e.ID, e.Contributor, clampTime(e.ObservedAt),
				e.Exercise, b.situations[i], e.TLP.String(), nonNil(e.ReleasableTo), b2u(e.Anonymise), b.storedAt[i]); err != nil {
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

// encodeSituation is the cop.situations row of d, sharing nothing with d; payload is its
// situation's JSON if the caller has it (nil: encoded here).
func encodeSituation(d *picture.Delta, payload []byte) (situationRow, error) {
	st := &d.Situation
	if payload == nil {
		var err error
		if payload, err = json.Marshal(st); err != nil {
			return situationRow{}, fmt.Errorf("cannot encode situation %s: %w", st.ID, err)
		}
	}
	contributors := make([]string, len(st.Contributors))
	for j, c := range st.Contributors {
		contributors[j] = c.Name
	}
	names, kinds := splitNames(st.Names)
	sev := st.Severity
	if sev == 0 {
		sev = event.SeverityInfo
	}
	tlp := st.TLP
	if tlp == 0 {
		tlp = event.TLPClear
	}
	return situationRow{id: st.ID, version: st.Version, exercise: st.Exercise, title: st.Title,
		severity: sev.String(), confidence: st.Confidence, score: st.Score, tlp: tlp.String(),
		releasableTo: slices.Clone(nonNil(st.ReleasableTo)), contributors: contributors,
		countries: slices.Clone(nonNil(st.Countries)), sectors: slices.Clone(nonNil(st.Sectors)),
		names: names, nameKinds: kinds,
		eventCount: uint32(st.EventCount), firstSeen: clampTime(st.FirstSeen), lastSeen: clampTime(st.LastSeen),
		updatedAt: clampTime(st.UpdatedAt), removed: b2u(d.Removed), mergedInto: d.MergedInto,
		payload: string(payload)}, nil
}

func (s *Store) writeSituations(ctx context.Context, rows []situationRow) error {
	if len(rows) == 0 {
		return nil
	}
	names := " names, name_kinds,"
	if s.preNames {
		names = ""
	}
	batch, err := s.conn.PrepareBatch(ctx, `INSERT INTO cop.situations (id, version, exercise, title, severity,
		confidence, score, tlp, releasable_to, contributors, countries, sectors,`+names+` event_count,
		first_seen, last_seen, updated_at, removed, merged_into, payload)`)
	if err != nil {
		return fmt.Errorf("cannot prepare insert into cop.situations: %w", err)
	}
	defer batch.Abort()
	for i := range rows {
		r := &rows[i]
		row := []any{r.id, r.version, r.exercise, r.title, r.severity, r.confidence, r.score,
			r.tlp, r.releasableTo, r.contributors, r.countries, r.sectors, r.names, r.nameKinds, r.eventCount, r.firstSeen,
			r.lastSeen, r.updatedAt, r.removed, r.mergedInto, r.payload}
		if s.preNames {
			row = append(row[:12], row[14:]...)
		}
		if err := batch.Append(row...); err != nil {
			return fmt.Errorf("cannot append situation %s: %w", r.id, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("cannot insert %d situations: %w", len(rows), err)
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

// splitNames returns the names of ns and their kinds, index-aligned (cop.events and
// cop.situations' names and name_kinds), sharing nothing with ns.
func splitNames(ns []event.Name) (names, kinds []string) {
	names, kinds = make([]string, len(ns)), make([]string, len(ns))
	for i, n := range ns {
		names[i], kinds[i] = n.Name, n.Kind
	}
	return names, kinds
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}
