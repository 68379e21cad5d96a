package bench

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cidcc/cop/internal/event"
	"github.com/cidcc/cop/internal/picture"
	"github.com/cidcc/cop/internal/store"
	"github.com/cidcc/cop/internal/synth"
)

// runBenchQuery is `cop bench query`: load N synthetic events into an exercise of their
// own (so the real picture and other runs are untouched), then time the analysts' queries.
func runQuery(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench query", flag.ContinueOnError)
	addr := fs.String("clickhouse", cmp.Or(os.Getenv("COP_CLICKHOUSE"), "127.0.0.1:19000"), "ClickHouse native address")
	n := fs.Int("events", 10_000_000, "synthetic events to load")
	nSits := fs.Int("situations", 1_000_000, "synthetic situations to load (each in two versions)")
	runs := fs.Int("runs", 50, "runs of each query")
	batch := fs.Int("batch", 100_000, "events per insert")
	keep := fs.Bool("keep", false, "keep the loaded exercise (drop it otherwise)")
	reuse := fs.String("exercise", "", "query an exercise loaded by an earlier --keep run instead of loading")
	only := fs.String("only", "", "time only the queries whose name contains this text (e.g. \"situation by id\")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *nSits < 1 || *runs < 1 || *batch < 1 {
		return errors.New("want --events, --situations, --runs and --batch of at least 1")
	}
	st, err := store.OpenWith(ctx, *addr, store.Options{Database: database()})
	if err != nil {
		return err
	}
	defer st.Close()
	// The same trends counted from the event rows only, next to the daily aggregates.
	rows, err := store.OpenWith(ctx, *addr, store.Options{TrendFromRows: true, Database: database()})
	if err != nil {
		return err
	}
	defer rows.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	ex := strings.ToUpper(*reuse)
	var samples []string
	if ex == "" {
		var b [4]byte
		rand.Read(b[:])
		ex = "BENCH-" + strings.ToUpper(hex.EncodeToString(b[:]))
		start := time.Now()
		if samples, err = benchLoad(ctx, st, ex, *n, *batch, now); err != nil {
			return err
		}
		if err := benchLoadSituations(ctx, st, ex, *nSits, *batch, now); err != nil {
			return err
		}
		d := time.Since(start)
		fmt.Printf("loaded %d events into exercise %s in %s (%.0f events/s)\n", *n, ex, d.Round(time.Millisecond), float64(*n)/d.Seconds())
		if !*keep {
			defer benchDrop(st, ex)
		}
	} else if samples, err = benchSamples(ctx, st, ex); err != nil {
		return err
	}
	var count, sitRows, sits uint64
	st.Conn().QueryRow(ctx, "SELECT count() FROM cop.events WHERE exercise = ?", ex).Scan(&count)
	st.Conn().QueryRow(ctx, "SELECT count(), uniqExact(id) FROM cop.situations WHERE exercise = ?", ex).Scan(&sitRows, &sits)
	fmt.Printf("ClickHouse %s, exercise %s: %d event rows, %d situations in %d rows (versions not merged away), %d runs per query\n\n",
		st.Version, ex, count, sits, sitRows, *runs)
	analyst := store.Caller{Name: "bench-analyst", Missions: []string{"EUFOR-ALTHEA"}, MaxTLP: event.TLPAmber, Exercise: ex}
	queries := []benchQuery{
		{"round trip (SELECT 1): the machine's floor", func(int) (int, error) {
			var one uint8
			return 1, st.Conn().QueryRow(ctx, "SELECT 1").Scan(&one)
		}},
		{"observable look-up (GET /observables/{v})", func(i int) (int, error) {
			h, err := st.Observable(ctx, analyst, samples[i%len(samples)], "")
			return len(h.Sightings), err
		}},
		{"events by observable, page of 100", func(i int) (int, error) {
			return benchList(ctx, st, analyst, store.EventFilter{ObsValue: samples[i%len(samples)], Limit: 100})
		}},
		{"filtered list: energy+high, 30 days, page 100", func(i int) (int, error) {
			return benchList(ctx, st, analyst, store.EventFilter{Sectors: []string{"energy"}, Severities: []event.Severity{event.SeverityHigh},
				Since: now.AddDate(0, 0, -30), Limit: 100})
		}},
		{"filtered list: contributor, all time, page 100", func(i int) (int, error) {
			return benchList(ctx, st, analyst, store.EventFilter{Contributors: []string{synth.Contributors[i%len(synth.Contributors)].Name}, Limit: 100})
		}},
		{situationByID, func(i int) (int, error) {
			// Spread over the ids loaded; the same call as the API's.
			n := 0
			_, err := st.EachSituation(ctx, analyst, store.SituationFilter{ID: benchSituationID(i * 7919 % max(1, int(sits))), Limit: 1},
				func(*store.StoredSituation) (bool, error) { n++; return true, nil })
			if err == nil && n != 1 {
				err = fmt.Errorf("situation by id: %d situations, want 1", n)
			}
			return n, err
		}},
		{"situation by id with its events (the handler's 2 reads)", func(i int) (int, error) {
			// The handler then reads the situation's events (and those of the situations
			// merged into it), a page of up to 1,000 (api.MaxLimit).
			id := benchSituationID(i * 7919 % max(1, int(sits)))
			n := 0
			if _, err := st.EachSituation(ctx, analyst, store.SituationFilter{ID: id, Limit: 1},
				func(*store.StoredSituation) (bool, error) { n++; return true, nil }); err != nil || n != 1 {
				return n, cmp.Or(err, fmt.Errorf("situation by id: %d situations, want 1", n))
			}
			return benchList(ctx, st, analyst, store.EventFilter{Situation: id, Limit: 1000})
		}},
		{"situations list, page of 100 (GET /situations)", func(i int) (int, error) {
			n := 0
			_, err := st.EachSituation(ctx, analyst, store.SituationFilter{Limit: 100},
				func(*store.StoredSituation) (bool, error) { n++; return true, nil })
			return n, err
		}},
	}
	for _, from := range []struct {
		how string
		st  *store.Store
	}{{"aggregates", st}, {"rows", rows}} {
		trend := func(f store.EventFilter, dims ...string) func(int) (int, error) {
			return func(int) (int, error) {
				rows, err := from.st.Trend(ctx, analyst, f, dims)
				return len(rows), err
			}
		}
		queries = append(queries, []benchQuery{
			{"weekly trend by sector, 90 days (" + from.how + ")", trend(store.EventFilter{Since: now.AddDate(0, 0, -90)}, "week", "sector")},
			{"weekly trend by sector, all time (" + from.how + ")", trend(store.EventFilter{}, "week", "sector")},
			{"daily trend, country EE, 30 days (" + from.how + ")", trend(store.EventFilter{Countries: []string{"EE"}, Since: now.AddDate(0, 0, -30)}, "day")},
			{"critical by sector per week, 90 days (" + from.how + ")", trend(store.EventFilter{Severities: []event.Severity{event.SeverityCritical}, Since: now.AddDate(0, 0, -90)}, "week", "sector")},
		}...)
	}
	queries = slices.DeleteFunc(queries, func(q benchQuery) bool { return !strings.Contains(q.name, *only) })
	return timeQueries(ctx, queries, *runs)
}

