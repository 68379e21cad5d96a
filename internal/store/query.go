package store

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cidcc/cop/internal/event"
)

// ErrBadCursor is returned for a cursor this store did not issue: the caller sent a
// truncated or edited one, and must restart from the first page.
var ErrBadCursor = errors.New("bad cursor")

// Caller is who asks a history query, as far as the marking rules in SQL need to know.
// The API builds it from the authenticated identity; the store never trusts a filter to
// narrow what the caller may see.
type Caller struct {
	// Name is the identity's name; releasability lists may name it.
	Name string
	// Missions are the identity's missions; releasability lists may name them too.
	Missions []string
	// MaxTLP is the TLP ceiling.
	MaxTLP event.TLP
	// Exercise selects the picture: "" is the real one. The API checks the identity may
	// view it before building the Caller.
	Exercise string
	// SeeAnonymised lets a filter on a contributor's name match its anonymised
	// contributions (admins); others match only what it shared under its name, or their own.
	SeeAnonymised bool
}

// Cursor is a keyset position: the sort key and id of the last row of a page. The next
// page starts strictly after it, so rows inserted meanwhile neither shift nor repeat
// what was already read.
type Cursor struct {
	At time.Time
	ID string
	// ByScore marks a position in score order (SituationFilter.ByScore): Score, then ID.
	ByScore bool
	Score   float64
}

// scoreCursor prefixes the encoding of a position in score order.
const scoreCursor = "score:"

// String encodes c opaquely for a URL.
func (c Cursor) String() string {
	if c.ByScore {
		// 'g', -1 gives back the very float64, so the next page starts exactly after it.
		return base64.RawURLEncoding.EncodeToString([]byte(scoreCursor + strconv.FormatFloat(c.Score, 'g', -1, 64) + "|" + c.ID))
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.At.Unix(), 10) + "|" + c.ID))
}

// ParseCursor decodes what Cursor.String produced.
func ParseCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	if rest, ok := strings.CutPrefix(string(b), scoreCursor); ok {
		sc, id, ok := strings.Cut(rest, "|")
		v, err := strconv.ParseFloat(sc, 64)
		if !ok || err != nil || id == "" || !(v >= 0 && v <= 100) {
			return Cursor{}, ErrBadCursor
		}
		return Cursor{ByScore: true, Score: v, ID: id}, nil
	}
	at, id, ok := strings.Cut(string(b), "|")
	sec, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || id == "" {
		return Cursor{}, ErrBadCursor
	}
	return Cursor{At: QueryTime(time.Unix(sec, 0)), ID: id}, nil
}

// sqlWhere accumulates a WHERE clause and its bound arguments. Values are always bound
// (clickhouse-go quotes them); only column names and operators are ever concatenated.
type sqlWhere struct {
	conds []string
	args  []any
}

func (w *sqlWhere) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *sqlWhere) String() string {
	if len(w.conds) == 0 {
		return "1"
	}
	return strings.Join(w.conds, " AND ")
}

// placeholders returns "?, ?, ?" for n values; 18.16 rejects a Go slice bound to one "?".
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func anys[T any](xs []T, conv func(T) any) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = conv(x)
	}
	return out
}

func str(s string) any { return s }

// in adds "expr IN (...)" for a non-empty list.
func (w *sqlWhere) in(expr string, vals []any) {
	if len(vals) > 0 {
		w.add(expr+" IN ("+placeholders(len(vals))+")", vals...)
	}
}

// levels adds the severity and TLP filters: either list, when not empty, lists the
// values allowed (a table with severity and tlp columns).
func (w *sqlWhere) levels(severities []event.Severity, tlps []event.TLP) {
	w.in("severity", anys(severities, func(s event.Severity) any { return s.String() }))
	w.in("toInt8(tlp)", anys(tlps, func(t event.TLP) any { return int8(t) }))
}

// hasAny adds "hasAny(col, [...])" for a non-empty list.
func (w *sqlWhere) hasAny(col string, vals []string) {
	if len(vals) > 0 {
		w.add("hasAny("+col+", ["+placeholders(len(vals))+"])", anys(vals, str)...)
	}
}

