package store

import (
	"context"
	"fmt"
	"strings"
)

// trendDims maps a ?group= dimension to its SQL key. arrayJoin (not ARRAY JOIN) so two
// array dimensions give their product, not a zip.
var trendDims = map[string]string{
	"day":         "toString(toDate(observed_at))",
	"week":        "toString(toMonday(observed_at))",
	"month":       "toString(toStartOfMonth(observed_at))",
	"sector":      "arrayJoin(sectors)",
	"country":     "arrayJoin(countries)",
	"technique":   "arrayJoin(techniques)",
	"severity":    "toString(severity)",
	"kind":        "toString(kind)",
	"contributor": "contributor",
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
	group := "k0"
	if len(dims) == 2 {
		group += ", k1"
	} else {
		keys = append(keys, "'' AS k1")
	}
	anon := "toUInt8(0)"
	if withAnon {
		anon, group = "anonymise", group+", anonymise"
	}
	w := f.where(c)
	rows, err := s.conn.Query(ctx, "SELECT "+strings.Join(keys, ", ")+", "+anon+" AS a, uniqExact(id) FROM cop.events WHERE "+
		w.String()+" GROUP BY "+group+" ORDER BY k0, k1", w.args...)
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