// benchQuery is one timed query; run returns how many rows it got.
type benchQuery struct {
	name string
	run  func(i int) (int, error)
}

// SituationByIDP99 is the bound on GET /api/v1/situations/{id}'s 99th percentile, in ms,
// with 1M situations stored (issue 17).
const SituationByIDP99 = 50

const situationByID = "situation by id (GET /situations/{id})"

// p99Bounds are the bounds on queries' 99th percentiles, in ms, by query name: printed
// next to the figures.
var p99Bounds = map[string]float64{situationByID: SituationByIDP99}

func benchList(ctx context.Context, st *store.Store, c store.Caller, f store.EventFilter) (int, error) {
	n := 0
	_, err := st.EachEvent(ctx, c, f, func(*store.StoredEvent) error { n++; return nil })
	return n, err
}

// benchLoad writes n synthetic events (observed over the last year) in batches, the
// generator running ahead of the writer, and returns a sample of observable values.
func benchLoad(ctx context.Context, st *store.Store, ex string, n, size int, now time.Time) ([]string, error) {
	ch := make(chan *store.Batch, 2)
	var samples []string
	go func() {
		defer close(ch)
		g := synth.New(1)
		g.Spread = 365 * 24 * time.Hour
		for done := 0; done < n && ctx.Err() == nil; {
			b := &store.Batch{}
			for ; len(b.Events) < size && done < n; done++ {
				c, in := g.Next(now)
				e := event.Event{ID: event.Source{Contributor: c.Name}.EventID(in.ID), Contributor: c.Name, SourceID: in.ID, Kind: in.Kind,
					ObservedAt: in.ObservedAt, ReceivedAt: in.ObservedAt.Add(time.Minute), Observables: in.Observables,
					Category: in.Category, Techniques: in.Techniques, Sectors: in.Sectors, Countries: in.Countries, Geo: in.Geo,
					Severity: in.Severity, Confidence: uint8(*in.Confidence), TLP: in.TLP, ReleasableTo: in.ReleasableTo,
					Anonymise: in.Anonymise, Exercise: ex, Title: in.Title, Summary: in.Summary}
				if done%max(1, n/200) == 0 && len(e.Observables) > 0 {
					samples = append(samples, e.Observables[0].Value)
				}
				b.Events = append(b.Events, e)
				b.Situations = append(b.Situations, fmt.Sprintf("bench-%d", done/50))
				b.Duplicate = append(b.Duplicate, false)
			}
			select {
			case ch <- b:
			case <-ctx.Done():
			}
		}
	}()
	for b := range ch {
		if err := st.Write(ctx, b); err != nil {
			for range ch {
			}
			return nil, err
		}
	}
	return samples, ctx.Err()
}

