package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// trendDims maps a ?group= dimension to its SQL key. arrayJoin (not ARRAY JOIN) so two
// array dimensions give their product, not a zip.
var trendDims = map[string]string{
	"day":         "toString(toDate(observed_at, 'UTC'))",
	"week":        "toString(toMonday(toDate(observed_at, 'UTC')))",
	"month":       "toString(toStartOfMonth(toDate(observed_at, 'UTC')))",
	"sector":      "arrayJoin(sectors)",
	"country":     "arrayJoin(countries)",
	"technique":   "arrayJoin(techniques)",
	"severity":    "toString(severity)",
	"kind":        "toString(kind)",
	"contributor": "contributor",
}

// rollup is a table of daily aggregates (schema.go, migrations 2 and 4) and what it keeps: the
// Trend dimensions it can group by, as keys over its columns, and the array filter it
// can apply (severity and TLP filters every rollup can; others none).
type rollup struct {
	table              string
	dims               map[string]string
	countries, sectors bool
	contributors       bool
}

var rollups = []rollup{
	{table: "cop.events_daily_stored", countries: true, sectors: true, dims: map[string]string{
		"day": "toString(day)", "week": "toString(toMonday(day))", "month": "toString(toStartOfMonth(day))",
		"sector": "sector", "country": "country", "severity": "toString(severity)"}},
	{table: "cop.contributors_daily_stored", contributors: true, dims: map[string]string{
		"day": "toString(day)", "week": "toString(toMonday(day))", "month": "toString(toStartOfMonth(day))",
		"contributor": "contributor", "severity": "toString(severity)"}},
}

// TrendDims lists the dimensions Trend groups by.
func TrendDims() []string {
	return []string{"day", "week", "month", "sector", "country", "technique", "severity", "kind", "contributor"}
}

// TrendRow is one group's count of distinct events.
type TrendRow struct {
	Key    []string `json:"key"`
	Events uint64   `json:"events"`
	// Anonymise is set when the contributor in Key asked not to be named.
	Anonymise bool `json:"-"`
}