// marking adds the marking rules of access.Identity.CanSee for a table with exercise,
// tlp and releasable_to columns: the exercise asked for, the TLP ceiling, releasability
// (empty or naming the caller or one of its missions) and RED only when named.
func (w *sqlWhere) marking(c Caller, prefix string) {
	w.add(prefix+"exercise = ?", c.Exercise)
	q, args := markingSQL(prefix+"tlp", prefix+"releasable_to", c.MaxTLP, append([]string{c.Name}, c.Missions...))
	w.add(q, args...)
}

// markingSQL is the SQL condition of access.Identity.CanSee on columns tlp and releasable
// (exercise is matched apart): marked and at most max (no ceiling is CLEAR), releasable to
// one of names if it lists any, and RED only when it names one of them. Names compare
// case-insensitively. Every query and aggregate applies it through here.
func markingSQL(tlp, releasable string, max event.TLP, names []string) (string, []any) {
	if max == 0 {
		max = event.TLPClear
	}
	args := []any{int8(max)}
	named := "0"
	if len(names) > 0 {
		named = "arrayExists(r -> lower(r) IN (" + placeholders(len(names)) + "), " + releasable + ")"
	}
	lower := make([]any, len(names))
	for i, n := range names {
		lower[i] = strings.ToLower(n)
	}
	args = append(append(append(args, lower...), int8(event.TLPRed)), lower...)
	return "toInt8(" + tlp + ") BETWEEN 1 AND ? AND (empty(" + releasable + ") OR " + named + ") AND (toInt8(" + tlp + ") < ? OR " + named + ")", args
}

// contributors adds a filter on contributor names that never matches an anonymised
// contribution by name, unless the caller is that contributor or may see anonymised ones.
func (w *sqlWhere) contributors(c Caller, names []string) {
	if len(names) == 0 {
		return
	}
	w.in("contributor", anys(names, str))
	if !c.SeeAnonymised {
		w.add("(anonymise = 0 OR contributor = ?)", c.Name)
	}
}

// EventFilter narrows an events query. Lists match any of their values; empty fields
// do not filter.
type EventFilter struct {
	Since, Until time.Time // on observed_at; Until is exclusive
	Contributors []string
	Countries    []string
	Sectors      []string
	Techniques   []string
	Kinds        []event.Kind
	Severities   []event.Severity
	TLPs         []event.TLP
	ObsValue     string // normalised observable value
	ObsType      string
	Q            string   // case-insensitive substring of the title
	Names        []string // states one of these names (any kind), normalised by event.NormaliseName
	Situation    string   // member of this situation (or of one merged into it)
	Asc          bool     // oldest first; default newest first
	// ByStored orders by stored_at (when COP added the event: TAXII's date added) instead
	// of observed_at, oldest first; Since is then exclusive and on stored_at.
	ByStored bool
	// Named, when set, keeps the events whose id one of its names names (UUIDName).
	Named *UUIDName
	After *Cursor
	Limit int // 0: every row (exports)

	IDPrefix string // ids starting with it only (the MISP feed's <uuid>.json, with Since/Until on its day)
}

// UUIDName is a name-based UUID (RFC 9562 version 5: SHA-1 of a namespace and a name) and
// the forms of name an event's id takes in it (prefix + id + suffix): how TAXII finds the
// event behind a STIX id (api/export.go's stixID) without exporting every event. The
// condition compares every bit but the version's and the variant's; the caller checks the
// object it finds.
type UUIDName struct {
	Namespace [16]byte
	UUID      string // 32 hex digits
	Forms     []UUIDForm
}

// UUIDForm is a name around an event id.
type UUIDForm struct{ Prefix, Suffix string }