func benchSituationID(i int) string { return fmt.Sprintf("bench-sit-%08d", i) }

// benchStoredSituation is version v (1 or 2) of synthetic situation i, shaped like the engine's
// (a handful of observables, events and contributors; ~1 KB of payload): version 2 has one
// more event and was updated a minute later.
func benchStoredSituation(ex string, i int, v uint64, now time.Time) picture.Situation {
	sev := []event.Severity{event.SeverityLow, event.SeverityMedium, event.SeverityHigh, event.SeverityCritical}
	c := synth.Contributors[i%len(synth.Contributors)]
	at := now.Add(-time.Duration(i%(365*24)) * time.Hour)
	s := picture.Situation{ID: benchSituationID(i), Version: v, Exercise: ex, Title: fmt.Sprintf("Bench situation %d", i),
		Kind: event.KindIndicator, Category: "malicious-code", Severity: sev[i%len(sev)], Confidence: 70, Score: float64(i % 100),
		Contributors: []picture.Contributor{{Name: c.Name}}, Countries: []string{"EE", "LV"}, Sectors: []string{"energy"},
		TLP: event.TLPGreen, EventCount: 3 + int(v), FirstSeen: at, LastSeen: at.Add(time.Hour), UpdatedAt: at.Add(time.Duration(v) * time.Minute)}
	for k := range 6 {
		s.Observables = append(s.Observables, event.Observable{Type: event.ObsIPv4, Value: fmt.Sprintf("198.51.%d.%d", i%250, k)})
		s.EventIDs = append(s.EventIDs, fmt.Sprintf("%032x", i*8+k))
	}
	return s
}

// benchVersion2 makes version 2 of every version-1 situation of an exercise from its row,
// in the server (no second trip of ~1 KB per situation through the client): version, event
// count and update time as benchStoredSituation(…, 2, …) has them, in the columns and in
// the payload the store wrote for version 1. 18.16 replaces constant strings only: the
// event count is 4 in every version 1, and updated_at is the payload's last field (the
// read-back check of benchLoadSituations fails if either changes).
const benchVersion2 = `INSERT INTO cop.situations (id, version, exercise, title, severity, confidence, score, tlp,
	releasable_to, contributors, countries, sectors, names, name_kinds, event_count, first_seen, last_seen, updated_at,
	removed, merged_into, payload)
	SELECT id, 2, exercise, title, severity, confidence, score, tlp, releasable_to, contributors, countries, sectors,
		names, name_kinds, event_count + 1, first_seen, last_seen, updated_at + 60, removed, merged_into,
		concat(substring(replaceOne(replaceOne(payload, '"version":1,', '"version":2,'), '"event_count":4,', '"event_count":5,'),
			1, length(payload) - 22), formatDateTime(updated_at + 60, '%Y-%m-%dT%H:%M:%SZ', 'UTC'), '"}')
	FROM cop.situations WHERE exercise = ? AND version = 1`