// Trend counts distinct events (uniqExact(id): a redelivery not yet folded counts once)
// matching f in c's scope, grouped by dims (one or two of TrendDims), ordered by key.
func (s *Store) Trend(ctx context.Context, c Caller, f EventFilter, dims []string) ([]TrendRow, error) {
	if len(dims) == 0 || len(dims) > 2 {
		return nil, fmt.Errorf("group: want one or two of %s", strings.Join(TrendDims(), ", "))
	}
	f.After, f.Limit = nil, 0
	var keys []string
	withAnon := false
	for i, d := range dims {
		expr, ok := trendDims[d]
		if !ok {
			return nil, fmt.Errorf("group: %q: want one of %s", d, strings.Join(TrendDims(), ", "))
		}
		keys = append(keys, fmt.Sprintf("%s AS k%d", expr, i))
		withAnon = withAnon || d == "contributor"
	}
	group := "k0, k1, a"
	if len(dims) == 1 {
		keys = append(keys, "'' AS k1")
	}
	anon := "toUInt8(0)"
	if withAnon {
		anon = "anonymise"
	}
	var q string
	var args []any
	if r, daily, ok := f.rollup(dims); ok && !s.rowsOnly {
		// Whole UTC days from the daily aggregates, the partial days at either end from
		// the rows; the id sets of both are merged, so an event counts once.
		q, args = daily.query(r, c, &f, dims, anon)
	} else {
		w := f.where(c)
		q = "SELECT " + strings.Join(keys, ", ") + ", " + anon + " AS a, uniqExact(id) FROM cop.events WHERE " +
			w.String() + " GROUP BY " + group + " ORDER BY k0, k1, a"
		args = w.args
	}
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot count trend: %w", err)
	}
	defer rows.Close()
	var out []TrendRow
	for rows.Next() {
		var k0, k1 string
		var a uint8
		var n uint64
		if err := rows.Scan(&k0, &k1, &a, &n); err != nil {
			return nil, fmt.Errorf("cannot read trend: %w", err)
		}
		r := TrendRow{Key: []string{k0}, Events: n, Anonymise: a == 1}
		if len(dims) == 2 {
			r.Key = append(r.Key, k1)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// dailySpan is the part of a Trend query a rollup answers: the whole UTC days [from,
// to) (zero: unbounded), and whether rows before from (after to) remain to be counted
// from cop.events.
type dailySpan struct {
	from, to         time.Time
	headRaw, tailRaw bool
}

// rollup returns the rollup that can answer a Trend by dims with filter f, and for which
// days. One can when f filters only on what it keeps, no array dimension is both
// filtered and grouped by (the rows count an event under every country it has once one
// matches; a rollup only under the matching one), and the time range spans at least one
// whole day.
func (f *EventFilter) rollup(dims []string) (rollup, dailySpan, bool) {
	if len(f.Techniques) > 0 || len(f.Kinds) > 0 || f.ObsValue != "" || f.ObsType != "" || f.Q != "" ||
		f.Situation != "" || f.ByStored || f.After != nil {
		return rollup{}, dailySpan{}, false
	}
	var sp dailySpan
	if !f.Since.IsZero() {
		sp.from = f.Since.UTC().Truncate(24 * time.Hour)
		if sp.from.Before(f.Since) {
			sp.from, sp.headRaw = sp.from.Add(24*time.Hour), true
		}
	}
	if !f.Until.IsZero() {
		sp.to = f.Until.UTC().Truncate(24 * time.Hour)
		sp.tailRaw = sp.to.Before(f.Until)
	}
	if !sp.from.IsZero() && !sp.to.IsZero() && !sp.from.Before(sp.to) {
		return rollup{}, dailySpan{}, false // less than a whole day
	}
next:
	for _, r := range rollups {
		if len(f.Countries) > 0 && !r.countries || len(f.Sectors) > 0 && !r.sectors || len(f.Contributors) > 0 && !r.contributors {
			continue
		}
		for _, d := range dims {
			if _, ok := r.dims[d]; !ok || d == "sector" && len(f.Sectors) > 0 || d == "country" && len(f.Countries) > 0 {
				continue next
			}
		}
		return r, sp, true
	}
	return rollup{}, dailySpan{}, false
}

// query returns the SQL of a Trend answered by rollup r for sp, plus the rows of the
// partial days at its ends.
func (sp dailySpan) query(r rollup, c Caller, f *EventFilter, dims []string, anon string) (string, []any) {
	w := &sqlWhere{}
	w.marking(c, "")
	if !sp.from.IsZero() {
		w.add("day >= toDate(?)", sp.from.Format(time.DateOnly))
	}
	if !sp.to.IsZero() {
		w.add("day < toDate(?)", sp.to.Format(time.DateOnly))
	}
	if r.contributors {
		w.contributors(c, f.Contributors)
	}
	w.in("country", anys(f.Countries, str))
	w.in("sector", anys(f.Sectors, str))
	w.levels(f.Severities, f.TLPs)
	dk, rk := []string{"''", "''"}, []string{"''", "''"}
	for i, d := range dims {
		dk[i], rk[i] = r.dims[d], trendDims[d]
		if d == "sector" || d == "country" {
			w.add(d + " != ''") // no sectors (countries): not in a group by sector (country)
		}
	}
	q := "SELECT k0, k1, a, uniqExactMerge(ids) FROM (SELECT " + dk[0] + " AS k0, " + dk[1] + " AS k1, " + anon +
		" AS a, ids FROM " + r.table + " WHERE " + w.String()
	args := w.args
	if sp.headRaw || sp.tailRaw {
		rw := f.where(c)
		switch {
		case sp.headRaw && sp.tailRaw:
			rw.add("(observed_at < ? OR observed_at >= ?)", sp.from, sp.to)
		case sp.headRaw:
			rw.add("observed_at < ?", sp.from)
		default:
			rw.add("observed_at >= ?", sp.to)
		}
		q += " UNION ALL SELECT " + rk[0] + " AS k0, " + rk[1] + " AS k1, " + anon + " AS a, uniqExactState(cityHash64(id)) AS ids FROM cop.events WHERE " +
			rw.String() + " GROUP BY k0, k1, a"
		args = append(args, rw.args...)
	}
	return q + ") GROUP BY k0, k1, a ORDER BY k0, k1, a", args
}