func (n *UUIDName) where(w *sqlWhere) {
	u := strings.ToLower(strings.ReplaceAll(n.UUID, "-", ""))
	if len(u) != 32 || len(n.Forms) == 0 {
		w.add("0")
		return
	}
	// A LIKE pattern: hex digits are not special to it; _ stands for the version's digit
	// and the one that holds the variant's bits.
	pattern := u[:12] + "_" + u[13:16] + "_" + u[17:]
	conds := make([]string, len(n.Forms))
	var args []any
	for i, f := range n.Forms {
		conds[i] = "lower(hex(substring(SHA1(concat(unhex(?), ?, id, ?)), 1, 16))) LIKE ?"
		args = append(args, hex.EncodeToString(n.Namespace[:]), f.Prefix, f.Suffix, pattern)
	}
	w.add("("+strings.Join(conds, " OR ")+")", args...)
}

func (f *EventFilter) where(c Caller) *sqlWhere {
	w := &sqlWhere{}
	w.marking(c, "")
	switch {
	case f.ByStored && !f.Since.IsZero():
		w.add("stored_at > ?", f.Since.UTC())
	case !f.Since.IsZero():
		w.add("observed_at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		w.add("observed_at < ?", f.Until.UTC())
	}
	w.contributors(c, f.Contributors)
	w.hasAny("countries", f.Countries)
	w.hasAny("sectors", f.Sectors)
	w.hasAny("techniques", f.Techniques)
	w.in("kind", anys(f.Kinds, func(k event.Kind) any { return k.String() }))
	w.levels(f.Severities, f.TLPs)
	if f.ObsValue != "" {
		// The observables table is ordered by value: the look-up reads a few granules
		// instead of every event's observable arrays.
		// The days and contributors of those sightings let the primary key (exercise,
		// day, contributor, ...) of cop.events skip every other (day, contributor) range
		// instead of scanning the id column (at 10M events: 0.9M rows read instead of
		// 2.4M with the days alone).
		from := " FROM cop.observables WHERE value = ? AND exercise = ?"
		args := []any{f.ObsValue, c.Exercise}
		if f.ObsType != "" {
			from += " AND type = ?"
			args = append(args, f.ObsType)
		}
		w.add("(toDate(observed_at), contributor) IN (SELECT toDate(observed_at), contributor"+from+")", args...)
		w.add("id IN (SELECT event_id"+from+")", args...)
	} else if f.ObsType != "" {
		w.add("has(obs_types, ?)", f.ObsType)
	}
	if f.IDPrefix != "" {
		w.add("substring(id, 1, ?) = ?", len(f.IDPrefix), f.IDPrefix)
	}
	if f.Q != "" {
		w.add("positionCaseInsensitiveUTF8(title, ?) > 0", f.Q)
	}
	if f.Named != nil {
		f.Named.where(w)
	}
	w.names(f.Names)
	if f.Situation != "" {
		w.add("(situation_id = ? OR situation_id IN (SELECT id FROM cop.situations WHERE exercise = ? AND merged_into = ?))",
			f.Situation, c.Exercise, f.Situation)
	}
	if f.After != nil {
		op, col := "<", "observed_at"
		if f.Asc || f.ByStored {
			op = ">"
		}
		if f.ByStored {
			col = "stored_at"
		}
		w.add("("+col+" "+op+" ? OR ("+col+" = ? AND id "+op+" ?))", f.After.At.UTC(), f.After.At.UTC(), f.After.ID)
	}
	return w
}

// StoredEvent is an event as history returns it: the canonical event plus what the
// correlator decided about it.
type StoredEvent struct {
	event.Event
	SituationID string    `json:"situation_id,omitempty"`
	Duplicate   bool      `json:"duplicate,omitempty"`
	StoredAt    time.Time `json:"-"`
}

// Cursor returns the keyset position of e in observed_at order.
func (e *StoredEvent) Cursor() Cursor { return Cursor{At: e.ObservedAt, ID: e.ID} }

func (e *StoredEvent) cursor(byStored bool) Cursor {
	if byStored {
		return Cursor{At: e.StoredAt, ID: e.ID}
	}
	return e.Cursor()
}

const eventSelect = `SELECT id, contributor, source_id, toString(kind), observed_at, received_at, valid_until,
	category, techniques, sectors, countries, has_geo, lat, lon, toInt8(severity), confidence, toInt8(tlp),
	releasable_to, anonymise, exercise, title, summary, obs_types, obs_values, situation_id, duplicate, stored_at,
	names, name_kinds, false_positives
	FROM cop.events`

// EachEvent streams the events f selects in c's scope to fn, in observed_at order (then
// id), each id once: rows the ReplacingMergeTree has not folded yet (a redelivered batch)
// are adjacent in that order and skipped. With f.Limit > 0 it stops after Limit events
// and returns the cursor of the next page, or nil when there is none.
func (s *Store) EachEvent(ctx context.Context, c Caller, f EventFilter, fn func(*StoredEvent) error) (next *Cursor, err error) {
	dir, col := "DESC", "observed_at"
	if f.Asc || f.ByStored {
		dir = "ASC"
	}
	if f.ByStored {
		col = "stored_at"
	}
	var last StoredEvent
	emitted := 0
	// Events go to fn a batch at a time, once the situations they name have been checked
	// against c (a situation id c may not see is dropped: it would tell that hidden
	// intelligence on the event exists).
	var pending []*StoredEvent
	flush := func() error {
		if err := s.hideSituations(ctx, c, pending); err != nil {
			return err
		}
		for _, e := range pending {
			if err := fn(e); err != nil {
				return err
			}
		}
		pending = pending[:0:0]
		return nil
	}
	for {
		w := f.where(c)
		order := " ORDER BY " + col + " " + dir + ", id " + dir
		want, read := 0, 0
		q := eventSelect + " WHERE " + w.String() + order
		args := w.args
		if f.Limit > 0 {
			// One row more than needed says whether a next page exists; a few more absorb
			// unfolded duplicates without a second round trip.
			want = f.Limit - emitted + 1 + 8
			// Two phases: the sort key and id of the page first (two narrow columns), then
			// the whole rows of just those ids, found through the primary key's day range.
			// Reading every column of every matching row to sort them costs 10× more.
			keys, err := s.eventKeys(ctx, col, w, order, want)
			if err != nil {
				return nil, err
			}
			if read = len(keys); read == 0 {
				return nil, flush()
			}
			lo, hi := keys[0].At, keys[len(keys)-1].At
			if lo.After(hi) {
				lo, hi = hi, lo
			}
			ids := make([]any, len(keys))
			for i, k := range keys {
				ids[i] = k.ID
			}
			pw := &sqlWhere{conds: slices.Clone(w.conds), args: slices.Clone(w.args)}
			pw.add(col+" BETWEEN ? AND ?", lo, hi)
			pw.in("id", ids)
			q, args = eventSelect+" WHERE "+pw.String()+order, pw.args
		}
		rows, err := s.conn.Query(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("cannot query events: %w", err)
		}
		for rows.Next() {
			if f.Limit == 0 {
				read++
			}
			e := new(StoredEvent)
			if err := scanEvent(rows, e); err != nil {
				rows.Close()
				return nil, err
			}
			if e.ID == last.ID && e.cursor(f.ByStored) == last.cursor(f.ByStored) {
				continue
			}
			if f.Limit > 0 && emitted == f.Limit {
				rows.Close()
				cur := last.cursor(f.ByStored)
				return &cur, flush()
			}
			last = *e
			emitted++
			if pending = append(pending, e); len(pending) == hideBatch {
				if err := flush(); err != nil {
					rows.Close()
					return nil, err
				}
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("cannot read events: %w", err)
		}
		if f.Limit == 0 || read < want {
			return nil, flush()
		}
		cur := last.cursor(f.ByStored)
		f.After = &cur
	}
}

// hideBatch is how many events share one look-up of the situations they name.
const hideBatch = 500

// hideSituations clears the situation id of every event in evs whose situation c may not
// see, by the rule GET /api/v1/situations/{id} applies (SituationFilter.where).
func (s *Store) hideSituations(ctx context.Context, c Caller, evs []*StoredEvent) error {
	var ids []string
	for _, e := range evs {
		if e.SituationID != "" {
			ids = append(ids, e.SituationID)
		}
	}
	visible, err := s.visibleSituations(ctx, c, ids)
	if err != nil {
		return err
	}
	for _, e := range evs {
		if !visible[e.SituationID] {
			e.SituationID = ""
		}
	}
	return nil
}

// eventKeys returns the sort key and id of the first n rows w selects.
func (s *Store) eventKeys(ctx context.Context, col string, w *sqlWhere, order string, n int) ([]Cursor, error) {
	rows, err := s.conn.Query(ctx, "SELECT "+col+", id FROM cop.events WHERE "+w.String()+order+" LIMIT "+strconv.Itoa(n), w.args...)
	if err != nil {
		return nil, fmt.Errorf("cannot query events: %w", err)
	}
	defer rows.Close()
	var out []Cursor
	for rows.Next() {
		var k Cursor
		if err := rows.Scan(&k.At, &k.ID); err != nil {
			return nil, fmt.Errorf("cannot read events: %w", err)
		}
		k.At = k.At.UTC()
		out = append(out, k)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(dest ...any) error }

func scanEvent(rows scanner, e *StoredEvent) error {
	var kind string
	var sev, tlp int8
	var hasGeo, anon, dup uint8
	var lat, lon float64
	var types, values, names, kinds []string
	if err := rows.Scan(&e.ID, &e.Contributor, &e.SourceID, &kind, &e.ObservedAt, &e.ReceivedAt, &e.ValidUntil,
		&e.Category, &e.Techniques, &e.Sectors, &e.Countries, &hasGeo, &lat, &lon, &sev, &e.Confidence, &tlp,
		&e.ReleasableTo, &anon, &e.Exercise, &e.Title, &e.Summary, &types, &values, &e.SituationID, &dup, &e.StoredAt,
		&names, &kinds, &e.FalsePositives); err != nil {
		return fmt.Errorf("cannot read event row: %w", err)
	}
	e.Kind, _ = event.ParseKind(kind)
	e.Severity, e.TLP = event.Severity(sev), event.TLP(tlp)
	e.Anonymise, e.Duplicate = anon == 1, dup == 1
	if hasGeo == 1 {
		e.Geo = &event.Geo{Lat: lat, Lon: lon}
	}
	if e.ValidUntil.Unix() <= 0 {
		e.ValidUntil = time.Time{}
	}
	e.ObservedAt, e.ReceivedAt, e.StoredAt = e.ObservedAt.UTC(), e.ReceivedAt.UTC(), e.StoredAt.UTC()
	e.Names = joinNames(names, kinds)
	for i := range values {
		t, err := event.ParseObservableType(types[i])
		if err != nil {
			continue
		}
		e.Observables = append(e.Observables, event.Observable{Type: t, Value: values[i]})
	}
	return nil
}

// joinNames is the inverse of splitNames (nil for none, as event.Validate leaves it).
func joinNames(names, kinds []string) []event.Name {
	if len(names) == 0 || len(names) != len(kinds) {
		return nil
	}
	out := make([]event.Name, len(names))
	for i := range names {
		out[i] = event.Name{Kind: kinds[i], Name: names[i]}
	}
	return out
}

// names adds a filter keeping rows whose names column holds one of names (already
// normalised).
func (w *sqlWhere) names(names []string) {
	w.hasAny("names", names)
}

// Exercises lists the exercises with stored events, for admins' TAXII collections.
func (s *Store) Exercises(ctx context.Context) ([]string, error) {
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT exercise FROM cop.events WHERE exercise != '' ORDER BY exercise")
	if err != nil {
		return nil, fmt.Errorf("cannot list exercises: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var x string
		if err := rows.Scan(&x); err != nil {
			return nil, fmt.Errorf("cannot list exercises: %w", err)
		}
		out = append(out, x)
	}
	return out, rows.Err()
}