// benchLoadSituations writes n situations in two versions each: version 1 through the
// store's own writer, size at a time (memory stays bounded by one batch), then version 2
// from those rows in the server. It checks that a sample read back through the store is
// the situation the engine would have stored.
func benchLoadSituations(ctx context.Context, st *store.Store, ex string, n, size int, now time.Time) error {
	start := time.Now()
	b := &store.Batch{}
	for i := 0; i < n; i++ {
		b.Deltas = append(b.Deltas, picture.Delta{Situation: benchStoredSituation(ex, i, 1, now)})
		if len(b.Deltas) == size || i == n-1 {
			if err := st.Write(ctx, b); err != nil {
				return err
			}
			b.Reset()
		}
	}
	v1 := time.Since(start)
	if err := st.Conn().Exec(ctx, benchVersion2, ex); err != nil {
		return fmt.Errorf("cannot write the situations' second versions: %w", err)
	}
	analyst := store.Caller{Name: "bench-analyst", MaxTLP: event.TLPAmber, Exercise: ex}
	for _, i := range []int{0, n / 2, n - 1} {
		want, got := benchStoredSituation(ex, i, 2, now), []picture.Situation{}
		if _, err := st.EachSituation(ctx, analyst, store.SituationFilter{ID: want.ID, Limit: 1}, func(s *store.StoredSituation) (bool, error) {
			got = append(got, s.Situation)
			return true, nil
		}); err != nil {
			return err
		}
		wj, _ := json.Marshal(want)
		if len(got) != 1 {
			return fmt.Errorf("situation %s: read %d back, want 1", want.ID, len(got))
		}
		if gj, _ := json.Marshal(got[0]); string(gj) != string(wj) {
			return fmt.Errorf("situation %s read back as\n%s\nwant\n%s", want.ID, gj, wj)
		}
	}
	fmt.Printf("loaded %d situations (2 versions each) in %s: version 1 through the store in %s, version 2 in the server in %s\n",
		n, time.Since(start).Round(time.Millisecond), v1.Round(time.Millisecond), (time.Since(start) - v1).Round(time.Millisecond))
	return nil
}

// benchSamples picks observable values of an exercise loaded earlier.
func benchSamples(ctx context.Context, st *store.Store, ex string) ([]string, error) {
	rows, err := st.Conn().Query(ctx, "SELECT obs_values[1] FROM cop.events WHERE exercise = ? AND notEmpty(obs_values) LIMIT 200", ex)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		rows.Scan(&v)
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("exercise %s has no events", ex)
	}
	return out, nil
}

// benchDrop removes the benchmark's exercise: its partitions of cop.events (by stored month) and a
// delete mutation on the tables not partitioned by exercise.
func benchDrop(st *store.Store, ex string) {
	ctx := context.Background()
	rows, err := st.Conn().Query(ctx, "SELECT DISTINCT toYYYYMM(stored_at) FROM cop.events WHERE exercise = ?", ex)
	if err == nil {
		var months []uint32
		for rows.Next() {
			var m uint32
			rows.Scan(&m)
			months = append(months, m)
		}
		rows.Close()
		for _, m := range months {
			// ex is ours ("BENCH-" + hex): safe to inline.
			st.Conn().Exec(ctx, fmt.Sprintf("ALTER TABLE cop.events DROP PARTITION (%d, '%s')", m, ex))
		}
	}
	st.Conn().Exec(ctx, fmt.Sprintf("ALTER TABLE cop.observables DELETE WHERE exercise = '%s'", ex))
	// The daily aggregates are partitioned by the day the rows were stored.
	for _, table := range []string{"events_daily_stored", "contributors_daily_stored"} {
		st.Conn().Exec(ctx, fmt.Sprintf("ALTER TABLE cop.%s DELETE WHERE exercise = '%s'", table, ex))
	}
	st.Conn().Exec(ctx, fmt.Sprintf("ALTER TABLE cop.situations DROP PARTITION '%s'", ex))
	fmt.Printf("\ndropped exercise %s\n", ex)
}

// timeQueries runs each query runs times and prints its latency percentiles.
func timeQueries(ctx context.Context, queries []benchQuery, runs int) error {
	fmt.Printf("%-56s %10s %10s %10s %8s  %s\n", "query", "p50 ms", "p99 ms", "max ms", "rows", "p99 bound")
	for _, q := range queries {
		var lat []float64
		rows := 0
		for i := range runs {
			if ctx.Err() != nil {
				return nil
			}
			t := time.Now()
			r, err := q.run(i)
			if err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
			lat = append(lat, float64(time.Since(t).Microseconds())/1000)
			rows = r
		}
		slices.Sort(lat)
		pct := func(p float64) float64 { return lat[int(math.Ceil(p*float64(len(lat))))-1] }
		bound := ""
		if b := p99Bounds[q.name]; b > 0 {
			bound = fmt.Sprintf("<= %g ms: met", b)
			if pct(0.99) > b {
				bound = fmt.Sprintf("<= %g ms: MISSED", b)
			}
		}
		fmt.Printf("%-56s %10.1f %10.1f %10.1f %8d  %s\n", q.name, pct(0.5), pct(0.99), lat[len(lat)-1], rows, bound)
	}
	return nil
}
